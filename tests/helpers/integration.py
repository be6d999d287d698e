"""Helpers for the integration tests: the whole application on the local runtime (jobs to deploy, events,
waiting, reading what a run left behind)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from emr_autopilot_devkit.local.runtime import LocalRuntime
from emr_autopilot_devkit.sample_data import parse_result_csv

REPO_ROOT = Path(__file__).resolve().parents[2]
JOBS_DIR = REPO_ROOT / "jobs"
EVENTS_DIR = REPO_ROOT / "events"
SAMPLE_JOB = "red-violations"

RuntimeFactory = Callable[..., LocalRuntime]


def sample_job() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((JOBS_DIR / f"{SAMPLE_JOB}.yaml").read_text(encoding="utf-8"))
    return loaded


# A command-runner.jar command this machine does not have: command_job marks its step `simulate: true`,
# so it is not run and takes Timings.simulated_step virtual seconds on the fast clock (no real process).
# Without `simulate`, the local runtime fails such a step, as it cannot run it.
SIMULATED_COMMAND = ["hadoop", "jar", "/usr/lib/hadoop-mapreduce/hadoop-mapreduce-examples.jar", "pi", "10", "100"]


def command_job(
    name: str,
    commands: list[str | list[str]],
    *,
    step_concurrency: int = 1,
    run_timeout: str = "1h",
    step_timeout: str | None = None,
    step_completion: str | None = None,
) -> dict[str, Any]:
    """A job of `command` steps named "step 1", "step 2", ...: a string runs as `bash -c <string>`,
    a list is the command line as is (SIMULATED_COMMAND: a step marked `simulate: true`).

    It reuses the sample job's cluster section and starts on objects under `<name>/` ending in .csv.
    """
    cluster = dict(sample_job()["cluster"])
    cluster["step_concurrency"] = step_concurrency
    if step_completion:
        cluster["step_completion"] = step_completion
    steps = []
    for number, command in enumerate(commands, start=1):
        args = ["bash", "-c", command] if isinstance(command, str) else command
        step: dict[str, Any] = {"name": f"step {number}", "type": "command", "args": args}
        if command == SIMULATED_COMMAND:
            step["simulate"] = True
        if step_timeout:
            step["timeout"] = step_timeout
        steps.append(step)
    return {
        "name": name,
        "triggers": {"s3": [{"bucket": "landing", "prefix": f"{name}/", "suffix": ".csv"}]},
        "cluster": cluster,
        "steps": steps,
        "run_timeout": run_timeout,
    }


def load_event(name: str) -> Any:
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


def sample_jobs(tmp_path: Path, job: str) -> Path:
    """A jobs folder with only this sample job of jobs/ and the samples' code, for `local_runtime` to deploy."""
    import shutil

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(JOBS_DIR / f"{job}.yaml", jobs)
    shutil.copytree(JOBS_DIR / "red_violations", jobs / "red_violations")
    return jobs


def described_execution(stack: LocalRuntime, execution_arn: str) -> dict[str, Any]:
    described: dict[str, Any] = stack.client("stepfunctions").describe_execution(executionArn=execution_arn)
    return described


def run_input(execution: dict[str, Any]) -> dict[str, Any]:
    """The state machine input the run starter rendered for an execution."""
    loaded: dict[str, Any] = json.loads(execution["input"])
    return loaded


def only(items: list[Any]) -> Any:
    assert len(items) == 1, f"expected exactly one item, got {len(items)}: {items}"
    return items[0]


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.01) -> Any:
    """Poll until `predicate()` is truthy and return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def history_of(stack: LocalRuntime, execution: dict[str, Any]) -> list[dict[str, Any]]:
    return stack.history(execution["executionArn"])


def task_failures(history: list[dict[str, Any]], resource: str) -> list[dict[str, Any]]:
    """TaskFailed details of one integration, e.g. resource "terminateCluster.sync"."""
    return [
        event["taskFailedEventDetails"]
        for event in history
        if event["type"] == "TaskFailed" and event["taskFailedEventDetails"].get("resource") == resource
    ]


def states_entered(history: list[dict[str, Any]]) -> list[str]:
    """The states an execution entered, in order (Map iterations included)."""
    return [event["stateEnteredEventDetails"]["name"] for event in history if event["type"].endswith("StateEntered")]


def task_scheduled(history: list[dict[str, Any]], resource: str) -> list[dict[str, Any]]:
    return [
        event["taskScheduledEventDetails"]
        for event in history
        if event["type"] == "TaskScheduled" and event["taskScheduledEventDetails"].get("resource") == resource
    ]


def dead_letters(stack: LocalRuntime) -> list[dict[str, Any]]:
    """Every message in the functions' dead-letter queue, parsed."""
    sqs = stack.client("sqs")
    url = stack.outputs["FunctionDeadLetterQueueUrl"]
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(json.loads(message["Body"]) for message in messages)


def deadline_schedules(stack: LocalRuntime) -> list[str]:
    scheduler = stack.client("scheduler")
    group = stack.outputs["ScheduleGroupName"]
    names = [item["Name"] for item in scheduler.list_schedules(GroupName=group).get("Schedules", [])]
    return [name for name in names if name.startswith("deadline-")]


def read_object(stack: LocalRuntime, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def output_counts(stack: LocalRuntime, output_uri: str) -> list[tuple[str, int]]:
    """The one part-*.csv Spark wrote under output_uri, read back."""
    bucket, _, prefix = output_uri.removeprefix("s3://").partition("/")
    keys = [obj["Key"] for obj in stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    part = only([key for key in keys if key.rsplit("/", 1)[-1].startswith("part-") and key.endswith(".csv")])
    assert f"{prefix}_SUCCESS" in keys
    assert not [key for key in keys if key.endswith(".crc")]
    body = stack.client("s3").get_object(Bucket=bucket, Key=part)["Body"].read().decode("utf-8")
    return parse_result_csv(body)


def local_cli(stack: LocalRuntime, workdir: Path, monkeypatch: Any, **state: Any) -> Callable[..., Any]:
    """`emr-autopilot ... --local` against `stack`, as after `local up`: its state file in `workdir` (plus any
    extra `state` keys), the working directory there, and the environment `--local` sets, restored after the test."""
    from click.testing import CliRunner

    from emr_autopilot_devkit.cli import main
    from emr_autopilot_devkit.local.runtime import REGION

    (workdir / ".local-runtime").mkdir(parents=True)
    recorded = {"endpoint": stack.endpoint, "region": REGION, "outputs": stack.outputs, **state}
    (workdir / ".local-runtime" / "stack.json").write_text(json.dumps(recorded), encoding="utf-8")
    monkeypatch.chdir(workdir)
    for key, value in {
        "AWS_ENDPOINT_URL": stack.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("EMR_AUTOPILOT_STACK", raising=False)
    return lambda *args: CliRunner().invoke(main, [*args, "--local"], catch_exceptions=False)
