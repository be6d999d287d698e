"""SNS capture: every topic of the template is subscribed to one SQS inbox at deploy; the notices are read back
from it, as a subscriber's mailbox would receive them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Notification:
    topic_arn: str
    subject: str
    message: str
    attributes: dict[str, str]


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
