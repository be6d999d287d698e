"""Events a handler cannot use go to the dead-letter queue at once: kept, not retried."""

import json
from typing import Any

from emr_autopilot import aws


def quarantine(queue_url: str, function: str, event: Any, reason: str) -> None:
    body = json.dumps({"function": function, "reason": reason, "event": event}, default=str)
    # SQS takes 256 KiB; an event larger than that is cut, but the reason and start of it are kept.
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body[:250_000])
