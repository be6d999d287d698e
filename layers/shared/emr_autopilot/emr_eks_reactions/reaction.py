"""What a reaction to one EMR on EKS event did, and what DescribeJobRun says about its job run."""

from dataclasses import dataclass
from typing import Any, NamedTuple

from emr_autopilot.emr_event_reactions.reaction import Reaction


class EksJobRunContext(NamedTuple):
    """DescribeJobRun's answer, read once per event: the tags (events carry none), the state now, why it failed."""

    virtual_cluster_id: str
    job_run_id: str
    name: str = ""
    job: str | None = None
    run_id: str | None = None
    execution_arn: str | None = None
    state: str | None = None  # the job run's state now (the event may be older)
    failure_reason: str = ""  # INTERNAL_ERROR | USER_ERROR | VALIDATION_ERROR | CLUSTER_UNAVAILABLE
    state_details: str = ""
    log_uri: str | None = None  # the job run's s3MonitoringConfiguration.logUri
    job_run: dict[str, Any] | None = None  # the raw DescribeJobRun jobRun
    unavailable: str | None = None  # why DescribeJobRun could not tell

    @property
    def label(self) -> str:
        """How a notice names where the job run ran: its job if it has one, with the virtual cluster."""
        where = f"virtual cluster {self.virtual_cluster_id}"
        return f"{self.job} ({where})" if self.job else where


@dataclass
class EksReaction(Reaction):
    virtual_cluster_id: str | None = None
    job_run_id: str | None = None
    run_id: str | None = None
    ignored: str | None = None  # why the event changed nothing (not one of our job runs), for the log line
