"""Client-side pacing of the scan's EMR calls (ListClusters pages, DescribeCluster, ListSteps), so that a
large fleet does not run into throttling.

EMR throttles each API with a token bucket per account and Region: a burst, then a replenishment rate
(EMR Management Guide, "What are Amazon EMR Service Quotas"; AWS General Reference, "Amazon EMR endpoints
and quotas"). The defaults below are the ones Service Quotas lists for these APIs (quota codes in the
comments). They are not in the AWS pages stored for this project, so they are inferred; an account may have
raised them. The clients' adaptive retry mode (emr_autopilot.aws) still backs off when EMR throttles anyway,
e.g. because other tools share the account's buckets; it only starts limiting after a first throttle.

Hand-written (a token bucket is a dozen lines): the rate-limit libraries on PyPI would add a dependency to
the layer for it. `time` is looked up at call time, so the benchmark and tests can give it a virtual clock.
"""

import time
from dataclasses import dataclass, field
from typing import NamedTuple


class CallRate(NamedTuple):
    """One API's token bucket: `burst` calls at once, then `per_second` as it refills."""

    burst: int
    per_second: float


# Service Quotas defaults (inferred, see above). The function's environment can change them
# (ReaperSettings: EMR_<API>_BURST and EMR_<API>_PER_SECOND), e.g. for an account with raised quotas.
LIST_CLUSTERS = CallRate(20, 0.5)  # L-2C4B0A7F, L-ECF78C67
DESCRIBE_CLUSTER = CallRate(10, 1.0)  # L-81AF5123, L-D74118B4
LIST_STEPS = CallRate(10, 0.5)  # L-7D1BF903, L-8AF88BF0


@dataclass
class TokenBucket:
    """Waits before a call when the bucket is empty; starts full, as EMR's does for a quiet account."""

    burst: int
    rate: float  # tokens per second
    tokens: float = field(init=False)
    updated: float = field(init=False)
    waited: float = field(default=0.0, init=False)  # seconds slept, for the report of the benchmark

    def __post_init__(self) -> None:
        self.tokens, self.updated = float(self.burst), time.monotonic()

    def take(self) -> None:
        self._refill()
        if self.tokens < 1:
            wait = (1 - self.tokens) / self.rate
            time.sleep(wait)
            self.waited += wait
            self._refill()
        self.tokens = max(self.tokens - 1, 0.0)

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now


@dataclass
class Pacer:
    """One bucket per paced EMR API, for one scan."""

    list_clusters: TokenBucket = field(default_factory=lambda: TokenBucket(*LIST_CLUSTERS))
    describe_cluster: TokenBucket = field(default_factory=lambda: TokenBucket(*DESCRIBE_CLUSTER))
    list_steps: TokenBucket = field(default_factory=lambda: TokenBucket(*LIST_STEPS))

    @classmethod
    def at(cls, list_clusters: CallRate, describe_cluster: CallRate, list_steps: CallRate) -> "Pacer":
        return cls(TokenBucket(*list_clusters), TokenBucket(*describe_cluster), TokenBucket(*list_steps))

    @property
    def waited(self) -> float:
        return self.list_clusters.waited + self.describe_cluster.waited + self.list_steps.waited
