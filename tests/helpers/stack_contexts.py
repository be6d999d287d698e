"""The deployed stack the rendering tests render against: one account, one region, sample names."""

from __future__ import annotations

from emr_autopilot.runs import StackContext


def stack_context(state_machine_arn: str) -> StackContext:
    return StackContext(
        region="eu-west-1",
        state_machine_arn=state_machine_arn,
        landing_bucket="acme-landing",
        curated_bucket="acme-curated",
        artifacts_bucket="acme-artifacts",
        logs_bucket="acme-logs",
        notification_topic_arn="arn:aws:sns:eu-west-1:123456789012:emr-autopilot-runs",
        emr_service_role="EmrAutopilotServiceRole",
        emr_instance_profile="EmrAutopilotInstanceProfile",
    )
