"""AWS limits the project relies on that moto 5.2.5 does not enforce, or enforces differently.

Checked against moto first; only the gaps are filled here.

SNS Publish (botocore's SNS model, Publish.Message and Publish.Subject, the API reference's text):
- "a message can be at most 256 KiB in size (262,144 bytes, not 262,144 characters) ... the maximum size
  is determined by the topic's MaximumMessageSize attribute ... Amazon SNS validates the combined size of
  the message body and message attributes against this value and returns an InvalidParameter error".
  MessageAttributeValue: "All parts of the message attribute, including name, type, and value, are included
  in the message size restriction". moto compares len(Message) in characters with 262,144 and ignores the
  attributes, so a message of multi-byte text or with large attributes passed locally and fails on AWS.
- "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100 characters
  long". moto checks the length only (at most 100: AWS accepts 100, moto#1503); the error is AWS's
  InvalidParameter "Invalid parameter: Subject" (the wording moto#1503 quotes from AWS).

DynamoDB item size (400 KB, PutItem/UpdateItem, "Item size has exceeded the maximum allowed size"): moto
enforces it (moto/dynamodb/models/dynamo_type.py LimitedSizeDict, ValidationException with AWS's message);
nothing added. Its threshold is 405,000 bytes of attribute names and values, a little stricter than AWS's
400 KB (409,600 bytes): an item this runtime accepts, AWS accepts.

Step Functions (Quotas, "Maximum input or output size for a task, state, or execution": "262,144 bytes of
data as a UTF-8 encoded string. This quota affects tasks (activity, Lambda function, or integrated service),
state or execution output, and input data when scheduling a task, entering a state, or starting an
execution"). moto checks a task's result and a state's output, but sizes them as ASCII-escaped JSON with
spaces after separators (an emoji counted 12 bytes, not 4) and refuses exactly 262,144 bytes; it does not
check a task's input. Here: sized as compact UTF-8 JSON, at most 262,144 bytes, and a Task's resolved
Parameters are checked before it is scheduled (States.DataLimitExceeded, as moto reports the others).
StartExecution's input is checked by request_validation (the model's max length 262,144, in UTF-8 bytes).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import unicodedata
from typing import Any

SNS_DEFAULT_MAXIMUM_MESSAGE_SIZE = 262_144
SNS_SUBJECT_MAX_CHARACTERS = 100
SFN_PAYLOAD_MAX_BYTES = 262_144


def sns_message_size(message: str, attributes: dict[str, Any] | None) -> int:
    """UTF-8 bytes of the body plus each attribute's name, type and value (moto's transformed attributes)."""
    size = len(message.encode("utf-8", "surrogatepass"))
    for name, attribute in (attributes or {}).items():
        data_type, value = str(attribute.get("Type", "")), attribute.get("Value")
        size += len(name.encode("utf-8")) + len(data_type.encode("utf-8"))
        if value is None:
            continue
        if data_type.startswith("Binary"):
            try:  # moto keeps binary values base64-encoded; the limit counts the bytes themselves
                size += len(base64.b64decode(value))
                continue
            except (binascii.Error, ValueError):
                pass
        size += len(str(value).encode("utf-8", "surrogatepass"))
    return size


def sns_subject_problem(subject: str | None) -> bool:
    if subject is None:
        return False
    too_long = len(subject) > SNS_SUBJECT_MAX_CHARACTERS
    return too_long or any(unicodedata.category(char) == "Cc" for char in subject)


def sfn_payload_size(value: Any) -> int:
    text = (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    )
    return len(text.encode("utf-8", "surrogatepass"))


def is_within_sfn_payload_quota(value: Any) -> bool:
    return sfn_payload_size(value) <= SFN_PAYLOAD_MAX_BYTES


@functools.cache  # installs once per process
def install() -> None:
    _install_sns()
    _install_sfn()


def _install_sns() -> None:
    from moto.sns.exceptions import InvalidParameterValue
    from moto.sns.models import SNSBackend

    original_publish = SNSBackend.publish

    def publish(self: Any, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
        subject = kwargs.get("subject", args[1] if len(args) > 1 else None)
        attributes = kwargs.get("message_attributes", args[2] if len(args) > 2 else None)
        phone_number = kwargs.get("phone_number", args[0] if args else None)
        if sns_subject_problem(subject):
            raise InvalidParameterValue("Invalid parameter: Subject")
        if not phone_number and message is not None:  # SMS has its own limits, which moto checks
            limit = SNS_DEFAULT_MAXIMUM_MESSAGE_SIZE
            topic = self.topics.get(arn) if arn else None
            configured = getattr(topic, "maximum_message_size", None) or getattr(topic, "MaximumMessageSize", None)
            if configured:
                limit = int(configured)
            if sns_message_size(message, attributes) > limit:
                raise InvalidParameterValue("Invalid parameter: Message too long")
        return str(original_publish(self, message, arn, *args, **kwargs))

    SNSBackend.publish = publish  # type: ignore[method-assign]


def _install_sfn() -> None:
    from moto.stepfunctions.parser import quotas
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service

    # Imported by name in each module that checks a size.
    for module in (quotas, state, state_task_lambda, state_task_service):
        module.is_within_size_quota = is_within_sfn_payload_quota  # type: ignore[attr-defined]

    service_class = state_task_service.StateTaskService
    original_before = service_class._before_eval_execution

    def before_eval_execution(
        self: Any, env: Any, resource_runtime_part: Any, raw_parameters: dict[str, Any], state_credentials: Any
    ) -> None:
        if not is_within_sfn_payload_quota(raw_parameters):
            error = StatesErrorNameType.StatesStatesDataLimitExceeded
            details: Any = {  # an EventDetails with one member, as moto's own size checks build it
                "taskFailedEventDetails": TaskFailedEventDetails(
                    error=error.to_name(),
                    cause=(
                        f"The state/task '{self._get_sfn_resource_type()}' was given an input with a size of "
                        f"{sfn_payload_size(raw_parameters)} bytes, exceeding the maximum number of bytes service "
                        f"limit ({SFN_PAYLOAD_MAX_BYTES})."
                    ),
                    resourceType=self._get_sfn_resource_type(),
                    resource=self._get_sfn_resource(),
                )
            }
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=error),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=details,
                )
            )
        original_before(self, env, resource_runtime_part, raw_parameters, state_credentials)

    service_class._before_eval_execution = before_eval_execution  # type: ignore[method-assign]
