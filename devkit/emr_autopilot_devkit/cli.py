"""The `emr-autopilot` command: jobs, runs, and the local runtime."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import boto3
import click

from emr_autopilot.errors import AutopilotError, JobDefinitionError
from emr_autopilot.jobs import format_duration, load_jobs

if TYPE_CHECKING:
    from emr_autopilot_devkit.deploy_jobs import StackOutputs

LOCAL_STATE = Path(".local-runtime/stack.json")


def _fail(message: str) -> NoReturn:
    click.echo(click.style("error: ", fg="red") + message, err=True)
    sys.exit(1)


class _Path(click.Path):
    """click.Path, refusing a NUL byte with a reason: click's os.stat raises ValueError there, a traceback."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if "\x00" in str(value):
            self.fail(f"{str(value)[:80]!r} contains a NUL byte; a path cannot", param, ctx)
        return super().convert(value, param, ctx)


class _Commands(click.Group):
    """Any AWS error a command does not handle itself ends it with the error's message, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return super().invoke(ctx)
        except (ClientError, BotoCoreError) as exc:
            _fail(f"AWS: {exc}")


@click.group(cls=_Commands)
@click.version_option(package_name="emr-autopilot")
def main() -> None:
    """Event-driven Amazon EMR: transient-cluster pipelines, run from S3, schedules or by hand."""


# -- jobs -------------------------------------------------------------------------------------
@main.group()
def jobs() -> None:
    """Validate and deploy the job definitions in jobs/."""


def _region() -> str:
    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name or "us-east-1"


@jobs.command("validate")
@click.option("--jobs-dir", type=_Path(file_okay=False, path_type=Path), default=Path("jobs"), show_default=True)
@click.option("--stack-name", envvar="EMR_AUTOPILOT_STACK", help="Also check against this stack (trigger buckets).")
@click.option("--local", is_flag=True, help="Also check against the stack of `emr-autopilot local up`.")
def jobs_validate(jobs_dir: Path, stack_name: str | None, local: bool) -> None:
    """Check every jobs/*.yaml as AWS will: each field, the EMR requests a run sends and, with a stack,
    the trigger buckets. Errors name the file, the field, what was read and what is allowed."""
    from emr_autopilot_devkit.deploy_jobs import check_against_stack

    stack = _stack(stack_name, local) if stack_name or local else None
    try:
        catalog = load_jobs(jobs_dir)
        errors = check_against_stack(catalog, jobs_dir, stack, boto3.client("s3") if stack else None, _region())
        if errors:
            raise JobDefinitionError.combine(errors)
    except JobDefinitionError as exc:
        click.echo(str(exc), err=True)
        _fail(f"{len(exc.problems)} problem(s) in {jobs_dir}")
    except KeyError as exc:  # a stack output the check needs is missing
        _fail(str(exc.args[0]) if exc.args else repr(exc))
    unchecked = sorted({t.bucket for job in catalog.jobs for t in job.triggers.s3 if t.bucket != "landing"})
    for job in catalog.jobs:
        triggers = [f"s3://{t.bucket}/{t.prefix}*{t.suffix}" for t in job.triggers.s3]
        if job.triggers.schedule:
            triggers.append(job.triggers.schedule)
        click.echo(
            f"ok  {job.name}: {len(job.steps)} step(s), {job.cluster.release_label}, "
            f"run timeout {format_duration(job.run_timeout)}, triggers: {', '.join(triggers) or 'manual only'}"
        )
    if unchecked and stack is None:
        click.echo(
            f"note: trigger bucket(s) {', '.join(unchecked)} not checked against a stack; "
            "pass --stack-name (or --local) to check that the stack starts runs for them"
        )
    click.echo(f"{len(catalog.jobs)} job(s) valid.")


def _outputs(stack_name: str | None, local: bool) -> dict[str, str]:
    return _stack(stack_name, local).values


def _stack(stack_name: str | None, local: bool) -> StackOutputs:
    """The stack's outputs and parameters (StackOutputs): CloudFormation's, or those of `local up`."""
    from emr_autopilot_devkit.deploy_jobs import StackOutputs

    if local:
        if not LOCAL_STATE.exists():
            _fail("no local runtime is running: start one with `emr-autopilot local up`")
        state = json.loads(LOCAL_STATE.read_text())
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": state["endpoint"],
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": state["region"],
            }
        )
        notified = state.get("notified_buckets")
        return StackOutputs(dict(state["outputs"]), notified_buckets=frozenset(notified) if notified else None)
    if not stack_name:
        _fail("--stack-name is required (or --local for the local runtime)")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as exc:  # no such stack, no credentials, no region: a reason, not a traceback
        _fail(f"cannot read the outputs of stack {stack_name!r}: {exc}")
    return StackOutputs(
        {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])},
        {item["ParameterKey"]: item.get("ParameterValue", "") for item in stacks[0].get("Parameters", [])},
    )


stack_option = click.option(
    "--stack-name", envvar="EMR_AUTOPILOT_STACK", help="The deployed stack (default: $EMR_AUTOPILOT_STACK)."
)
local_option = click.option("--local", is_flag=True, help="Use the stack of `emr-autopilot local up`.")


@jobs.command("deploy")
@click.option("--jobs-dir", type=_Path(file_okay=False, path_type=Path), default=Path("jobs"), show_default=True)
@click.option("--prune", is_flag=True, help="Also remove deployed jobs (and schedules) that are not in --jobs-dir.")
@click.option("--dry-run", is_flag=True, help="Validate and print the plan; change nothing.")
@stack_option
@local_option
def jobs_deploy(jobs_dir: Path, prune: bool, dry_run: bool, stack_name: str | None, local: bool) -> None:
    """Validate every job, print the plan (added, changed, removed), then upload job code and the catalog
    and sync the jobs' schedules. Any invalid file, or a directory without jobs, changes nothing."""
    from emr_autopilot.catalog import CATALOG_KEY
    from emr_autopilot_devkit.deploy_jobs import Plan, deploy_jobs

    outputs = _stack(stack_name, local)

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
        _fail("nothing was deployed")
    except KeyError as exc:  # a stack output the deploy needs is missing
        _fail(f"{exc.args[0] if exc.args else exc!r}; nothing was deployed")
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
    click.echo(f"{len(report.jobs)} job(s) live: {', '.join(report.jobs)}.")


# -- runs -------------------------------------------------------------------------------------
@main.command("run")
@click.argument("job")
@click.option("--input", "input_uri", help="s3://bucket/key the run processes ({input_uri}).")
@click.option("--name", help="Execution name (default: <job>-manual-<time>-<random>).")
@click.option("--wait/--no-wait", default=False, help="Wait for the run to end and print its status.")
@stack_option
@local_option
def run(job: str, input_uri: str | None, name: str | None, wait: bool, stack_name: str | None, local: bool) -> None:
    """Start a run of JOB by hand."""
    from emr_autopilot.catalog import load_catalog
    from emr_autopilot.run_starter import DeadlineScheduler, ManualRunRequest, start_manual_run
    from emr_autopilot.runs import StackContext

    outputs = _outputs(stack_name, local)
    region = os.environ.get("AWS_REGION") or boto3.session.Session().region_name or "us-east-1"
    stack = StackContext.from_stack_outputs(outputs, region)
    try:
        outcome = start_manual_run(
            load_catalog(outputs["ArtifactsBucketName"]),
            ManualRunRequest(job=job, input_uri=input_uri),
            stack,
            DeadlineScheduler(outputs["ScheduleGroupName"], outputs["SchedulerRoleArn"]),
            name=name,
        )
    except AutopilotError as exc:
        _fail(str(exc))
    click.echo(f"{outcome.status}: {outcome.execution_arn}")
    if wait:
        sfn = boto3.client("stepfunctions")
        while (execution := sfn.describe_execution(executionArn=outcome.execution_arn))["status"] == "RUNNING":
            time.sleep(5)
        status = execution["status"]
        from emr_autopilot_devkit.runs_view import ended_line

        click.echo(ended_line(status, execution.get("input")))  # says SIMULATED when a step was not run
        sys.exit(0 if status == "SUCCEEDED" else 1)


@main.group("runs", invoke_without_command=True)
@click.option("--job", help="Only this job's runs.")
@click.option(
    "--status",
    type=click.Choice(["RUNNING", "SUCCEEDED", "SIMULATED", "FAILED", "CANCELLED", "ENDED"], case_sensitive=False),
)
@click.option("--since", help="Only runs started within this long, e.g. 7d, 12h, 90m.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@stack_option
@local_option
@click.pass_context
def runs(
    ctx: click.Context,
    job: str | None,
    status: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
    stack_name: str | None,
    local: bool,
) -> None:
    """List runs from the run ledger, newest first."""
    if ctx.invoked_subcommand is not None:
        ctx.ensure_object(dict)
        ctx.obj.update(stack_name=stack_name, local=local)
        return
    from emr_autopilot_devkit.runs_view import format_table, list_runs, since_from

    table = _outputs(stack_name, local)["RunLedgerTableName"]
    try:
        rows = list_runs(table, job=job, status=status, since=since_from(since), limit=limit)
    except ValueError as exc:
        _fail(str(exc))
    click.echo(json.dumps([row.as_dict() for row in rows], indent=2) if as_json else format_table(rows))


@runs.command("show")
@click.argument("run_or_cluster_id")
@stack_option
@local_option
@click.pass_context
def runs_show(ctx: click.Context, run_or_cluster_id: str, stack_name: str | None, local: bool) -> None:
    """One run's steps and timeline (by run id / execution name, or cluster id)."""
    from emr_autopilot_devkit.runs_view import find_cluster, format_timeline

    parent = ctx.obj or {}
    table = _outputs(stack_name or parent.get("stack_name"), local or parent.get("local", False))["RunLedgerTableName"]
    cluster_id = find_cluster(table, run_or_cluster_id)
    if cluster_id is None:
        _fail(f"no run or cluster {run_or_cluster_id!r} in the ledger")
    click.echo(format_timeline(table, cluster_id))


# -- idle reaper --------------------------------------------------------------------------------
@main.command("reap")
@click.option("--dry-run", is_flag=True, help="Decide and report; terminate nothing.")
@click.option("--threshold", default="60m", show_default=True, help="Idle time before termination (30m, 2h, ...).")
@click.option("--grace", default="30m", show_default=True, help="Clusters younger than this are left alone.")
@click.option("--max-terminations", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--scope-tag", default="", help="Only clusters tagged key=value (or key); default: all.")
@click.option("--opt-out-tag", default="emr-autopilot:reaper=skip", show_default=True)
@click.option("--heal", is_flag=True, help="Also add an AutoTerminationPolicy where a cluster has none.")
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON.")
@click.option("--yes", is_flag=True, help="Do not ask before terminating (needed off a terminal).")
@stack_option
@local_option
def reap(
    dry_run: bool,
    threshold: str,
    grace: str,
    max_terminations: int,
    scope_tag: str,
    opt_out_tag: str,
    heal: bool,
    as_json: bool,
    yes: bool,
    stack_name: str | None,
    local: bool,
) -> None:
    """Terminate idle WAITING clusters, with the scheduled reaper's rules; one row per cluster says why."""
    from pydantic import ValidationError

    from emr_autopilot import reaper
    from emr_autopilot_devkit.reap import describe_config_error, duration_option, format_table, report_json, scan_time

    try:  # the options first: a typo is named before any AWS call
        idle_threshold = duration_option("--threshold", threshold, "90m")
        grace_period = duration_option("--grace", grace, "30m")
    except ValueError as exc:
        _fail(str(exc))
    _outputs(stack_name, local)
    try:
        config = reaper.ReaperConfig(
            idle_threshold=idle_threshold,
            grace=grace_period,
            max_terminations=max_terminations,
            dry_run=dry_run,
            scope=scope_tag,
            opt_out=opt_out_tag,
            heal=heal,
            region=_region(),
        )
    except ValidationError as exc:
        _fail(describe_config_error(exc))
    now = scan_time(local)
    if now is None:
        _fail("the local runtime's clock is unknown: is `emr-autopilot local up` running from this directory?")
    if not dry_run and not yes:
        if not sys.stdin.isatty():
            _fail("this terminates clusters: pass --yes, or --dry-run to only see the decisions")
        click.confirm(f"Terminate up to {max_terminations} idle cluster(s) in {config.region}?", abort=True)
    report = reaper.reap(config, now)
    click.echo(report_json(report) if as_json else format_table(report))
    sys.exit(1 if report.with_action("error") else 0)


# -- local runtime ------------------------------------------------------------------------------
@main.group()
def local() -> None:
    """The whole application on this machine: local runtime, no account, no Docker."""
    # The local runtime is an extra: the commands above install and run without moto.
    from importlib.util import find_spec

    if find_spec("moto") is None:
        _fail("the local runtime needs the `local` extra: pip install 'emr-autopilot[local]'")


@local.command("demo")
@click.option("--report", type=_Path(dir_okay=False, path_type=Path), help="Write a JSON report of both runs.")
def local_demo(report: Path | None) -> None:
    """Run the sample job end to end: a good run and a failing run."""
    from emr_autopilot_devkit.demo.main import run_demo

    sys.exit(0 if run_demo(report, sys.stdout) else 1)


@local.command("reliability")
@click.option("--full", is_flag=True, help="Every cell of the fault matrix, not only the slice `make test` runs.")
@click.option("--report", type=_Path(dir_okay=False, path_type=Path), help="Write the matrix as JSON.")
@click.option("--workers", type=click.IntRange(min=1), default=min(2, os.cpu_count() or 1), show_default=True)
@click.option("--cell", "cells", multiple=True, help="Run only this cell id (repeatable).")
def local_reliability(full: bool, report: Path | None, workers: int, cells: tuple[str, ...]) -> None:
    """Run both state machines with a fault at every state; check no cluster or batch is left running."""
    from emr_autopilot_devkit.reliability import CELLS, run_matrix

    unknown = [cell for cell in cells if cell not in CELLS]
    if unknown:
        _fail(f"unknown cell(s) {', '.join(unknown)}; e.g. {next(iter(CELLS))}")
    sys.exit(0 if run_matrix(full, report, sys.stdout, workers, list(cells) or None) else 1)


@local.command("invoke")
@click.argument("function")
@click.option("-e", "--event", "event_file", type=_Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--settle/--no-settle", default=True, help="Also run what the invocation starts (executions, clusters).")
def local_invoke(function: str, event_file: Path, settle: bool) -> None:
    """Invoke FUNCTION (its logical id in template.yaml) with EVENT_FILE, like `sam local invoke`."""
    from emr_autopilot_devkit.local.emr_samples import seed_emr_sample
    from emr_autopilot_devkit.local.livy_samples import seed_livy_event
    from emr_autopilot_devkit.local.runtime import LocalRuntime

    event = json.loads(event_file.read_text(encoding="utf-8"))
    with LocalRuntime() as stack:
        if function not in stack.functions:
            _fail(f"no function {function!r} in template.yaml; functions: {', '.join(sorted(stack.functions))}")
        stack.deploy_jobs()
        for uri in _seed_inputs(stack, event):
            click.echo(f"seeded {uri} with sample inspection records, so the run has input", err=True)
        event, livy_notes = seed_livy_event(stack, event)  # the Livy samples' cluster (and batch)
        for note in livy_notes:
            click.echo(note, err=True)
        for note in seed_emr_sample(stack, event):  # the step-log follow-up sample's stderr.gz
            click.echo(note, err=True)
        result = stack.invoke(function, event)
        click.echo(json.dumps(result, indent=2, default=str))
        if settle:
            stack.settle()
            for entry in stack.timeline:
                click.echo(f"  {entry.text}", err=True)
        logs = stack.log_buffer.getvalue().strip()
        if logs:
            click.echo("--- function logs ---", err=True)
            click.echo(logs, err=True)


def _seed_inputs(stack: Any, event: Any) -> list[str]:
    """Objects the sample event names do not exist in a fresh local runtime: create them."""
    from emr_autopilot.errors import InvalidEvent
    from emr_autopilot.run_starter import parse_object_event
    from emr_autopilot_devkit.sample_data import generate_inspections

    landing = stack.outputs["LandingBucketName"]
    keys: list[str] = []
    if isinstance(event, dict) and "scheduled_time" in event:
        keys = ["inspections/latest.csv"]
    else:
        try:
            keys = [obj.key for obj in parse_object_event(event)[1] if obj.bucket == landing]
        except InvalidEvent:
            keys = []
    for key in keys:
        stack.seed_object(key, generate_inspections())
    return [f"s3://{landing}/{key}" for key in keys]


@local.command("up")
@click.option("--port", type=int, default=4566, show_default=True)
def local_up(port: int) -> None:
    """Keep the local runtime running on 127.0.0.1 for the aws CLI or boto3 (AWS_ENDPOINT_URL)."""
    from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime

    with LocalRuntime(port=port, quiet=False) as stack:
        stack.deploy_jobs()
        LOCAL_STATE.parent.mkdir(exist_ok=True)
        LOCAL_STATE.write_text(
            json.dumps(
                {
                    "endpoint": stack.endpoint,
                    "region": REGION,
                    "outputs": stack.outputs,
                    "notified_buckets": sorted(stack.notified_buckets()),  # for `jobs validate/deploy --local`
                },
                indent=2,
            )
        )
        click.echo(f"Local runtime on {stack.endpoint}. In another shell:")
        click.echo(f"  export AWS_ENDPOINT_URL={stack.endpoint} AWS_ACCESS_KEY_ID=testing")
        click.echo(f"  export AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={REGION}")
        click.echo("  # an upload under inspections/ starts a run by itself:")
        click.echo(f"  aws s3 cp data.csv s3://{stack.outputs['LandingBucketName']}/inspections/data.csv")
        click.echo("  # or start one by hand on any object:")
        click.echo(
            f"  emr-autopilot run red-violations --local --input s3://{stack.outputs['LandingBucketName']}/other/data.csv"
        )
        for key, value in sorted(stack.outputs.items()):
            click.echo(f"  {key:28} {value}")
        click.echo("Ctrl-C to stop.")
        shown = 0
        from emr_autopilot_devkit.reap import LocalUpCompanion

        reaper_support = LocalUpCompanion(stack)  # IsIdle datapoints and the virtual clock, for `reap --local`
        try:
            while True:
                stack.pump()
                reaper_support()
                for entry in stack.timeline[shown:]:
                    click.echo(f"{entry.time:%H:%M:%S}  {entry.text}")
                shown = len(stack.timeline)
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass
        finally:
            LOCAL_STATE.unlink(missing_ok=True)
            reaper_support.close()
