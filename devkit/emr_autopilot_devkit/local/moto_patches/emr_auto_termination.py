"""Get/Put/RemoveAutoTerminationPolicy for moto's EMR, which (pinned at 5.2.5) does not implement them.

The policy is kept on moto's cluster object. For a cluster the EMR simulator runs, the simulator's
idle timeout is the policy: RunJobFlow's AutoTerminationPolicy shows up in Get, and a Put (the idle
reaper's heal mode) makes the simulated cluster end itself after that idle time, as EMR would.
Works in server mode (the local runtime) and in-process (`mock_aws`, unit tests).
"""

from __future__ import annotations

import functools
from typing import Any

from moto.core.responses import ActionResult
from moto.emr.exceptions import ValidationException
from moto.emr.responses import ElasticMapReduceResponse

from emr_autopilot_devkit.local import emr_simulator

IDLE_TIMEOUT_RANGE = (60, 604800)  # what EMR accepts, in seconds


def _policy(cluster: Any) -> dict[str, int] | None:
    simulator = emr_simulator.active()
    timeout = simulator.idle_timeout(cluster.id) if simulator else None
    if timeout is not None:
        return {"IdleTimeout": int(timeout)}
    policy: dict[str, int] | None = getattr(cluster, "auto_termination_policy", None)
    return policy


def _set_policy(cluster: Any, policy: dict[str, int] | None) -> None:
    cluster.auto_termination_policy = policy
    simulator = emr_simulator.active()
    if simulator is not None:
        simulator.set_idle_timeout(cluster.id, float(policy["IdleTimeout"]) if policy else None)


@functools.cache  # installs once per process
def install() -> None:

    def get_auto_termination_policy(self: ElasticMapReduceResponse) -> ActionResult:
        cluster = self.backend.describe_cluster(self._get_param("ClusterId"))
        policy = _policy(cluster)
        return ActionResult({"AutoTerminationPolicy": policy} if policy else {})

    def put_auto_termination_policy(self: ElasticMapReduceResponse) -> ActionResult:
        cluster = self.backend.describe_cluster(self._get_param("ClusterId"))
        timeout = int((self._get_param("AutoTerminationPolicy") or {}).get("IdleTimeout", 3600))
        low, high = IDLE_TIMEOUT_RANGE
        if not low <= timeout <= high:
            raise ValidationException(f"IdleTimeout must be between {low} and {high} seconds.")
        _set_policy(cluster, {"IdleTimeout": timeout})
        return ActionResult({})

    def remove_auto_termination_policy(self: ElasticMapReduceResponse) -> ActionResult:
        _set_policy(self.backend.describe_cluster(self._get_param("ClusterId")), None)
        return ActionResult({})

    response: Any = ElasticMapReduceResponse
    response.get_auto_termination_policy = get_auto_termination_policy
    response.put_auto_termination_policy = put_auto_termination_policy
    response.remove_auto_termination_policy = remove_auto_termination_policy
