"""The runs page (`emr-autopilot runs --html`) rendered from hand-built ledger items: a run per row, the
cluster's life and each step on the run's time axis, colour by outcome, reasons, log links, no network,
and rows with odd data that still render."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from emr_autopilot_devkit.runs_page import RunRecord, render_page
from tests.helpers.html_page import parse_html, text_of, with_class

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
LOGS = "s3://logs-bucket/emr-logs/"


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cluster_event(cluster: str, minutes: float, state: str) -> dict[str, Any]:
    # As EmrEventFunction writes them (ledger.record_event with decisions._summary)
    return {
        "pk": f"CLUSTER#{cluster}",
        "sk": f"EVENT#{at(minutes)}#{state}",
        "detail_type": "EMR Cluster State Change",
        "at": at(minutes),
        "state": state,
    }


def step(
    cluster: str, step_id: str, name: str, state: str, start: float | None, end: float | None, **more: Any
) -> dict[str, Any]:
    item = {"pk": f"CLUSTER#{cluster}", "sk": f"STEP#{step_id}", "step_name": name, "state": state, **more}
    if start is not None:
        item["started_at"] = at(start)
    if end is not None:
        item["ended_at"] = at(end)
    return item


def run(
    cluster: str,
    run_id: str,
    steps: list[dict[str, Any]],
    end_state: str = "TERMINATED",
    end: float = 20,
    log_uri: str | None = LOGS,
    **meta: Any,
) -> RunRecord:
    """A run's items: STARTING at 0, WAITING at 6 (start-up over), RUNNING/WAITING around its steps,
    TERMINATING at end - 1 and end_state at end."""
    events = [(0, "STARTING"), (6, "WAITING"), (7, "RUNNING"), (end - 2, "WAITING"), (end - 1, "TERMINATING")]
    items = [cluster_event(cluster, minutes, state) for minutes, state in [*events, (end, end_state)]]
    items.append(
        {
            "pk": f"CLUSTER#{cluster}",
            "sk": "META",
            "state": end_state,
            "job": "red-violations",
            "run_id": run_id,
            "created_at": at(0),
            "ended_at": at(end),
            **meta,
        }
    )
    return RunRecord(cluster, [*items, *steps], log_uri)


def sections(page: str) -> list[ET.Element]:
    return [el for el in parse_html(page).iter("section") if "run" in el.get("class", "").split()]


def section_of(page: str, cluster: str) -> ET.Element:
    [found] = [el for el in sections(page) if el.get("data-cluster") == cluster]
    return found


def step_bars(section: ET.Element) -> dict[str, tuple[str, str]]:
    """{step name: (the bar's CSS class, the words under the name)} for each step lane of a run."""
    lanes = {}
    for lane in with_class(section, "div", "step"):
        [name] = with_class(lane, "span", "name")
        [words] = with_class(lane, "span", "state")
        bars = with_class(lane, "div", "bar")
        lanes[text_of(name)] = (bars[0].get("class", "") if bars else "", text_of(words))
    return lanes


FAILED = run(
    "j-FAILED",
    "red-violations-s3-bad",
    [
        step(
            "j-FAILED",
            "s-BAD",
            "Count red violations",
            "FAILED",
            8,
            10,
            failure_reason="missing required column(s): violation_type",
            log_file="s3://logs-bucket/emr-logs/j-FAILED/steps/s-BAD/stderr.gz",
        )
    ],
    reason_code="USER_REQUEST",
    reason_message="Terminated by user request",
)
SIMULATED = run(
    "j-SIMULATED",
    "mixed-s3-1",
    [
        step("j-SIMULATED", "s-ONE", "step 1", "COMPLETED", 8, 9),
        step("j-SIMULATED", "s-TWO", "step 2 [SIMULATED]", "COMPLETED", 10, 15, simulated=True),
    ],
)
GOOD = run(
    "j-GOOD",
    "red-violations-s3-good",
    [step("j-GOOD", "s-A", "Count red violations", "COMPLETED", 10, 15)],
)
CANCELLED = run(
    "j-CANCELLED",
    "cancelled-1",
    [
        step("j-CANCELLED", "s-A", "step 1", "COMPLETED", 8, 9),
        step("j-CANCELLED", "s-B", "step 2", "CANCELLED", 9, 9),
    ],
)


def test_each_run_is_a_row_and_each_step_is_coloured_by_its_outcome() -> None:
    # Given three runs from the ledger: one failed, one with a simulated step, one that succeeded
    # When the page is rendered
    page = render_page([FAILED, SIMULATED, GOOD, CANCELLED], generated_at=T0 + timedelta(hours=1))

    # Then each run is one row, in the ledger's order, with its status
    assert [(s.get("data-cluster"), s.get("data-status")) for s in sections(page)] == [
        ("j-FAILED", "FAILED"),
        ("j-SIMULATED", "SIMULATED"),
        ("j-GOOD", "SUCCEEDED"),
        ("j-CANCELLED", "CANCELLED"),
    ]
    assert "red-violations-s3-bad" in text_of(section_of(page, "j-FAILED"))

    # And each step has a bar of its outcome's colour, and says it in words
    assert step_bars(section_of(page, "j-FAILED")) == {"Count red violations": ("bar failed", "FAILED, 2m 00s")}
    assert step_bars(section_of(page, "j-GOOD")) == {"Count red violations": ("bar ok", "COMPLETED, 5m 00s")}
    assert step_bars(section_of(page, "j-CANCELLED")) == {
        "step 1": ("bar ok", "COMPLETED, 1m 00s"),
        "step 2": ("bar cancelled", "CANCELLED, 0s"),
    }

    # And a simulated step is amber and SIMULATED, never a success
    assert step_bars(section_of(page, "j-SIMULATED")) == {
        "step 1": ("bar ok", "COMPLETED, 1m 00s"),
        "step 2 [SIMULATED]": ("bar simulated", "SIMULATED, not run, 5m 00s"),
    }
    simulated_lane = with_class(section_of(page, "j-SIMULATED"), "div", "step")[1]
    assert [text_of(bar) for bar in with_class(simulated_lane, "div", "bar")] == ["SIMULATED"]
    [note] = with_class(section_of(page, "j-SIMULATED"), "p", "simulated")
    assert "1 step(s) not run" in text_of(note)


def test_a_failed_run_shows_its_reason_under_it_and_a_good_run_none() -> None:
    # Given a run whose step failed, and one whose cluster ended with errors before any step
    broken = run(
        "j-BROKEN",
        "red-violations-s3-broken",
        [],
        end_state="TERMINATED_WITH_ERRORS",
        reason_code="BOOTSTRAP_FAILURE",
        reason_message="On the master instance, bootstrap action 1 returned a non-zero return code",
    )

    # When the page is rendered
    page = render_page([FAILED, broken, GOOD])

    # Then the step's failure reason is under the failed run
    [reason] = [p for p in with_class(section_of(page, "j-FAILED"), "p", "reason")]
    assert text_of(reason) == "Count red violations failed: missing required column(s): violation_type"

    # And the cluster's reason, when no step failed
    [reason] = with_class(section_of(page, "j-BROKEN"), "p", "reason")
    assert text_of(reason) == (
        "Cluster TERMINATED_WITH_ERRORS: BOOTSTRAP_FAILURE: "
        "On the master instance, bootstrap action 1 returned a non-zero return code"
    )

    # And the run that succeeded has no failure reason
    assert with_class(section_of(page, "j-GOOD"), "p", "reason") == []


def test_the_cluster_lane_shows_start_up_running_and_termination_on_the_time_axis() -> None:
    # Given a 20-minute run: start-up 0-6, waiting 6-7, running 7-18, waiting 18-19, terminating 19-20
    broken = run("j-BROKEN", "r", [], end_state="TERMINATED_WITH_ERRORS")

    # When the page is rendered
    page = render_page([GOOD, broken])

    # Then the cluster's phases are bars at their place on the run's axis, and termination is a mark at the end
    lane = with_class(section_of(page, "j-GOOD"), "div", "lane")[0]
    bars = [(bar.get("class"), text_of(bar), bar.get("style")) for bar in with_class(lane, "div", "bar")]
    assert bars == [
        ("bar startup", "start-up", "left:0.000%;width:30.000%"),
        ("bar up", "", "left:30.000%;width:5.000%"),  # too narrow for words: they are in its title
        ("bar up", "running", "left:35.000%;width:55.000%"),
        ("bar up", "", "left:90.000%;width:5.000%"),
        ("bar ending", "", "left:95.000%;width:5.000%"),
    ]
    [end] = with_class(lane, "div", "end-mark")
    assert (end.get("class"), end.get("style"), text_of(end)) == ("end-mark end", "left:100.000%", "terminated")
    [end] = with_class(section_of(page, "j-BROKEN"), "div", "end-mark")
    assert end.get("class") == "end-mark end-errors"

    # And a step is placed where it ran: 10 to 15 minutes of 20
    [step_lane] = with_class(section_of(page, "j-GOOD"), "div", "step")[:1]
    [bar] = with_class(step_lane, "div", "bar")
    assert bar.get("style") == "left:50.000%;width:25.000%"

    # And the axis is marked in elapsed time
    ticks = [text_of(tick) for tick in with_class(section_of(page, "j-GOOD"), "span", "tick")]
    assert ticks == ["+0s", "+5m", "+10m", "+15m"]


def test_log_links_name_the_cluster_and_step_log_folders_and_the_console_only_with_a_region() -> None:
    # Given the failed run (its step has EMR's LogFile) and a two-step run (no LogFile: folders under LogUri)
    # When the page is rendered for a deployed stack (a region) and for the local runtime (none)
    deployed = render_page([FAILED, CANCELLED], region="eu-west-1")
    local = render_page([FAILED, CANCELLED])

    # Then the s3:// locations are on the page
    logs = [text_of(code) for code in section_of(deployed, "j-CANCELLED").iter("code")]
    assert logs == [
        "j-CANCELLED",
        "s3://logs-bucket/emr-logs/j-CANCELLED/",
        "s3://logs-bucket/emr-logs/j-CANCELLED/steps/s-A/",
        "s3://logs-bucket/emr-logs/j-CANCELLED/steps/s-B/",
    ]
    assert "s3://logs-bucket/emr-logs/j-FAILED/steps/s-BAD/stderr.gz" in text_of(section_of(deployed, "j-FAILED"))

    # And with a region, console links: the cluster in EMR, and each log folder in S3
    links = [a.get("href") for a in section_of(deployed, "j-FAILED").iter("a")]
    assert links == [
        "https://eu-west-1.console.aws.amazon.com/emr/home?region=eu-west-1#/clusterDetails/j-FAILED",
        "https://s3.console.aws.amazon.com/s3/buckets/logs-bucket?prefix=emr-logs/j-FAILED/",
        "https://s3.console.aws.amazon.com/s3/buckets/logs-bucket?prefix=emr-logs/j-FAILED/steps/s-BAD/",
    ]
    # And without one (the local runtime's clusters are in no console), none
    assert list(parse_html(local).iter("a")) == []


def test_a_run_without_a_log_uri_says_so() -> None:
    # Given a run whose cluster's LogUri could not be found
    # When the page is rendered
    page = render_page([run("j-NOLOGS", "r", [], log_uri=None)])
    # Then the run says where its logs are not, rather than naming a place
    assert "the cluster has no LogUri the page could find" in text_of(section_of(page, "j-NOLOGS"))


def test_the_page_needs_no_network() -> None:
    # Given a page of runs
    page = render_page([FAILED, SIMULATED, GOOD], region="us-east-1")
    root = parse_html(page)

    # Then it loads nothing: no script, stylesheet, image, frame or font, and no url() in its style
    assert [el.tag for el in root.iter() if el.tag in ("script", "link", "img", "iframe", "object", "embed")] == []
    assert [el.tag for el in root.iter() if "src" in el.attrib] == []
    assert not re.search(r"url\(|@import|@font-face", page)

    # And its Content-Security-Policy forbids it anyway
    policies = [m.get("content") for m in root.iter("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert policies == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_every_value_from_the_ledger_is_escaped() -> None:
    # Given a run whose names and reason carry markup
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    record = run(
        'j-"><b>',
        evil,
        [step("j-X", "s-<i>", f"step {evil}", "FAILED", 8, 9, failure_reason=f"</div></section>{evil}")],
        job=evil,
    )

    plain = run("j-1", "x", [step("j-X", "s-1", "step x", "FAILED", 8, 9, failure_reason="x")], job="x")

    # When the page is rendered
    page = render_page([record], region="us-east-1")

    # Then the page has the same elements as a page of plain values: the markup is text, not elements
    def tags(html_page: str) -> list[str]:
        return [el.tag for el in parse_html(html_page).iter()]

    assert tags(page) == tags(render_page([plain], region="us-east-1"))
    assert "script" not in tags(page)
    [section] = sections(page)
    assert section.get("data-cluster") == 'j-"><b>'
    assert f"step {evil} failed: </div></section>{evil}" in text_of(section)


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([{"pk": "CLUSTER#j-ODD", "sk": "META"}], id="meta-without-anything"),
        pytest.param(
            [{"sk": "META", "state": "TERMINATED", "created_at": "yesterday", "ended_at": 17}], id="times-not-iso"
        ),
        pytest.param(
            [
                {"sk": "META", "state": Decimal(5), "created_at": at(0), "job": None},
                {"sk": "STEP#s-1", "state": "PENDING"},  # never started, no name
                {"sk": "STEP#s-2", "step_name": 42, "started_at": at(3), "ended_at": at(1)},  # ends before it starts
                {"sk": "EVENT#x", "detail_type": "EMR Cluster State Change", "at": "garbage", "state": "RUNNING"},
                {"sk": "DECISION#y", "kind": "reaper"},
            ],
            id="odd-steps-and-events",
        ),
        pytest.param([{"sk": "STEP#s-1", "state": "COMPLETED", "started_at": at(0), "ended_at": at(0)}], id="no-meta"),
        pytest.param([], id="no-items"),
    ],
)
def test_a_row_with_odd_data_still_renders(items: list[dict[str, Any]]) -> None:
    # Given a run whose ledger items are incomplete or odd (a hand-edited row, an expired timeline)
    # When the page is rendered with a normal run after it
    page = render_page([RunRecord("j-ODD", items), GOOD])

    # Then both runs are on the page, and the page parses
    assert [s.get("data-cluster") for s in sections(page)] == ["j-ODD", "j-GOOD"]


def test_odd_steps_are_listed_even_when_they_cannot_be_drawn() -> None:
    # Given a run with a step that never started and one with no name
    record = run(
        "j-ODD",
        "r",
        [
            step("j-ODD", "s-WAIT", "later step", "PENDING", None, None),
            {"pk": "CLUSTER#j-ODD", "sk": "STEP#s-NONAME", "state": "COMPLETED", "started_at": at(8)},
        ],
    )
    # When the page is rendered
    page = render_page([record])
    # Then both are listed: the one that never started without a bar, the nameless one by its id
    assert step_bars(section_of(page, "j-ODD")) == {
        "later step": ("", "PENDING, never started"),
        "s-NONAME": ("bar ok", "COMPLETED, 12m 00s"),  # no end recorded: drawn to the run's end
    }


def test_a_running_run_reaches_now() -> None:
    # Given a run still RUNNING, its step running, 30 minutes after it started
    items = [cluster_event("j-LIVE", 0, "STARTING"), cluster_event("j-LIVE", 6, "RUNNING")]
    items.append({"sk": "META", "state": "RUNNING", "run_id": "live", "created_at": at(0)})
    items.append(step("j-LIVE", "s-1", "long step", "RUNNING", 10, None))

    # When the page is rendered now
    page = render_page([RunRecord("j-LIVE", items)], generated_at=T0 + timedelta(minutes=30))

    # Then the run is RUNNING and its step's bar runs from minute 10 to now
    [section] = sections(page)
    assert section.get("data-status") == "RUNNING"
    assert step_bars(section) == {"long step": ("bar running", "RUNNING, 20m 00s")}
    [bar] = with_class(with_class(section, "div", "step")[0], "div", "bar")
    assert bar.get("style") == "left:33.333%;width:66.667%"


def test_no_runs_says_so() -> None:
    # Given no runs / When the page is rendered / Then it says there are none
    assert "No runs in the ledger for these filters." in text_of(parse_html(render_page([])))
