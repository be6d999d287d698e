"""Names shared by the run starter (which sets a run's deadline) and the janitor (which removes it)."""

import hashlib

DEADLINE_ERROR = "RunTimedOut"


def deadline_schedule_name(execution_arn_value: str) -> str:
    # Schedule names are at most 64 characters; execution names can be 80.
    return "deadline-" + hashlib.sha256(execution_arn_value.encode()).hexdigest()[:40]
