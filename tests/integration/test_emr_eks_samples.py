"""`local invoke EmrEksEventFunction -e events/emr_eks_job_run_*.json` takes the handler's real path: the sample is
moved onto a virtual cluster and a job run the local runtime holds (emr_samples.seed_eks_sample), so EMR on EKS
knows the job run and its tags, instead of the handler ignoring a job run that exists nowhere."""

from __future__ import annotations

from emr_autopilot import ledger
from emr_autopilot_devkit.local.emr_samples import seed_eks_sample
from emr_autopilot_devkit.local.runtime import LocalRuntime
from tests.helpers.integration import load_event

FAILED = "emr_eks_job_run_failed.json"


def test_the_failed_sample_is_ignored_as_it_is(stack: LocalRuntime) -> None:
    # Given the failed-job-run sample, whose virtual cluster and job run exist nowhere
    event = load_event(FAILED)

    # When the EMR on EKS event function gets it unchanged
    result = stack.invoke("EmrEksEventFunction", event)

    # Then the handler ignores it: EMR on EKS does not know the job run
    assert "does not know the job run" in str(result.get("ignored")), result


def test_the_failed_sample_moved_onto_a_seeded_job_run_is_recorded_and_notified(stack: LocalRuntime) -> None:
    # Given the failed-job-run sample, moved onto a virtual cluster and a job run of ours in its state
    sample = load_event(FAILED)
    event, notes = seed_eks_sample(stack, sample)
    job_run_id, cluster_id = event["detail"]["id"], event["detail"]["virtualClusterId"]
    described = stack.client("emr-containers").describe_job_run(virtualClusterId=cluster_id, id=job_run_id)["jobRun"]

    # When the EMR on EKS event function gets it
    result = stack.invoke("EmrEksEventFunction", event)
    stack.settle(timeout=60)

    # Then EMR on EKS holds the job run as the sample says, with the run's tags, and the sample says where it moved
    assert (described["state"], described["failureReason"]) == ("FAILED", "USER_ERROR")
    run_id = sample["detail"]["name"].rsplit(".", 1)[0]
    assert described["tags"]["emr-autopilot:run-id"] == run_id
    assert cluster_id != sample["detail"]["virtualClusterId"] and any(cluster_id in note for note in notes)
    # And the handler took the real path: not ignored, the job run recorded FAILED with its reason, and notified
    assert not result.get("ignored"), result
    items = {item["sk"]: item for item in ledger.partition_items(stack.outputs["RunLedgerTableName"], f"RUN#{run_id}")}
    assert items[f"JOBRUN#{job_run_id}"]["state"] == "FAILED"
    assert items[f"JOBRUN#{job_run_id}"]["failure_reason"] == "USER_ERROR"
    assert any(cluster_id in notice.subject and "failed" in notice.subject for notice in stack.notifications)
