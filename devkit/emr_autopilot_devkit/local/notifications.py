"""SNS capture: every topic of the template is subscribed to one SQS inbox at deploy; the notices are read back
from it, as a subscriber's mailbox would receive them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class Notification:
    topic_arn: str
    subject: str
    message: str
    attributes: dict[str, str]
    time: datetime | None = None  # the runtime's clock when it was received (set by collect_notifications)


# Called with every notice any runtime in this process receives, while a command records them (recording()).
_recorders: list[Callable[[Notification], None]] = []


@contextlib.contextmanager
def recording(recorder: Callable[[Notification], None]) -> Iterator[None]:
    """Pass every notice received in the block to `recorder`: `local up`, `local invoke` and `local demo` write
    them to .local-runtime/notifications.jsonl. Process-wide, as the demo builds its runtime itself."""
    _recorders.append(recorder)
    try:
        yield
    finally:
        _recorders.remove(recorder)


def record(notification: Notification) -> None:
    for recorder in list(_recorders):
        recorder(notification)


def receive(sqs: Any, inbox_url: str) -> list[Notification]:
    """Every notice waiting in the inbox, removed from it, oldest first."""
    received: list[Notification] = []
    while True:
        messages = sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return received
        for message in messages:
            body = json.loads(message["Body"])
            received.append(
                Notification(
                    topic_arn=body.get("TopicArn", ""),
                    subject=body.get("Subject", ""),
                    message=body.get("Message", ""),
                    attributes={
                        key: value.get("Value", "") for key, value in body.get("MessageAttributes", {}).items()
                    },
                )
            )
            sqs.delete_message(QueueUrl=inbox_url, ReceiptHandle=message["ReceiptHandle"])
