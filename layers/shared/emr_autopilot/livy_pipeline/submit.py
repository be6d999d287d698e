"""SubmitBatch (the livy_submit function): POST the batch to Livy."""

from typing import Any

from emr_autopilot.errors import LivyError
from emr_autopilot.livy_pipeline.batch_call import SubmitRequest, gone_or_raise
from emr_autopilot.livy_pipeline.settings import LivySettings, client_for


def submit_batch(request: SubmitRequest, settings: LivySettings) -> dict[str, Any]:
    client = client_for(request.livy, settings)
    try:
        batch = client.submit(request.batch.body())
    except LivyError as exc:
        gone_or_raise(request.cluster_id, exc)
        raise
    return {"id": batch.id, "name": batch.name or "", "state": batch.state, "app_id": batch.app_id or ""}
