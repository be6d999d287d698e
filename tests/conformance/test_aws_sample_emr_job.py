"""AWS's own "Manage an Amazon EMR Job" sample project, run unchanged on the local runtime.

Source: AWS Step Functions developer guide, sample-emr-job ("Manage an Amazon EMR Job", section "Example State
Machine Code"; awsdocs/aws-step-functions-developer-guide doc_source/sample-emr-job.md). The definition below
is the page's, character for character; only the placeholders a deployment fills in are substituted
(`<PARTITION>`, the two role names and the log bucket). `<COMMAND_ARGUMENTS>` stays: the page leaves it to
the reader, and so does this test.
"""

from __future__ import annotations

import json

from tests.helpers.conformance import Runner

SAMPLE = """{
  "Comment": "An example of the Amazon States Language for running jobs on Amazon EMR",
  "StartAt": "Create an EMR cluster",
  "States": {
    "Create an EMR cluster": {
      "Type": "Task",
      "Resource": "arn:<PARTITION>:states:::elasticmapreduce:createCluster.sync",
      "Parameters": {
        "Name": "ExampleCluster",
        "VisibleToAllUsers": true,
        "ReleaseLabel": "emr-5.26.0",
        "Applications": [
          { "Name": "Hive" }
        ],
        "ServiceRole": "<EMR_SERVICE_ROLE>",
        "JobFlowRole": "<EMR_EC2_INSTANCE_PROFILE>",
        "LogUri": "s3://<EMR_LOG_S3_BUCKET>/logs/",
        "Instances": {
          "KeepJobFlowAliveWhenNoSteps": true,
          "InstanceFleets": [
            {
              "Name": "MyMasterFleet",
              "InstanceFleetType": "MASTER",
              "TargetOnDemandCapacity": 1,
              "InstanceTypeConfigs": [
                {
                  "InstanceType": "m5.xlarge"
                }
              ]
            },
            {
              "Name": "MyCoreFleet",
              "InstanceFleetType": "CORE",
              "TargetOnDemandCapacity": 1,
              "InstanceTypeConfigs": [
                {
                  "InstanceType": "m5.xlarge"
                }
              ]
            }
          ]
        }
      },
      "ResultPath": "$.cluster",
      "Next": "Run first step"
    },
    "Run first step": {
      "Type": "Task",
      "Resource": "arn:<PARTITION>:states:::elasticmapreduce:addStep.sync",
      "Parameters": {
        "ClusterId.$": "$.cluster.ClusterId",
        "Step": {
          "Name": "My first EMR step",
          "ActionOnFailure": "CONTINUE",
          "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": ["<COMMAND_ARGUMENTS>"]
          }
        }
      },
      "Retry" : [
        {
          "ErrorEquals": [ "States.ALL" ],
          "IntervalSeconds": 1,
          "MaxAttempts": 3,
          "BackoffRate": 2.0
        }
      ],
      "ResultPath": "$.firstStep",
      "Next": "Run second step"
    },
    "Run second step": {
      "Type": "Task",
      "Resource": "arn:<PARTITION>:states:::elasticmapreduce:addStep.sync",
      "Parameters": {
        "ClusterId.$": "$.cluster.ClusterId",
        "Step": {
          "Name": "My second EMR step",
          "ActionOnFailure": "CONTINUE",
          "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": ["<COMMAND_ARGUMENTS>"]
          }
        }
      },
      "Retry" : [
        {
          "ErrorEquals": [ "States.ALL" ],
          "IntervalSeconds": 1,
          "MaxAttempts": 3,
          "BackoffRate": 2.0
        }
      ],
      "ResultPath": "$.secondStep",
      "Next": "Terminate Cluster"
    },
    "Terminate Cluster": {
      "Type": "Task",
      "Resource": "arn:<PARTITION>:states:::elasticmapreduce:terminateCluster",
      "Parameters": {
        "ClusterId.$": "$.cluster.ClusterId"
      },
      "End": true
    }
  }
}"""

DEPLOYED = {
    "<PARTITION>": "aws",
    "<EMR_SERVICE_ROLE>": "EMR_DefaultRole",
    "<EMR_EC2_INSTANCE_PROFILE>": "EMR_EC2_DefaultRole",
    "<EMR_LOG_S3_BUCKET>": "conformance-emr-logs",
}


def deployed_sample() -> str:
    definition = SAMPLE
    for placeholder, value in DEPLOYED.items():
        definition = definition.replace(placeholder, value)
    return definition


def test_the_sample_as_published_fails_as_on_aws(runtime: Runner) -> None:
    """Source: sample-emr-job ("Example State Machine Code"); connect-emr (createCluster.sync waits for WAITING,
    addStep.sync "waits for the step to complete"); concepts-error-handling (Retry: MaxAttempts 3 gives 3 retries;
    a state with no Catch fails the execution). command-runner.jar runs its first argument as a command, and
    "<COMMAND_ARGUMENTS>" is no command, so on EMR the step FAILS (inferred from command-runner's contract; the
    local runtime must not simulate it as COMPLETED, which depends on helper H7's step runner).

    Given the sample, deployed with only its role/bucket/partition placeholders filled, When it runs,
    Then the cluster is created and reaches WAITING; "Run first step" submits its step 4 times (1 + 3 retries),
    each FAILED; the execution FAILS with States.TaskFailed from that state; the second step never runs; and
    the cluster is left WAITING (the sample has no Catch, so "Terminate Cluster" never runs)."""
    assert "<COMMAND_ARGUMENTS>" in deployed_sample()
    assert json.loads(deployed_sample())["States"].keys() == json.loads(SAMPLE)["States"].keys()
    run = runtime.run(deployed_sample(), {})
    cluster_id = json.loads(run.events("TaskSucceeded")[0]["output"])["ClusterId"]
    try:
        assert (run.status, run.execution.get("error")) == ("FAILED", "States.TaskFailed"), run.execution
        steps = runtime.emr.list_steps(ClusterId=cluster_id)["Steps"]
        assert [step["Name"] for step in steps] == ["My first EMR step"] * 4
        assert {step["Status"]["State"] for step in steps} == {"FAILED"}
        submitted = [e for e in run.events("TaskSubmitted") if e["resource"] == "addStep.sync"]
        assert len(submitted) == 4
        failed = run.events("TaskFailed")
        assert [f["error"] for f in failed] == ["States.TaskFailed"] * 4
        assert json.loads(failed[-1]["cause"])["Name"] == "My first EMR step"
        entered = [e["stateEnteredEventDetails"]["name"] for e in run.history if e["type"] == "TaskStateEntered"]
        assert entered == ["Create an EMR cluster", "Run first step"]
        cluster = runtime.emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        assert cluster["Status"]["State"] == "WAITING"
    finally:
        runtime.emr.terminate_job_flows(JobFlowIds=[cluster_id])
