"""What the optimized EMR Serverless and EMR on EKS integrations share (sfn_emr_serverless_integration,
sfn_emr_containers_integration): both take the API's request members in PascalCase (connect-emr-serverless,
connect-emr-eks), check them against botocore's model, answer a request that breaks it with the service's
ValidationException, and in `.sync` read the job run (or application, virtual cluster) every POLL_SECONDS virtual
seconds until it ends, cancelling an aborted task's job run, best effort (connect-to-resource, "Run a Job (.sync)").
Each service's subclass names its APIs, its error names, its outputs and what its `.sync` waits for.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from botocore import xform_name
from botocore.exceptions import ClientError

from emr_autopilot.emr_requests import RequestProblem, check_request, describe, service_model, without_nulls
from emr_autopilot_devkit.local.clock import active_clock
from emr_autopilot_devkit.local.moto_patches.sfn_emr_integration import TRANSIENT_CODES, StateTaskServiceEmr, _TaskError


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def to_api(shape: Any, value: Any, path: str = "", problems: list[RequestProblem] | None = None) -> Any:
    """The integration's PascalCase request as the API's members, through botocore's model: structure members are
    renamed (map keys, e.g. tags and Spark properties, are data and stay). A name that is not the PascalCase form of
    a member, the API's own camelCase included, is kept as given and added to `problems` (inferred: the integration's
    schema is PascalCase, so the service never sees such a member)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, Mapping):
        members = shape.members
        names = {pascal(name): name for name in members}
        converted: dict[str, Any] = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            name = names.get(str(key))
            if name is None:
                if problems is not None:
                    hint = f" (did you mean {pascal(str(key))!r}?)" if str(key) in members else ""
                    problems.append(RequestProblem(where, f"is not a {shape.name} field{hint}"))
                converted[str(key)] = item
                continue
            converted[name] = to_api(members[name], item, where, problems)
        return converted
    if shape.type_name == "list" and isinstance(value, list):
        return [to_api(shape.member, item, f"{path}[{index}]", problems) for index, item in enumerate(value)]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {key: to_api(shape.value, item, f"{path}.{key}", problems) for key, item in value.items()}
    return value


def described(call: Callable[[], Any]) -> Any:
    """A `.sync` poll's Describe/Get answer, or None after a transient error (tried again at the next poll)."""
    try:
        return call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
            return None
        raise


class StateTaskServiceJobRuns(StateTaskServiceEmr):
    """Shares the EMR integration's error plumbing (States.Runtime, TaskFailed events) and the request, Request
    Response and `.sync` loop of the two job-run services; the hooks below are each service's."""

    SERVICE: ClassVar[str]
    OPERATIONS: ClassVar[Mapping[str, str]]  # the integration's API name -> the service's operation
    POLL_SECONDS: ClassVar[float]

    # -- the service's hooks -----------------------------------------------------------------------------------
    def _task_output(self, api: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _poll(self, api: str, client: Any, submitted: Mapping[str, Any]) -> Callable[[], Any]:
        """A function returning the `.sync` task's output once done, None until then; it raises _TaskError when
        the awaited state cannot come."""
        raise NotImplementedError

    def _cancel_abandoned_run(self, client: Any, submitted: Mapping[str, Any]) -> None:
        """Cancel the job run of a startJobRun.sync task that stopped waiting, best effort."""
        raise NotImplementedError

    # -- create time -------------------------------------------------------------------------------------------
    def _get_supported_parameters(self) -> set[str] | None:
        operation = self.OPERATIONS.get(self.resource.api_action)
        if operation is None:
            return None
        shape: Any = service_model(self.SERVICE).operation_model(operation).input_shape
        return {pascal(name) for name in shape.members}

    def _eval_parameters(self, env: Any) -> Any:
        # Every field is kept and checked against the model (moto would drop the unknown ones silently).
        return self._all_parameters(env)

    # -- Request Response --------------------------------------------------------------------------------------
    def _client(self, resource_runtime_part: Any, credentials: Any) -> Any:
        from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

        return boto_client_for(region=resource_runtime_part.region, service=self.SERVICE, state_credentials=credentials)

    def _request(self, normalised_parameters: Any, problems: list[RequestProblem]) -> dict[str, Any]:
        """The API request of this task: camelCase, nulls dropped, clientToken filled in when absent; names outside
        the integration's PascalCase schema go to `problems`."""
        operation = self.OPERATIONS[self.resource.api_action]
        shape: Any = service_model(self.SERVICE).operation_model(operation).input_shape
        params: Any = to_api(shape, without_nulls(normalised_parameters or {}), "", problems)
        if isinstance(params, dict) and "clientToken" in shape.members and "clientToken" not in params:
            # clientToken is required by the model but an idempotencyToken the SDK fills in; the integration's
            # examples omit it, so Step Functions fills it in (inferred: one new token per call).
            params["clientToken"] = str(uuid.uuid4())
        return params if isinstance(params, dict) else {}

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        api = self.resource.api_action
        operation = self.OPERATIONS[api]
        problems: list[RequestProblem] = []
        params = self._request(normalised_parameters, problems)
        problems = problems or check_request(operation, params, service=self.SERVICE)
        if problems:
            # A request that breaks the API's model is refused by the service: 400 ValidationException (the
            # message wording is inferred).
            raise _TaskError(*self._task_error("ValidationException", describe(problems), 400))
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, xform_name(operation))(**params)
        env.stack.append(self._task_output(api, params, response))

    # -- .sync -------------------------------------------------------------------------------------------------
    def _eval_integration_pattern(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        submitted = env.stack.pop()
        client = self._client(resource_runtime_part, state_credentials)
        poll = self._poll(self.resource.api_action, client, submitted)
        clock = active_clock()

        def stopped(real_timeout: float) -> bool:
            env.program_state_event.wait(real_timeout)
            return not env.is_running()

        while env.is_running():
            if clock.wait_for(stopped, self.POLL_SECONDS):
                break
            result = poll()
            if result is not None:
                env.stack.append(result)
                return
        if self.resource.api_action == "startJobRun":
            # connect-to-resource, "Run a Job (.sync)": an aborted task is cancelled, best effort.
            # Best effort: whatever the service answers, the task is over.
            with contextlib.suppress(Exception):
                self._cancel_abandoned_run(client, submitted)
        env.stack.append(None)  # stopped or timed out: as sfn_emr_integration


def install_service(service: str, make: Callable[[], Any], marker: str) -> None:
    """Idempotent; after sfn.install(): moto's task factory serves `service` tasks with `make()`."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    current = state_task_factory.state_task_service_for
    if getattr(current, marker, False):
        return

    def state_task_service_for(service_name: str) -> Any:
        if service_name == service:
            return make()
        return current(service_name)

    # Keeps the markers of the wrappers below (the other services'), so none wraps twice.
    functools.update_wrapper(state_task_service_for, current)
    setattr(state_task_service_for, marker, True)
    state_task_factory.state_task_service_for = state_task_service_for
