"""What SubmitBatch, CheckBatch and KillBatch are given, and what they share."""

from pydantic import BaseModel, ConfigDict, Field

from emr_autopilot import emr
from emr_autopilot.errors import ClusterGone, LivyError, LivyUnavailable
from emr_autopilot.livy_pipeline.resolve import describe_cluster
from emr_autopilot.livy_pipeline.run_input import LivyBatchRequest
from emr_autopilot.livy_pipeline.settings import LivyEndpoint
from emr_autopilot.redaction import redact

LINE_MAX = 500  # characters kept of one log line in a notification


class BatchCall(BaseModel):
    model_config = ConfigDict(defer_build=True)
    livy: LivyEndpoint
    cluster_id: str = Field(pattern=r"^j-[A-Za-z0-9]{1,64}$")


class SubmitRequest(BatchCall):
    batch: LivyBatchRequest


class BatchRequest(BatchCall):
    batch_id: int = Field(ge=0)


def gone_or_raise(cluster_id: str, exc: LivyError) -> None:
    """Livy is unreachable: if EMR says the cluster ended, say so, so nobody waits for it to come back."""
    if not isinstance(exc, LivyUnavailable):
        return
    state = describe_cluster(cluster_id)["Status"]["State"]
    if state in emr.ENDED:
        raise ClusterGone(f"cluster {cluster_id} is {state}; Livy on it is gone ({exc})") from exc


def tail_lines(tail: list[str]) -> list[str]:
    # Livy's first lines are "stdout: " and "\nstderr: ": keep the markers, drop the blank lines.
    return [redact(line.strip()[:LINE_MAX]) for line in tail if line.strip()]
