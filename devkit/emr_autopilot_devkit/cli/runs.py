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
        from emr_autopilot_devkit.run_summary import read_summary

        sfn = boto3.client("stepfunctions")
        delay = 1.0  # a short run ends soon after it starts; then one poll every 5 s is plenty
        while sfn.describe_execution(executionArn=outcome.execution_arn)["status"] == "RUNNING":
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)
        # The first line says SIMULATED when a step was not run (runs_view.ended_line).
        summary = read_summary(sfn, outcome.execution_arn, outputs.get("RunLedgerTableName"))
        click.echo("\n".join(summary.lines()))
        sys.exit(0 if summary.status == "SUCCEEDED" else 1)


@click.group("runs", invoke_without_command=True)
@click.option("--job", help="Only this job's runs.")
@click.option(
    "--status",
    type=click.Choice(["RUNNING", "SUCCEEDED", "SIMULATED", "FAILED", "CANCELLED", "ENDED"], case_sensitive=False),
)
@click.option("--since", help="Only runs started within this long, e.g. 7d, 12h, 90m.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--cost",
    "by_cost",
    is_flag=True,
    help="Cost by job over --since (default 30d): finished runs, their estimated cost, and how many have none.",
)
@click.option(
    "--html", "html_file", metavar="FILE", help="Write the runs as one HTML page (a timeline per run) to FILE."
)
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
    html_file: str | None = None,
    by_cost: bool = False,
) -> None:
    """List runs from the run ledger, newest first."""
    if ctx.invoked_subcommand is not None:
        ctx.ensure_object(dict)
        ctx.obj.update(stack_name=stack_name, local=local)
        return
    from emr_autopilot_devkit.runs_view import format_table, list_runs, since_from

    if html_file is not None:
        from pathlib import Path

        from emr_autopilot_devkit.cli.common import region
        from emr_autopilot_devkit.runs_page import write_runs_page

        outputs = read_outputs(stack_name, local)
        try:  # a bad --since, or a path that cannot be written (no such folder, a NUL byte): a reason
            count = write_runs_page(
                Path(html_file),
                outputs,
                region=None if local else region(),  # the local runtime's clusters are in no console
                job=job,
                status=status,
                since=since_from(since),
                limit=limit,
            )
        except (OSError, ValueError) as exc:
            fail(str(exc))
        click.echo(f"Wrote {count} run(s) to {html_file} (one page, no network needed to view it).")
        return
    if by_cost:
        _print_costs(read_outputs(stack_name, local)["RunLedgerTableName"], since or "30d", job, as_json)
        return
    outputs = read_outputs(stack_name, local)
    try:
        rows = list_runs(outputs["RunLedgerTableName"], job=job, status=status, since=since_from(since), limit=limit)
    except ValueError as exc:
        fail(str(exc))
    if not as_json:
        click.echo(format_table(rows))
        return
    from emr_autopilot_devkit.runs_view import EKS, SERVERLESS, run_locations, serverless_locations

    # The whole reason, the compute target and cost, and where each run read, wrote and logged (one
    # DescribeExecution per run).
    machine = outputs.get("StateMachineArn")
    located = [
        row.as_dict()
        | (
            serverless_locations(row.execution_arn, row.cluster_id, row.compute)
            if row.compute in (SERVERLESS, EKS)
            else run_locations({"run_id": row.run_id}, row.cluster_id, machine, describe_cluster=False)
        ).as_dict()
        for row in rows
    ]
    click.echo(json.dumps(located, indent=2))


def _print_costs(table: str, since: str, job: str | None, as_json: bool) -> None:
    from emr_autopilot_devkit.runs_view import cost_by_job, format_costs, since_from

    try:
        start = since_from(since)
    except ValueError as exc:
        fail(str(exc))
    costs, running = cost_by_job(table, start, job)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "since": start.isoformat() if start else None,
                    "running": running,
                    "jobs": [cost.as_dict() for cost in costs],
                },
                indent=2,
            )
        )
        return
    click.echo(format_costs(costs, running, start))


@runs.command("show")
@click.argument("run_or_cluster_id")
@stack_option
@local_option
@click.pass_context
def runs_show(ctx: click.Context, run_or_cluster_id: str, stack_name: str | None, local: bool) -> None:
    """One run's steps and timeline (by run id / execution name, or cluster id); a serverless run's job runs."""
    from emr_autopilot import ledger
    from emr_autopilot_devkit import runs_view
    from emr_autopilot_devkit.runs_view import find_cluster, format_timeline, run_locations

    parent = ctx.obj or {}
    outputs = read_outputs(stack_name or parent.get("stack_name"), local or parent.get("local", False))
    table = outputs["RunLedgerTableName"]
    serverless = runs_view.find_serverless_run(table, run_or_cluster_id)
    if serverless is not None:
        where = runs_view.serverless_locations(
            serverless.get("execution_arn"),
            serverless.get("application_id") or serverless.get("virtual_cluster_id"),
            str(serverless.get("compute") or runs_view.SERVERLESS),
        )
        click.echo(runs_view.format_serverless_run(table, run_or_cluster_id, where))
        return
    cluster_id = find_cluster(table, run_or_cluster_id)
    if cluster_id is None:
        fail(f"no run or cluster {run_or_cluster_id!r} in the ledger")
    meta = ledger.get_cluster(table, cluster_id) or {}
    locations = run_locations(meta, cluster_id, outputs.get("StateMachineArn"))
    click.echo(format_timeline(table, cluster_id, locations))
