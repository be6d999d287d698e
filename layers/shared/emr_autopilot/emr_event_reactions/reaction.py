"""What a reaction to one EMR event (or one log follow-up) did, and how it sends a notice."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from emr_autopilot import notifications

if TYPE_CHECKING:  # a type only: sending a notice needs nothing of the follow-up module
    from emr_autopilot.emr_event_reactions.follow_up_schedule import FollowUpScheduler

ALWAYS_NOTIFY = {"STEP_FAILED", "CLUSTER_FAILED", "CAPACITY", "CONFIGURATION_ERROR", "AUTOSCALING_FAILED"}


class ClusterContext(NamedTuple):
    """What DescribeCluster says about the cluster an event is about (it never changes)."""

    cluster_id: str
    name: str
    job: str | None
    run_id: str | None
    managed: bool
    log_uri: str | None


class ReactionSettings(NamedTuple):
    region: str
    ledger_table: str
    topic_arn: str
    min_severity: str = "ERROR"
    follow_up: "FollowUpScheduler | None" = None  # schedules a late log's follow-up; None: no follow-up


@dataclass
class Reaction:
    event_id: str
    detail_type: str
    cluster_id: str | None
    job: str | None = None
    category: str = "INFO"
    recorded: bool = False
    stale: bool = False
    notified: list[str] = field(default_factory=list)
    metrics: list[tuple[str, str, float]] = field(default_factory=list)  # name, unit, value
    follow_up_scheduled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def send(topic_arn: str, reaction: Reaction, subject: str, body: list[str], severity: str, state: str) -> None:
    """Publish the notice, unless the event is stale and its category is not one that always notifies."""
    if reaction.stale and reaction.category not in ALWAYS_NOTIFY:
        return  # an old event arriving late: recorded, not worth a page
    notifications.publish(
        topic_arn,
        subject,
        "\n".join(body),
        severity=severity,  # type: ignore[arg-type]
        event_type=reaction.category if reaction.category != "INFO" else reaction.detail_type,
        job=reaction.job,
        cluster_id=reaction.cluster_id,
        state=state,
    )
    reaction.notified.append(subject)
    reaction.metrics.append(("NotificationsSent", "Count", 1))
