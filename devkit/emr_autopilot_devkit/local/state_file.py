"""`.local-runtime/stack.json`: where `emr-autopilot local up` runs, for the commands run with `--local`.

`local up` writes it with its pid and removes it when it stops; a `kill -9` or a crash leaves it behind.
Before a command trusts it, it checks the process is alive and the endpoint answers, so a leftover file
fails at once with a reason instead of boto3 retrying a dead endpoint for most of a minute.
Standard library only: the operator CLI reads it without the local runtime's extra installed.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

STATE_FILE = Path(".local-runtime/stack.json")
# A local endpoint accepts a connection in well under a millisecond; a dead one refuses at once.
_CONNECT_TIMEOUT = 0.5


def write(path: Path, endpoint: str, region: str, outputs: dict[str, str], notified_buckets: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "pid": os.getpid(),
        "endpoint": endpoint,
        "region": region,
        "outputs": outputs,
        "notified_buckets": notified_buckets,  # for `jobs validate/deploy --local`
    }
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")


def read(path: Path) -> dict[str, Any] | None:
    """The recorded state; None without a file. A file that is not a state (cut short, edited) reads as {}."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        state = json.loads(text)
    except ValueError:
        return {}
    return state if isinstance(state, dict) and "endpoint" in state else {}


def remove_if_mine(path: Path) -> None:
    """Remove the file if this process wrote it (another `local up` may have replaced it since)."""
    state = read(path)
    if state is not None and state.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def describe(state: dict[str, Any]) -> str:
    """'pid N, http://127.0.0.1:PORT', for messages."""
    parts = [f"pid {state['pid']}"] if "pid" in state else []
    return ", ".join([*parts, str(state.get("endpoint", "no endpoint recorded"))])


def is_running(state: dict[str, Any]) -> bool:
    """The recorded process is alive (if a pid is recorded) and something answers on its endpoint."""
    if not state.get("endpoint"):
        return False
    pid = state.get("pid")
    if pid is not None and not pid_alive(pid):
        return False
    return endpoint_answers(str(state["endpoint"]))


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only checks the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    return True


def endpoint_answers(endpoint: str, timeout: float = _CONNECT_TIMEOUT) -> bool:
    parts = urlsplit(endpoint)
    if not parts.hostname or not parts.port:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return True
    except OSError:
        return False
