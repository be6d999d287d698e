"""moto's emr-serverless backend answers as EMR Serverless does: the simulator (emr_serverless_simulator) drives
applications and job runs through their documented states, requests are checked against botocore's model,
client tokens are idempotent, and unknown or refused requests get EMR Serverless's errors.

- Requests: EMR Serverless is a REST-JSON service (no X-Amz-Target), which request_validation's middleware does
  not check; each operation here validates its input (URI members and body) against botocore's model with the
  same checks and AWS wording (request_validation.validate_params) before moto sees it (rest_json, shared with
  emr_containers_backend).
- clientToken is an idempotencyToken in the model (StartJobRun, CreateApplication): "The client idempotency token
  of the job run to start. Its value must be unique for each request" (API_StartJobRun). A repeated token returns
  the first call's job run or application, not a second one (moto 5.2.5 starts a second); the same token with
  different parameters is not refused here (inferred: AWS may answer ConflictException, which the model lists).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.emrserverless.exceptions import ResourceNotFoundException
from moto.emrserverless.models import Application, EMRServerlessBackend, JobRun
from moto.emrserverless.responses import EMRServerlessResponse

from emr_autopilot_devkit.local import emr_serverless_simulator
from emr_autopilot_devkit.local.moto_patches.rest_json import injected_fault, install_validation, utc, utc_bounds

_request = threading.local()  # the validated request, for what moto's backend is not given (mode, retryPolicy, ...)


@functools.cache  # installs once per process
def install() -> None:
    _install_validation()
    _install_backend()


def _install_validation() -> None:
    install_validation(EMRServerlessResponse, "emr-serverless", _request)


def _simulator() -> emr_serverless_simulator.EmrServerlessSimulator | None:
    return emr_serverless_simulator.active()


def _injected_fault(api: str) -> None:
    injected_fault(_simulator(), api)


def _with_architecture(app: Application) -> Application:
    """moto drops CreateApplication's architecture; GetApplication answers it (API_Application: X86_64 when the
    request names none)."""
    params = getattr(_request, "params", None) or {}
    app.architecture = params.get("architecture") or "X86_64"  # type: ignore[attr-defined]
    return app


def _install_backend() -> None:
    backend = EMRServerlessBackend
    original_create = backend.create_application
    original_delete = backend.delete_application
    original_start_app = backend.start_application
    original_stop_app = backend.stop_application
    original_start_run = backend.start_job_run
    original_cancel = backend.cancel_job_run
    original_get_run = backend.get_job_run
    original_list_runs = backend.list_job_runs

    def create_application(self: EMRServerlessBackend, **kwargs: Any) -> Application:
        token = kwargs.get("client_token")
        for app in self.applications.values():
            if token and app.client_token == token:
                return app  # the idempotency token's first answer
        simulator = _simulator()
        if simulator is None:
            return _with_architecture(original_create(self, **kwargs))
        with simulator.lock:
            app = _with_architecture(original_create(self, **kwargs))
            app.request = dict(getattr(_request, "params", None) or {})  # type: ignore[attr-defined]  # logUri
            simulator.on_application_created(app)
        return app

    def start_application(self: EMRServerlessBackend, application_id: str) -> None:
        _injected_fault("start_application")
        simulator = _simulator()
        if simulator is None:
            return original_start_app(self, application_id)
        with simulator.lock:
            simulator.on_start_application(self.get_application(application_id))
        return None

    def stop_application(self: EMRServerlessBackend, application_id: str) -> None:
        _injected_fault("stop_application")
        simulator = _simulator()
        if simulator is None:
            return original_stop_app(self, application_id)
        with simulator.lock:
            simulator.on_stop_application(self.get_application(application_id))
        return None

    def delete_application(self: EMRServerlessBackend, application_id: str) -> None:
        simulator = _simulator()
        if simulator is None:
            return original_delete(self, application_id)
        with simulator.lock:
            original_delete(self, application_id)  # DeleteApplication: only from CREATED or STOPPED (moto checks)
            simulator.on_application_deleted(self.applications[application_id])
        return None

    def start_job_run(self: EMRServerlessBackend, application_id: str, client_token: str, **kwargs: Any) -> JobRun:
        _injected_fault("start_job_run")
        app = self.get_application(application_id)
        for run in self.job_runs.get(application_id, []):
            if client_token and run.client_token == client_token:
                return run  # the idempotency token's first answer
        simulator = _simulator()
        if simulator is None:
            return original_start_run(self, application_id, client_token, **kwargs)
        with simulator.lock:
            run = original_start_run(self, application_id, client_token, **kwargs)
            simulator.on_job_run_started(app, run, dict(getattr(_request, "params", None) or {}))
        return run

    def get_job_run(self: EMRServerlessBackend, application_id: str, job_run_id: str) -> JobRun:
        self.get_application(application_id)  # ResourceNotFoundException "Application ... does not exist"
        if application_id not in self.job_runs:
            raise ResourceNotFoundException(job_run_id, "JobRun")
        return original_get_run(self, application_id, job_run_id)

    def cancel_job_run(self: EMRServerlessBackend, application_id: str, job_run_id: str) -> tuple[str, str]:
        simulator = _simulator()
        if simulator is None:
            return original_cancel(self, application_id, job_run_id)
        with simulator.lock:
            simulator.on_cancel_job_run(get_job_run(self, application_id, job_run_id))
        return application_id, job_run_id

    def list_job_runs(self: EMRServerlessBackend, application_id: str, *args: Any, **kwargs: Any) -> list[JobRun]:
        # An application without job runs lists none; moto answers ResourceNotFoundException.
        self.get_application(application_id)
        if application_id not in self.job_runs:
            return []
        utc_bounds(kwargs, ("created_at_after", "created_at_before"))
        runs = self.job_runs[application_id]
        for run in runs:
            run.created_at = utc(run.created_at)
        return original_list_runs(self, application_id, *args, **kwargs)

    backend.create_application = create_application  # type: ignore[method-assign,assignment]
    backend.start_application = start_application  # type: ignore[method-assign]
    backend.stop_application = stop_application  # type: ignore[method-assign]
    backend.delete_application = delete_application  # type: ignore[method-assign]
    backend.start_job_run = start_job_run  # type: ignore[method-assign,assignment]
    backend.get_job_run = get_job_run  # type: ignore[method-assign]
    backend.cancel_job_run = cancel_job_run  # type: ignore[method-assign]
    backend.list_job_runs = list_job_runs  # type: ignore[method-assign]
