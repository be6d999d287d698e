"""What the fault matrix's job-run rows share (reliability_serverless, reliability_eks): the harness they use, the
job's entry point, writing the job, starting a run, and the arrangements that do not depend on the service.

A job-run cell runs one job from an S3 trigger. Its entry point is a real PySpark file run by local spark-submit,
told by its argument what to do: `ok` exits 0, `fail` raises, `sleep` runs until cancelled. No SparkSession is
made: each job run costs one spark-submit start, not a Spark job.

This module does not import reliability (reliability imports the rows to build CELLS): a cell's arrangement gets
the harness's Run and uses what `Harness` names of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from emr_autopilot import ledger
from emr_autopilot.tags import TAG_RUN_ID

if TYPE_CHECKING:
    from emr_autopilot_devkit.local.runtime import LocalRuntime

TERMINAL_EVENT_TYPES = frozenset({"RUN_SUCCEEDED", "RUN_FAILED", "RUN_ABORTED", "RUN_TIMED_OUT"})
FAILED_BY_ENTRY_POINT = "injected by the fault matrix: the job's entry point failed"
# A spark-submit start takes seconds of real time, an hour or more on the fast clock: every timeout a cell does
# not test is far away.
FAR = "24h"
SLEEP = {"mode": "sleep"}

ENTRY_POINT = f'''"""The fault matrix's job: what it does is its first argument (ok, fail, sleep)."""
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
if mode == "fail":
    raise RuntimeError("{FAILED_BY_ENTRY_POINT}")
if mode == "sleep":
    time.sleep(3600)  # until the job run is cancelled
print("done:", mode)
'''


class Harness(Protocol):
    """What a job-run cell uses of the fault matrix's harness (reliability.Run)."""

    stack: LocalRuntime
    cell: Any  # reliability.Cell
    hits: Counter[str]

    def emr(self, kind: str, method: str, count: int, at: str | None = None) -> None: ...
    def lift_on_end(self) -> None: ...
    def proof(self, check: Callable[[], bool], what: str) -> None: ...
    def when(self, predicate: Callable[[], bool], action: Callable[[], None], what: str) -> None: ...
    def stop_execution(self) -> None: ...
    def duplicate(self, times: int, functions: frozenset[str]) -> None: ...
    def lambda_fault(self, function: str, when: str, count: int = 1, per_event: bool = False) -> None: ...


Arrange = Callable[[Harness], None]


def write_job(target: Path, job_name: str, compute: dict[str, Any], overrides: dict[str, Any]) -> None:
    """jobs/<job_name>.yaml (one spark-submit step running ENTRY_POINT, an S3 trigger) and its entry point.
    `compute`: the job's compute and its section (e.g. {"compute": "emr-eks", "eks": {...}}). Overrides: mode (ok,
    fail, sleep), step_timeout, run_timeout."""
    folder = job_name.replace("-", "_")
    job = {
        "name": job_name,
        **compute,
        "triggers": {"s3": [{"bucket": "landing", "prefix": f"{job_name}/", "suffix": ".csv"}]},
        "steps": [
            {
                "name": "work",
                "type": "spark-submit",
                "script": f"{folder}/entry_point.py",
                "args": [overrides.get("mode", "ok")],
                "timeout": overrides.get("step_timeout", FAR),
            }
        ],
        "run_timeout": overrides.get("run_timeout", FAR),
    }
    # The job's keys in the order a person writes them (name, compute, triggers, its section, steps).
    order = ["name", "compute", "triggers"]
    job = {key: job[key] for key in [*order, *(k for k in job if k not in order)]}
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{job_name}.yaml").write_text(yaml.safe_dump(job, sort_keys=False), encoding="utf-8")
    (target / folder).mkdir(exist_ok=True)
    (target / folder / "entry_point.py").write_text(ENTRY_POINT, encoding="utf-8")


def start_by_trigger(stack: LocalRuntime, job_name: str) -> None:
    stack.put_object(f"{job_name}/input.csv", "id,value\n1,2\n")  # the S3 event starts the run


def with_all(*arrangements: Arrange) -> Arrange:
    def arrange(run: Harness) -> None:
        for each in arrangements:
            each(run)

    return arrange


def api_fault(fault_kind: str, kind: str, api: str, count: int, at: str | None = None, lift: bool = False) -> Arrange:
    """The service answers `count` calls of a backend method with a fault (throttle, internal, errors), armed when
    state `at` is entered (its first call is the state's). `fault_kind`: the service's prefix of Run.emr kinds."""

    def arrange(run: Harness) -> None:
        run.emr(fault_kind + kind, api, count, at)
        if lift:
            run.lift_on_end()

    return arrange


def run_timed_out(run: Harness) -> None:
    run.proof(
        lambda: any(str(e.get("error")) == "RunTimedOut" for e in run.stack.executions()), "the run hit its deadline"
    )


def duplicate_trigger(run: Harness) -> None:
    run.duplicate(2, frozenset({"RunStarterFunction"}))


def lambda_raises(function: str) -> Arrange:
    def arrange(run: Harness) -> None:
        run.lambda_fault(function, "before")

    return arrange


def ledger_view(
    stack: LocalRuntime,
    described: list[dict[str, Any]],
    problems: list[str],
    id_key: str,
    run_state: Callable[[list[str]], str],
) -> str:
    """The ledger's state for the run (RUN#<run id>), after checking each job run's JOBRUN item against the
    service's answer (`described`, each job run's id under `id_key`) and the run's META against the state its job
    runs give (`run_state`: ledger.serverless_run_state or ledger.eks_run_state)."""
    if not described:
        return "no job run"
    table = stack.outputs["RunLedgerTableName"]
    words = []
    for run_id in sorted({str(job_run["tags"].get(TAG_RUN_ID)) for job_run in described}):
        items = {str(item["sk"]): item for item in ledger.partition_items(table, f"RUN#{run_id}")}
        meta = items.get("META")
        states = []
        for job_run in (j for j in described if j["tags"].get(TAG_RUN_ID) == run_id):
            recorded = items.get(f"JOBRUN#{job_run[id_key]}", {}).get("state")
            states.append(job_run["state"])
            if recorded != job_run["state"]:
                problems.append(f"ledger says job run {job_run[id_key]} is {recorded}, it is {job_run['state']}")
        expected = run_state(states)
        if meta is None or meta.get("state") != expected:
            problems.append(f"ledger says run {run_id} is {(meta or {}).get('state')}, its job runs say {expected}")
        words.append(str((meta or {}).get("state", "missing")))
    return ", ".join(words)


def count_left(described: list[dict[str, Any]], id_key: str, active: frozenset[str], problems: list[str]) -> int:
    """How many of the run's job runs (`described`, the job's one step each) are left in an `active` state; each
    one, and more than one job run for the step (the ClientToken did not hold), is a problem."""
    left = [job_run for job_run in described if job_run["state"] in active]
    for job_run in left:
        problems.append(f"job run {job_run[id_key]} left {job_run['state']}")
    if len(described) > 1:  # the job has one step
        problems.append(f"{len(described)} job runs for one step: the ClientToken did not hold")
    return len(left)
