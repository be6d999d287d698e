"""Part 6: a Spark batch through the Livy path on a long-running cluster.

A team's cluster with Livy, started through the EMR API, runs the PySpark sample job's
spark-submit step as a Livy batch via LivyBatchPipeline. Livy is emulated locally (the local
Livy server): the batch goes through Livy's states, and its PySpark code runs for real on local
Spark (step_runner); its output is checked against the independent count.
"""

from __future__ import annotations

import json
import re

from emr_autopilot.catalog import load_catalog
from emr_autopilot.livy_runs import build_livy_run_input, start_livy_run
from emr_autopilot.runs import StackContext, Trigger
from emr_autopilot_devkit.demo.runs import (
    GOOD_KEY,
    Printer,
    RunReport,
    check_output,
    cluster_state,
    elapsed,
    notice_of,
    split_uri,
)
from emr_autopilot_devkit.local.livy_samples import create_livy_cluster
from emr_autopilot_devkit.local.livy_server import primary_dns
from emr_autopilot_devkit.local.runtime import LocalRuntime

JOB = "red-violations-spark"
SPARK_INFO = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d INFO (?!Client: final status|ApplicationMaster)")
LABEL = "6. a Spark batch through Livy"


def run_livy_batch(stack: LocalRuntime, say: Printer, expected: list[tuple[str, int]]) -> RunReport:
    report = RunReport(label=LABEL)
    say("\n6. A Spark batch through Livy (LivyBatchPipeline) on a long-running cluster:")
    cluster_id = create_livy_cluster(stack, name="analytics-livy")
    dns = primary_dns(cluster_id)
    say(f"   Cluster {cluster_id} 'analytics-livy' (Hadoop, Spark, Livy), started with RunJobFlow: WAITING")
    say(f"   Livy on its primary node: http://{dns}:8998 (emulated locally; the batch runs on local Spark)")

    job = load_catalog(stack.outputs["ArtifactsBucketName"]).get(JOB)
    context = StackContext.from_stack_outputs(
        {**stack.outputs, "StateMachineArn": stack.outputs["LivyStateMachineArn"]}, "us-east-1"
    )
    input_uri = f"s3://{stack.outputs['LandingBucketName']}/{GOOD_KEY}"
    trigger = Trigger(kind="manual", time=stack.clock.now(), input_uri=input_uri)
    name = f"{JOB}-livy-{trigger.time:%Y%m%dT%H%M%S}"
    document = build_livy_run_input(job, trigger, context, name, cluster_id=cluster_id)
    batch = document["batch"]
    say(f"   Job {JOB}'s spark-submit step as a Livy batch: file {batch['file']}, args {' '.join(batch['args'])}")

    seen_notifications, seen_timeline = len(stack.notifications), len(stack.timeline)
    t0 = stack.clock.now()
    arn = start_livy_run(stack.outputs["LivyStateMachineArn"], name, document)
    stack.settle(timeout=300)  # a JVM and Spark start for real
    for entry in stack.timeline[seen_timeline:]:
        if not entry.text.startswith("EmrEventFunction"):
            say(f"   +{elapsed(t0, entry.time)}  {entry.text}")

    execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
    report.execution_name, report.status, report.error = name, execution["status"], execution.get("error")
    batches = [b for b in stack.livy.batches(dns) if b["name"] == name]
    final = json.loads(execution.get("output") or "{}").get("status", {})
    report.steps = [
        {
            "id": b["id"],
            "name": b["name"],
            "state": b["state"],
            "app_id": b["appId"],
            "simulated": stack.livy.simulate_batches,
        }
        for b in batches
    ]
    output = split_uri(document["run"]["output_uri"])
    listing = stack.client("s3").list_objects_v2(Bucket=output["Bucket"], Prefix=output["Key"])
    report.output_objects = [f"s3://{output['Bucket']}/{obj['Key']}" for obj in listing.get("Contents", [])]
    report.notifications = [notice_of(n) for n in stack.notifications[seen_notifications:]]
    yarn = str(final.get("yarn_note", "-"))
    say(
        f"   Execution {name}: {report.status}; Livy batch {batches[0]['id'] if batches else '-'}: "
        f"{batches[0]['state'] if batches else 'none'} ({yarn})"
    )
    for note in report.notifications:
        say(f"   Notification: {note['subject']}")
        for part in note["message"].split(" | "):
            lines = part.splitlines()
            # The log tail is Spark's own: its INFO lines are left out here (they are in the notification).
            shown = [line for line in lines if not SPARK_INFO.match(line)]
            for line in shown:
                say(f"     {line}")
            if len(shown) < len(lines):
                say(f"     ({len(lines) - len(shown)} lines of Spark INFO logging not shown)")

    report.cluster_id, report.cluster_state = cluster_id, cluster_state(stack, cluster_id)
    report.outcome = report.status
    check_output(stack, say, report, expected)
    report.checks["Livy run SUCCEEDED"] = report.status == "SUCCEEDED"
    report.checks["one batch, named after the run, ended success; YARN agrees"] = (
        len(batches) == 1 and batches[0]["state"] == "success" and yarn.startswith("YARN agrees")
    )
    report.checks["notification carries the batch's log tail"] = any(
        "final status: SUCCEEDED" in n["message"] for n in report.notifications
    )
    report.checks["the team's cluster is left running"] = report.cluster_state == "WAITING"
    # The demo's own clean-up: the cluster is the team's, not the pipeline's.
    stack.client("emr").terminate_job_flows(JobFlowIds=[cluster_id])
    say(f"   The pipeline left {cluster_id} running, as it is not the run's; the demo terminates it now.")
    return report
