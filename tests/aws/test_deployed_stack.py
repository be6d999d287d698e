"""Against a deployed stack: set EMR_AUTOPILOT_STACK (and AWS credentials) to run.

These start a real transient EMR cluster and cost money (a few minutes of the sample job's
cluster). They never run in CI, which has no AWS access.
"""

from __future__ import annotations

import os
import time

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from emr_autopilot_devkit.sample_data import expected_red_counts, generate_inspections, parse_result_csv

STACK = os.environ.get("EMR_AUTOPILOT_STACK")


def _outputs() -> dict[str, str]:
    if not STACK:
        pytest.skip("EMR_AUTOPILOT_STACK is not set: no deployed stack to test")
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    except (NoCredentialsError, BotoCoreError, ClientError) as exc:
        pytest.skip(f"no usable AWS credentials or stack: {exc}")
    return {item["OutputKey"]: item["OutputValue"] for item in stacks[0].get("Outputs", [])}


pytestmark = pytest.mark.aws


def test_an_upload_runs_the_sample_job_and_terminates_its_cluster():
    # Given a deployed stack with the jobs deployed (`emr-autopilot jobs deploy`)
    outputs = _outputs()
    s3, sfn, emr = boto3.client("s3"), boto3.client("stepfunctions"), boto3.client("emr")
    key = f"inspections/aws-test/{int(time.time())}.csv"
    data = generate_inspections(rows=500)
    # When inspection records land in the landing bucket
    s3.put_object(Bucket=outputs["LandingBucketName"], Key=key, Body=data.encode())
    execution = None
    for _ in range(60):  # the starter reacts within seconds
        time.sleep(5)
        items = sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"]
        started = [item for item in items if item["startDate"].timestamp() > time.time() - 600]
        if started:
            execution = started[0]
            break
    assert execution is not None, "no execution started within 5 minutes"
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] == "RUNNING":
        time.sleep(30)
    # Then the run succeeded, the output is right and its cluster is gone
    assert described["status"] == "SUCCEEDED", described.get("cause")
    clusters = emr.list_clusters()["Clusters"]
    mine = [c for c in clusters if c["Name"] == execution["name"]]
    assert mine and all(c["Status"]["State"].startswith("TERMINAT") for c in mine)
    prefix = "red-violations/"
    listing = s3.list_objects_v2(Bucket=outputs["CuratedBucketName"], Prefix=prefix)["Contents"]
    result_key = next(obj["Key"] for obj in listing if execution["name"] in obj["Key"] and obj["Key"].endswith(".csv"))
    body = s3.get_object(Bucket=outputs["CuratedBucketName"], Key=result_key)["Body"].read().decode()
    assert parse_result_csv(body) == expected_red_counts(data)
