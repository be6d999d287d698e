"""What happened, one readable line per event, invocation or notice: the demo's and the CLI's timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emr_autopilot_devkit.local.functions import Invocation


@dataclass
class TimelineEntry:
    time: datetime
    text: str


def describe_event(event: dict[str, Any]) -> str:
    """One readable line for an event, for the demo's timeline."""
    detail = event.get("detail", {})
    kind = event.get("detail-type", "")
    if kind == "Object Created":
        return f"S3 object created: s3://{detail.get('bucket', {}).get('name')}/{detail.get('object', {}).get('key')}"
    if kind == "EMR Cluster State Change":
        reason = json.loads(detail.get("stateChangeReason") or "{}").get("code")
        return f"EMR cluster {detail.get('clusterId')} {detail.get('state')}" + (f" ({reason})" if reason else "")
    if kind == "EMR Step Status Change":
        return f"EMR step {detail.get('stepId')} '{detail.get('name')}' {detail.get('state')}"
    if kind == "Step Functions Execution Status Change":
        return f"Step Functions execution {detail.get('name')} {detail.get('status')}"
    return f"{event.get('source')} {kind}"


def describe_invocation(record: Invocation) -> str:
    if record.error:
        return f"{record.function} failed after {record.attempts} attempt(s): {record.error}"
    result = record.result if isinstance(record.result, dict) else {}
    if "reaper_summary" in result:  # the idle reaper's result also has a "terminated" list
        return f"{record.function}: {result['reaper_summary']}"
    runs = [f"{run['status']} {run['execution_name']}" for run in result.get("runs", [])]
    parts = runs + [f"unmatched {uri}" for uri in result.get("unmatched", [])]
    if "terminated" in result:
        parts.append(f"{result.get('execution_status')}; terminated {result['terminated'] or 'nothing'}")
    return f"{record.function}: " + ("; ".join(parts) or str(result.get("status", "ok")))
