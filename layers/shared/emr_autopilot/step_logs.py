"""Finding and reading a step's logs under the cluster's LogUri, with secrets masked."""

import gzip
import re
from typing import NamedTuple

from emr_autopilot import aws
from emr_autopilot.redaction import redact

TAIL_LINES = 25
MAX_LOG_BYTES = 8 * 1024 * 1024  # a bigger log is read only up to this, compressed


class LogLocation(NamedTuple):
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def step_log(log_uri: str | None, cluster_id: str, step_id: str, name: str = "stderr.gz") -> LogLocation | None:
    """Where EMR writes a step's log: <LogUri>/<cluster-id>/steps/<step-id>/<name>."""
    if not log_uri:
        return None
    uri = re.sub(r"^s3[an]?://", "", log_uri.strip())
    bucket, _, prefix = uri.partition("/")
    if not bucket:
        return None
    prefix = prefix.strip("/")
    key = "/".join(part for part in (prefix, cluster_id, "steps", step_id, name) if part)
    return LogLocation(bucket, key)


def parse_s3_uri(uri: str) -> LogLocation | None:
    match = re.match(r"^s3[an]?://([^/]+)/(.+)$", uri.strip())
    return LogLocation(match.group(1), match.group(2)) if match else None


def read_tail(location: LogLocation, lines: int = TAIL_LINES) -> str | None:
    """The last lines of a gzip log, redacted; None while the log is not in S3 yet."""
    s3 = aws.client("s3")
    try:
        response = s3.get_object(Bucket=location.bucket, Key=location.key, Range=f"bytes=0-{MAX_LOG_BYTES - 1}")
    except s3.exceptions.NoSuchKey:
        return None
    except s3.exceptions.ClientError as exc:
        # Without s3:ListBucket (the functions have GetObject on */*/steps/* only), S3 answers a missing
        # key with 403 AccessDenied, not 404: that is "not there yet" too, not a reason to lose the notice.
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "InvalidRange", "AccessDenied", "403"):
            return None
        raise
    raw = response["Body"].read()
    try:
        text = gzip.decompress(raw).decode("utf-8", errors="replace")
    except (OSError, EOFError):
        # Cut at MAX_LOG_BYTES, or not gzip at all: read what decompresses.
        text = _partial_gunzip(raw)
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return redact("\n".join(tail))


def _partial_gunzip(raw: bytes) -> str:
    import zlib

    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw).decode("utf-8", errors="replace")
    except zlib.error:
        return raw.decode("utf-8", errors="replace")
