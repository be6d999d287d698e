"""KillBatch (the livy_kill function): delete the batch so it does not run on unattended."""

from typing import Any

from emr_autopilot.errors import BatchNotFound, LivyError
from emr_autopilot.livy_pipeline.batch_call import BatchRequest, gone_or_raise, tail_lines
from emr_autopilot.livy_pipeline.settings import LivySettings, client_for


def kill_batch(request: BatchRequest, settings: LivySettings) -> dict[str, Any]:
    """DELETE the batch so it does not run on unattended; a batch Livy no longer knows is fine."""
    client = client_for(request.livy, settings)
    try:
        try:
            state = client.state(request.batch_id)
            # Read the log first: Livy forgets a batch's log once it is deleted.
            tail = client.log(request.batch_id, size=settings.log_tail_lines)
        except BatchNotFound:
            return {
                "id": request.batch_id,
                "deleted": False,
                "state_before": "unknown to Livy",
                "log_text": "(Livy no longer knows the batch)",
            }
        deleted = client.delete(request.batch_id)
    except LivyError as exc:
        gone_or_raise(request.cluster_id, exc)
        raise
    lines = tail_lines(tail)
    return {
        "id": request.batch_id,
        "deleted": deleted,
        "state_before": state,
        "log_text": "\n".join(lines) if lines else "(Livy returned no log lines)",
    }
