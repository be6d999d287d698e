"""The stack outputs `jobs deploy` reads (StackOutputs), for deploy tests on moto: sample names in one account."""

from __future__ import annotations

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "emr-autopilot-artifacts-test"


def stack_outputs(**extra: str) -> dict[str, str]:
    """The EC2 stack's outputs, plus `extra` (e.g. the serverless pipeline's)."""
    return {
        "ArtifactsBucketName": BUCKET,
        "ScheduleGroupName": "emr-autopilot-jobs",
        "RunStarterFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:emr-autopilot-RunStarter",
        "SchedulerRoleArn": f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-scheduler",
        "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:emr-autopilot-TransientClusterPipeline",
        "LandingBucketName": "emr-autopilot-landing-test",
        "CuratedBucketName": "emr-autopilot-curated-test",
        "LogsBucketName": "emr-autopilot-logs-test",
        "NotificationTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:emr-autopilot-NotificationTopic",
        "EmrServiceRoleName": "EMR_DefaultRole",
        "EmrInstanceRoleName": "EMR_EC2_DefaultRole",
        **extra,
    }
