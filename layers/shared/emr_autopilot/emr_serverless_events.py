"""EMR Serverless's EventBridge events (`source: aws.emr-serverless`), one model per detail-type.

Detail keys are those of the samples in the EMR Serverless User Guide, "Automating EMR Serverless with Amazon
EventBridge" (using-eventbridge.html), and the EventBridge events reference (events-ref-emr-serverless.html);
see shared reference serverless-eks-facts.md §2a. `jobRunName` is not in the doc sample but real events carry it
(facts §2a). EMR Serverless adds fields over time, so every model accepts extra fields; a detail-type we do not
know becomes `GenericServerlessDetail`: recorded, never a crash.
"""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from emr_autopilot.event_envelopes import EventEnvelope, _Detail, parse_envelope

APPLICATION_STATE_CHANGE = "EMR Serverless Application State Change"
JOB_RUN_STATE_CHANGE = "EMR Serverless Job Run State Change"
JOB_RUN_RETRY = "EMR Serverless Job Run Retry"
RESOURCE_UTILIZATION_UPDATE = "EMR Serverless Job Resource Utilization Update"

# EMR Serverless API reference, JobRun.applicationId and jobRunId: 1 to 64 of [0-9a-z]. They become ledger
# keys: anything else is bad input, rejected into the dead-letter queue.
ApplicationId = Annotated[str, Field(pattern=r"^[0-9a-z]{1,64}$")]
JobRunId = Annotated[str, Field(pattern=r"^[0-9a-z]{1,64}$")]
State = Annotated[str, Field(min_length=1, max_length=64)]


class AutoStopConfig(_Detail):
    enabled: bool = True
    idleTimeout: int | None = None  # minutes; the API's name is autoStopConfiguration.idleTimeoutMinutes


class AutoStartConfig(_Detail):
    enabled: bool = True


class ApplicationStateChangeDetail(_Detail):
    applicationId: ApplicationId
    applicationName: str = ""
    arn: str = ""
    releaseLabel: str = ""
    state: State
    type: str = ""
    createdAt: datetime | None = None
    updatedAt: datetime | None = None
    autoStopConfig: AutoStopConfig | None = None
    autoStartConfig: AutoStartConfig | None = None


class _JobRunDetail(_Detail):
    jobRunId: JobRunId
    applicationId: ApplicationId
    jobRunName: str = ""
    arn: str = ""
    releaseLabel: str = ""
    createdBy: str = ""
    createdAt: datetime | None = None
    updatedAt: datetime | None = None


class JobRunStateChangeDetail(_JobRunDetail):
    state: State
    previousState: str = ""  # "" on the first event (SUBMITTED)


class JobRunRetryDetail(_JobRunDetail):
    """Release 7.1.0 and later, with a retry policy: a new attempt of the job run started."""

    previousAttempt: int = Field(ge=1)
    previousAttemptState: State
    previousAttemptCreatedAt: datetime | None = None
    previousAttemptEndedAt: datetime | None = None
    newAttempt: int = Field(ge=1)
    newAttemptCreatedAt: datetime | None = None


class ResourceUtilization(_Detail):
    vCPUHour: float = Field(default=0.0, ge=0)
    memoryGBHour: float = Field(default=0.0, ge=0)
    storageGBHour: float = Field(default=0.0, ge=0)


class JobResourceUtilizationUpdateDetail(_Detail):
    """About every 30 minutes while a job run runs, and a final one (resourceUtilizationFinal) at its end."""

    applicationId: ApplicationId
    jobRunId: JobRunId
    attempt: int = Field(default=1, ge=1)
    mode: str = ""
    createdAt: datetime | None = None
    startedAt: datetime | None = None  # only once the job run reached RUNNING (doc note)
    calculatedFrom: datetime | None = None
    calculatedTo: datetime | None = None
    resourceUtilizationFinal: bool = False
    resourceUtilizationForInterval: ResourceUtilization = Field(default_factory=ResourceUtilization)
    billedResourceUtilizationForInterval: ResourceUtilization = Field(default_factory=ResourceUtilization)
    totalResourceUtilization: ResourceUtilization = Field(default_factory=ResourceUtilization)
    totalBilledResourceUtilization: ResourceUtilization = Field(default_factory=ResourceUtilization)


class GenericServerlessDetail(_Detail):
    applicationId: ApplicationId | None = None
    jobRunId: JobRunId | None = None
    state: str | None = None


DETAIL_MODELS: dict[str, type[_Detail]] = {
    APPLICATION_STATE_CHANGE: ApplicationStateChangeDetail,
    JOB_RUN_STATE_CHANGE: JobRunStateChangeDetail,
    JOB_RUN_RETRY: JobRunRetryDetail,
    RESOURCE_UTILIZATION_UPDATE: JobResourceUtilizationUpdateDetail,
}


class EmrServerlessEvent(EventEnvelope):
    DETAIL_MODELS: ClassVar[dict[str, type[_Detail]]] = DETAIL_MODELS
    GENERIC_DETAIL: ClassVar[type[_Detail]] = GenericServerlessDetail

    source: Literal["aws.emr-serverless"]


def parse_emr_serverless_event(event: Any) -> tuple[EmrServerlessEvent, _Detail]:
    """Validate the envelope and the detail; raises InvalidEvent with what is wrong."""
    return parse_envelope(EmrServerlessEvent, event, "EMR Serverless")
