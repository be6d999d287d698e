"""The arithmetic of bench figure 8 (cluster time until Step Functions notices a step ended)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from emr_autopilot.pricing import price_table
from emr_autopilot_devkit.bench import step_notice_lag as lag
from emr_autopilot_devkit.bench.step_notice_lag import StepTimes, dollars, poll_bound, step_lags

T0 = 1_700_000_000.0


def test_each_step_is_noticed_by_the_first_action_at_or_after_its_end() -> None:
    # Given two sequential steps and the calls that followed them (an AddJobFlowSteps, then TerminateJobFlows)
    steps = [StepTimes(added=T0, ended=T0 + 61), StepTimes(added=T0 + 120, ended=T0 + 120 + 3601)]
    actions = [T0, T0 + 120, T0 + 120 + 3900]
    # When the lags are measured (steps given out of order, as ListSteps answers newest first)
    lags = step_lags(list(reversed(steps)), actions)
    # Then each runs from the step's end to the next call, in the order the steps ended
    assert [item.lag for item in lags] == [59, 299]
    assert [item.noticed_by for item in lags] == [T0 + 120, T0 + 120 + 3900]


def test_the_bound_is_the_poll_interval_in_force_when_the_step_ended() -> None:
    # Given steps ending before, at and after ten minutes into their task
    # When their bounds are computed
    # Then connect-emr's cadence applies: 60 s for the first 10 minutes, 300 s after that
    assert [poll_bound(seconds) for seconds in (0, 599.9, 600, 3601)] == [60, 60, 300, 300]
    lags = step_lags([StepTimes(added=T0, ended=T0 + 599), StepTimes(added=T0, ended=T0 + 601)], [T0 + 900])
    assert [item.bound for item in lags] == [60, 300]


def test_a_step_with_no_call_after_it_is_an_error_not_a_zero() -> None:
    # Given a step that ended after the last recorded call
    # When the lags are measured
    # Then it is refused: the run never reached its next action
    with pytest.raises(ValueError, match="no AddJobFlowSteps or TerminateJobFlows call"):
        step_lags([StepTimes(added=T0, ended=T0 + 60)], [T0, T0 + 30])


def test_dollars_are_cluster_seconds_at_the_hourly_price() -> None:
    # Given 5,400 cluster-seconds on a cluster of 2 USD/h
    # When priced
    # Then 1.5 h x 2 USD/h
    assert dollars(5400, 2.0) == pytest.approx(3.0)


def test_the_sample_cluster_is_priced_from_its_fleets_first_types_at_target_capacity(tmp_path: Path) -> None:
    # Given a job with fleets (one weighted) and an instance group
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump(
            {
                "cluster": {
                    "instance_fleets": [
                        {
                            "role": "MASTER",
                            "target_on_demand_capacity": 1,
                            "instance_types": [{"instance_type": "m5.xlarge"}],
                        },
                        {
                            "role": "TASK",
                            "target_spot_capacity": 3,
                            "instance_types": [{"instance_type": "m5.2xlarge", "weighted_capacity": 2}],
                        },
                    ],
                    "instance_groups": [{"role": "CORE", "instance_type": "r5.xlarge", "instance_count": 2}],
                }
            }
        ),
        encoding="utf-8",
    )
    # When its hourly price is computed
    hourly, detail = lag.sample_cluster_hourly(job)
    # Then 1 m5.xlarge, 2 m5.2xlarge (3 units of weight 2, rounded up; Spot at on-demand) and 2 r5.xlarge
    table = price_table().hourly
    assert hourly == pytest.approx(table["m5.xlarge"] + 2 * table["m5.2xlarge"] + 2 * table["r5.xlarge"], abs=1e-4)
    assert "2x m5.2xlarge (Spot, priced at on-demand)" in detail


def _row(lags: list[float], bounds: list[float], status: str = "SUCCEEDED") -> dict[str, object]:
    return {
        "status": status,
        "total_s": sum(lags),
        "mean_s": sum(lags) / len(lags),
        "budget_total_s": sum(b + lag.SLACK_SECONDS for b in bounds),
        "mean_bound_s": sum(bounds) / len(bounds),
        "over_bound": [n for n, (v, b) in enumerate(zip(lags, bounds, strict=True), 1) if v > b + lag.SLACK_SECONDS],
    }


def test_figures_fail_a_step_noticed_later_than_the_cadence_even_when_the_sum_fits() -> None:
    # Given a run whose second step was noticed 80 s after it ended under a 60 s cadence, the first at once
    runs = {lag.ON_POLL: _row([0.0, 80.0], [60, 60]), lag.AFTER_POLL: _row([59.0, 59.0], [60, 60])}
    # When the figures are made
    figures = {f.id: f for f in lag.figures(2, 1, runs, 2.0, "test prices")}
    # Then the on-poll total fails (80 > 65) though 80 <= 130, and the just-after-poll figures pass
    assert figures["notice_lag.k2.1m.on_poll.total"].verdict == "FAIL"
    assert figures["notice_lag.k2.1m.after_poll.total"].verdict == "PASS"
    assert figures["notice_lag.k2.1m.after_poll.mean"].verdict == "PASS"
    assert figures["notice_lag.k2.1m.after_poll.usd"].value == pytest.approx(round(118 / 3600 * 2.0, 4))


def test_a_cadence_faster_than_documented_fails_the_mean_figure() -> None:
    # Given steps ending 1 s after a poll that were noticed after 20 s (polls every 20 s, not 60)
    runs = {lag.ON_POLL: _row([0.0], [60]), lag.AFTER_POLL: _row([20.0], [60])}
    # When the figures are made
    figures = {f.id: f for f in lag.figures(1, 1, runs, 2.0, "test prices")}
    # Then the mean falls short of the interval minus 2 s
    assert figures["notice_lag.k1.1m.after_poll.mean"].verdict == "FAIL"


def test_events_figures_fail_one_step_over_five_seconds_even_when_the_sum_fits() -> None:
    # Given two events-mode runs of three steps: one within 5 s a step, one with a step at 6 s (total 6.4 s <= 15 s)
    fast = {**_row([0.2, 0.3, 0.1], [0.0] * 3), "lags_s": [0.2, 0.3, 0.1], "over_bound": []}
    slow = {**_row([6.0, 0.3, 0.1], [0.0] * 3), "lags_s": [6.0, 0.3, 0.1], "over_bound": [1]}

    # When their figures are made
    ok = {f.id: f for f in lag.events_figures(3, 1, fast, 2.0, "test prices")}
    late = {f.id: f for f in lag.events_figures(3, 1, slow, 2.0, "test prices")}

    # Then the budget is 5 s a step: the first passes, the second fails on its total and on its longest step
    assert ok["notice_lag.events.k3.1m.total"].budget == 15.0
    assert [f.verdict for f in ok.values()] == ["PASS", "PASS"]
    assert [f.verdict for f in late.values()] == ["FAIL", "FAIL"]
