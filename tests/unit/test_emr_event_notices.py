"""The text of the EMR event handler's and the step-log follow-up's notices: plain functions, no AWS."""

from __future__ import annotations

from emr_autopilot.emr_event_reactions import notices
from emr_autopilot.emr_event_reactions.follow_up_schedule import FollowUp
from emr_autopilot.emr_event_reactions.reaction import ClusterContext
from emr_autopilot.emr_events import ClusterStateChangeDetail, StepStatusChangeDetail
from emr_autopilot.step_logs import LogLocation

CLUSTER, STEP = "j-2AXXXXXXGAPLF", "s-1K4CSPRYG3YH7"
OURS = ClusterContext(CLUSTER, "run-42", "daily-sales", "run-42", True, "s3://logs/emr/")
FOREIGN = ClusterContext(CLUSTER, "adhoc", None, None, False, None)
STDERR = LogLocation("logs", f"emr/{CLUSTER}/steps/{STEP}/stderr.gz")


def _step(**fields: str) -> StepStatusChangeDetail:
    return StepStatusChangeDetail.model_validate(
        {"clusterId": CLUSTER, "stepId": STEP, "name": "load", "state": "FAILED", **fields}
    )


def test_a_failed_cluster_says_why_and_what_to_do() -> None:
    # Given a cluster that ended with a bootstrap failure
    detail = ClusterStateChangeDetail.model_validate(
        {
            "clusterId": CLUSTER,
            "name": "run-42",
            "state": "TERMINATED_WITH_ERRORS",
            "stateChangeReason": '{"code":"BOOTSTRAP_FAILURE","message":"exit 1"}',
        }
    )
    # When its notice is written
    subject, body = notices.cluster_failed(detail, OURS, "eu-west-1")
    # Then it names the job, the reason, the remedy and the console
    assert subject == f"[emr-autopilot] Cluster failed: BOOTSTRAP_FAILURE on daily-sales ({CLUSTER})"
    assert body[2:5] == [
        "Reason: BOOTSTRAP_FAILURE",
        "Message: exit 1",
        f"What to do: {notices.REMEDIATION['BOOTSTRAP_FAILURE']}",
    ]
    assert body[5:7] == ["Job: daily-sales", "Run: run-42"]
    assert body[-1].startswith("Cluster: https://") and CLUSTER in body[-1]


def test_a_failed_step_with_its_log_shows_the_last_lines() -> None:
    known = notices.StepFailure({"Reason": "Exit 1", "Message": "boom"}, None, STDERR, "line 1\nline 2", True)
    subject, body = notices.step_failed(_step(actionOnFailure="CONTINUE"), OURS, "eu-west-1", known)
    assert subject == f"[emr-autopilot] Step failed: load on daily-sales ({CLUSTER})"
    assert "Reason: Exit 1" in body and "Message: boom" in body and "ActionOnFailure: CONTINUE" in body
    assert f"Last lines of {STDERR.uri}:" in body
    assert "    line 1\n    line 2" in body
    assert body[-1].startswith("Logs: ") and f"emr/{CLUSTER}/steps/{STEP}/" in body[-1]


def test_a_failed_step_whose_log_is_late_promises_a_follow_up_only_when_one_is_scheduled() -> None:
    late = notices.StepFailure({}, None, STDERR, None, True)
    _, body = notices.step_failed(_step(), OURS, "eu-west-1", late)
    assert any(line.endswith("A follow-up with its last lines will be sent.") for line in body)
    assert "Reason: EMR gave no reason (see the log below)" in body
    _, without = notices.step_failed(_step(), OURS, "eu-west-1", late._replace(follow_up=False))
    assert not any("follow-up" in line for line in without)


def test_a_failed_step_without_a_log_says_why() -> None:
    # EMR no longer knows the cluster: no context, DescribeStep unavailable, no log location
    unknown = notices.StepFailure({}, "Cluster id is not valid", None, None, False)
    subject, body = notices.step_failed(_step(), None, "eu-west-1", unknown)
    assert subject == f"[emr-autopilot] Step failed: load on {CLUSTER}"
    assert "Reason: step details unavailable (DescribeStep: Cluster id is not valid)" in body
    assert "The step's log cannot be located: EMR does not know the cluster (DescribeCluster)." in body
    # A cluster EMR knows, without a LogUri
    _, body = notices.step_failed(_step(), FOREIGN, "eu-west-1", unknown._replace(unavailable=None))
    assert "The cluster has no LogUri, so EMR keeps no step logs in S3." in body
    assert "Cluster not started by emr-autopilot." in body


def test_other_severe_events_name_the_cluster_by_job_or_name() -> None:
    subject, body = notices.severe_event(
        "EMR Instance Group State Change",
        {"message": "resize failed"},
        "ERROR",
        "ARRESTED",
        FOREIGN,
        CLUSTER,
        "us-east-1",
    )
    assert subject == f"[emr-autopilot] Instance Group State Change: ARRESTED on adhoc ({CLUSTER})"
    assert body[:2] == ["EMR Instance Group State Change: ARRESTED (ERROR).", "Message: resize failed"]
    assert notices.label(None, CLUSTER, "") == CLUSTER


def test_the_follow_up_sends_a_digest_or_says_the_log_never_came() -> None:
    follow_up = FollowUp(CLUSTER, STEP, "load", STDERR.uri, "daily-sales", attempt=4)
    subject, body = notices.log_digest(follow_up, "Traceback")
    assert subject == f"[emr-autopilot] Step log: load on daily-sales ({CLUSTER})"
    assert body[-1] == "    Traceback"
    subject, body = notices.log_missing(follow_up._replace(job=None), 20)
    assert subject == f"[emr-autopilot] Step log missing: load on {CLUSTER}"
    assert "(looked 4 times over about 20 minutes)" in body[0]
