"""The one EMR wrapper (emr_autopilot.emr): its state sets against EMR's service model, tags, and its
calls against moto (pages, filters, termination)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from emr_autopilot import aws, emr


def _enum(shape: str) -> set[str]:
    model = botocore.session.get_session().get_service_model("emr")
    return set(model.shape_for(shape).enum)


# -- the state sets -----------------------------------------------------------------------------
def test_every_cluster_state_is_active_or_ended_and_never_both() -> None:
    # Given EMR's ClusterState enum (botocore's service model)
    states = _enum("ClusterState")
    # Then the wrapper's sets split it: started and not ending, or ending and gone
    assert set(emr.ACTIVE) | set(emr.ENDED) == states
    assert not set(emr.ACTIVE) & set(emr.ENDED)
    assert set(emr.READY) | set(emr.STARTING) == set(emr.ACTIVE)
    assert set(emr.NOT_TERMINATED) == states - set(emr.TERMINATED)
    assert emr.IDLE in emr.READY
    assert set(emr.CLUSTER_LIFECYCLE) == states


def test_every_step_state_is_active_or_ended_and_never_both() -> None:
    states = _enum("StepState")
    assert set(emr.STEP_ACTIVE) | set(emr.STEP_ENDED) == states
    assert not set(emr.STEP_ACTIVE) & set(emr.STEP_ENDED)
    assert set(emr.STEP_LIFECYCLE) == states
    # An ended step ranks above every active one: a late event cannot bring it back
    assert min(emr.STEP_LIFECYCLE[s] for s in emr.STEP_ENDED) > max(emr.STEP_LIFECYCLE[s] for s in emr.STEP_ACTIVE)


def test_live_instance_states_are_emr_instance_states() -> None:
    assert set(emr.INSTANCE_LIVE) < _enum("InstanceState")


# -- tags -----------------------------------------------------------------------------------------
def test_tags_of_turns_emr_key_value_pairs_into_a_dict() -> None:
    cluster = {"Tags": [{"Key": "team", "Value": "data"}, {"Key": "emr-autopilot:job", "Value": "daily"}]}
    assert emr.tags_of(cluster) == {"team": "data", "emr-autopilot:job": "daily"}
    assert emr.tags_of({"Id": "j-1"}) == {}


# -- the calls, against moto ------------------------------------------------------------------------
@pytest.fixture
def moto_emr(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # set by the local runtime when it ran in this process
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    aws.reset_clients()
    with mock_aws():
        yield boto3.client("emr", region_name="us-east-1")
    aws.reset_clients()


def _cluster(client: Any, name: str, tags: dict[str, str] | None = None) -> str:
    return str(
        client.run_job_flow(
            Name=name,
            ReleaseLabel="emr-7.5.0",
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )["JobFlowId"]
    )


def test_list_clusters_reads_every_page_and_lets_emr_filter_by_state(moto_emr: Any) -> None:
    # Given more clusters than one ListClusters page (50), one of them terminated
    ids = [_cluster(moto_emr, f"c{i}") for i in range(53)]
    emr.terminate(ids[0])
    # When the active ones are listed
    listed = [summary["Id"] for summary in emr.list_clusters(emr.ACTIVE)]
    # Then every page is read, and the terminated cluster is not among them
    assert sorted(listed) == sorted(ids[1:])
    assert emr.describe_cluster(ids[0])["Status"]["State"] in emr.ENDED


def test_describe_cluster_gives_its_tags(moto_emr: Any) -> None:
    cluster_id = _cluster(moto_emr, "tagged", {"team": "data"})
    assert emr.tags_of(emr.describe_cluster(cluster_id)) == {"team": "data"}


def test_steps_page_says_whether_older_steps_follow(moto_emr: Any) -> None:
    # Given a cluster with more steps than one ListSteps page (50)
    cluster_id = _cluster(moto_emr, "busy")
    step = {
        "Name": "s",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]},
    }
    moto_emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step] * 51)
    # When the newest page is read
    steps, older = emr.steps_page(cluster_id)
    # Then it holds one page and says more follow
    assert (len(steps), older) == (50, True)
    # And the paginated listing reads them all
    assert len(list(emr.list_steps(cluster_id, emr.STEP_ACTIVE + emr.STEP_ENDED))) == 51
