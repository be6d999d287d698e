"""What a reaction to one EMR Serverless event did, and what GetJobRun says about its job run."""

from dataclasses import dataclass
from typing import Any, NamedTuple

from emr_autopilot.emr_event_reactions.reaction import Reaction


class JobRunContext(NamedTuple):
    """GetJobRun's answer, read once per event: the tags (events carry none), the state now, the details."""

    application_id: str
    job_run_id: str
    name: str = ""
    job: str | None = None
    run_id: str | None = None
    execution_arn: str | None = None
    managed: bool = False
    state: str | None = None  # the job run's state now (the event may be older)
    state_details: str = ""
    attempt: int = 1
    max_attempts: int | None = None  # retryPolicy.maxAttempts, when the job run has a retry policy
    duration_seconds: int | None = None
    total: dict[str, float] | None = None
    billed: dict[str, float] | None = None
    log_uri: str | None = None  # s3:// URI of the driver's stderr (this attempt's)
    job_run: dict[str, Any] | None = None  # the raw GetJobRun jobRun
    unavailable: str | None = None  # why GetJobRun could not tell

    @property
    def label(self) -> str:
        """How a notice names where the job run ran: its job if it has one, with the application."""
        return f"{self.job} ({self.application_id})" if self.job else f"application {self.application_id}"


@dataclass
class ServerlessReaction(Reaction):
    application_id: str | None = None
    job_run_id: str | None = None
    run_id: str | None = None
