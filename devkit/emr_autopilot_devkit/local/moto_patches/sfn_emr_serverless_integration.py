"""The optimized `arn:aws:states:::emr-serverless:*` integration for moto's ASL interpreter.

moto (pinned 5.2.5) lists emr-serverless as unsupported: PascalCase parameters crash its boto call and `.sync`
is refused at run time. This follows the Step Functions developer guide, "Create and manage Amazon EMR
Serverless applications with Step Functions" (connect-emr-serverless), and its IAM page (emr-serverless-iam):

- exactly six resources, createApplication, startApplication, stopApplication, deleteApplication, startJobRun and
  cancelJobRun, each as Request Response and Run a Job (.sync); "The Wait for Callback with Task Token
  integration pattern is not supported": any other form is refused at CreateStateMachine (InvalidDefinition);
- parameters are the EMR Serverless API's request members in PascalCase (ApplicationId, ExecutionRoleArn,
  JobDriver.SparkSubmit.EntryPoint, ...), converted to the API's camelCase through botocore's model and checked
  against it (emr_requests.check_request, service "emr-serverless"; the request and the `.sync` loop are shared
  with EMR on EKS: sfn_job_run_integration);
- outputs as the page's table documents them (`task_output`);
- `.sync` waits for the documented target state and fails the task otherwise (`job_run_failure`); an aborted
  `.sync` startJobRun (execution stopped, task timed out) is cancelled, best effort (connect-to-resource, "Run a
  Job (.sync)"; emr-serverless-iam grants CancelJobRun to startJobRun.sync for this).

The failure Error/Cause and the output shapes are not verified against AWS (facts §1a): each is built in one
function here, marked inferred, to be corrected in one place.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition

from emr_autopilot_devkit.local.moto_patches.sfn_emr_integration import _plain, _TaskError
from emr_autopilot_devkit.local.moto_patches.sfn_job_run_integration import (
    StateTaskServiceJobRuns,
    described,
    install_service,
)

SERVICE: Final = "emr-serverless"
# connect-emr-serverless, "EMR Serverless service integration APIs": the six APIs, each with .sync.
OPERATIONS: Final[dict[str, str]] = {
    "createApplication": "CreateApplication",
    "startApplication": "StartApplication",
    "stopApplication": "StopApplication",
    "deleteApplication": "DeleteApplication",
    "startJobRun": "StartJobRun",
    "cancelJobRun": "CancelJobRun",
}
RESOURCES: Final[dict[str, frozenset[str | None]]] = {
    api: frozenset({None, ResourceCondition.Sync}) for api in OPERATIONS
}

# Step Functions learns of EMR Serverless state changes through the managed EventBridge rules the IAM page names
# (StepFunctionsGetEventsForEMRServerlessApplicationRule / ...JobRule), so it notices a change promptly; locally the
# .sync task reads GetJobRun/GetApplication every POLL_SECONDS virtual seconds (inferred).
POLL_SECONDS: Final[float] = 10.0

_TASK_FAILED = StatesErrorNameType.StatesTaskFailed.to_name()


# -- the shapes no AWS page pins down (inferred; facts §1a "unverified"): one function each ------------------
def serverless_task_error(code: str, message: str, status: int) -> tuple[str, str]:
    """The Error and Cause of a task that EMR Serverless answered with error `code` (inferred: Step Functions names
    a service's error "<Service>.<Exception>", with the AWS SDK for Java v2's service name and message format,
    e.g. "EmrServerless.ValidationException")."""
    cause = f"{message} (Service: EmrServerless, Status Code: {status}, Request ID: {uuid.uuid4()})"
    return f"EmrServerless.{code}", cause


def job_run_failure(job_run: Mapping[str, Any]) -> tuple[str, str]:
    """The Error and Cause of a startJobRun.sync whose run ended FAILED or CANCELLED, or a cancelJobRun.sync whose
    run ended otherwise (inferred, facts §1a: Glue, Batch and EMR addStep .sync fail with States.TaskFailed and a
    JSON Cause). The Cause is GetJobRun's `jobRun` object as the API returns it (camelCase members; times in epoch
    seconds): `state`, `stateDetails`, `applicationId`, `jobRunId`, `arn`, `totalExecutionDurationSeconds`,
    `billedResourceUtilization`, ..."""
    return _TASK_FAILED, json.dumps(_plain(job_run))


def application_failure(application: Mapping[str, Any]) -> tuple[str, str]:
    """The Error and Cause of an application .sync task whose application reached a state it cannot leave for the
    awaited one (inferred, as job_run_failure): GetApplication's `application` object."""
    return _TASK_FAILED, json.dumps(_plain(application))


def task_output(api: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    """The task's output, per connect-emr-serverless's table (the same for .sync): createApplication and startJobRun
    return the API's response ("no differences"), in PascalCase (inferred, as every optimized integration's output);
    start/stop/deleteApplication return {"ApplicationId"} (the APIs return nothing); cancelJobRun the API's
    response. startJobRun.sync returns the StartJobRun response, not GetJobRun's (facts §1a: unverified)."""
    if api == "createApplication":
        return {"ApplicationId": response["applicationId"], "Name": response.get("name"), "Arn": response["arn"]}
    if api == "startJobRun":
        return {"ApplicationId": response["applicationId"], "JobRunId": response["jobRunId"], "Arn": response["arn"]}
    if api == "cancelJobRun":
        return {"ApplicationId": response["applicationId"], "JobRunId": response["jobRunId"]}
    return {"ApplicationId": params["applicationId"]}


class StateTaskServiceEmrServerless(StateTaskServiceJobRuns):
    """The job-run integrations' common part (sfn_job_run_integration); everything EMR Serverless specific is
    here."""

    SERVICE_LABEL = "EMR Serverless"
    SERVICE: ClassVar[str] = SERVICE
    OPERATIONS: ClassVar[Mapping[str, str]] = OPERATIONS
    RESOURCES: ClassVar[Mapping[str, frozenset[str | None]]] = RESOURCES
    POLL_SECONDS: ClassVar[float] = POLL_SECONDS

    def _task_error(self, code: str, message: str, status: int) -> tuple[str, str]:
        return serverless_task_error(code, message, status)

    def _task_output(self, api: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
        return task_output(api, params, response)

    def _cancel_abandoned_run(self, client: Any, submitted: Mapping[str, Any]) -> None:
        client.cancel_job_run(applicationId=submitted["ApplicationId"], jobRunId=submitted["JobRunId"])

    def _poll(self, api: str, client: Any, submitted: Mapping[str, Any]) -> Callable[[], Any]:
        application_id = submitted["ApplicationId"]
        if api in ("startJobRun", "cancelJobRun"):
            job_run_id = submitted["JobRunId"]
            # startJobRun.sync: the run reaches SUCCESS; cancelJobRun.sync: CANCELLED (connect-emr-serverless).
            wanted = "SUCCESS" if api == "startJobRun" else "CANCELLED"

            def job_done() -> Any:
                answer = described(lambda: client.get_job_run(applicationId=application_id, jobRunId=job_run_id))
                if answer is None:
                    return None
                job_run = answer["jobRun"]
                if job_run["state"] == wanted:
                    return submitted
                if job_run["state"] in ("SUCCESS", "FAILED", "CANCELLED"):
                    raise _TaskError(*job_run_failure(job_run))
                return None

            return job_done

        # createApplication.sync: CREATED; startApplication.sync: STARTED; stopApplication.sync: STOPPED;
        # deleteApplication.sync: TERMINATED (connect-emr-serverless). An application that reaches a state it only
        # leaves by another request fails the task (inferred). createApplication.sync also accepts the states
        # after CREATED (a job's auto-start may pass CREATED between two polls; inferred); stopApplication.sync
        # accepts CREATED (never started: nothing to stop; inferred).
        targets: dict[str, tuple[frozenset[str], frozenset[str]]] = {
            "createApplication": (
                frozenset({"CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED"}),
                frozenset({"TERMINATED"}),
            ),
            "startApplication": (frozenset({"STARTED"}), frozenset({"STOPPING", "STOPPED", "TERMINATED", "CREATED"})),
            "stopApplication": (frozenset({"STOPPED", "CREATED"}), frozenset({"TERMINATED"})),
            "deleteApplication": (frozenset({"TERMINATED"}), frozenset()),
        }
        done, failed = targets[api]

        def application_done() -> Any:
            answer = described(lambda: client.get_application(applicationId=application_id))
            if answer is None:
                return None
            application = answer["application"]
            if application["state"] in done:
                return submitted
            if application["state"] in failed:
                raise _TaskError(*application_failure(application))
            return None

        return application_done


def install() -> None:
    """Idempotent; after sfn.install(): `emr-serverless` tasks are served here."""
    install_service(SERVICE, StateTaskServiceEmrServerless, "_emr_serverless")
