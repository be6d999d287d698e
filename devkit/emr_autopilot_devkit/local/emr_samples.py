"""What the EMR samples in events/ need from a fresh local runtime, for `emr-autopilot local invoke`.

The aws.emr samples need nothing: their cluster (j-2AXXXXXXGAPLF) does not exist locally, and the
handler treats it as EMR treats a cluster it no longer knows: the event is recorded and notified
without the cluster's tags or the step's details. The step-log follow-up sample names a stderr.gz
in the stack's logs bucket: it is written here, so the follow-up finds it and sends its digest.
"""

from __future__ import annotations

import gzip
from typing import Any

from emr_autopilot.step_logs import parse_s3_uri

# What a failed PySpark step's stderr ends with; the key in it shows the digest's redaction.
_INPUT = "s3://emr-autopilot-local-landingbucket/inspections/2026-11-22/inspections-renamed-column.csv"
SAMPLE_STDERR = "\n".join(
    [
        "26/11/21 06:20:58 INFO SparkContext: Running Spark version 3.5.2-amzn-1",
        f"26/11/21 06:21:01 INFO S3NativeFileSystem: Opening '{_INPUT}' for reading",
        "26/11/21 06:21:02 WARN Configuration: fs.s3a.secret.key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Traceback (most recent call last):",
        '  File "/mnt/tmp/count_red_violations.py", line 61, in <module>',
        "    main()",
        '  File "/mnt/tmp/count_red_violations.py", line 47, in main',
        "    raise SystemExit(f\"error: {args.input}: missing required column(s): {', '.join(missing)}\")",
        f"SystemExit: error: {_INPUT}: missing required column(s): violation_type; "
        "columns found: name, inspection_date, violation, violation_description",
        "26/11/21 06:21:03 INFO ShutdownHookManager: Shutdown hook called",
        "",
    ]
)


def seed_emr_sample(stack: Any, event: Any) -> list[str]:
    """Write what the sample event needs into the local runtime; returns one line per thing written."""
    if not (isinstance(event, dict) and {"step_id", "log_uri"} <= event.keys()):
        return []
    location = parse_s3_uri(str(event["log_uri"]))
    if location is None or location.bucket != stack.outputs.get("LogsBucketName"):
        return []
    stack.seed_object(location.key, gzip.compress(SAMPLE_STDERR.encode("utf-8")), bucket=location.bucket)
    return [f"seeded {location.uri} with a sample failed step's stderr, so the follow-up finds it"]
