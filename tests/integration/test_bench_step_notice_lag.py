"""Bench figure 8 on the real TransientClusterPipeline: the local runtime notices a step's end at the cadence
connect-emr documents ("a hard-coded 60 seconds job polling frequency for the first 10 minutes and 300
seconds after that"). Virtual time only (the bench leaps the clock between EMR events and polls)."""

from __future__ import annotations

from pathlib import Path

from emr_autopilot_devkit.bench import step_notice_lag as lag
from emr_autopilot_devkit.bench.bench_jobs import command_job, write_jobs


def test_steps_ending_just_after_a_poll_are_noticed_one_interval_later(tmp_path: Path) -> None:
    # Given a polling job (addStep.sync) of two steps that each run 61 s: one second past their first poll
    jobs = write_jobs(tmp_path / "jobs", [command_job("lag-two", 2, step_completion="polling")])
    # When the real pipeline runs it in the local runtime
    row = lag.measure_run(jobs, "lag-two", 61.0)
    # Then each end waits for the task's next poll, 60 s after the first: 59 s of idle cluster per step (less
    # the fraction of a second, at wall speed, the emulator takes to record the end), then the next
    # AddJobFlowSteps, then TerminateJobFlows
    assert (row["status"], row["add_calls"], row["terminate_calls"]) == ("SUCCEEDED", 2, 1)
    assert len(row["lags_s"]) == 2
    assert all(58.0 <= value <= 59.0 + lag.SLACK_SECONDS for value in row["lags_s"]), row


def test_steps_ending_on_a_poll_are_noticed_at_that_poll(tmp_path: Path) -> None:
    # Given a polling job of two steps that each run exactly 60 s, ending on their addStep.sync task's first poll
    jobs = write_jobs(tmp_path / "jobs", [command_job("lag-two", 2, step_completion="polling")])
    # When the real pipeline runs it in the local runtime
    row = lag.measure_run(jobs, "lag-two", 60.0)
    # Then that poll sees each step COMPLETED: the next call follows within the wall-speed transitions
    assert row["status"] == "SUCCEEDED"
    assert len(row["lags_s"]) == 2
    assert all(0.0 <= value <= lag.SLACK_SECONDS for value in row["lags_s"]), row
