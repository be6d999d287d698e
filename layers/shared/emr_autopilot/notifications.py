"""SNS notifications: short subjects, readable bodies, attributes for subscription filter policies."""

import unicodedata
from typing import Literal

from emr_autopilot import aws

Severity = Literal["INFO", "WARNING", "ERROR", "CRITICAL"]
# SNS API reference, Publish.Subject: "UTF-8 text with no line breaks or control characters, and less than
# 100 characters long" (moto#1503 reports 100 accepted; 99 is safe under both readings).
SUBJECT_MAX = 99
# SNS takes 256 KiB with the attributes; a longer body would fail the publish, and every retry of it.
BODY_MAX_BYTES = 250_000


def subject_line(text: str) -> str:
    flat = " ".join("".join(" " if unicodedata.category(char) == "Cc" else char for char in text).split())
    return flat if len(flat) <= SUBJECT_MAX else flat[: SUBJECT_MAX - 1] + "…"


def publish(
    topic_arn: str,
    subject: str,
    body: str,
    *,
    severity: Severity,
    event_type: str,
    job: str | None = None,
    cluster_id: str | None = None,
    state: str | None = None,
) -> str:
    attributes = {
        "severity": severity,
        "event_type": event_type,
        "job": job or "-",
        "cluster_id": cluster_id or "-",
        "state": state or "-",
    }
    response = aws.client("sns").publish(
        TopicArn=topic_arn,
        Subject=subject_line(subject),
        Message=body_text(body),
        MessageAttributes={key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()},
    )
    return str(response["MessageId"])


def body_text(body: str) -> str:
    data = body.encode("utf-8")
    if len(data) <= BODY_MAX_BYTES:
        return body
    return data[: BODY_MAX_BYTES - 40].decode("utf-8", errors="ignore") + "\n… (truncated to fit SNS)"


def console_cluster_url(region: str, cluster_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/emr/home?region={region}#/clusterDetails/{cluster_id}"


def console_execution_url(region: str, execution_arn: str) -> str:
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def console_s3_url(bucket: str, prefix: str) -> str:
    return f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}?prefix={prefix}"


Notice = tuple[str, list[str]]  # a notice's subject and its body's lines


def indent(text: str) -> str:
    """A block quoted in a notice (a log tail, a cause): four spaces before each line."""
    return "\n".join(f"    {line}" for line in text.splitlines())
