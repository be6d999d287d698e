"""Where moto's S3 answers differently from S3, the local runtime answers as S3 does.

GetBucketNotificationConfiguration: moto 5.2.5 stores a bucket's EventBridgeConfiguration (and sends its
events) but leaves it out of the answer, so a bucket with EventBridge notifications on looked off. S3 returns
it: "EventBridgeConfiguration: Enables delivery of events to Amazon EventBridge" (S3 API reference,
GetBucketNotificationConfiguration, Response Syntax). `jobs deploy` reads it to refuse a trigger bucket whose
events never reach the stack.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.core.responses import ActionResult
from moto.s3.responses import S3Response


@functools.cache  # installs once per process
def install() -> None:
    original = S3Response.get_bucket_notification

    def get_bucket_notification(self: S3Response) -> Any:
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if configuration is None or configuration.event_bridge is None:
            return original(self)
        serialize = self.serialized

        def with_event_bridge(result: Any) -> Any:
            body = dict(result.result) if isinstance(result, ActionResult) and isinstance(result.result, dict) else {}
            return serialize(ActionResult({**body, "EventBridgeConfiguration": {}}))

        self.serialized = with_event_bridge  # type: ignore[method-assign,assignment]
        try:
            return original(self)
        finally:
            del self.serialized

    S3Response.get_bucket_notification = get_bucket_notification  # type: ignore[method-assign]
