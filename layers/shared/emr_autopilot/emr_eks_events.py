"""EMR on EKS's EventBridge events (`source: aws.emr-containers`): the one place that knows their shape.

THE SHAPE IS INFERRED. The EventBridge events reference (events-ref-emr-containers.html) names the detail-types
`EMR Job Run State Change`, `EmrContainers Job Run State Change` and `EMR Job Run New Driver Attempt`, but AWS
publishes no sample detail (shared reference serverless-eks-facts.md §2b). The keys below are those the emulators
use and the issue-20 contract fixes (id, name, virtualClusterId, state, stateDetails, failureReason, arn,
releaseLabel, executionRoleArn, createdAt, finishedAt), named as DescribeJobRun's JobRun names them. When a real
event is captured, correct the models here (and only here: the reactions read these models, never the raw
detail). Every model accepts unknown fields; a detail-type we do not know becomes `GenericEksDetail`: recorded
when it names one of our job runs, never a crash. What the reactions need beyond the event (tags, the failure
reason, the spark parameters) comes from DescribeJobRun, so a wrong guess here costs little.
"""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, Field

from emr_autopilot.event_envelopes import EventEnvelope, _Detail, parse_envelope

JOB_RUN_STATE_CHANGE = "EMR Job Run State Change"
CONTAINERS_JOB_RUN_STATE_CHANGE = "EmrContainers Job Run State Change"
NEW_DRIVER_ATTEMPT = "EMR Job Run New Driver Attempt"
STATE_CHANGE_TYPES = (JOB_RUN_STATE_CHANGE, CONTAINERS_JOB_RUN_STATE_CHANGE)

# EMR on EKS API reference (DescribeJobRun): id and virtualClusterId are 1 to 64 of [0-9a-z]. They become ledger
# keys and S3 key parts: anything else is bad input, rejected into the dead-letter queue.
VirtualClusterId = Annotated[str, Field(pattern=r"^[0-9a-z]{1,64}$")]
JobRunId = Annotated[str, Field(pattern=r"^[0-9a-z]{1,64}$")]
State = Annotated[str, Field(min_length=1, max_length=64)]


class JobRunStateChangeDetail(_Detail):
    # `jobRunId` is accepted for `id` (inferred: the EMR Serverless events name it so; one may turn up here too).
    id: JobRunId = Field(validation_alias=AliasChoices("id", "jobRunId"))
    virtualClusterId: VirtualClusterId
    state: State
    # null or absent until set (DescribeJobRun leaves them out until then).
    name: str | None = None
    stateDetails: str | None = None
    failureReason: str | None = None  # INTERNAL_ERROR | USER_ERROR | VALIDATION_ERROR | CLUSTER_UNAVAILABLE
    arn: str | None = None
    releaseLabel: str | None = None
    executionRoleArn: str | None = None
    createdAt: datetime | None = None
    finishedAt: datetime | None = None


class GenericEksDetail(_Detail):
    id: JobRunId | None = Field(default=None, validation_alias=AliasChoices("id", "jobRunId"))
    virtualClusterId: VirtualClusterId | None = None
    state: str | None = None


class NewDriverAttemptDetail(GenericEksDetail):
    """A job run's retry policy started a new driver (inferred: the event is listed, its detail is not). Read as
    generically as an unknown event (every key optional): a wrong guess must not send a real retry to the
    dead-letter queue; DescribeJobRun's retryPolicyExecution says which attempt it is."""

    name: str | None = None


DETAIL_MODELS: dict[str, type[_Detail]] = {
    **{name: JobRunStateChangeDetail for name in STATE_CHANGE_TYPES},
    NEW_DRIVER_ATTEMPT: NewDriverAttemptDetail,
}


class EmrEksEvent(EventEnvelope):
    DETAIL_MODELS: ClassVar[dict[str, type[_Detail]]] = DETAIL_MODELS
    GENERIC_DETAIL: ClassVar[type[_Detail]] = GenericEksDetail

    source: Literal["aws.emr-containers"]


def parse_emr_eks_event(event: Any) -> tuple[EmrEksEvent, _Detail]:
    """Validate the envelope and the detail; raises InvalidEvent with what is wrong."""
    return parse_envelope(EmrEksEvent, event, "EMR on EKS")
