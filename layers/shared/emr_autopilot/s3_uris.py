"""S3 bucket names and s3:// URIs as the job files write them, checked in the job file's words.

Bucket names follow the S3 User Guide, "General purpose bucket naming rules". A URI is `s3://<bucket>/<key>`;
EMR and Spark read nothing else as S3 (`s3:/bucket`, `s3:bucket` or `S3://` are a local path or an error there).
"""

from __future__ import annotations

import re

_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
BUCKET_RULES = "3-63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit"


def bucket_problem(name: str) -> str | None:
    """Why `name` cannot be an S3 general purpose bucket's name, or None."""
    if not 3 <= len(name) <= 63:
        return f"a bucket name has 3 to 63 characters, this one {len(name)}"
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        return f"a bucket name has {BUCKET_RULES}"
    if ".." in name:
        return "a bucket name has no two adjacent periods"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "a bucket name is not formatted as an IP address"
    reserved = [part for part in _RESERVED_PREFIXES if name.startswith(part)]
    reserved += [part for part in _RESERVED_SUFFIXES if name.endswith(part)]
    if reserved:
        return f"{reserved[0]!r} is reserved by S3 and cannot begin or end a bucket name"
    return None


def s3_uri_problem(uri: str, needs_key: bool = False) -> str | None:
    """Why `uri` is not an s3://bucket/key URI (with a non-empty key when `needs_key`), or None."""
    if not uri.startswith("s3://"):
        scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):/*", uri)
        if scheme and scheme.group(1).lower() in ("s3", "s3a", "s3n"):
            return f"an S3 URI starts with 's3://' (two slashes, lower case), not {scheme.group(0)!r}"
        return "an S3 URI starts with 's3://'"
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        return "the bucket name is missing after 's3://'"
    problem = bucket_problem(bucket)
    if problem:
        return f"bucket {bucket!r}: {problem}"
    if needs_key and not key:
        return "the URI names a bucket but no object (s3://<bucket>/<key>)"
    return None
