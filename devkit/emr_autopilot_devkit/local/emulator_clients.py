"""boto3 clients of the local runtime's own parts (the EMR simulator, the step runner) to the local runtime."""

from typing import Any

import boto3


def emulator_client(service: str, endpoint_url: str, region: str) -> Any:
    factory: Any = boto3.client  # boto3-stubs overloads want a literal service name
    return factory(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
