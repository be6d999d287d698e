"""A moto world for the EMR Serverless reactions: a topic with an inbox, a logs bucket, an application, job runs as
the serverless state machine starts them (moto's objects set as GetJobRun would answer), and the samples in
events/ moved onto them. The ledger table is the caller's (tests/helpers/ledger_table.py or the template's)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from moto.emrserverless.models import emrserverless_backends

from emr_autopilot import aws
from emr_autopilot.emr_event_reactions.reaction import ReactionSettings
from emr_autopilot.emr_serverless_events import parse_emr_serverless_event
from emr_autopilot.emr_serverless_reactions.decisions import react
from emr_autopilot.emr_serverless_reactions.reaction import ServerlessReaction
from emr_autopilot.tags import TAG_EXECUTION_ARN, TAG_JOB, TAG_MANAGED, TAG_RUN_ID
from tests.helpers.handlers import create_template_tables

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACCOUNT, REGION = "123456789012", "us-east-1"
TABLE = "ledger"
RUN_ID = "red-violations-s3-2f73cc52bfe4565aaef21d3a"  # as in the samples' jobRunName
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:emr-autopilot-serverless:{RUN_ID}"
LOGS = "s3://emr-autopilot-logs/serverless/red-violations/"


class ServerlessWorld:
    """A topic with an inbox, a logs bucket and an EMR Serverless application, in moto (see the module docstring)."""

    def __init__(self) -> None:
        sns, sqs = aws.client("sns"), aws.client("sqs")
        self.topic = sns.create_topic(Name="emr-autopilot-alerts")["TopicArn"]
        self.inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn)
        aws.client("s3").create_bucket(Bucket="emr-autopilot-logs")
        self.app = aws.client("emr-serverless").create_application(
            name="emr-autopilot-red-violations", releaseLabel="emr-7.5.0", type="SPARK", clientToken="app"
        )["applicationId"]
        self.settings = ReactionSettings(REGION, TABLE, self.topic)

    def job_run(self, index: int = 0, tagged: bool = True, **state: Any) -> str:
        """A job run as the serverless state machine starts one; `state` sets moto's object (see the docstring)."""
        tags = {TAG_JOB: "red-violations", TAG_RUN_ID: RUN_ID, TAG_EXECUTION_ARN: EXECUTION, TAG_MANAGED: "true"}
        job_run_id: str = aws.client("emr-serverless").start_job_run(
            applicationId=self.app,
            clientToken=f"token-{index}-{tagged}",
            executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/emr-autopilot-serverless-job",
            name=f"{RUN_ID}.{index} Count red violations" if tagged else "adhoc",
            jobDriver={"sparkSubmit": {"entryPoint": "s3://artifacts/jobs/count.py"}},
            configurationOverrides={"monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": LOGS}}},
            tags=tags if tagged else {"team": "data"},
        )["jobRunId"]
        self.set(job_run_id, **state)
        return job_run_id

    def set(self, job_run_id: str, **state: Any) -> None:
        run = emrserverless_backends[ACCOUNT][REGION].get_job_run(self.app, job_run_id)
        for key, value in state.items():
            setattr(run, key, value)

    def stderr(self, job_run_id: str, text: str, attempt: int | None = None) -> None:
        where = f"attempts/{attempt}/" if attempt else ""
        key = f"serverless/red-violations/applications/{self.app}/jobs/{job_run_id}/{where}SPARK_DRIVER/stderr.gz"
        aws.client("s3").put_object(Bucket="emr-autopilot-logs", Key=key, Body=gzip.compress(text.encode()))

    def event(self, name: str, job_run_id: str = "", event_id: str | None = None, **detail: Any) -> dict[str, Any]:
        """A sample from events/, moved onto this world's application and job run."""
        event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
        event["detail"]["applicationId"] = self.app
        if "jobRunId" in event["detail"]:
            event["detail"]["jobRunId"] = job_run_id
        event["detail"].update(detail)
        if event_id:
            event["id"] = event_id
        return event

    def react(self, event: dict[str, Any]) -> ServerlessReaction:
        envelope, detail = parse_emr_serverless_event(event)
        return react(envelope, detail, self.settings)

    def notices(self) -> list[dict[str, Any]]:
        found = aws.client("sqs").receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in found]

    def item(self, pk: str, sk: str) -> dict[str, Any]:
        found = aws.resource("dynamodb").Table(TABLE).get_item(Key={"pk": pk, "sk": sk}).get("Item")
        assert found is not None, f"no {pk} {sk}"
        return dict(found)


class TablesWorld(ServerlessWorld):
    """The world with the template's ledger and idempotency tables (tests.helpers.handlers)."""

    def __init__(self) -> None:
        create_template_tables()
        super().__init__()
