"""`emr-autopilot local`: the whole application on this machine (the local runtime)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from emr_autopilot_devkit.cli.common import LOCAL_STATE, PathArg, fail


@click.group()
def local() -> None:
    """The whole application on this machine: local runtime, no account, no Docker."""
    # The local runtime is an extra: the commands above install and run without moto.
    from importlib.util import find_spec

    if find_spec("moto") is None:
        fail("the local runtime needs the `local` extra: pip install 'emr-autopilot[local]'")


@local.command("demo")
@click.option("--report", type=PathArg(dir_okay=False, path_type=Path), help="Write a JSON report of both runs.")
def local_demo(report: Path | None) -> None:
    """Run the sample job end to end: a good run and a failing run."""
    from emr_autopilot_devkit.demo.main import run_demo

    sys.exit(0 if run_demo(report, sys.stdout) else 1)


@local.command("reliability")
@click.option("--full", is_flag=True, help="Every cell of the fault matrix, not only the slice `make test` runs.")
@click.option("--report", type=PathArg(dir_okay=False, path_type=Path), help="Write the matrix as JSON.")
@click.option("--workers", type=click.IntRange(min=1), default=min(2, os.cpu_count() or 1), show_default=True)
@click.option("--cell", "cells", multiple=True, help="Run only this cell id (repeatable).")
def local_reliability(full: bool, report: Path | None, workers: int, cells: tuple[str, ...]) -> None:
    """Run both state machines with a fault at every state; check no cluster or batch is left running."""
    from emr_autopilot_devkit.reliability import CELLS, run_matrix

    unknown = [cell for cell in cells if cell not in CELLS]
    if unknown:
        fail(f"unknown cell(s) {', '.join(unknown)}; e.g. {next(iter(CELLS))}")
    sys.exit(0 if run_matrix(full, report, sys.stdout, workers, list(cells) or None) else 1)


@local.command("invoke")
@click.argument("function")
@click.option("-e", "--event", "event_file", type=PathArg(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--settle/--no-settle", default=True, help="Also run what the invocation starts (executions, clusters).")
def local_invoke(function: str, event_file: Path, settle: bool) -> None:
    """Invoke FUNCTION (its logical id in template.yaml) with EVENT_FILE, like `sam local invoke`."""
    from emr_autopilot_devkit.local.emr_samples import seed_emr_sample
    from emr_autopilot_devkit.local.livy_samples import seed_livy_event
    from emr_autopilot_devkit.local.runtime import LocalRuntime

    event = json.loads(event_file.read_text(encoding="utf-8"))
    with LocalRuntime() as stack:
        if function not in stack.functions:
            fail(f"no function {function!r} in template.yaml; functions: {', '.join(sorted(stack.functions))}")
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
