"""CheckBatch (the livy_status function): the batch's state, and once final its log tail and YARN's word."""

from typing import Any

from emr_autopilot.errors import LivyError
from emr_autopilot.livy import Batch, outcome_of
from emr_autopilot.livy_pipeline.batch_call import BatchRequest, gone_or_raise, tail_lines
from emr_autopilot.livy_pipeline.settings import LivySettings, client_for


def batch_status(request: BatchRequest, settings: LivySettings) -> dict[str, Any]:
    """The batch's state; once it is final, its log tail and the YARN cross-check too."""
    client = client_for(request.livy, settings)
    try:
        batch = client.get(request.batch_id)
        if not batch.final:
            return _status(batch, "running", [], "not final yet")
        check = client.cross_check(batch)
        tail = client.log(request.batch_id, size=settings.log_tail_lines)
    except LivyError as exc:
        gone_or_raise(request.cluster_id, exc)
        raise
    return _status(batch, outcome_of(batch, check), tail, check.note)


def _status(batch: Batch, outcome: str, tail: list[str], yarn_note: str) -> dict[str, Any]:
    lines = tail_lines(tail)
    info = batch.app_info or {}
    return {
        "id": batch.id,
        "name": batch.name or "",
        "state": batch.state,
        "outcome": outcome,
        "app_id": batch.app_id or "-",
        "spark_ui": str(info.get("sparkUiUrl") or "-"),
        "driver_log": str(info.get("driverLogUrl") or "-"),
        "yarn_note": yarn_note,
        "log_tail": lines,
        "log_text": "\n".join(lines) if lines else "(Livy returned no log lines)",
    }
