"""The text of the EMR Serverless event handler's notices: plain functions, no AWS."""

from __future__ import annotations

from emr_autopilot.emr_serverless_reactions import notices
from emr_autopilot.emr_serverless_reactions.reaction import JobRunContext

APP, JOB_RUN = "00fkq2r7a0l6pl09", "00fkq3v8mbtm9g09"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:emr-autopilot-serverless:red-violations-s3-2f73"
STDERR = f"s3://logs/serverless/red-violations/applications/{APP}/jobs/{JOB_RUN}/SPARK_DRIVER/stderr.gz"
OURS = JobRunContext(
    application_id=APP,
    job_run_id=JOB_RUN,
    name="red-violations-s3-2f73.0 Count red violations",
    job="red-violations",
    run_id="red-violations-s3-2f73",
    execution_arn=EXECUTION,
    managed=True,
    state="FAILED",
    state_details="Job failed, please check complete logs in configured logging destination. ExitCode: 1.",
    attempt=1,
    log_uri=STDERR,
)
NAME = "red-violations-s3-2f73.0 Count red violations"
S3_CONSOLE = (
    "https://s3.console.aws.amazon.com/s3/buckets/logs?prefix="
    f"serverless/red-violations/applications/{APP}/jobs/{JOB_RUN}/SPARK_DRIVER/"
)
EXECUTION_CONSOLE = (
    f"https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/{EXECUTION}"
)


def test_a_failed_job_run_with_its_log_says_why_and_shows_the_last_lines() -> None:
    # Given a job run of ours that failed, and its driver's last lines
    tail = "Traceback (most recent call last):\nValueError: no column 'grade'"
    # When its notice is written
    subject, body = notices.job_run_ended_badly("FAILED", NAME, OURS, tail, "us-east-1")
    # Then it says what failed (the subject without the run id: it is in the body), why, which attempt, for which
    # job and run, the log, and where to look
    assert subject == f"[emr-autopilot] Job run failed: 0 Count red violations on red-violations ({APP})"
    assert body == [
        f"Job run '{NAME}' ({JOB_RUN}) FAILED on EMR Serverless application {APP}.",
        "",
        "Reason: Job failed, please check complete logs in configured logging destination. ExitCode: 1.",
        "Attempt: 1",
        "Job: red-violations",
        "Run: red-violations-s3-2f73",
        "",
        f"Last lines of {STDERR}:",
        "    Traceback (most recent call last):\n    ValueError: no column 'grade'",
        "",
        f"Execution: {EXECUTION_CONSOLE}",
        f"Logs: {S3_CONSOLE}",
    ]


def test_a_timed_out_job_run_whose_log_is_late_says_where_it_will_be() -> None:
    # Given a job run cancelled by its timeout, on attempt 2 of 3, whose log is not in S3 yet
    context = OURS._replace(state="CANCELLED", state_details="Job run timed out.", attempt=2, max_attempts=3)
    # When its notice is written
    subject, body = notices.job_run_ended_badly("CANCELLED", NAME, context, None, "us-east-1")
    # Then it names the state, the reason, the attempt, and where the log will be
    assert subject == f"[emr-autopilot] Job run cancelled: 0 Count red violations on red-violations ({APP})"
    assert body[:4] == [
        f"Job run '{NAME}' ({JOB_RUN}) CANCELLED on EMR Serverless application {APP}.",
        "",
        "Reason: Job run timed out.",
        "Attempt: 2 of 3",
    ]
    assert body[7] == f"The driver's log is not in S3 yet (EMR Serverless uploads it as the job runs): {STDERR}"


def test_a_job_run_that_is_not_ours_or_unknown_says_so() -> None:
    # Given a job run without our tags and no S3 logs, and one EMR Serverless does not know
    foreign = OURS._replace(name="adhoc", job=None, run_id=None, execution_arn=None, managed=False, log_uri=None)
    unknown = JobRunContext(APP, JOB_RUN, unavailable="Job run 00fkq3v8mbtm9g09 does not exist")
    # When their notices are written
    subject, body = notices.job_run_ended_badly("FAILED", "adhoc", foreign, None, "eu-west-1")
    unknown_subject, unknown_body = notices.job_run_ended_badly("FAILED", JOB_RUN, unknown, None, "eu-west-1")
    # Then the foreign one is named by its application and says it is not ours, with no links
    assert subject == f"[emr-autopilot] Job run failed: adhoc on application {APP}"
    assert body[4:] == [
        "Job run not started by emr-autopilot.",
        "",
        "The job run logs to no S3 location (monitoringConfiguration.s3MonitoringConfiguration), so there is no log.",
    ]
    # And the unknown one says why there is no reason and no log
    assert unknown_subject == f"[emr-autopilot] Job run failed: {JOB_RUN} on application {APP}"
    assert unknown_body[2:] == [
        "Reason: job run details unavailable (GetJobRun: Job run 00fkq3v8mbtm9g09 does not exist)",
        "Attempt: 1",
        "",
        "The driver's log cannot be located: EMR Serverless does not know the job run (GetJobRun).",
    ]


def test_a_failed_attempt_warns_with_that_attempts_log() -> None:
    # Given attempt 1 of 3 failed and attempt 2 started, with attempt 1's log in S3
    context = OURS._replace(state="RUNNING", state_details="", attempt=2, max_attempts=3)
    attempt_log = STDERR.replace(f"{JOB_RUN}/SPARK_DRIVER", f"{JOB_RUN}/attempts/1/SPARK_DRIVER")
    # When its notice is written
    subject, body = notices.attempt_failed(NAME, 1, 2, context, attempt_log, "OutOfMemoryError", "us-east-1")
    # Then it says which attempt failed, which one runs now, and shows the failed attempt's log
    assert subject == f"[emr-autopilot] Job run retried: 0 Count red violations on red-violations ({APP})"
    assert body == [
        f"Attempt 1 of job run '{NAME}' ({JOB_RUN}) FAILED on EMR Serverless application {APP}; "
        "EMR Serverless started attempt 2 of 3.",
        "Job: red-violations",
        "Run: red-violations-s3-2f73",
        "",
        f"Last lines of {attempt_log}:",
        "    OutOfMemoryError",
        "",
        f"Execution: {EXECUTION_CONSOLE}",
        f"Logs: {S3_CONSOLE.replace(f'{JOB_RUN}/SPARK_DRIVER', f'{JOB_RUN}/attempts/1/SPARK_DRIVER')}",
    ]
