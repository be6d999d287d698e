"""Step logs: where EMR writes them, masking secrets, and reading the tail of a gzip log from S3 (moto)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from emr_autopilot import aws
from emr_autopilot.redaction import redact
from emr_autopilot.step_logs import TAIL_LINES, LogLocation, parse_s3_uri, read_tail, step_log

CLUSTER = "j-2AXXXXXXGAPLF"
STEP = "s-1K4CSPRYG3YH7"
BUCKET = "emr-autopilot-logs-123456789012"


# -- where the log is -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("log_uri", "bucket", "key"),
    [
        (f"s3://{BUCKET}/emr-logs/", BUCKET, f"emr-logs/{CLUSTER}/steps/{STEP}/stderr.gz"),
        (f"s3://{BUCKET}/emr-logs", BUCKET, f"emr-logs/{CLUSTER}/steps/{STEP}/stderr.gz"),
        (f"s3n://{BUCKET}/emr-logs/", BUCKET, f"emr-logs/{CLUSTER}/steps/{STEP}/stderr.gz"),
        (f"s3a://{BUCKET}/a/b//", BUCKET, f"a/b/{CLUSTER}/steps/{STEP}/stderr.gz"),
        (f"s3://{BUCKET}/", BUCKET, f"{CLUSTER}/steps/{STEP}/stderr.gz"),
        (f"s3://{BUCKET}", BUCKET, f"{CLUSTER}/steps/{STEP}/stderr.gz"),
        (f"  s3://{BUCKET}/emr-logs/  ", BUCKET, f"emr-logs/{CLUSTER}/steps/{STEP}/stderr.gz"),
    ],
)
def test_step_log_is_under_the_log_uri_with_or_without_a_trailing_slash(log_uri: str, bucket: str, key: str) -> None:
    # Given a cluster's LogUri as EMR reports it (s3:// or the s3n:// of older releases)
    # When the step's stderr location is built
    location = step_log(log_uri, CLUSTER, STEP)
    # Then it is <LogUri>/<cluster>/steps/<step>/stderr.gz, with one slash between parts
    assert location == LogLocation(bucket, key)
    assert location.uri == f"s3://{bucket}/{key}"


def test_step_log_can_name_another_file() -> None:
    # Given a LogUri / When the syslog is asked for / Then that file is named
    location = step_log(f"s3://{BUCKET}/emr-logs/", CLUSTER, STEP, name="syslog.gz")
    assert location is not None and location.key == f"emr-logs/{CLUSTER}/steps/{STEP}/syslog.gz"


@pytest.mark.parametrize("log_uri", [None, "", "s3://", "s3:///logs/"])
def test_no_log_uri_means_no_location(log_uri: str | None) -> None:
    # Given a cluster without a (usable) LogUri / Then there is no log location
    assert step_log(log_uri, CLUSTER, STEP) is None


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"s3://{BUCKET}/emr-logs/x/stderr.gz", LogLocation(BUCKET, "emr-logs/x/stderr.gz")),
        (f"s3n://{BUCKET}/k", LogLocation(BUCKET, "k")),
        (f"s3://{BUCKET}", None),
        (f"s3://{BUCKET}/", None),
        (f"https://{BUCKET}.s3.amazonaws.com/k", None),
        ("emr-logs/x/stderr.gz", None),
    ],
)
def test_parse_s3_uri_accepts_only_bucket_and_key(uri: str, expected: LogLocation | None) -> None:
    # Given a URI (e.g. DescribeStep's FailureDetails.LogFile) / Then it is a location only with a bucket and key
    assert parse_s3_uri(uri) == expected


# -- masking ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "secret", "masked"),
    [
        ("using AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE", "using [redacted-access-key] for s3"),
        ("session ASIAJEXAMPLEXEG2JICE", "ASIAJEXAMPLEXEG2JICE", "session [redacted-access-key]"),
        ("jdbc connect password=hunter2 ok", "hunter2", "jdbc connect password=[redacted] ok"),
        ("PASSWORD = hunter2", "hunter2", "PASSWORD = [redacted]"),
        ("db_password: s3cr3t!", "s3cr3t!", "db_password: [redacted]"),
        ("refresh token: eyJhbGciOiJIUzI1NiJ9.e30.x", "eyJhbGciOiJIUzI1NiJ9", "refresh token: [redacted]"),
        ("x-amz-security-token:FQoGZXIvYXdzEXAMPLE", "FQoGZXIvYXdzEXAMPLE", "x-amz-security-token:[redacted]"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI", "aws_secret_access_key = [redacted]"),
        ("fs.s3a.secret.key=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI", "fs.s3a.secret.key=[redacted]"),
        ("SECRET_KEY=abc123def", "abc123def", "SECRET_KEY=[redacted]"),
        ('{"password": "p@ss w0rd", "user": "etl"}', "w0rd", '{"password": [redacted], "user": "etl"}'),
        ("api-key: 0123456789abcdef", "0123456789abcdef", "api-key: [redacted]"),
        ("Authorization: Bearer eyJ0eXAiOiJKV1Qi.abc", "eyJ0eXAiOiJKV1Qi", "Authorization: [redacted]"),
        ("authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "authorization: [redacted]"),
        (
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261121, Signature=fe5f80f77d5fa3",
            "fe5f80f77d5fa3",
            "Authorization: [redacted]",
        ),
    ],
)
def test_redact_masks_credentials(line: str, secret: str, masked: str) -> None:
    # Given a log line with a credential in it
    # When it is redacted
    result = redact(line)
    # Then the credential is gone and the rest of the line is kept
    assert secret not in result
    assert result == masked


def test_redact_leaves_ordinary_lines_alone() -> None:
    # Given log lines without credentials
    text = (
        "26/11/21 06:21:02 INFO DAGScheduler: Job 0 finished: count at count_red_violations.py:52, took 1.2 s\n"
        "error: s3://landing/x.csv: missing required column(s): violation_type\n"
        "Traceback (most recent call last):"
    )
    # Then redaction changes nothing
    assert redact(text) == text


def test_redact_masks_every_occurrence_on_every_line() -> None:
    # Given several credentials over several lines
    text = "password=a1\nok\ntoken=b2 and AKIAIOSFODNN7EXAMPLE\nAuthorization: Bearer c3"
    # When redacted
    result = redact(text)
    # Then none is left and the line structure is kept
    for secret in ("a1", "b2", "AKIAIOSFODNN7EXAMPLE", "c3"):
        assert secret not in result
    assert result.splitlines()[1] == "ok"
    assert len(result.splitlines()) == 4


# -- reading the tail from S3 -----------------------------------------------------------------
@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto S3 with the logs bucket; the application's cached clients talk to it."""
    # A local runtime started earlier in this process leaves its endpoint in the environment.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    aws.reset_clients()
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client
    aws.reset_clients()


KEY = f"emr-logs/{CLUSTER}/steps/{STEP}/stderr.gz"


def put_log(s3: Any, text: str, key: str = KEY) -> LogLocation:
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(text.encode("utf-8")))
    return LogLocation(BUCKET, key)


def test_read_tail_returns_the_last_lines_of_a_gzip_log(s3: Any) -> None:
    # Given a 60-line stderr.gz with blank lines among them
    lines = [f"line {n}" for n in range(1, 61)]
    location = put_log(s3, "\n\n".join(lines) + "\n")
    # When its tail is read
    tail = read_tail(location)
    # Then it is the last TAIL_LINES non-blank lines, in order
    assert tail is not None
    assert tail.splitlines() == lines[-TAIL_LINES:]


def test_read_tail_takes_a_line_count_and_redacts(s3: Any) -> None:
    # Given a log whose last lines hold a secret and an error
    location = put_log(s3, "start\nfs.s3a.secret.key=wJalrXUtnFEMI/K7MDENG\nerror: missing column violation_type\n")
    # When the last two lines are read
    tail = read_tail(location, lines=2)
    # Then they are there, with the secret masked
    assert tail == "fs.s3a.secret.key=[redacted]\nerror: missing column violation_type"


def test_read_tail_of_a_cut_gzip_reads_what_decompresses(s3: Any) -> None:
    # Given a gzip log cut short (as a log bigger than the read limit would be)
    whole = gzip.compress("\n".join(f"row {n}" for n in range(2000)).encode("utf-8"))
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=whole[: len(whole) // 2])
    # When its tail is read
    tail = read_tail(LogLocation(BUCKET, KEY), lines=3)
    # Then the lines that decompress are returned, not an error
    assert tail is not None
    assert tail.startswith("row ")
    assert 1 <= len(tail.splitlines()) <= 3


def test_read_tail_is_none_while_the_log_is_not_in_s3(s3: Any) -> None:
    # Given no object at the step's stderr.gz (EMR uploads logs minutes later)
    # When its tail is read / Then there is none, and no error
    assert read_tail(LogLocation(BUCKET, KEY)) is None


def test_read_tail_is_none_when_s3_answers_access_denied_for_a_missing_key(s3: Any) -> None:
    # Given S3 answering 403 AccessDenied, as it does for a missing key when the reader has no s3:ListBucket
    def forbidden(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = AWSResponse(url="", status_code=403, headers={}, raw=None)
        return response, {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}

    client = aws.client("s3")
    client.meta.events.register("before-call.s3.GetObject", forbidden)
    try:
        # When the tail is read / Then it counts as "not there yet", not a crash that loses the notice
        assert read_tail(LogLocation(BUCKET, KEY)) is None
    finally:
        client.meta.events.unregister("before-call.s3.GetObject", forbidden)


def test_read_tail_raises_what_it_cannot_treat_as_missing(s3: Any) -> None:
    # Given a bucket that does not exist (a LogUri pointing nowhere)
    # When the tail is read / Then the error is raised (the caller's retry and DLQ keep the event)
    errors: Callable[..., Any] = aws.client("s3").exceptions.NoSuchBucket
    with pytest.raises(errors):
        read_tail(LogLocation("no-such-bucket-emr-autopilot", KEY))
