"""What the reaper decided: one decision per cluster, with a stable reason code, and the run's report."""

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from emr_autopilot.reaper.config import ReaperConfig

Action = Literal["terminated", "would terminate", "skipped", "error"]
ApplicationAction = Literal["stopped", "would stop", "skipped", "error"]

# Reason codes: stable strings for the ledger, the JSON output and tests (the reason text is for people).
GRACE = "grace"
OUT_OF_SCOPE = "out-of-scope"
OPTED_OUT = "opted-out"
BAD_THRESHOLD_TAG = "invalid-threshold-tag"
IDLE_TOO_SHORT = "idle-too-short"
BUSY = "busy"
NO_METRIC = "no-metric"
METRIC_NOT_IDLE = "metric-not-idle"
METRIC_INCOMPLETE = "metric-incomplete"
PROTECTED = "protected"
CAP_REACHED = "cap-reached"
IDLE = "idle"
API_ERROR = "api-error"
# Skips worth a notification: an idle cluster that was left running.
NOTABLE_SKIPS = (PROTECTED, CAP_REACHED)


@dataclass
class ClusterDecision:
    cluster_id: str
    name: str
    state: str
    action: Action = "skipped"
    code: str = ""
    reason: str = ""
    idle_minutes: float | None = None
    threshold_minutes: float | None = None
    protected: bool = False
    estimated_hourly_usd: float | None = None
    cost_basis: str | None = None
    heal: str | None = None
    tags_read: bool = False  # False: not described (e.g. busy by IsIdle): scope, opt-out, protection unknown
    unexamined: bool = False  # True: the cap was filled before the scan reached it; judged by IsIdle alone

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ApplicationDecision:
    application_id: str
    name: str
    state: str
    action: ApplicationAction = "skipped"
    code: str = ""
    reason: str = ""
    idle_minutes: float | None = None
    threshold_minutes: float | None = None
    auto_stop: str = ""  # "on after 15 min" or "off"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReapReport:
    scanned_at: datetime
    config: ReaperConfig
    decisions: list[ClusterDecision] = field(default_factory=list)
    applications: list[ApplicationDecision] = field(default_factory=list)  # EMR Serverless
    cost_label: str = ""
    notified: bool = False
    ledger_errors: int = 0

    def with_action(self, *actions: str) -> list[ClusterDecision]:
        return [d for d in self.decisions if d.action in actions]

    @property
    def acted(self) -> list[ClusterDecision]:
        return self.with_action("terminated", "would terminate")

    @property
    def healed(self) -> list[ClusterDecision]:
        return [d for d in self.decisions if d.heal and d.heal.startswith(("added", "would add"))]

    @property
    def hourly_cost_avoided(self) -> float:
        return round(sum(d.estimated_hourly_usd or 0.0 for d in self.acted), 4)

    @property
    def left_running(self) -> list[ClusterDecision]:
        """Idle clusters a rule kept: protected, or over the cap."""
        return [d for d in self.with_action("skipped") if d.code in NOTABLE_SKIPS]

    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(d.code for d in self.with_action("skipped")))

    def applications_with(self, *actions: str) -> list[ApplicationDecision]:
        return [d for d in self.applications if d.action in actions]

    @property
    def auto_stop_off(self) -> list[ApplicationDecision]:
        """STARTED applications that will never stop by themselves: worth knowing, whatever was decided."""
        return [d for d in self.applications if d.auto_stop == "off"]

    def notable(self) -> bool:
        acted_on_applications = self.applications_with("stopped", "would stop", "error")
        return bool(
            self.acted or self.healed or self.with_action("error") or self.left_running or acted_on_applications
        )

    def summary_line(self) -> str:
        verb = "would terminate" if self.config.dry_run else "terminated"
        parts = [f"{verb} {len(self.acted)}"]
        skips = self.skip_counts()
        parts += [f"{code} {skips[code]}" for code in NOTABLE_SKIPS if skips.get(code)]
        if self.healed:
            parts.append(f"{'would heal' if self.config.dry_run else 'healed'} {len(self.healed)}")
        if errors := self.with_action("error"):
            parts.append(f"errors {len(errors)}")
        parts.append(f"scanned {len(self.decisions)}")
        if self.applications:
            stopped = self.applications_with("would stop" if self.config.dry_run else "stopped")
            parts.append(f"applications: {'would stop' if self.config.dry_run else 'stopped'} {len(stopped)}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned_at": self.scanned_at.isoformat(),
            "dry_run": self.config.dry_run,
            "config": self.config.describe(),
            "summary": self.summary_line(),
            "terminated": [d.cluster_id for d in self.with_action("terminated")],
            "would_terminate": [d.cluster_id for d in self.with_action("would terminate")],
            "errors": [d.cluster_id for d in self.with_action("error")],
            "skipped": self.skip_counts(),
            "estimated_hourly_cost_avoided_usd": self.hourly_cost_avoided,
            "cost_label": self.cost_label,
            "notified": self.notified,
            "clusters": [d.as_dict() for d in self.decisions],
            "applications": [d.as_dict() for d in self.applications],
            "applications_auto_stop_off": [d.application_id for d in self.auto_stop_off],
        }


def error_text(exc: Exception) -> str:
    """A failed AWS call as a decision's reason shows it: the error code and message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
