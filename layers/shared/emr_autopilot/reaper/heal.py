"""Heal mode: give a cluster that has no auto-termination policy one, so it ends itself when idle.

EMR Management Guide, "Using an auto-termination policy": release 5.30.0+ or 6.1.0+, not with
HBase, Presto or Trino; IdleTimeout between 60 seconds and 7 days.
"""

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emr_autopilot import emr
from emr_autopilot.reaper.report import error_text

AUTO_TERMINATION_RANGE = (60, 604800)  # IdleTimeout bounds EMR accepts, seconds
NO_AUTO_TERMINATION_APPS = {"hbase", "presto", "prestosql", "trino"}


def heal(cluster: Mapping[str, Any], threshold: timedelta, dry_run: bool) -> str:
    """Add an auto-termination policy (IdleTimeout = the cluster's threshold) where allowed and missing;
    returns what was done, for the decision's `heal` field."""
    unsupported = auto_termination_unsupported(cluster)
    if unsupported:
        return f"not possible: {unsupported}"
    cluster_id = cluster["Id"]
    try:
        policy = emr.get_auto_termination_policy(cluster_id)
    except (ClientError, BotoCoreError) as exc:
        return f"failed: GetAutoTerminationPolicy: {error_text(exc)}"
    if policy:
        return f"has a policy (IdleTimeout {policy.get('IdleTimeout')} s)"
    low, high = AUTO_TERMINATION_RANGE
    timeout = min(max(int(threshold.total_seconds()), low), high)
    if dry_run:
        return f"would add auto-termination (IdleTimeout {timeout} s)"
    try:
        emr.put_auto_termination_policy(cluster_id, timeout)
    except (ClientError, BotoCoreError) as exc:
        return f"failed: PutAutoTerminationPolicy: {error_text(exc)}"
    return f"added auto-termination (IdleTimeout {timeout} s)"


def auto_termination_unsupported(cluster: Mapping[str, Any]) -> str | None:
    match = re.fullmatch(r"emr-(\d+)\.(\d+)\.\d+.*", cluster.get("ReleaseLabel") or "")
    if match:
        version = (int(match.group(1)), int(match.group(2)))
        if version < (5, 30) or (6, 0) <= version < (6, 1):
            return f"{cluster['ReleaseLabel']} has no auto-termination (needs 5.30.0+ or 6.1.0+)"
    apps = sorted(
        a["Name"] for a in cluster.get("Applications", []) if a.get("Name", "").lower() in NO_AUTO_TERMINATION_APPS
    )
    if apps:
        return f"auto-termination does not support {', '.join(apps)}"
    return None
