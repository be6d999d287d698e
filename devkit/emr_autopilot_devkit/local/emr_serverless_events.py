"""The events EMR Serverless puts on EventBridge (source `aws.emr-serverless`), as the EMR Serverless simulator
emits them.

Detail keys follow the samples of the EventBridge events reference, "Amazon EMR Serverless events"
(https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-emr-serverless.html) and the EMR Serverless User
Guide, "Monitoring EMR Serverless with Amazon EventBridge" (using-eventbridge.html):
- "EMR Serverless Application State Change": applicationId, applicationName, arn, releaseLabel, state, type,
  createdAt, updatedAt, autoStopConfig {enabled, idleTimeout}, autoStartConfig {enabled};
- "EMR Serverless Job Run State Change": jobRunId, jobRunName, applicationId, arn, releaseLabel, state,
  previousState, createdBy, createdAt, updatedAt (jobRunName: real events carry it, e.g. the awslabs clickstream
  sample; the doc sample's first event, SUBMITTED, has previousState "");
- "EMR Serverless Job Resource Utilization Update": the final one at the end of a run (the periodic ones, about
  every 30 minutes, are not emitted: no local run lasts that long in real time; inferred to be harmless).
The FAILED state's stateDetails is not in the doc's event sample, so it is not put in the event (read it with
GetJobRun). Times are ISO 8601 with microseconds and "Z", as in the samples.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Emit = Callable[[str, str, dict[str, Any]], None]  # detail-type, resource, detail

APPLICATION_STATE_CHANGE = "EMR Serverless Application State Change"
JOB_RUN_STATE_CHANGE = "EMR Serverless Job Run State Change"
RESOURCE_UTILIZATION_UPDATE = "EMR Serverless Job Resource Utilization Update"


def event_time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


class EmrServerlessEvents:
    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def application(self, app: Any) -> None:
        auto_stop = app.auto_stop_configuration or {}
        auto_start = app.auto_start_configuration or {}
        self.emit(
            APPLICATION_STATE_CHANGE,
            app.arn,
            {
                "applicationId": app.id,
                "applicationName": app.name,
                "arn": app.arn,
                "releaseLabel": app.release_label,
                "state": app.state,
                # The sample writes the engine in capitals ("HIVE"); GetApplication answers "Spark"/"Hive" (moto).
                "type": str(app.type).upper(),
                "createdAt": event_time(app.created_at),
                "updatedAt": event_time(app.updated_at),
                # The event's names differ from the API's (autoStopConfiguration.idleTimeoutMinutes).
                "autoStopConfig": {
                    "enabled": bool(auto_stop.get("enabled", True)),
                    "idleTimeout": int(auto_stop.get("idleTimeoutMinutes", 15)),
                },
                "autoStartConfig": {"enabled": bool(auto_start.get("enabled", True))},
            },
        )

    def job_run(self, run: Any, previous: str) -> None:
        self.emit(
            JOB_RUN_STATE_CHANGE,
            run.arn,
            {
                "jobRunId": run.id,
                "jobRunName": run.name,
                "applicationId": run.application_id,
                "arn": run.arn,
                "releaseLabel": run.release_label,
                "state": run.state,
                "previousState": previous,
                "createdBy": run.created_by,
                "updatedAt": event_time(run.updated_at),
                "createdAt": event_time(run.created_at),
            },
        )

    def final_utilization(self, run: Any) -> None:
        total = dict(run.total_resource_utilization)
        billed = dict(run.billed_resource_utilization)
        self.emit(
            RESOURCE_UTILIZATION_UPDATE,
            run.arn,
            {
                "applicationId": run.application_id,
                "jobRunId": run.id,
                "attempt": run.attempt,
                "mode": run.mode,
                "createdAt": event_time(run.created_at),
                **({"startedAt": event_time(run.started_at)} if run.started_at else {}),
                "calculatedFrom": event_time(run.started_at or run.created_at),
                "calculatedTo": event_time(run.ended_at),
                "resourceUtilizationFinal": True,
                # One interval, from the start: no periodic update was emitted before it (see above).
                "resourceUtilizationForInterval": total,
                "billedResourceUtilizationForInterval": billed,
                "totalResourceUtilization": total,
                "totalBilledResourceUtilization": billed,
            },
        )
