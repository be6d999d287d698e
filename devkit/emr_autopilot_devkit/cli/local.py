"""`emr-autopilot local`: the whole application on this machine (the local runtime)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

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
    from emr_autopilot_devkit.local import notifications
    from emr_autopilot_devkit.local.notification_log import LOG_FILE, NotificationLog

    with notifications.recording(NotificationLog(LOG_FILE, "local demo")):
        passed = run_demo(report, sys.stdout)
    sys.exit(0 if passed else 1)


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
    from emr_autopilot_devkit.local import notifications
    from emr_autopilot_devkit.local.emr_samples import seed_eks_sample, seed_emr_sample
    from emr_autopilot_devkit.local.livy_samples import seed_livy_event
    from emr_autopilot_devkit.local.notification_log import LOG_FILE, NotificationLog
    from emr_autopilot_devkit.local.runtime import LocalRuntime

    event = json.loads(event_file.read_text(encoding="utf-8"))
    with LocalRuntime() as stack, notifications.recording(NotificationLog(LOG_FILE, "local invoke", stack.endpoint)):
        if function not in stack.functions:
            fail(f"no function {function!r} in template.yaml; functions: {', '.join(sorted(stack.functions))}")
        stack.deploy_jobs()
        seeded, kept = _seed_inputs(stack, event)
        for uri in seeded:
            click.echo(f"seeded {uri} with sample inspection records, so the run has input", err=True)
        for uri in kept:
            click.echo(f"left {uri} as it was: it exists, so the run reads it", err=True)
        event, livy_notes = seed_livy_event(stack, event)  # the Livy samples' cluster (and batch)
        for note in livy_notes:
            click.echo(note, err=True)
        for note in seed_emr_sample(stack, event):  # the step-log follow-up sample's stderr.gz
            click.echo(note, err=True)
        event, eks_notes = seed_eks_sample(stack, event)  # the EMR on EKS samples' virtual cluster and job run
        for note in eks_notes:
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


def _seed_inputs(stack: Any, event: Any) -> tuple[list[str], list[str]]:
    """Give the objects the event names sample records, so the run has input: only those that do not exist.
    Returns the URIs seeded and those left as they were."""
    from botocore.exceptions import ClientError

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
    s3 = stack.client("s3")
    seeded: list[str] = []
    kept: list[str] = []
    for key in dict.fromkeys(keys):  # an event may name an object twice
        uri = f"s3://{landing}/{key}"
        try:
            s3.head_object(Bucket=landing, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            stack.seed_object(key, generate_inspections())
            seeded.append(uri)
        else:
            kept.append(uri)
    return seeded, kept


HANDLER_LOG = Path(".local-runtime/handler.log")


@local.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=4566, show_default=True)
@click.option(
    "--jobs-dir",
    type=PathArg(exists=True, file_okay=False, path_type=Path),
    help="The jobs to deploy (default: jobs/ of the repository).",
)
@click.option("--verbose", is_flag=True, help="Also print the handlers' log lines and moto's logs here.")
def local_up(port: int, jobs_dir: Path | None, verbose: bool) -> None:
    """Keep the local runtime running on 127.0.0.1 for the aws CLI or boto3 (AWS_ENDPOINT_URL)."""
    from emr_autopilot.errors import JobDefinitionError
    from emr_autopilot_devkit.local import notifications, state_file
    from emr_autopilot_devkit.local.notification_log import LOG_FILE, NotificationLog
    from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime, PortInUseError, check_port_free, free_port

    # The cheap checks first: nothing is started, and nothing of a running `local up` is touched.
    existing = state_file.read(LOCAL_STATE)
    if existing is not None:
        if state_file.is_running(existing):
            fail(
                f"another `emr-autopilot local up` is running ({state_file.describe(existing)}, see {LOCAL_STATE}): "
                "stop it first, or use it (commands with --local talk to it)"
            )
        click.echo(f"replacing {LOCAL_STATE}: the runtime it recorded ({state_file.describe(existing)}) is not running")
        LOCAL_STATE.unlink(missing_ok=True)
    try:
        check_port_free(port)  # before the template is read; start() checks again
        stack = LocalRuntime(port=port, quiet=not verbose).start()
    except PortInUseError:
        fail(
            f"port {port} is in use on 127.0.0.1 by another program: stop it, or pass --port N "
            f"(e.g. --port {free_port()})"
        )
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(stack.stop)
        cleanup.enter_context(_stopped_by_sigterm())
        try:
            stack.deploy_jobs(jobs_dir)
        except JobDefinitionError as exc:
            fail(f"the jobs cannot be deployed: {exc}")
        state_file.write(LOCAL_STATE, stack.endpoint, REGION, stack.outputs, sorted(stack.notified_buckets()))
        cleanup.callback(state_file.remove_if_mine, LOCAL_STATE)
        log = NotificationLog(LOG_FILE, "local up", stack.endpoint)
        log.start_afresh()
        cleanup.enter_context(notifications.recording(log))
        handler_log: TextIO | None = None
        if not verbose:
            HANDLER_LOG.parent.mkdir(exist_ok=True)
            handler_log = cleanup.enter_context(HANDLER_LOG.open("w", encoding="utf-8"))
            cleanup.enter_context(_library_output_to(handler_log))
        _print_header(stack, REGION, verbose)
        _serve(stack, handler_log)


def _print_header(stack: Any, region: str, verbose: bool) -> None:
    landing = stack.outputs["LandingBucketName"]
    click.echo(f"Local runtime on {stack.endpoint}. In another shell:")
    click.echo(f"  export AWS_ENDPOINT_URL={stack.endpoint} AWS_ACCESS_KEY_ID=testing")
    click.echo(f"  export AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={region}")
    click.echo("  # an upload under inspections/ starts a run by itself:")
    click.echo(f"  aws s3 cp data.csv s3://{landing}/inspections/data.csv")
    click.echo("  # or start one by hand on any object:")
    click.echo(f"  emr-autopilot run red-violations --local --input s3://{landing}/other/data.csv")
    click.echo("  # what it sent to SNS:")
    click.echo("  emr-autopilot local notifications")
    for key, value in sorted(stack.outputs.items()):
        click.echo(f"  {key:28} {value}")
    if not verbose:
        click.echo(f"Handler logs: {HANDLER_LOG} (--verbose prints them here).")
    click.echo("Ctrl-C to stop.")


def _serve(stack: Any, handler_log: TextIO | None) -> None:
    """Deliver events, fire schedules and print the timeline until Ctrl-C (or SIGTERM)."""
    from emr_autopilot_devkit.reap import LocalUpCompanion

    reaper_support = LocalUpCompanion(stack)  # IsIdle datapoints and the virtual clock, for `reap --local`
    shown = 0
    try:
        while True:
            stack.pump()
            reaper_support()
            for entry in stack.timeline[shown:]:
                click.echo(f"{entry.time:%H:%M:%S}  {entry.text}")
            shown = len(stack.timeline)
            if handler_log is not None:
                # Taken out of the runtime's buffer each round: a long `local up` must not keep them all.
                handler_log.write(stack.drain_logs())
                handler_log.flush()
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        reaper_support.close()


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """`kill` ends `local up` as Ctrl-C does, so its state file is removed (it was left behind)."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (a test runner): only Ctrl-C then
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _library_output_to(log: TextIO) -> Iterator[None]:
    """Python warnings (powertools' "No application metrics to publish") and werkzeug's errors go to the
    handler log, not the terminal: among the timeline they read like crashes."""
    handler = logging.StreamHandler(log)
    loggers = [logging.getLogger(name) for name in ("py.warnings", "werkzeug")]
    saved = [(logger.handlers[:], logger.propagate) for logger in loggers]
    logging.captureWarnings(True)
    for logger in loggers:
        logger.handlers = [handler]
        logger.propagate = False
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for logger, (handlers, propagate) in zip(loggers, saved, strict=True):
            logger.handlers = handlers
            logger.propagate = propagate


@local.command("notifications")
@click.option("--json", "as_json", is_flag=True, help="JSON: an array; with --follow, one object a line.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N.")
@click.option("--follow", is_flag=True, help="Keep printing new ones as they arrive (Ctrl-C to stop).")
def local_notifications(as_json: bool, limit: int | None, follow: bool) -> None:
    """What the local runtime published to SNS (subject, severity, time, message), newest last."""
    from emr_autopilot_devkit.local.notification_log import LOG_FILE, format_record, read

    if not LOG_FILE.exists():
        fail(
            f"no notifications recorded ({LOG_FILE} does not exist here): start `emr-autopilot local up` in this "
            "directory (or run `local invoke` or `local demo`), then run a job"
        )
    records, offset = read(LOG_FILE)
    shown = records[-limit:] if limit else records
    if as_json and not follow:
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    if not records and not follow:
        click.echo(f"no notifications recorded yet in {LOG_FILE}")
        return

    def show(items: list[dict[str, Any]]) -> None:
        for record in items:
            click.echo(json.dumps(record, ensure_ascii=False) if as_json else format_record(record))

    show(shown)
    try:
        while follow:
            time.sleep(0.5)
            if not LOG_FILE.exists() or LOG_FILE.stat().st_size < offset:  # a new `local up` started afresh
                offset = 0
                if not LOG_FILE.exists():
                    continue
            new, offset = read(LOG_FILE, offset)
            show(new)
    except KeyboardInterrupt:
        pass
