"""What the REST-JSON EMR services' patches share (emr_serverless_backend, emr_containers_backend): each operation's
input checked against botocore's model as the client sent it, and the fault matrix's injected API errors.

EMR Serverless and EMR on EKS are REST-JSON services (no X-Amz-Target), which request_validation's middleware does
not check; `install_validation` wraps each operation moto implements so that its input (URI members, body, and the
query string as sent) is validated with request_validation's checks and AWS wording before moto sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore import xform_name
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse

from emr_autopilot.emr_requests import service_model
from emr_autopilot_devkit.local.moto_patches import request_validation


def request_params(response: BaseResponse, shape: Any = None) -> dict[str, Any]:
    """The operation's input as the client sent it: URI members, the body, and the query string as sent.
    moto's parsed params fill unsent query members with defaults ("states": []) and turn timestamps into
    datetimes; what AWS validates is the wire value, so query members are read from the query string."""
    body: Any = getattr(response, "params", None) or {}
    params = {**dict(body), **dict(getattr(response, "uri_match", None) or {})}
    if shape is None:
        return params
    query = getattr(response, "querystring", None) or {}
    for name, member in shape.members.items():
        if member.serialization.get("location") != "querystring":
            continue
        params.pop(name, None)
        sent = query.get(member.serialization.get("name", name))
        if sent:
            params[name] = query_value(list(sent), member)
    return params


def query_value(values: list[str], shape: Any) -> Any:
    """A query-string value in the type its shape has (REST-JSON sends every value as text)."""
    if shape.type_name == "list":
        return values
    value = values[0]
    if shape.type_name in ("integer", "long") and value.lstrip("-").isdigit():
        return int(value)
    if shape.type_name == "boolean" and value in ("true", "false"):
        return value == "true"
    return value  # timestamps stay ISO 8601 text, as sent


def install_validation(response_class: type[BaseResponse], service: str, stash: threading.local) -> None:
    """Every operation of `service` that moto's `response_class` implements refuses a request its model refuses
    (400, AWS's JSON error shape); the validated request is in `stash.params` while moto serves it."""
    model = service_model(service)
    for operation_name in model.operation_names:
        method = xform_name(operation_name)
        original = getattr(response_class, method, None)
        if original is None:
            continue  # not implemented by moto: it answers 404 itself
        operation = model.operation_model(operation_name)

        def validated(
            self: BaseResponse, __original: Callable[..., Any] = original, __operation: Any = operation
        ) -> Any:
            params = request_params(self, __operation.input_shape)
            error = request_validation.validate_params(__operation.input_shape, params)
            if error is not None:
                raise JsonRESTError(error.code, error.message)
            stash.params = params
            try:
                return __original(self)
            finally:
                stash.params = None

        setattr(response_class, method, validated)


class ThrottlingException(JsonRESTError):
    # AWS's common throttling error (CommonErrors: ThrottlingException, HTTP 400); in neither service's model.
    code = 400

    def __init__(self) -> None:
        super().__init__("ThrottlingException", "Rate exceeded")


class InternalServerException(JsonRESTError):
    # The models' InternalServerException (httpStatusCode 500).
    code = 500

    def __init__(self, api: str) -> None:
        super().__init__("InternalServerException", f"Internal error (injected into {api})")


def raise_injected_fault(kind: str | None, api: str) -> None:
    """Raise the fault the fault matrix armed for this call (ServerlessFaults.take's kind), if any."""
    if kind == "throttle":
        raise ThrottlingException()
    if kind == "internal":
        raise InternalServerException(api)
    if kind == "errors":
        raise JsonRESTError("ValidationException", f"Injected fault: {api} refused")


def injected_fault(simulator: Any, api: str) -> None:
    """Raise the fault a test armed for this call of `api` (simulator.faults), before the backend does anything."""
    raise_injected_fault(simulator.faults.take(api) if simulator is not None else None, api)


def utc(moment: datetime) -> datetime:
    """moto parses the List operations' time bounds without a zone (the wire value is UTC) and compares them with
    the simulators' UTC times: both in UTC, or Python refuses the comparison."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def utc_bounds(kwargs: dict[str, Any], names: tuple[str, ...]) -> None:
    for bound in names:
        if isinstance(kwargs.get(bound), datetime):
            kwargs[bound] = utc(kwargs[bound])
