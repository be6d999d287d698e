"""`emr-autopilot jobs`: validate and deploy the job definitions."""

from __future__ import annotations

from pathlib import Path

import boto3
import click

from emr_autopilot.errors import JobDefinitionError
from emr_autopilot.jobs import JobDefinition, format_duration, load_jobs
from emr_autopilot_devkit.cli.common import PathArg, fail, local_option, read_stack, region, stack_option


@click.group()
def jobs() -> None:
    """Validate and deploy the job definitions in jobs/."""


@jobs.command("validate")
@click.option("--jobs-dir", type=PathArg(file_okay=False, path_type=Path), default=Path("jobs"), show_default=True)
@click.option("--stack-name", envvar="EMR_AUTOPILOT_STACK", help="Also check against this stack (trigger buckets).")
@click.option("--local", is_flag=True, help="Also check against the stack of `emr-autopilot local up`.")
def jobs_validate(jobs_dir: Path, stack_name: str | None, local: bool) -> None:
    """Check every jobs/*.yaml as AWS will: each field, the EMR requests a run sends and, with a stack,
    the trigger buckets. Errors name the file, the field, what was read and what is allowed."""
    from emr_autopilot_devkit.deploy_jobs import check_against_stack

    stack = read_stack(stack_name, local) if stack_name or local else None
    try:
        catalog = load_jobs(jobs_dir)
        errors = check_against_stack(catalog, jobs_dir, stack, boto3.client("s3") if stack else None, region())
        if errors:
            raise JobDefinitionError.combine(errors)
    except JobDefinitionError as exc:
        click.echo(str(exc), err=True)
        fail(f"{len(exc.problems)} problem(s) in {jobs_dir}")
    except KeyError as exc:  # a stack output the check needs is missing
        fail(str(exc.args[0]) if exc.args else repr(exc))
    unchecked = sorted({t.bucket for job in catalog.jobs for t in job.triggers.s3 if t.bucket != "landing"})
    for job in catalog.jobs:
        triggers = [f"s3://{t.bucket}/{t.prefix}*{t.suffix}" for t in job.triggers.s3]
        if job.triggers.schedule:
            triggers.append(job.triggers.schedule)
        click.echo(
            f"ok  {job.name}: {len(job.steps)} step(s), {_where(job)}, "
            f"run timeout {format_duration(job.run_timeout)}, triggers: {', '.join(triggers) or 'manual only'}"
        )
    if unchecked and stack is None:
        click.echo(
            f"note: trigger bucket(s) {', '.join(unchecked)} not checked against a stack; "
            "pass --stack-name (or --local) to check that the stack starts runs for them"
        )
    click.echo(f"{len(catalog.jobs)} job(s) valid.")


def _where(job: JobDefinition) -> str:
    if job.cluster is not None:
        return job.cluster.release_label
    spec = job.serverless
    if spec is not None and spec.application is not None:
        return f"EMR Serverless {spec.application.release_label} (managed application)"
    return f"EMR Serverless application {spec.application_id if spec else '?'}"


@jobs.command("deploy")
@click.option("--jobs-dir", type=PathArg(file_okay=False, path_type=Path), default=Path("jobs"), show_default=True)
@click.option("--prune", is_flag=True, help="Also remove deployed jobs (and schedules) that are not in --jobs-dir.")
@click.option("--dry-run", is_flag=True, help="Validate and print the plan; change nothing.")
@stack_option
@local_option
def jobs_deploy(jobs_dir: Path, prune: bool, dry_run: bool, stack_name: str | None, local: bool) -> None:
    """Validate every job, print the plan (added, changed, removed), then upload job code and the catalog
    and sync the jobs' schedules. Any invalid file, or a directory without jobs, changes nothing."""
    from emr_autopilot.catalog import CATALOG_KEY
    from emr_autopilot_devkit.deploy_jobs import Plan, deploy_jobs

    outputs = read_stack(stack_name, local)

    def show(plan: Plan) -> None:
        target = f"s3://{outputs['ArtifactsBucketName']}/{CATALOG_KEY}"
        click.echo(f"Plan for {stack_name or 'the local runtime'} ({target}):")
        for line in plan.lines():
            click.echo(line)

    try:
        report = deploy_jobs(
            jobs_dir, outputs, boto3.client("s3"), boto3.client("scheduler"), prune=prune, dry_run=dry_run, on_plan=show
        )
    except JobDefinitionError as exc:
        click.echo(str(exc), err=True)
        fail("nothing was deployed")
    except KeyError as exc:  # a stack output the deploy needs is missing
        fail(f"{exc.args[0] if exc.args else exc!r}; nothing was deployed")
    if dry_run:
        click.echo(f"Dry run: nothing was changed; {len(report.jobs)} job(s) would be live.")
        return
    for uri in report.uploaded:
        click.echo(f"uploaded  {uri}")
    for name in report.schedules_upserted:
        click.echo(f"schedule  {name}")
    for name in report.schedules_deleted:
        click.echo(f"removed   schedule {name}")
    for name in report.plan.removed:
        click.echo(f"removed   job {name}")
    for change in report.applications:
        click.echo(f"{change.action + 'd':<9} application {change.name} ({change.application_id})")
    click.echo(f"{len(report.jobs)} job(s) live: {', '.join(report.jobs)}.")
