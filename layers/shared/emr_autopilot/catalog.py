"""The deployed job catalog: one JSON object in the artifacts bucket, written by `jobs deploy`."""

import threading
from typing import NamedTuple

from emr_autopilot import aws
from emr_autopilot.errors import CatalogNotDeployed
from emr_autopilot.jobs import JobCatalog

CATALOG_KEY = "catalog/jobs.json"


class _Cached(NamedTuple):
    etag: str
    catalog: JobCatalog


_lock = threading.Lock()
_cache: dict[tuple[str, str], _Cached] = {}


def load_catalog(bucket: str, key: str = CATALOG_KEY) -> JobCatalog:
    """Read the catalog, re-reading only when its ETag changed (a warm Lambda pays one conditional GET)."""
    s3 = aws.client("s3")
    cached = _cache.get((bucket, key))
    try:
        if cached:
            try:
                response = s3.get_object(Bucket=bucket, Key=key, IfNoneMatch=cached.etag)
            except s3.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("304", "NotModified"):
                    return cached.catalog
                raise
        else:
            response = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey as exc:
        raise CatalogNotDeployed(
            f"s3://{bucket}/{key} does not exist; run `emr-autopilot jobs deploy` after `sam deploy`"
        ) from exc
    catalog = JobCatalog.model_validate_json(response["Body"].read())
    with _lock:
        _cache[(bucket, key)] = _Cached(etag=response["ETag"], catalog=catalog)
    return catalog
