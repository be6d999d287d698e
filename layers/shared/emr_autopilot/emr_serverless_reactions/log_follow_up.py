"""A failed job run's driver log: where it is, its last lines, and the follow-up that looks again when it is late.

The failure notice reads the log at once; when it is not in S3 yet, the reaction schedules a JobRunFollowUp
(emr_event_reactions.follow_up_schedule) that the step-log follow-up function runs later: it sends the log's last
lines, looks again (up to LOG_FOLLOW_UP_MAX_ATTEMPTS), or says the log never appeared. Each outcome is written to
the run's ledger timeline before its notice, as the reaction writes before it notifies.
"""

from collections.abc import Sequence

from emr_autopilot import clock, emr_serverless, ledger
from emr_autopilot.emr_event_reactions.follow_up_schedule import JobRunFollowUp
from emr_autopilot.emr_event_reactions.reaction import ReactionSettings, send
from emr_autopilot.emr_serverless_reactions import notices
from emr_autopilot.emr_serverless_reactions.reaction import JobRunContext, ServerlessReaction
from emr_autopilot.step_logs import parse_s3_uri, read_tail

FOLLOW_UP_DETAIL_TYPE = "Job run log follow-up"


def driver_log_uris(context: JobRunContext) -> tuple[str, ...]:
    """The driver logs that say why a job run failed, in the order to read them. A PySpark driver's traceback is
    in stdout.gz: Spark's PythonRunner copies the Python process's stdout and stderr to the driver's stdout
    (inferred from Spark's source; stderr.gz then holds the JVM's log4j lines). Then, or otherwise, stderr.gz."""
    uris: list[str] = []
    entry = str(((context.job_run or {}).get("jobDriver") or {}).get("sparkSubmit", {}).get("entryPoint", ""))
    if context.job_run and entry.endswith(".py"):
        stdout_uri = emr_serverless.driver_log_uri(context.job_run, "stdout.gz")
        if stdout_uri:
            uris.append(stdout_uri)
    if context.log_uri:
        uris.append(context.log_uri)
    return tuple(uris)


def driver_tail(uris: Sequence[str]) -> tuple[str | None, str | None]:
    """(URI, last lines) of the first log with lines; else the last URI and what it holds (None: not in S3 yet,
    "" an empty log). (None, None) when the job run logs to no S3 location."""
    for uri in uris[:-1]:
        location = parse_s3_uri(uri)
        tail = read_tail(location) if location else None
        if tail:
            return uri, tail
    if not uris:
        return None, None
    location = parse_s3_uri(uris[-1])
    return uris[-1], read_tail(location) if location else None


def follow_up_job_run_logs(follow_up: JobRunFollowUp, settings: ReactionSettings) -> str:
    """Look for the driver's log again; send its last lines, schedule another look, or say it never came."""
    log_uri, tail = driver_tail(follow_up.log_uris)
    reaction = ServerlessReaction(
        event_id=f"log-follow-up:{follow_up.job_run_id}:{follow_up.attempt}",
        detail_type=FOLLOW_UP_DETAIL_TYPE,
        cluster_id=None,
        job=follow_up.job,
        category="JOB_RUN_LOG",
        application_id=follow_up.application_id,
        job_run_id=follow_up.job_run_id,
        run_id=follow_up.run_id,
    )
    scheduler = settings.follow_up
    if tail is not None and log_uri is not None:
        _record(settings, follow_up, reaction.event_id, "LOG_SENT", log_uri)
        subject, body = notices.driver_log_digest(follow_up, log_uri, tail)
        send(settings.topic_arn, reaction, subject, body, "ERROR", "LOG")
        return "digest sent"
    if scheduler is not None and follow_up.attempt < scheduler.max_attempts:
        # False when an earlier try of this same look already scheduled the next one: rescheduled all the same.
        scheduler.schedule(follow_up._replace(attempt=follow_up.attempt + 1))
        return "rescheduled"
    waited = follow_up.attempt * (scheduler.delay_seconds if scheduler else 0) // 60
    _record(settings, follow_up, reaction.event_id, "LOG_MISSING", None)
    subject, body = notices.driver_log_missing(follow_up, waited)
    send(settings.topic_arn, reaction, subject, body, "WARNING", "LOG_MISSING")
    return "gave up"


def _record(settings: ReactionSettings, follow_up: JobRunFollowUp, event_id: str, state: str, log: str | None) -> None:
    # The run's timeline (RUN#<run id>, or APPLICATION#<id> for a job run without the run-id tag), where the
    # reaction records the job run's events; `runs show` lists it with them.
    ledger.record_timeline(
        settings.ledger_table,
        ledger.serverless_partition(follow_up.application_id, follow_up.run_id),
        clock.now(),
        event_id,
        FOLLOW_UP_DETAIL_TYPE,
        {
            "jobRunId": follow_up.job_run_id,
            "jobRunName": follow_up.job_run_name,
            "state": state,
            "attempt": str(follow_up.attempt),
            "log_file": log,
        },
    )
