"""Nothing a job carries leaks into logs or notifications: not a credential in its cluster configuration,
not the configuration itself, not a row of its data.

A demo-like session (a good run, a run whose step fails on bad input, a run whose bootstrap fails, a Livy
batch with a credential in its Spark conf) with values planted where they could leak; then every handler's
log line (LocalRuntime.log_buffer) and every notice is searched for them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from emr_autopilot.livy_runs import start_livy_run
from emr_autopilot_devkit.local.livy_samples import create_livy_cluster
from emr_autopilot_devkit.local.runtime import LocalRuntime
from emr_autopilot_devkit.sample_data import generate_inspections, generate_malformed_inspections
from tests.helpers.integration import SAMPLE_JOB, RuntimeFactory, only, sample_job

SECRET = "FAKE-SECRET-d41d8cd98f00b204e9800998ecf8427e"  # a credential someone put in a job's configuration
CONFIG_VALUE = "s3a-endpoint-internal.example.invalid"  # a configuration value that is not a credential
ROW_MARKER = "Zz Marker Restaurant 7731"  # a restaurant name found only in the data


def job_with_planted_values() -> dict[str, object]:
    job = copy.deepcopy(sample_job())
    job["cluster"]["configurations"].append(  # type: ignore[index]
        {
            "Classification": "core-site",
            "Properties": {"fs.s3a.secret.key": SECRET, "fs.s3a.endpoint": CONFIG_VALUE},
        }
    )
    return job


def with_marker_row(csv_text: str) -> str:
    header, _, rows = csv_text.partition("\n")
    return f"{header}\n{ROW_MARKER},2026-11-20,RED,Rodent activity observed\n{rows}"


def everything_said(stack: LocalRuntime) -> dict[str, str]:
    said = {"handler logs": stack.log_buffer.getvalue()}
    for number, notice in enumerate(stack.notifications):
        said[f"notice {number} ({notice.attributes.get('event_type')})"] = notice.subject + "\n" + notice.message
    return said


def test_a_session_of_runs_says_nothing_of_credentials_configurations_or_data(
    local_runtime: RuntimeFactory, jobs_dir: Callable[..., Path]
) -> None:
    # Given the sample job with a credential and another value in its cluster configuration
    stack = local_runtime(jobs_dir(job_with_planted_values()))

    # When a good file lands, then one with a renamed column, each with a row only the data has
    stack.put_object("inspections/good.csv", with_marker_row(generate_inspections(rows=200)))
    stack.settle(timeout=60)
    stack.put_object("inspections/bad.csv", with_marker_row(generate_malformed_inspections(rows=200)))
    stack.settle(timeout=60)
    # ...and a third run whose cluster fails to bootstrap (its failure carries the cluster's description)
    stack.simulator.faults.bootstrap_failure.append(SAMPLE_JOB)
    stack.put_object("inspections/third.csv", generate_inspections(rows=20))
    stack.settle(timeout=60)
    # ...and a Livy batch with the credential in its Spark conf (simulated: its application is not in S3)
    stack.livy.simulate_batches = True
    cluster_id = create_livy_cluster(stack)
    arn = start_livy_run(
        stack.outputs["LivyStateMachineArn"],
        "secret-livy",
        {
            "cluster_id": cluster_id,
            "batch": {"file": "s3://acme/jobs/x.py", "conf": {"spark.hadoop.fs.s3a.secret.key": SECRET}},
        },
    )
    stack.settle(timeout=60)

    # Then the runs happened as intended: one succeeded, two failed (step, bootstrap), the batch succeeded
    statuses = [execution["status"] for execution in stack.executions()]
    assert sorted(statuses) == ["FAILED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert stack.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    bootstrap = only([n for n in stack.notifications if n.attributes.get("state") == "CreateCluster"])
    assert "BOOTSTRAP_FAILURE" in bootstrap.message  # the reason is kept...
    assert "cluster configurations omitted" in bootstrap.message  # ...the configuration is not
    said = everything_said(stack)
    assert len(said) >= 6 and len(said["handler logs"]) > 1000  # something was said, and searched

    # And no log line or notice contains the credential, the configuration or the data
    for planted in (SECRET, CONFIG_VALUE, ROW_MARKER, '"Classification"'):
        leaks = [where for where, text in said.items() if planted in text]
        assert leaks == [], f"{planted!r} leaked into {leaks}"
