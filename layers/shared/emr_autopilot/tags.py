"""Tag keys the pipeline puts on its clusters (kept apart so readers need not import the job models)."""

TAG_JOB = "emr-autopilot:job"
TAG_RUN_ID = "emr-autopilot:run-id"
TAG_EXECUTION_ARN = "emr-autopilot:execution-arn"
TAG_MANAGED = "emr-autopilot:managed"
