"""`emr-autopilot run` and `emr-autopilot runs`: start a run by hand, and read the run ledger."""

from __future__ import annotations

import json
import os
import sys
import time

import boto3
import click

from emr_autopilot.errors import AutopilotError
from emr_autopilot_devkit.cli.common import fail, local_option, read_outputs, stack_option


@click.command("run")
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

    outputs = read_outputs(stack_name, local)
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
        fail(str(exc))
    click.echo(f"{outcome.status}: {outcome.execution_arn}")
    if wait:
        sfn = boto3.client("stepfunctions")
        while (execution := sfn.describe_execution(executionArn=outcome.execution_arn))["status"] == "RUNNING":
            time.sleep(5)
        status = execution["status"]
        from emr_autopilot_devkit.runs_view import ended_line

        click.echo(ended_line(status, execution.get("input")))  # says SIMULATED when a step was not run
        sys.exit(0 if status == "SUCCEEDED" else 1)


@click.group("runs", invoke_without_command=True)
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

    table = read_outputs(stack_name, local)["RunLedgerTableName"]
    try:
        rows = list_runs(table, job=job, status=status, since=since_from(since), limit=limit)
    except ValueError as exc:
        fail(str(exc))
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
    table = read_outputs(stack_name or parent.get("stack_name"), local or parent.get("local", False))[
        "RunLedgerTableName"
    ]
    cluster_id = find_cluster(table, run_or_cluster_id)
    if cluster_id is None:
        fail(f"no run or cluster {run_or_cluster_id!r} in the ledger")
    click.echo(format_timeline(table, cluster_id))
