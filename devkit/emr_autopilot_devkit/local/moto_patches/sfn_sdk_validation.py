"""The Step Functions interpreter's AWS calls are checked against botocore's service model, as on AWS.

moto 5.2.5 builds every client the interpreter uses (sns:publish, dynamodb, sqs, events, aws-sdk:*, the
Map state's S3 reader and writer, ...) with Config(parameter_validation=False), in
moto/stepfunctions/parser/asl/utils/boto_client.py `boto_client_for`, imported by name in each task
service (and in the project's EMR integration, which checks EMR requests itself first). A Task whose
Parameters miss a required field, or give a list where a string goes, then sent
whatever it had, and moto accepted it or crashed. Here every such client validates, and a refused call
fails the Task the way AWS reports it:

- a required member missing, a length or a range out of bounds: the service refuses the call (400), and
  the integration names the error after the service's exception, as for any other service error
  (sns:publish: SNS.InvalidParameterException, the Publish API's InvalidParameter error; a JSON-protocol
  service: its ValidationException; a query-protocol one: ValidationError). The message follows AWS's
  "1 validation error detected: Value null at 'x' failed to satisfy constraint: ..." form
  (request_validation). That AWS's Step Functions lets such a call reach the service: inferred.
- a value of a type the API cannot take (a number where a string goes, an unknown member): Step
  Functions cannot build the request at all, so the Task fails with States.Runtime and botocore's
  report as the Cause. Inferred: AWS documents States.Runtime for errors it cannot otherwise classify
  ("States.Runtime: An execution failed due to some exception that it could not process",
  concepts-error-handling.md), and no AWS source shows this case.
- a JSON null stands for an absent member (inferred: as in AWS's JSON protocols); it is dropped before
  validation instead of failing botocore's type check.
"""

from __future__ import annotations

import functools
import sys
import uuid
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import OperationModel, Shape, StructureShape
from botocore.validate import ParamValidator

from emr_autopilot_devkit.local.moto_patches.request_validation import validate_params

# botocore's report reasons that mean "Step Functions cannot build this request" rather than
# "the service refuses this request" (botocore/validate.py ValidationErrors._format_error).
_UNBUILDABLE = {"unknown field", "invalid type", "unable to encode to json", "invalid type for document"}
# Services whose API names its parameter errors differently from their protocol's default.
_SERVICE_ERROR_CODES = {"sns": "InvalidParameter"}


def drop_nulls(value: Any, shape: Shape | None) -> Any:
    """Structure members whose value is None removed, recursively (list items and map values are kept)."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {key: drop_nulls(item, shape.members.get(key)) for key, item in value.items() if item is not None}
    if shape.type_name == "list" and isinstance(value, list):
        return [drop_nulls(item, shape.member) for item in value]  # type: ignore[attr-defined]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: drop_nulls(item, shape.value) for key, item in value.items()}  # type: ignore[attr-defined]
    return value


def check_call(operation: OperationModel, params: dict[str, Any], *, in_process: bool = False) -> None:
    """Raise what AWS would make of this call's parameters: ParamValidationError (-> States.Runtime) or
    the service's ClientError (-> <Service>.<Exception>). Returns if the call is valid.

    `in_process`: no server will see the call (lambda:invoke runs the handler here), so the checks the
    service makes itself (enum, maximum length and value, request_validation) are made here too.
    """
    shape = operation.input_shape
    if shape is None:
        return
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        if {error[0] for error in report._errors} & _UNBUILDABLE:
            raise ParamValidationError(report=report.generate_report())
        refusal = validate_params(shape, params)
        name = _parameter_name(report._errors[0])
        raise _service_refusal(operation, refusal.message if refusal else report.generate_report(), name)
    if in_process:
        refusal = validate_params(shape, params)
        if refusal is not None and refusal.code == "SerializationException":
            raise ParamValidationError(report=refusal.message)
        if refusal is not None:
            raise _service_refusal(operation, refusal.message, "")


def _service_refusal(operation: OperationModel, message: str, parameter: str) -> ClientError:
    service = operation.service_model
    code = _SERVICE_ERROR_CODES.get(service.service_name)
    if code == "InvalidParameter":
        # SNS words these "Invalid parameter: <Name>" (moto#1503 quotes AWS's "Invalid parameter: Subject").
        message = f"Invalid parameter: {parameter or message}"
    elif code is None:
        code = "ValidationException" if service.protocol in ("json", "rest-json") else "ValidationError"
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": str(uuid.uuid4()), "HTTPHeaders": {}},
    }
    return ClientError(response, operation.name)


def _parameter_name(error: tuple[str, str, dict[str, Any]]) -> str:
    reason, name, details = error
    name = name.lstrip(".")
    if reason == "missing required field":
        return f"{name}.{details['required_name']}" if name else str(details["required_name"])
    return name


def _drop_nulls_handler(params: dict[str, Any], model: OperationModel, **_: Any) -> dict[str, Any]:
    result: dict[str, Any] = drop_nulls(params, model.input_shape)
    return result


def _check_handler(params: dict[str, Any], model: OperationModel, **_: Any) -> None:
    check_call(model, params)


@functools.cache  # installs once per process
def install() -> None:

    import importlib

    import boto3
    from botocore.config import Config
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.utils import boto_client

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's boto_client_for, with parameter validation on.
        kwargs: dict[str, Any] = {}
        if not botocore_stubber.enabled:
            kwargs["endpoint_url"] = f"http://localhost:{moto_server_port()}"
        factory: Any = boto3.client  # boto3-stubs overloads want a literal service name
        client = factory(
            aws_access_key_id="ak",
            region_name=region,
            service_name=service,
            aws_secret_access_key="sk",
            config=Config(
                parameter_validation=True,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
            **kwargs,
        )
        client.meta.events.register("provide-client-params", _drop_nulls_handler)
        # Runs botocore's own validator before botocore does, so the failure can be classified as AWS would.
        client.meta.events.register("before-parameter-build", _check_handler)
        return client

    boto_client.boto_client_for = boto_client_for
    # Every module that imported it by name (moto 5.2.5).
    service = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    map_state = "moto.stepfunctions.parser.asl.component.state.exec.state_map."
    for name in (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
        service + "state_task_service_unsupported",
        service + "state_task_service_glue",
        service + "state_task_service_events",
        service + "state_task_service_ecs",
        service + "state_task_service_sqs",
        service + "state_task_service_sfn",
        service + "state_task_service_dynamodb",
        service + "state_task_service_batch",
        service + "state_task_service_sns",
        service + "state_task_service_aws_sdk",
        map_state + "result_writer.resource_eval.resource_eval_s3",
        map_state + "item_reader.eval.resource_eval_s3",
    ):
        module = importlib.import_module(name)
        assert hasattr(module, "boto_client_for"), f"{name} no longer imports boto_client_for: re-check the pin"
        setattr(module, "boto_client_for", boto_client_for)  # noqa: B010 (a module attribute, by name)
    # The project's own EMR integration imports it by name too: if it was imported before this ran (a test
    # module can import it at collection), it must get the same client as when it is imported afterwards.
    emr_integration = sys.modules.get("emr_autopilot_devkit.local.moto_patches.sfn_emr_integration")
    if emr_integration is not None and hasattr(emr_integration, "boto_client_for"):
        setattr(emr_integration, "boto_client_for", boto_client_for)  # noqa: B010
