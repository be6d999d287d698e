"""The embedded moto server checks each request as the AWS service would, and never answers with an HTML page.

moto parses what it needs from a request and trusts the rest: a JSON-protocol request with a wrong type
or a missing required member reached a backend that crashed, and Flask (debug mode, exceptions
propagated) answered with werkzeug's HTML "500 Internal Server Error" page, which no AWS service sends.

`validate_request` checks a JSON-protocol (X-Amz-Target) body against the operation's input shape in
botocore's service model, the model AWS publishes for its SDKs, the way AWS's request layer does:
- a value of the wrong JSON type is refused while the body is read: 400 SerializationException,
  e.g. "STRING_VALUE can not be converted to an Integer" (observed on AWS: aws/aws-cdk#27087,
  localstack/localstack#9412, amazon-cognito-identity-js#485);
- then the model's constraints are checked, all at once: 400 ValidationException "N validation error(s)
  detected: Value null at 'name' failed to satisfy constraint: Member must not be null; ..." (the wording
  AWS uses, e.g. pulumi/pulumi-aws#2357; paths are lowerCamel member names, list items "steps.1.member",
  1-based: inferred from such messages). Checked: required members, string/list/map length, numeric range,
  enum. Not checked: regex patterns (the model's patterns are Java regexes; a port that refuses a valid
  value would be worse than none);
- JSON null is an absent member, and a member the model does not have is ignored, as in AWS's JSON
  protocols (both inferred);
- an X-Amz-Target naming no operation: 400 UnknownOperationException (inferred).
Lengths count characters, except where the model documents "bytes in UTF-8 encoding" (Step Functions
payloads: API_StartExecution, "Length constraints apply to the payload size, and are expressed as bytes
in UTF-8 encoding").

`RequestValidationMiddleware` wraps the server's WSGI app: it answers a refused request itself and turns any
exception a backend raises into the protocol's error shape, code InternalFailure, HTTP 500 ("The request
processing has failed because of an unknown error, exception or failure", AWS Common Errors), with the
exception named in the message so the emulator's failure is plain, never an HTML page.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import logging
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape, StructureShape

LOG = logging.getLogger(__name__)

# Credential-scope names (signing names) that differ from botocore's service names.
_SERVICE_ALIASES = {"elasticmapreduce": "emr", "states": "stepfunctions", "monitoring": "cloudwatch", "email": "ses"}
_JAVA_TYPES = {
    "string": "a String",
    "integer": "an Integer",
    "long": "a Long",
    "boolean": "a Boolean",
    "double": "a Double",
    "float": "a Float",
    "timestamp": "a Date",
    "blob": "a ByteBuffer",
}
_MAX_VALUE_SHOWN = 256


@dataclass
class ApiError(Exception):
    """An error as an AWS service answers it."""

    code: str
    message: str
    status: int = 400
    type_prefix: str = ""  # the namespace AWS's JSON protocols put before the code in "__type"

    def json_body(self) -> bytes:
        key = "Message" if self.code == "SerializationException" else "message"
        return json.dumps({"__type": self.type_prefix + self.code, key: self.message}).encode("utf-8")

    def xml_body(self) -> bytes:
        return (
            "<ErrorResponse><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error>"
            "<RequestId>{}</RequestId></ErrorResponse>".format(
                "Receiver" if self.status >= 500 else "Sender", self.code, escape(self.message), uuid.uuid4()
            )
        ).encode("utf-8")


class _Models:
    """botocore service models by JSON target prefix, loaded on first use."""

    def __init__(self) -> None:
        self._session = botocore.session.get_session()
        self._lock = threading.Lock()
        self._by_name: dict[str, ServiceModel | None] = {}
        self._by_prefix: dict[str, ServiceModel] = {}
        self._scanned = False

    def _model(self, name: str) -> ServiceModel | None:
        if name not in self._by_name:
            try:
                self._by_name[name] = self._session.get_service_model(name)
            except Exception:  # not a botocore service name
                self._by_name[name] = None
        return self._by_name[name]

    def for_target(self, prefix: str, signing_name: str | None) -> ServiceModel | None:
        with self._lock:
            if prefix in self._by_prefix:
                return self._by_prefix[prefix]
            for name in filter(None, (_SERVICE_ALIASES.get(signing_name or ""), signing_name)):
                model = self._model(name)
                if model is not None and model.metadata.get("targetPrefix") == prefix:
                    self._by_prefix[prefix] = model
                    return model
            if not self._scanned:  # an unsigned request or an unusual signing name: look at every model once
                self._scanned = True
                loader = self._session.get_component("data_loader")
                for name in loader.list_available_services("service-2"):
                    target = loader.load_service_model(name, "service-2")["metadata"].get("targetPrefix")
                    if target and target not in self._by_prefix:
                        model = self._model(name)
                        if model is not None:
                            self._by_prefix[target] = model
            return self._by_prefix.get(prefix)


_models = _Models()


def operation_for(target: str, signing_name: str | None) -> OperationModel | ApiError | None:
    """The operation an X-Amz-Target names; None when no botocore model has its prefix."""
    prefix, _, operation = target.rpartition(".")
    model = _models.for_target(prefix, signing_name)
    if model is None:
        return None
    try:
        return model.operation_model(operation)
    except OperationNotFoundError:
        return ApiError(
            "UnknownOperationException",
            f"Operation {operation} is not supported.",
            type_prefix="com.amazon.coral.service#",
        )


def validate_request(operation: OperationModel, body: bytes) -> ApiError | None:
    """What AWS answers this JSON-protocol body, if it refuses it (see the module docstring)."""
    try:
        params = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        return _serialization_error(f"Could not parse the request body as JSON: {exc}")
    return validate_params(operation.input_shape, params)


def validate_params(shape: StructureShape | None, params: Any) -> ApiError | None:
    if shape is None:
        return None
    problems: list[str] = []
    try:
        _check(params, shape, "", problems)
    except _TypeMismatch as mismatch:
        return _serialization_error(str(mismatch))
    if not problems:
        return None
    count = len(problems)
    return ApiError(
        "ValidationException",
        f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        type_prefix="com.amazon.coral.validate#",
    )


def _serialization_error(message: str) -> ApiError:
    return ApiError("SerializationException", message, type_prefix="com.amazon.coral.service#")


class _TypeMismatch(Exception):
    pass


def _token(value: Any) -> str:
    if isinstance(value, dict):
        return "Start of structure or map"
    if isinstance(value, list):
        return "Start of list"
    if isinstance(value, bool):
        return "TRUE_VALUE" if value else "FALSE_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    return "STRING_VALUE"


def _mismatch(value: Any, shape: Shape) -> _TypeMismatch:
    token = _token(value)
    if token.startswith("Start of"):
        return _TypeMismatch(f"{token} found where not expected.")
    expected = _JAVA_TYPES.get(shape.type_name)
    if expected is None:  # a structure, list or map expected
        return _TypeMismatch(f"Unexpected {token} where a {shape.type_name} was expected.")
    return _TypeMismatch(f"{token} can not be converted to {expected}")


def _member_path(parent: str, name: str) -> str:
    name = name[:1].lower() + name[1:]
    return f"{parent}.{name}" if parent else name


def _shown(value: Any, shape: Shape) -> str:
    if shape.metadata.get("sensitive"):
        return "Value"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > _MAX_VALUE_SHOWN:
        text = text[:_MAX_VALUE_SHOWN] + "..."
    return f"Value '{text}'"


def _length(value: Any, shape: Shape) -> int:
    if isinstance(value, str) and "bytes in UTF-8 encoding" in (shape.documentation or ""):
        return len(value.encode("utf-8", "surrogatepass"))
    return len(value)


def _check(value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    """Type errors raise _TypeMismatch (the body is refused while being read); constraints are collected."""
    kind = shape.type_name
    container = _CONTAINERS.get(kind)
    if container is not None:
        container(value, shape, path, problems)
        return
    if kind == "document":
        return
    if not _SCALAR_TYPES.get(kind, lambda v: True)(value):
        raise _mismatch(value, shape)
    if kind == "string":
        _check_length(value, shape, path, problems)
        _check_enum(value, shape, path, problems)
    elif kind in ("integer", "long", "double", "float"):
        _check_range(value, shape, path, problems)


def _check_structure(value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        raise _mismatch(value, shape)
    assert isinstance(shape, StructureShape)
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(
                f"Value null at '{_member_path(path, name)}' failed to satisfy constraint: Member must not be null"
            )
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _check(value[name], member, _member_path(path, name), problems)


def _check_list(value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    if not isinstance(value, list):
        raise _mismatch(value, shape)
    _check_length(value, shape, path, problems)
    for index, item in enumerate(value, start=1):
        if item is not None:
            _check(item, shape.member, f"{path}.{index}.member", problems)  # type: ignore[attr-defined]


def _check_map(value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        raise _mismatch(value, shape)
    _check_length(value, shape, path, problems)
    for key, item in value.items():
        _check(key, shape.key, f"{path}.{key}.key", problems)  # type: ignore[attr-defined]
        if item is not None:
            _check(item, shape.value, f"{path}.{key}.value", problems)  # type: ignore[attr-defined]


def _check_enum(value: str, shape: Shape, path: str, problems: list[str]) -> None:
    allowed = shape.metadata.get("enum")
    if allowed and value not in allowed:
        problems.append(
            f"{_shown(value, shape)} at '{path}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )


def _check_range(value: float, shape: Shape, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.append(
            f"{_shown(value, shape)} at '{path}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {low}"
        )
    if high is not None and value > high:
        problems.append(
            f"{_shown(value, shape)} at '{path}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        )


def _is_integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_CONTAINERS: dict[str, Callable[[Any, Shape, str, list[str]], None]] = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
}
_SCALAR_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "blob": lambda v: isinstance(v, (str, bytes, bytearray)),  # base64 text on the wire, bytes in-process
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integral,
    "long": _is_integral,
    "double": _is_number,
    "float": _is_number,
    "timestamp": lambda v: _is_number(v) or isinstance(v, str),
}


def _check_length(value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    size = _length(value, shape)
    if low is not None and size < low:
        problems.append(
            f"{_shown(value, shape)} at '{path}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {low}"
        )
    if high is not None and size > high:
        problems.append(
            f"{_shown(value, shape)} at '{path}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {high}"
        )


# -- the WSGI side ------------------------------------------------------------------------------------------
StartResponse = Callable[..., Any]


def _signing_name(environ: dict[str, Any]) -> str | None:
    # "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/elasticmapreduce/aws4_request, ..."
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return str(auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3])
    except IndexError:
        return None


def _protocol(environ: dict[str, Any]) -> str:
    content_type = environ.get("CONTENT_TYPE", "")
    if environ.get("HTTP_X_AMZ_TARGET") and content_type.startswith("application/x-amz-json"):
        return "json"
    if content_type.startswith("application/x-www-form-urlencoded") or _signing_name(environ) == "s3":
        return "xml"
    return "json"


def _respond(error: ApiError, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    request_id = str(uuid.uuid4())
    if _protocol(environ) == "xml":
        body, content_type = error.xml_body(), "text/xml"
    else:
        body = error.json_body()
        content_type = environ.get("CONTENT_TYPE", "") or "application/json"
        if not content_type.startswith("application/x-amz-json"):
            content_type = "application/json"
    status = {400: "400 Bad Request", 500: "500 Internal Server Error"}.get(error.status, f"{error.status} Error")
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("x-amzn-ErrorType", error.code),
            ("x-amzn-RequestId", request_id),
        ],
    )
    return [body]


class RequestValidationMiddleware:
    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = False

        def tracking_start_response(*args: Any, **kwargs: Any) -> Any:
            nonlocal started
            started = True
            return start_response(*args, **kwargs)

        try:
            error = self._refusal(environ)
            if error is not None:
                return _respond(error, environ, start_response)
            return self.app(environ, tracking_start_response)
        except Exception as exc:
            if started:  # too late to answer differently
                raise
            LOG.error("the local AWS emulator failed on a request:\n%s", traceback.format_exc())
            target = environ.get("HTTP_X_AMZ_TARGET") or f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
            message = (
                f"The local AWS emulator failed on {target}: {type(exc).__name__}: {exc}. "
                "This is a fault of the emulator, not an answer AWS would give."
            )
            return _respond(ApiError("InternalFailure", message, status=500), environ, start_response)

    @staticmethod
    def _refusal(environ: dict[str, Any]) -> ApiError | None:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if not target or _protocol(environ) != "json":
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        operation = operation_for(target, _signing_name(environ))
        if operation is None or isinstance(operation, ApiError):
            return operation
        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
            # botocore compresses large bodies (e.g. PutMetricData, its requestcompression trait); AWS accepts
            # them (CloudWatch API reference, PutMetricData: "Content-Encoding: gzip"). moto decodes them itself.
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                return ApiError("SerializationException", "The request body is not valid gzip.")
        return validate_request(operation, body)


@functools.cache  # installs once per process
def install() -> None:
    """Every ThreadedMotoServer started from now on serves through RequestValidationMiddleware."""
    from moto.moto_server import threaded_moto_server

    dispatcher = threaded_moto_server.DomainDispatcherApplication

    class ValidatingDispatcher(dispatcher):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._middleware = RequestValidationMiddleware(super().__call__)

        def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
            return self._middleware(environ, start_response)

    threaded_moto_server.DomainDispatcherApplication = ValidatingDispatcher  # type: ignore[misc]
