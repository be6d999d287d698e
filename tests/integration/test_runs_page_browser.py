"""`emr-autopilot runs --html FILE` on real runs of the local runtime (one that succeeds, one whose step
fails, one with a SIMULATED step), and the page rendered in headless Chromium (Debian's `chromium`).

Without Chromium the browser tests skip, unless EMR_AUTOPILOT_REQUIRE_BROWSER=1 (set by .ci/run, after
`make browser` installs it), where they fail: CI must not pass without looking at the page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from emr_autopilot_devkit.cli import main
from emr_autopilot_devkit.local.account import REGION
from emr_autopilot_devkit.local.emr_simulator import Timings
from emr_autopilot_devkit.local.runtime import LocalRuntime
from emr_autopilot_devkit.sample_data import generate_inspections, generate_malformed_inspections
from tests.helpers.html_page import parse_html, png_pixels, text_of, with_class
from tests.helpers.integration import JOBS_DIR, SAMPLE_JOB, SIMULATED_COMMAND, command_job, run_input

QUICK = Timings(starting=30, bootstrapping=30, terminating=30)
WINDOW = (1280, 960)
# Chromium as the workplace's notes start it headless: no sandbox as root, and no background traffic,
# which this machine's closed network would refuse.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
# The page's colours (runs_page.CSS) for a step that succeeded, failed, or was SIMULATED (amber stripes).
OUTCOME_COLOURS = {
    "ok": {(0x2E, 0x7D, 0x32)},
    "failed": {(0xC6, 0x28, 0x28)},
    "simulated": {(0xF9, 0xA8, 0x25), (0xFF, 0xD5, 0x4F)},
}
CSP = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
# Added to a copy of the page only (its CSP forbids scripts): where Chromium laid out each step's bar.
WHERE_ARE_THE_BARS = """<script>
const bars = [...document.querySelectorAll(".step .bar")].map((bar) => {
  const box = bar.getBoundingClientRect();
  return {kind: bar.classList[1], x: box.x, y: box.y, width: box.width, height: box.height};
});
document.body.insertAdjacentHTML("beforeend", `<pre id="bars">${JSON.stringify(bars)}</pre>`);
</script>"""


@dataclass(frozen=True)
class Written:
    page: Path
    output: str  # what the command printed
    runs: dict[str, str]  # job's kind of run -> run id (the execution's name)
    refused_code: int  # the same command, before the page's folder existed
    refused_output: str


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Written]:
    """Three real runs on the local runtime, and the page `emr-autopilot runs --local --html` wrote of them."""
    root = tmp_path_factory.mktemp("runs-page")
    jobs = root / "jobs"
    jobs.mkdir()
    shutil.copy(JOBS_DIR / f"{SAMPLE_JOB}.yaml", jobs)
    shutil.copytree(JOBS_DIR / SAMPLE_JOB.replace("-", "_"), jobs / SAMPLE_JOB.replace("-", "_"))
    mixed = command_job("mixed", ["echo really run", SIMULATED_COMMAND])
    (jobs / "mixed.yaml").write_text(yaml.safe_dump(mixed, sort_keys=False), encoding="utf-8")
    with LocalRuntime(timings=QUICK) as stack, pytest.MonkeyPatch.context() as patch:
        stack.deploy_jobs(jobs)
        stack.put_object("inspections/good.csv", generate_inspections(rows=50))
        stack.put_object("inspections/renamed-column.csv", generate_malformed_inspections(rows=50))
        stack.put_object("mixed/input.csv", "a,b\n1,2\n")
        stack.settle(timeout=60)
        runs = {}
        for execution in stack.executions():
            run = run_input(execution)["run"]
            kind = "mixed" if run["job_name"] == "mixed" else "bad" if "renamed" in run["input_uri"] else "good"
            runs[kind] = execution["name"]
        # As after `emr-autopilot local up`: the stack's state file in the working directory
        (root / ".local-runtime").mkdir()
        state = {"endpoint": stack.endpoint, "region": REGION, "outputs": stack.outputs}
        (root / ".local-runtime" / "stack.json").write_text(json.dumps(state), encoding="utf-8")
        patch.chdir(root)
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            patch.setenv(key, os.environ.get(key, ""))  # restored after: `--local` sets them for the process
        command = ["runs", "--local", "--html", "out/runs.html"]
        refused = CliRunner().invoke(main, command, catch_exceptions=False)  # no folder out/ yet
        (root / "out").mkdir()
        result = CliRunner().invoke(main, command, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    yield Written(root / "out" / "runs.html", result.output, runs, refused.exit_code, refused.output)


def sections(root: ET.Element) -> dict[str, ET.Element]:
    """Each run's row by its run id (its <h2>)."""
    return {
        text_of(next(section.iter("h2"))): section
        for section in root.iter("section")
        if "run" in section.get("class", "").split()
    }


def step_lanes(section: ET.Element) -> dict[str, tuple[str, str]]:
    """{step name: (its bar's CSS class, the words under the name)}."""
    lanes = {}
    for lane in with_class(section, "div", "step"):
        bars = with_class(lane, "div", "bar")
        lanes[text_of(with_class(lane, "span", "name")[0])] = (
            bars[0].get("class", "") if bars else "",
            text_of(with_class(lane, "span", "state")[0]),
        )
    return lanes


def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("EMR_AUTOPILOT_REQUIRE_BROWSER") == "1":
        pytest.fail("EMR_AUTOPILOT_REQUIRE_BROWSER=1 and no `chromium` on PATH: `make browser` installs it")
    pytest.skip("Debian's chromium is not installed (`make browser` installs it)")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"  # a new, empty profile each time
    profile.mkdir(exist_ok=True)
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_runs_html_writes_one_page_of_the_runs_in_the_ledger(written: Written) -> None:
    # Given three runs in the run ledger: a good one, one whose step failed, one with a SIMULATED step
    # When `emr-autopilot runs --local --html FILE` wrote the page (the fixture)
    page = written.page.read_text(encoding="utf-8")

    # Then it said where, and how many runs
    assert "Wrote 3 run(s) to out/runs.html" in written.output

    # And each run is a row with its status
    rows = sections(parse_html(page))
    assert {run_id: rows[run_id].get("data-status") for run_id in written.runs.values()} == {
        written.runs["good"]: "SUCCEEDED",
        written.runs["bad"]: "FAILED",
        written.runs["mixed"]: "SIMULATED",
    }

    # And the failed step's logs are named where EMR wrote them (the cluster's LogUri, from DescribeCluster)
    bad = rows[written.runs["bad"]]
    logs = [text_of(code) for code in bad.iter("code") if text_of(code).startswith("s3://")]
    cluster_id = bad.get("data-cluster")
    assert logs[0] == f"s3://emr-autopilot-local-logsbucket/emr-logs/{cluster_id}/"
    assert logs[1].startswith(f"s3://emr-autopilot-local-logsbucket/emr-logs/{cluster_id}/steps/s-")
    assert logs[1].endswith("/stderr.gz")

    # And the local runtime's clusters get no AWS console links
    assert list(parse_html(page).iter("a")) == []


def test_runs_html_into_a_folder_that_does_not_exist_fails_with_a_reason(written: Written) -> None:
    # Given no folder out/ / When `runs --html out/runs.html` ran (the fixture) / Then it failed, saying why
    assert written.refused_code == 1
    assert "error: " in written.refused_output
    assert "No such file or directory: 'out/runs.html'" in written.refused_output


def test_chromium_renders_the_runs_their_steps_the_reason_and_the_simulated_step(
    written: Written, tmp_path: Path
) -> None:
    # Given the page of three real runs
    # When headless Chromium loads it from the file and prints the DOM it rendered
    dom = run_chromium(tmp_path, "--dump-dom", written.page.as_uri()).stdout
    rows = sections(parse_html(dom))

    # Then the three runs are on it, each with its steps, coloured by outcome
    good, bad, mixed = (rows[written.runs[kind]] for kind in ("good", "bad", "mixed"))
    assert {name: bar for name, (bar, _) in step_lanes(good).items()} == {"Count red violations": "bar ok"}
    assert {name: bar for name, (bar, _) in step_lanes(bad).items()} == {"Count red violations": "bar failed"}

    # And the step the job marks simulate: true is SIMULATED, not a success, in colour and in words
    lanes = step_lanes(mixed)
    assert lanes["step 1"][0] == "bar ok"
    assert lanes["step 2 [SIMULATED]"][0] == "bar simulated"
    assert lanes["step 2 [SIMULATED]"][1].startswith("SIMULATED, not run")

    # And the failed run's reason is under it: the step's stderr, as EMR's FailureDetails give it
    [reason] = with_class(bad, "p", "reason")
    assert "Count red violations failed:" in text_of(reason)
    assert "missing required column(s): violation_type" in text_of(reason)

    # And each run's cluster lane shows start-up and termination
    for row in (good, bad, mixed):
        cluster_lane = with_class(row, "div", "lane")[0]
        # (the bar's words show only when it is wide enough; how wide depends on how long the real step took,
        # so the bar is known by its class and its title, which every bar has)
        first = with_class(cluster_lane, "div", "bar")[0]
        assert first.get("class", "").split() == ["bar", "startup"]
        assert first.get("title", "").startswith("STARTING ")
        assert text_of(first) in ("start-up", "")
        assert text_of(with_class(cluster_lane, "div", "end-mark")[0]) == "terminated"


def test_chromium_screenshot_of_the_page_shows_each_step_bar_in_its_outcome_colour(
    written: Written, tmp_path: Path
) -> None:
    # Given the page of three real runs, and where Chromium lays out its step bars (from a copy with a script)
    probe = tmp_path / "probe.html"
    page = written.page.read_text(encoding="utf-8")
    assert CSP in page
    probe.write_text(page.replace(CSP, "").replace("</body>", WHERE_ARE_THE_BARS + "</body>"), encoding="utf-8")
    size = [f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1"]
    dom = parse_html(run_chromium(tmp_path, *size, "--dump-dom", probe.as_uri()).stdout)
    bars = json.loads(text_of(next(el for el in dom.iter("pre") if el.get("id") == "bars")))
    assert sorted(bar["kind"] for bar in bars) == ["failed", "ok", "ok", "simulated"]

    # When headless Chromium takes a screenshot of the page itself
    shot = tmp_path / "runs.png"
    run_chromium(tmp_path, *size, f"--screenshot={shot}", written.page.as_uri())

    # Then it is a PNG of the window's size, not a blank page
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == WINDOW
    bpp = len(rows[0]) // width
    colours = {tuple(row[i : i + 3]) for row in rows[::4] for i in range(0, len(row), bpp * 2)}
    assert len(colours) > 50

    # And each step's bar is painted in its outcome's colour: green succeeded, red failed, amber SIMULATED
    # (read on the bar's top line, above its words)
    painted: dict[str, set[tuple[int, ...]]] = {}
    for bar in bars:
        x, y = int(bar["x"] + bar["width"] / 2), int(bar["y"] + 1)
        painted[bar["kind"]] = painted.get(bar["kind"], set()) | {tuple(rows[y][x * bpp : x * bpp + 3])}
    assert {kind: found <= OUTCOME_COLOURS[kind] for kind, found in painted.items()} == {
        "failed": True,
        "ok": True,
        "simulated": True,
    }, painted
