"""Masking what looks like a credential in log lines that leave the account (step logs, Livy logs).

A module of its own, without boto3: the Livy tasks mask log tails without ever calling AWS.
"""

import re

# Pattern strings, not compiled here: re compiles and caches each on first use, so a cold start that
# masks nothing does not pay for them.
_ACCESS_KEY = r"(AKIA|ASIA)[0-9A-Z]{16}"
# A key name may go on (fs.s3a.secret.key=, SECRET_KEY=) and be quoted ("password": "...").
_SECRET_VALUE = (
    r"(?i)((?:secret|password|passwd|token|api[_-]?key)[\w.-]*[\"']?\s*[=:]\s*)(\"[^\"\n]*\"?|'[^'\n]*'?|\S+)"
)
_AUTHORIZATION = r"(?i)(authorization:\s*)\S.*"  # the rest of the line: scheme, credential, signature


def redact(text: str) -> str:
    """Mask what looks like a credential before a log line leaves the account in a notification."""
    text = re.sub(_ACCESS_KEY, "[redacted-access-key]", text)
    text = re.sub(_SECRET_VALUE, lambda m: f"{m.group(1)}[redacted]", text)
    return re.sub(_AUTHORIZATION, lambda m: f"{m.group(1)}[redacted]", text)
