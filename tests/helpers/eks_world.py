"""A moto world for the EMR on EKS reactions: ServerlessWorld's topic with an inbox and logs bucket, plus the
template's ledger and idempotency tables, a virtual cluster, job runs as the EKS state machine starts them (moto's
objects set as DescribeJobRun would then answer), and the samples in events/ moved onto them.

moto 5.2.5 keeps a job run RUNNING forever; a test drives its state by setting moto's backend object (shared
reference serverless-eks-facts.md §3, "Driving states in tests")."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from typing import Any

from moto.emrcontainers.models import emrcontainers_backends

from emr_autopilot import aws, emr_eks
from emr_autopilot.emr_eks_events import parse_emr_eks_event
from emr_autopilot.emr_eks_reactions.decisions import react
from emr_autopilot.emr_eks_reactions.reaction import EksReaction
from emr_autopilot.tags import TAG_EXECUTION_ARN, TAG_JOB, TAG_MANAGED, TAG_RUN_ID
from tests.helpers.serverless_world import ACCOUNT, EVENTS, REGION, TablesWorld

RUN_ID = "red-violations-eks-2f73cc52bfe4565aaef21d3a"  # as in the samples' name
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:emr-autopilot-eks:{RUN_ID}"
LOGS = "s3://emr-autopilot-logs/eks/red-violations-eks/"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-eks-jobs"


class EksWorld(TablesWorld):
    """TablesWorld's topic, inbox, logs bucket and template tables, and an EMR on EKS virtual cluster."""

    def __init__(self) -> None:
        super().__init__()
        self.virtual_cluster = aws.client("emr-containers").create_virtual_cluster(
            name="emr-autopilot-demo",
            containerProvider={"type": "EKS", "id": "analytics", "info": {"eksInfo": {"namespace": "emr"}}},
        )["id"]

    def eks_job_run(
        self,
        tagged: bool = True,
        spark_submit_parameters: str = "--conf spark.executor.instances=2",
        entry_point: str = "s3://artifacts/jobs/red_violations_spark.py",
        **state: Any,
    ) -> str:
        """A job run as the EKS state machine starts one; `state` sets moto's object (see the module docstring)."""
        tags = {TAG_JOB: "red-violations-eks", TAG_RUN_ID: RUN_ID, TAG_EXECUTION_ARN: EXECUTION, TAG_MANAGED: "true"}
        job_run_id: str = aws.client("emr-containers").start_job_run(
            name=f"{RUN_ID}.0" if tagged else "adhoc",
            virtualClusterId=self.virtual_cluster,
            clientToken=f"token-{tagged}-{len(emrcontainers_backends[ACCOUNT][REGION].job_runs)}",
            executionRoleArn=ROLE,
            releaseLabel="emr-7.5.0-latest",
            jobDriver={
                "sparkSubmitJobDriver": {"entryPoint": entry_point, "sparkSubmitParameters": spark_submit_parameters}
            },
            configurationOverrides={"monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": LOGS}}},
            tags=tags if tagged else {"team": "data"},
        )["id"]
        self.set_eks(job_run_id, **state)
        return job_run_id

    def set_eks(self, job_run_id: str, **state: Any) -> None:
        run = emrcontainers_backends[ACCOUNT][REGION].job_runs[job_run_id]
        for key, value in state.items():
            setattr(run, key, value)

    def driver_log(self, job_run_id: str, text: str, name: str = "stderr.gz") -> str:
        """Put the job run's driver log where EMR on EKS writes it; its s3:// URI."""
        uri = emr_eks.driver_log_uri(LOGS, self.virtual_cluster, job_run_id, name=name)
        key = uri.removeprefix("s3://emr-autopilot-logs/")
        aws.client("s3").put_object(Bucket="emr-autopilot-logs", Key=key, Body=gzip.compress(text.encode()))
        return uri

    def eks_event(
        self, name: str, job_run_id: str, event_id: str | None = None, at: datetime | None = None, **detail: Any
    ) -> dict[str, Any]:
        """A sample from events/, moved onto this world's virtual cluster and job run."""
        event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
        event["detail"].update(virtualClusterId=self.virtual_cluster, id=job_run_id, **detail)
        if event_id:
            event["id"] = event_id
        if at:
            event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return event

    def react_eks(self, event: dict[str, Any]) -> EksReaction:
        envelope, detail = parse_emr_eks_event(event)
        return react(envelope, detail, self.settings)
