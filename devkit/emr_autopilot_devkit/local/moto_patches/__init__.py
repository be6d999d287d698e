"""Every change the local runtime makes to moto 5.2.5, in one place: where moto answers differently from AWS,
these make it answer as AWS does (each module names its source).

- sfn: the Step Functions interpreter on the fast clock, EMR and Lambda service integrations
  (sfn_emr_integration, sfn_lambda_integration), definitions checked at CreateStateMachine (asl_validation),
  error semantics (sfn_error_semantics); it installs `checks` first;
- checks: requests validated against botocore's model (request_validation, sfn_sdk_validation), AWS limits
  (service_limits), Scheduler expressions (scheduler), concurrency and Unicode (sfn_robustness);
- emr_backend: moto's EMR backend drives the EMR simulator; emr_auto_termination: the policy calls moto lacks;
- emr_serverless_backend: moto's emr-serverless backend drives the EMR Serverless simulator, requests checked
  against botocore's model; sfn_emr_serverless_integration: the optimized emr-serverless integration;
- emr_containers_backend: moto's emr-containers backend drives the EMR on EKS simulator, requests checked against
  botocore's model; sfn_emr_containers_integration: the optimized emr-containers integration;
- s3: GetBucketNotificationConfiguration shows EventBridgeConfiguration.
"""

from __future__ import annotations


def install_all() -> None:
    """Idempotent; before the moto server starts (the request middleware wraps servers started afterwards)."""
    from emr_autopilot_devkit.local.moto_patches import (
        emr_backend,
        emr_containers_backend,
        emr_serverless_backend,
        s3,
        sfn,
        sfn_emr_containers_integration,
        sfn_emr_serverless_integration,
    )

    sfn.install()
    sfn_emr_serverless_integration.install()  # after sfn: it wraps sfn's task factory
    sfn_emr_containers_integration.install()  # likewise
    emr_backend.install()
    emr_serverless_backend.install()
    emr_containers_backend.install()
    s3.install()
