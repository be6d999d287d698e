"""`arn:aws:states:::lambda:invoke` for moto's ASL interpreter, served by the in-process handlers.

moto's own Lambda integration (state_task_service_lambda.py) invokes through moto's Lambda
backend, which runs functions in Docker. Here the Task calls the template's real handler in this
process, through the active LocalRuntime. A handler's exception comes back the way Lambda reports
an unhandled error: FunctionError with {"errorType": <exception class name>, ...}, so an ASL
Retry or Catch on a domain exception (ClusterNotReady, LivyUnavailable, ...) matches by name.

The call is checked as Lambda's Invoke API would check it (botocore's Lambda model, sfn_sdk_validation),
and Lambda's own errors are named as Step Functions names them: "Lambda errors are reported as
Lambda.ErrorName" (bp-lambda-serviceexception.md), ErrorName being the exception the API answers with,
e.g. Lambda.ResourceNotFoundException for a function that does not exist ("Function not found: <ARN>",
404, API_Invoke). An error code Lambda's model does not declare (a ValidationException) has no exception
class of its own in the Java SDK Step Functions uses, so it arrives as its base class,
Lambda.AWSLambdaException (inferred, as EMR's arrive as EMR.AmazonElasticMapReduceException: aws-cdk#13735;
AWS's recommended Lambda retrier lists Lambda.AWSLambdaException).
"""

from __future__ import annotations

import functools
import json
import traceback
import uuid
from typing import Any, Protocol

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import ServiceModel
from moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils import (
    LambdaFunctionErrorException,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)

from emr_autopilot_devkit.local.clock import active_clock
from emr_autopilot_devkit.local.moto_patches.sfn_sdk_validation import check_call, drop_nulls

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


class FunctionHost(Protocol):
    """What this needs of LocalRuntime: its functions and a way to call one."""

    functions: dict[str, Any]

    def invoke(self, function_logical_id: str, event: Any) -> Any: ...


_host: FunctionHost | None = None


def activate(host: FunctionHost | None) -> None:
    global _host
    _host = host


def _logical_id(host: FunctionHost, function_name: str) -> str:
    # FunctionName may be a name, a full ARN or a partial ARN, optionally with a qualifier.
    name = function_name.split(":function:")[-1].split(":")[0]
    for logical, function in host.functions.items():
        if name in (function.name, logical):
            return logical
    # Lambda's API error, not a function error: the function never ran.
    response: Any = {
        "Error": {
            "Code": "ResourceNotFoundException",
            "Message": f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
        },
        "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": str(uuid.uuid4()), "HTTPHeaders": {}},
    }
    raise ClientError(response, "Invoke")


@functools.cache
def _lambda_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("lambda")


@functools.cache
def _modeled_error_codes() -> frozenset[str]:
    return frozenset(getattr(shape, "error_code", None) or shape.name for shape in _lambda_model().error_shapes)


def invoke_in_process(function_name: str, payload: bytes | None) -> Any:
    host = _host
    if host is None:
        raise RuntimeError("no local runtime is active to run Lambda tasks")
    logical = _logical_id(host, function_name)
    event = json.loads(payload.decode("utf-8")) if payload else {}
    try:
        result = host.invoke(logical, event)
    except Exception as exc:
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)[-3:],
        }
        raise LambdaFunctionErrorException("Unhandled", json.dumps(error)) from exc
    # What Lambda returns is JSON: the interpreter must see what a real invocation would give it.
    return json.loads(json.dumps(result, default=str))


class StateTaskServiceLocalLambda(StateTaskServiceLambda):
    def _evaluate_with_timeout(self, env: Any) -> None:
        if _host is None or self.resource.condition == ResourceCondition.WaitForTaskToken:
            # .waitForTaskToken: only the invocation runs in real time (_eval_service_task); the wait for the
            # token, its HeartbeatSeconds and TimeoutSeconds are on the fast clock (sfn_callback).
            super()._evaluate_with_timeout(env)
            return
        # TimeoutSeconds counts wall time from the task's start, as in Lambda. On the fast clock 90 s is 0.15 s,
        # which a busy machine can spend before the handler even starts (the handler itself already runs in real time).
        with active_clock().real_time():
            super()._evaluate_with_timeout(env)

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        if _host is None:  # no local runtime: moto's own behaviour
            super()._eval_service_task(env, resource_runtime_part, normalised_parameters, state_credentials)
            return
        operation = _lambda_model().operation_model("Invoke")
        parameters = drop_nulls(normalised_parameters, operation.input_shape)
        check_call(operation, parameters, in_process=True)
        if self.resource.condition == ResourceCondition.WaitForTaskToken:
            with active_clock().real_time():
                payload = invoke_in_process(parameters["FunctionName"], parameters.get("Payload"))
        else:
            payload = invoke_in_process(parameters["FunctionName"], parameters.get("Payload"))
        env.stack.append({"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload})

    @staticmethod
    def _error_cause_from_client_error(client_error: ClientError) -> tuple[str, str]:
        error, cause = StateTaskServiceLambda._error_cause_from_client_error(client_error)
        if client_error.response["Error"]["Code"] not in _modeled_error_codes():
            error = "Lambda.AWSLambdaException"
        return error, cause
