"""Figure 4, AWS calls per EMR event: EmrEventFunction's calls for each sample in events/emr_*.json,
pointed at a real cluster (and its real failed and completed steps, with logs) in a local runtime.

Each event is handed to the handler as EventBridge would (a fresh id, so the idempotency store does
not short-circuit it), in a cold container for its cluster: the DescribeCluster cache is emptied
before each event, so the figures are the worst case.

Columns:
- lookups: every call except the ledger's DynamoDB writes, the SNS publish and the idempotency
  store: what the reaction reads to write the ledger and the notice (DescribeCluster; for a failed
  step DescribeStep and the GET of stderr.gz; CreateSchedule for a late log). Budget <= 3;
- before the first DynamoDB/SNS call: calls made before the ledger's first write or the first
  publish (the idempotency store's own calls, which come first for every event, not counted);
- total, with the idempotency store's calls.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from emr_autopilot_devkit.bench.calls import AppCalls, Call, by_operation
from emr_autopilot_devkit.bench.common import REPO_ROOT, say
from emr_autopilot_devkit.bench.report import Figure
from emr_autopilot_devkit.local.runtime import LocalRuntime

SECTION = "4. AWS calls per EMR event (EmrEventFunction, cold DescribeCluster cache)"
BUDGET = 3
FUNCTION = "EmrEventFunction"
FAILING_STEP = "echo 'reading s3://bucket/in.csv' >&2; echo 'error: table not found: events' >&2; exit 3"


def create_tagged_cluster(stack: LocalRuntime) -> str:
    cluster_id: str = stack.client("emr").run_job_flow(
        Name="bench-events-manual-1",
        ReleaseLabel="emr-7.5.0",
        LogUri=f"s3://{stack.outputs['LogsBucketName']}/emr-logs/",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=[
            {"Key": "emr-autopilot:job", "Value": "bench-events"},
            {"Key": "emr-autopilot:run-id", "Value": "bench-events-manual-1"},
            {"Key": "emr-autopilot:managed", "Value": "true"},
        ],
    )["JobFlowId"]
    return cluster_id


def add_bash_step(stack: LocalRuntime, cluster_id: str, name: str, command: str) -> str:
    step_id: str = stack.client("emr").add_job_flow_steps(
        JobFlowId=cluster_id,
        Steps=[
            {
                "Name": name,
                "ActionOnFailure": "CONTINUE",
                "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["bash", "-c", command]},
            }
        ],
    )["StepIds"][0]
    return step_id


def _event(sample: str, cluster_id: str, steps: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((REPO_ROOT / "events" / sample).read_text(encoding="utf-8"))
    detail = dict(event["detail"], clusterId=cluster_id)
    if event["detail-type"] == "EMR Step Status Change":
        detail["stepId"] = steps[detail["state"]]
    event.update(
        id=str(uuid.uuid4()),
        time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        detail=detail,
        resources=[f"arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/{cluster_id}"],
    )
    return event


def classify(calls: list[Call], ledger_table: str, idempotency_table: str) -> dict[str, Any]:
    def is_ledger(call: Call) -> bool:
        return call.service == "dynamodb" and call.table == ledger_table

    def is_idempotency(call: Call) -> bool:
        return call.service == "dynamodb" and call.table == idempotency_table

    def is_publish(call: Call) -> bool:
        return call.service == "sns" and call.operation == "Publish"

    app = [c for c in calls if not is_idempotency(c)]
    first = next((i for i, c in enumerate(app) if c.service in ("dynamodb", "sns")), len(app))
    lookups = [c for c in app if not (is_ledger(c) or is_publish(c))]
    return {
        "lookups": len(lookups),
        "lookup_calls": [c.label for c in lookups],
        "before_first_dynamodb_or_sns": first,
        "ledger_writes": sum(1 for c in app if is_ledger(c)),
        "publishes": sum(1 for c in app if is_publish(c)),
        "idempotency_calls": sum(1 for c in calls if is_idempotency(c)),
        "total": len(calls),
        "sequence": [c.label for c in calls],
        "by_operation": by_operation(calls),
    }


def measure() -> list[Figure]:
    from emr_autopilot.emr_event_reactions import decisions

    events = (REPO_ROOT / "events").glob("emr_*.json")
    samples = sorted(p.name for p in events if not p.name.startswith(("emr_serverless_", "emr_eks_")))  # EMR on EC2's
    figures: list[Figure] = []
    with LocalRuntime() as stack:
        cluster_id = create_tagged_cluster(stack)
        failed = add_bash_step(stack, cluster_id, "failing step", FAILING_STEP)
        completed = add_bash_step(stack, cluster_id, "completing step", "echo done")
        stack.settle(timeout=120)
        states = {s["Id"]: s["Status"]["State"] for s in stack.steps(cluster_id)}
        if (states.get(failed), states.get(completed)) != ("FAILED", "COMPLETED"):
            raise RuntimeError(f"setting up the steps failed: {states}")
        env = stack.functions[FUNCTION].environment
        ledger_table, idempotency_table = env["LEDGER_TABLE_NAME"], env["IDEMPOTENCY_TABLE_NAME"]
        steps = {"FAILED": failed, "COMPLETED": completed}
        with AppCalls(only_thread=threading.get_ident()) as counter:
            for sample in samples:
                event = _event(sample, cluster_id, steps)
                decisions.described_cluster.cache_clear()  # a cold container for this cluster: the worst case
                mark = counter.mark()
                result = stack.invoke(FUNCTION, event)
                row = classify(counter.since(mark), ledger_table, idempotency_table)
                row["notified"] = bool(result.get("notified"))
                row["status"] = result.get("status")
                say(f"    {sample}: {row['lookups']} lookups, {row['total']} calls: {', '.join(row['sequence'])}")
                figures.append(
                    Figure(
                        id=f"emr_event_calls.{sample.removesuffix('.json')}",
                        section=SECTION,
                        name=(
                            f"{event['detail-type']} {event['detail'].get('state', '')}".strip()
                            + f": lookups (before first DynamoDB/SNS call: {row['before_first_dynamodb_or_sns']};"
                            + f" total {row['total']})"
                        ),
                        value=row["lookups"],
                        unit="",
                        budget=BUDGET,
                        note=f"sample {sample}; " + ("notified" if row["notified"] else "ledger only"),
                        detail=row,
                    )
                )
    return figures
