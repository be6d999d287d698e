"""The log follow-up: look for a failed step's (or EMR Serverless job run's) late log again; send its last lines,
look again later, or say it never came."""

from emr_autopilot.emr_event_reactions import notices
from emr_autopilot.emr_event_reactions.follow_up_schedule import FollowUp, JobRunFollowUp
from emr_autopilot.emr_event_reactions.reaction import Reaction, send
from emr_autopilot.emr_event_reactions.settings import ReactionSettings
from emr_autopilot.step_logs import parse_s3_uri, read_tail


def follow_up_logs(follow_up: FollowUp | JobRunFollowUp, settings: ReactionSettings) -> str:
    """Look for the log again; send the digest, schedule another look, or say it never came."""
    if isinstance(follow_up, JobRunFollowUp):
        # Imported here: a step's follow-up (and its cold start) needs none of the EMR Serverless reactions.
        from emr_autopilot.emr_serverless_reactions.log_follow_up import follow_up_job_run_logs

        return follow_up_job_run_logs(follow_up, settings)
    location = parse_s3_uri(follow_up.log_uri)
    tail = read_tail(location) if location else None
    scheduler = settings.follow_up
    reaction = Reaction(
        event_id=f"follow-up:{follow_up.step_id}:{follow_up.attempt}",
        detail_type="Step log follow-up",
        cluster_id=follow_up.cluster_id,
        job=follow_up.job,
        category="STEP_LOG",
    )
    if tail is not None:
        subject, body = notices.log_digest(follow_up, tail)
        send(settings.topic_arn, reaction, subject, body, "ERROR", "LOG")
        return "digest sent"
    if scheduler is not None and follow_up.attempt < scheduler.max_attempts:
        # False when an earlier try of this same look already scheduled the next one: rescheduled all the same.
        scheduler.schedule(follow_up._replace(attempt=follow_up.attempt + 1))
        return "rescheduled"
    waited = follow_up.attempt * (scheduler.delay_seconds if scheduler else 0) // 60
    subject, body = notices.log_missing(follow_up, waited)
    send(settings.topic_arn, reaction, subject, body, "WARNING", "LOG_MISSING")
    return "gave up"
