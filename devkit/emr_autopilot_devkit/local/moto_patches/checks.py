"""The local runtime says no where AWS says no, and holds up under concurrency and any Unicode.

- request_validation: the embedded moto server checks JSON-protocol requests against botocore's model and
  answers errors in AWS's shapes, never an HTML page;
- sfn_sdk_validation: the Step Functions interpreter's AWS calls are validated, failures named as on AWS;
- service_limits: SNS message and subject, Step Functions payload limits moto skips;
- handler_environment: each in-process handler sees its own function's environment, only in its thread;
- sfn_robustness: moto's parser under concurrency, JSONata with non-BMP characters.
"""

from __future__ import annotations

from emr_autopilot_devkit.local import handler_environment
from emr_autopilot_devkit.local.moto_patches import (
    request_validation,
    scheduler,
    service_limits,
    sfn_robustness,
    sfn_sdk_validation,
)


def install() -> None:
    """Idempotent; before the moto server starts (the middleware wraps servers started afterwards)."""
    handler_environment.install()
    request_validation.install()
    sfn_sdk_validation.install()
    service_limits.install()
    sfn_robustness.install()
    scheduler.install()
