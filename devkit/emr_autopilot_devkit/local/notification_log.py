"""`.local-runtime/notifications.jsonl`: what the local runtime published to SNS, one JSON object a line.

`local up` starts the file afresh; `local invoke` and `local demo` append to it. Each line names the command
and the endpoint of the runtime that received it, so notices from different runtimes are told apart.
`emr-autopilot local notifications` reads it. Standard library only.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emr_autopilot_devkit.local.notifications import Notification

LOG_FILE = Path(".local-runtime/notifications.jsonl")


@dataclass
class NotificationLog:
    """Appends each notice as one line, flushed at once, so `local notifications` sees it while the runtime runs."""

    path: Path
    source: str  # the command: "local up", "local invoke", "local demo"
    endpoint: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start_afresh(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")

    def __call__(self, notification: Notification) -> None:
        record = {
            "time": notification.time.isoformat() if notification.time else None,
            "subject": notification.subject,
            "severity": notification.attributes.get("severity"),
            "attributes": notification.attributes,
            "message": notification.message,
            "topic_arn": notification.topic_arn,
            "source": self.source,
            "endpoint": self.endpoint,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)


def read(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The records from byte `offset` on, oldest first, and the offset after the last whole line.
    A line still being written (no newline yet) is left for the next read."""
    with path.open("rb") as source:
        source.seek(offset)
        data = source.read()
    complete = data[: data.rfind(b"\n") + 1]
    records = []
    for line in complete.decode("utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # not ours (edited by hand): skipped rather than failing the whole listing
    return records, offset + len(complete)


def format_record(record: dict[str, Any]) -> str:
    """Time, severity and subject on one line, then the message indented; the command if not `local up`."""
    time = str(record.get("time") or "")[:19].replace("T", " ")
    severity = str(record.get("severity") or "-")
    source = record.get("source")
    origin = f"  (from {source})" if source and source != "local up" else ""
    head = f"{time}  {severity:8} {record.get('subject') or '(no subject)'}{origin}"
    body = "\n".join(f"    {line}" for line in str(record.get("message") or "").splitlines())
    return f"{head}\n{body}" if body else head
