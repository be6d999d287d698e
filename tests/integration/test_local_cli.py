"""The local tools a developer runs by hand: `local up` (quiet unless --verbose, fails fast on a busy port,
replaces a stale state file and refuses to run twice), `--local` with a stale state file, `local invoke`'s
sample inputs (never over an existing object), and `local notifications`.

Where a real process is needed (a port held, a pid gone, SIGTERM), `emr-autopilot` runs as a subprocess with a
generous timeout: a hang fails the test instead of passing slowly."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import boto3
import pytest
import requests
from click.testing import CliRunner

from emr_autopilot_devkit import cli
from emr_autopilot_devkit.cli.local import _seed_inputs
from emr_autopilot_devkit.local import notifications
from emr_autopilot_devkit.local.notification_log import NotificationLog
from emr_autopilot_devkit.local.runtime import REGION, LocalRuntime, free_port
from emr_autopilot_devkit.sample_data import generate_inspections
from tests.helpers.integration import load_event, wait_until

CLI = [sys.executable, "-c", "import sys; from emr_autopilot_devkit.cli import main; sys.exit(main())"]
HANG = 120  # seconds: far above any honest run of these commands, so only a hang reaches it
STATE = Path(".local-runtime/stack.json")
NOTIFICATIONS = Path(".local-runtime/notifications.jsonl")


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_state(directory: Path, pid: int, endpoint: str) -> Path:
    state = directory / STATE
    state.parent.mkdir(parents=True, exist_ok=True)
    # The outputs a command reads first, as `local up` records them
    outputs = {"RunLedgerTableName": "emr-autopilot-local-RunLedgerTable", "LandingBucketName": "landing"}
    state.write_text(json.dumps({"pid": pid, "endpoint": endpoint, "region": REGION, "outputs": outputs}), "utf-8")
    return state


def _read_lines(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


@dataclass
class LocalUp:
    """`emr-autopilot local up` running as its own process, its output collected line by line."""

    process: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def collect(self) -> None:
        assert self.process.stdout and self.process.stderr
        for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=_read_lines, args=(stream, lines), daemon=True).start()

    def stop(self) -> int:
        """SIGTERM, as `kill` sends; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=HANG)


@pytest.fixture
def local_up(tmp_path: Path, jobs_dir: Callable[..., Path]) -> Iterator[Callable[..., LocalUp]]:
    """Start `local up` in tmp_path with the sample job only; it is stopped after the test."""
    started: list[LocalUp] = []

    def start(*args: str) -> LocalUp:
        command = [*CLI, "local", "up", "--port", str(free_port()), "--jobs-dir", str(jobs_dir()), *args]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
        )
        running = LocalUp(process)
        started.append(running)
        running.collect()
        wait_until(lambda: "Ctrl-C to stop." in running.stdout or process.poll() is not None, timeout=HANG)
        assert process.poll() is None, "\n".join(running.stdout + running.stderr)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=HANG)


def upload_and_wait_for_a_notification(directory: Path) -> dict[str, object]:
    """Upload an input under inspections/ through the endpoint `local up` recorded; the run's first notice."""
    state = json.loads((directory / STATE).read_text(encoding="utf-8"))
    s3 = boto3.client(
        "s3",
        endpoint_url=state["endpoint"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.put_object(Bucket=state["outputs"]["LandingBucketName"], Key="inspections/data.csv", Body=generate_inspections())
    log = directory / NOTIFICATIONS
    line = wait_until(lambda: log.exists() and log.read_text(encoding="utf-8").strip(), timeout=HANG)
    record: dict[str, object] = json.loads(line.splitlines()[0])
    return record


# --- a busy port: a reason at once, never a hang -------------------------------------------------------


def test_local_up_on_a_busy_port_fails_with_a_reason(tmp_path: Path) -> None:
    # Given a port another program listens on
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        # When `local up` is started on it (a hang would run into the timeout and fail the test)
        result = subprocess.run(
            [*CLI, "local", "up", "--port", str(port)], cwd=tmp_path, capture_output=True, text=True, timeout=HANG
        )

    # Then it exits non-zero, says the port is in use and how to choose another, and recorded nothing
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {port} is in use" in result.stderr
    assert "pass --port N" in result.stderr
    assert not (tmp_path / STATE).exists()


def test_a_runtime_whose_port_is_taken_while_it_starts_raises() -> None:
    # Given a held port, and a runtime whose first check is skipped, so the server's own bind meets it
    # (the race between the check and the bind: moto's server thread died there and start() waited for ever)
    script = """
import socket, sys
from emr_autopilot_devkit.local import runtime
holder = socket.socket(); holder.bind(("127.0.0.1", 0)); holder.listen()
runtime.check_port_free = lambda port: None
try:
    runtime.LocalRuntime(port=holder.getsockname()[1]).start()
except runtime.PortInUseError as exc:
    print("raised:", exc)
    sys.exit(3)
"""
    # When it starts (in its own process: a hang runs into the timeout and fails the test)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG)

    # Then start() raises PortInUseError with the reason
    assert result.returncode == 3, result.stdout + result.stderr
    assert "taken while the runtime started" in result.stdout


def test_a_runtime_holds_the_port_it_chose_until_its_server_binds_it() -> None:
    # Given a runtime that chose its own port and has not started
    local = LocalRuntime()
    try:
        # When other code binds ephemeral ports, and binds that port itself
        others = []
        for reuse in (0, 1) * 100:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, reuse)
            sock.bind(("127.0.0.1", 0))
            others.append(sock)
        with socket.socket() as intruder, pytest.raises(OSError) as taken:
            intruder.bind(("127.0.0.1", local.port))

        # Then none of them got it, and the runtime's server still binds it (CI once lost it this way)
        assert local.port not in {sock.getsockname()[1] for sock in others}
        assert taken.value.errno == errno.EADDRINUSE
        for sock in others:
            sock.close()
        local.start()
        assert requests.get(f"{local.endpoint}/moto-api/data.json", timeout=10).status_code == 200
    finally:
        local.stop()


# --- a stale state file ---------------------------------------------------------------------------------


def test_a_local_command_with_a_stale_state_file_fails_at_once_and_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a state file left by a `local up` that is gone (its pid ended, nothing on its port)
    pid, endpoint = dead_pid(), f"http://127.0.0.1:{free_port()}"
    state = write_state(tmp_path, pid, endpoint)
    monkeypatch.chdir(tmp_path)

    # When a command runs with --local
    result = CliRunner().invoke(cli.main, ["runs", "--local"])

    # Then it fails, names the file, the pid and the endpoint, says how to start one, and removed the file
    assert result.exit_code == 1, result.output
    assert f"the local runtime recorded in {STATE} (pid {pid}, {endpoint}) is not running" in result.output
    assert "start `emr-autopilot local up`" in result.output
    assert not state.exists()


def test_a_live_pid_without_an_endpoint_is_stale_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a state file whose pid is alive (this process) but whose endpoint nothing answers
    state = write_state(tmp_path, os.getpid(), f"http://127.0.0.1:{free_port()}")
    monkeypatch.chdir(tmp_path)

    # When a command runs with --local
    result = CliRunner().invoke(cli.main, ["reap", "--dry-run", "--local"])

    # Then it is refused as not running, and the file is gone
    assert result.exit_code == 1, result.output
    assert "is not running" in result.output
    assert not state.exists()


# --- local up: quiet by default, replaces a stale file, refuses a second one, records notices -------------


def test_local_up_prints_the_timeline_without_the_handler_logs(
    tmp_path: Path, local_up: Callable[..., LocalUp], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stale state file from a `local up` that was killed
    stale_pid = dead_pid()
    write_state(tmp_path, stale_pid, f"http://127.0.0.1:{free_port()}")

    # When `local up` starts, an input is uploaded and its run notifies
    running = local_up()
    notice = upload_and_wait_for_a_notification(tmp_path)
    wait_until(lambda: any("SNS notification:" in line for line in running.stdout), timeout=HANG)

    # Then it said it replaced the stale file, and recorded itself in it
    assert any(f"replacing {STATE}" in line and f"pid {stale_pid}" in line for line in running.stdout)
    assert json.loads((tmp_path / STATE).read_text(encoding="utf-8"))["pid"] == running.process.pid

    # And a second `local up` in the same directory is refused, naming the running one (on the same port:
    # without the check it fails on the port, never runs on in this process)
    monkeypatch.chdir(tmp_path)
    port = json.loads((tmp_path / STATE).read_text(encoding="utf-8"))["endpoint"].rsplit(":", 1)[1]
    second = CliRunner().invoke(cli.main, ["local", "up", "--port", port])
    assert second.exit_code == 1
    assert f"another `emr-autopilot local up` is running (pid {running.process.pid}" in second.output

    # And `local notifications` prints the notice the run sent
    listed = CliRunner().invoke(cli.main, ["local", "notifications"])
    assert listed.exit_code == 0, listed.output
    assert str(notice["subject"]) in listed.output
    assert "red-violations" in str(notice["subject"])

    # And after SIGTERM it stopped cleanly and removed its state file
    assert running.stop() == 0
    assert not (tmp_path / STATE).exists()

    # And its output had the header and the timeline, but no handler JSON log line and no moto dump
    out, err = "\n".join(running.stdout), "\n".join(running.stderr)
    assert "Local runtime on http://127.0.0.1:" in out
    assert "S3 object created: s3://" in out
    assert "SNS notification: [emr-autopilot]" in out
    assert not [line for line in running.stdout if line.startswith("{")], out
    assert "Exception=" not in err and "Traceback" not in err, err
    # (the handler logs went to the log file instead)
    assert '"level":"INFO"' in (tmp_path / ".local-runtime" / "handler.log").read_text(encoding="utf-8")


def test_local_up_verbose_prints_the_handler_logs(tmp_path: Path, local_up: Callable[..., LocalUp]) -> None:
    # Given `local up --verbose`
    running = local_up("--verbose")

    # When a run goes through
    upload_and_wait_for_a_notification(tmp_path)
    wait_until(lambda: any(line.startswith('{"level":"INFO"') for line in running.stdout), timeout=HANG)
    running.stop()

    # Then the handlers' JSON log lines are among the timeline
    assert any(line.startswith('{"level":"INFO"') and "run started" in line for line in running.stdout)
    assert any("S3 object created" in line for line in running.stdout)


# --- local invoke: sample input only where there is none ------------------------------------------------


def test_local_invoke_seeds_only_the_objects_that_do_not_exist(stack: LocalRuntime) -> None:
    # Given the sample event's object, already uploaded by the user with their own content,
    # and the schedule sample, whose object does not exist
    event = load_event("run_starter_s3_object_created.json")
    landing = stack.outputs["LandingBucketName"]
    key = event["detail"]["object"]["key"]
    mine = b"name,inspection_date,violation_type\nmy own,2026-11-21,RED\n"
    stack.seed_object(key, mine)

    # When `local invoke` prepares its inputs for both events
    seeded, kept = _seed_inputs(stack, event)
    seeded_for_schedule, _ = _seed_inputs(stack, load_event("run_starter_schedule.json"))

    # Then the user's object is left as it was and said so; the missing one is seeded
    assert (seeded, kept) == ([], [f"s3://{landing}/{key}"])
    assert stack.client("s3").get_object(Bucket=landing, Key=key)["Body"].read() == mine
    assert seeded_for_schedule == [f"s3://{landing}/inspections/latest.csv"]
    assert stack.client("s3").get_object(Bucket=landing, Key="inspections/latest.csv")["ContentLength"] > 0


# --- local notifications ------------------------------------------------------------------------------


def test_local_notifications_prints_what_the_runtime_published(
    stack: LocalRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the notification log a command keeps, and a run that succeeds while it records
    monkeypatch.chdir(tmp_path)
    log = NotificationLog(NOTIFICATIONS, "local up", stack.endpoint)
    log.start_afresh()
    with notifications.recording(log):
        stack.put_object("inspections/2026-12-01/data.csv", generate_inspections())
        stack.settle()
    assert stack.notifications, "the run sent no notification"
    sent = stack.notifications[-1]

    # When `local notifications` runs, as text and as JSON
    text = CliRunner().invoke(cli.main, ["local", "notifications"])
    as_json = CliRunner().invoke(cli.main, ["local", "notifications", "--json", "--limit", "1"])

    # Then the text names the subject and the severity attribute, and shows the message
    assert text.exit_code == 0, text.output
    assert f"{sent.attributes['severity']:8} {sent.subject}" in text.output
    assert sent.message.splitlines()[0] in text.output
    # And the JSON is the newest notice, with its time on the runtime's clock and where it came from
    records = json.loads(as_json.output)
    assert [(r["subject"], r["severity"], r["message"]) for r in records] == [
        (sent.subject, sent.attributes["severity"], sent.message)
    ]
    assert sent.time is not None
    assert records[0]["time"] == sent.time.isoformat()
    assert (records[0]["source"], records[0]["endpoint"]) == ("local up", stack.endpoint)


def test_local_notifications_without_a_log_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a directory where no local runtime ever ran
    monkeypatch.chdir(tmp_path)

    # When `local notifications` runs
    result = CliRunner().invoke(cli.main, ["local", "notifications"])

    # Then it fails and says how to record some
    assert result.exit_code == 1
    assert "no notifications recorded" in result.output
    assert "emr-autopilot local up" in result.output
