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
        s3 = boto3.client("s3") if stack else None
        errors = check_against_stack(catalog, jobs_dir, stack, s3, region(), package_host=local)
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
    if job.eks is not None:
        release = job.eks.release_label or f"job template {job.eks.job_template_id}"
        return f"EMR on EKS {release} on virtual cluster {job.eks.virtual_cluster_id}"
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
            jobs_dir,
            outputs,
            boto3.client("s3"),
            boto3.client("scheduler"),
            prune=prune,
            dry_run=dry_run,
            on_plan=show,
            package_host=local,
        )
    except JobDefinitionError as exc:
        click.echo(str(exc), err=True)
        fail("nothing was deployed")
    except KeyError as exc:  # a stack output the deploy needs is missing
        fail(f"{exc.args[0] if exc.args else exc!r}; nothing was deployed")
    if dry_run:
        click.echo(f"Dry run: nothing was changed; {len(report.jobs)} job(s) would be live.")
        return
    for prepared in report.packages:
        state = "built" if prepared.built else "unchanged" if not prepared.uploads else "found locally"
        click.echo(f"package   {prepared.job}: {state}, {len(prepared.uploads)} artifact(s) to upload")
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


@jobs.command("package")
@click.option("--jobs-dir", type=PathArg(file_okay=False, path_type=Path), default=Path("jobs"), show_default=True)
@click.option("--job", "names", multiple=True, help="Only this job (repeatable); default: every packaged job.")
@click.option(
    "--out", type=PathArg(file_okay=False, path_type=Path), default=None, help="Default: build/packages beside jobs/."
)
@click.option("--local", is_flag=True, help="Build for this machine's Python (as the local runtime runs jobs).")
def jobs_package(jobs_dir: Path, names: tuple[str, ...], out: Path | None, local: bool) -> None:
    """Build each packaged job's artifacts: its modules as a zip (--py-files) and its dependencies as a packed
    virtual environment (--archives ...#environment) for the job's target (release, architecture, Python).
    `jobs deploy` uploads them, building what is missing; an environment already built is not built again."""
    from emr_autopilot_devkit.packaging import (
        build_package,
        default_build_dir,
        package_target,
        plan_package,
        write_zip,
    )

    try:
        catalog = load_jobs(jobs_dir)
        unknown = sorted(set(names) - {job.name for job in catalog.jobs})
        if unknown:
            fail(f"no job named {', '.join(unknown)} in {jobs_dir}")
        chosen = [job for job in catalog.jobs if job.package is not None and (not names or job.name in names)]
        if not chosen:
            fail(f"no job in {jobs_dir} has a package section")
        build_dir = out or default_build_dir(jobs_dir)
        for job in chosen:
            target = package_target(job, local)
            # The real artifacts bucket is known at deploy; the keys below it are the same.
            prepared = plan_package(job, jobs_dir, "<artifacts-bucket>", target, build_dir)
            zip_path = write_zip(prepared, build_dir)
            build_package(prepared, job, jobs_dir)
            state = "built" if prepared.built else "already built"
            click.echo(f"{job.name}: {target.describe()}")
            click.echo(f"  modules      {zip_path} (sha256 {prepared.artifacts.py_files_sha256[:12]})")
            click.echo(
                f"  environment  {prepared.environment_path} ({state}; inputs "
                f"{prepared.artifacts.environment_inputs_sha256[:12]})"
            )
    except JobDefinitionError as exc:
        click.echo(str(exc), err=True)
        fail("nothing was packaged")
