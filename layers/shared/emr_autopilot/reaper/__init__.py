"""The idle-cluster reaper: terminates EMR clusters that are proven idle, within limits, and says why.

Every WAITING cluster gets one decision and a reason. A cluster is terminated only when ALL hold:
- in scope (scope tag, if one is set) and not opted out (opt-out tag);
- created at least the grace period ago;
- no step PENDING, CANCEL_PENDING or RUNNING;
- idle since max(ReadyDateTime, last step EndDateTime) for at least its threshold (default, or
  the cluster's ``emr-autopilot:idle-threshold`` tag);
- CloudWatch ``IsIdle`` is 1 in every datapoint of the 5-minute periods covering the threshold
  (missing data proves nothing, so it is a skip);
- not termination-protected (protection is never removed);
- fewer than ``max_terminations`` clusters were terminated before it in this run.

IsIdle is read first, for all clusters at once: a cluster it shows busy costs no per-cluster call.
The others are examined longest idle first only until the cap is filled; the rest are reported as
not examined, so the per-cluster calls grow with the cap, not with the fleet.

Where each part lives: config (settings, tag selectors, the schedule's tick), scan (the checks and
terminations), idle_metric (IsIdle as proof), pacing (EMR's rates), heal (auto-termination policies),
report (decisions, reason codes), notice (the notice's text), run (the scheduled run: ledger and notice).
"""

from emr_autopilot.reaper.config import (
    DEFAULT_OPT_OUT,
    MAX_THRESHOLD,
    MIN_THRESHOLD,
    TAG_IDLE_THRESHOLD,
    ReaperConfig,
    ReaperSettings,
    ScheduledEvent,
    TagSelector,
    parse_duration,
)
from emr_autopilot.reaper.idle_metric import judge_is_idle
from emr_autopilot.reaper.report import (
    API_ERROR,
    BAD_THRESHOLD_TAG,
    BUSY,
    CAP_REACHED,
    GRACE,
    IDLE,
    IDLE_TOO_SHORT,
    METRIC_INCOMPLETE,
    METRIC_NOT_IDLE,
    NO_METRIC,
    NOTABLE_SKIPS,
    OPTED_OUT,
    OUT_OF_SCOPE,
    PROTECTED,
    Action,
    ClusterDecision,
    ReapReport,
)
from emr_autopilot.reaper.run import notify, reap_and_report
from emr_autopilot.reaper.scan import reap

__all__ = [
    "API_ERROR",
    "BAD_THRESHOLD_TAG",
    "BUSY",
    "CAP_REACHED",
    "DEFAULT_OPT_OUT",
    "GRACE",
    "IDLE",
    "IDLE_TOO_SHORT",
    "MAX_THRESHOLD",
    "METRIC_INCOMPLETE",
    "METRIC_NOT_IDLE",
    "MIN_THRESHOLD",
    "NOTABLE_SKIPS",
    "NO_METRIC",
    "OPTED_OUT",
    "OUT_OF_SCOPE",
    "PROTECTED",
    "TAG_IDLE_THRESHOLD",
    "Action",
    "ClusterDecision",
    "ReapReport",
    "ReaperConfig",
    "ReaperSettings",
    "ScheduledEvent",
    "TagSelector",
    "judge_is_idle",
    "notify",
    "parse_duration",
    "reap",
    "reap_and_report",
]
