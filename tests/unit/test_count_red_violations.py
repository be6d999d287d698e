"""The red-violations job code and the sample data the demo feeds it."""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from emr_autopilot_devkit.sample_data import (
    CLEAN_RESTAURANTS,
    RESTAURANTS,
    expected_red_counts,
    generate_inspections,
    generate_malformed_inspections,
    parse_result_csv,
)

SCRIPT = Path("jobs/red_violations/count_red_violations.py")


@pytest.fixture
def job_code(repo_root: Path) -> ModuleType:
    # The script is not a package module (it is uploaded and run on its own), so load it by path.
    spec = importlib.util.spec_from_file_location("count_red_violations", repo_root / SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class InMemoryS3:
    """Just get_object/put_object over a dict: enough to drive main() without AWS or an emulator."""

    def __init__(self, objects: dict[tuple[str, str], bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.puts: list[dict[str, Any]] = []

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.puts.append(kwargs)
        self.objects[(kwargs["Bucket"], kwargs["Key"])] = kwargs["Body"]
        return {}


# --- counting -----------------------------------------------------------------------------------


def test_counts_red_rows_per_restaurant_sorted(job_code: ModuleType) -> None:
    # Given rows with RED, BLUE and no violations, and a tie between two restaurants
    rows = [
        {"name": "Zed's", "violation_type": "RED"},
        {"name": "Alpha", "violation_type": "RED"},
        {"name": "Mid", "violation_type": "RED"},
        {"name": "Mid", "violation_type": "RED"},
        {"name": "Mid", "violation_type": "RED"},
        {"name": "Zed's", "violation_type": "RED"},
        {"name": "Alpha", "violation_type": "RED"},
        {"name": "Alpha", "violation_type": "BLUE"},
        {"name": "Blue Only", "violation_type": "BLUE"},
        {"name": "Clean", "violation_type": ""},
    ]

    # When they are counted
    counts = job_code.count_red_violations(rows)

    # Then the count is descending, ties by name ascending, and restaurants without RED are left out
    assert counts == [("Mid", 3), ("Alpha", 2), ("Zed's", 2)]


def test_red_is_matched_ignoring_case_and_spaces(job_code: ModuleType) -> None:
    # Given RED written loosely, a near miss, and a red row without a restaurant name
    rows = [
        {"name": " Café Olé ", "violation_type": " red "},
        {"name": "Café Olé", "violation_type": "Red"},
        {"name": "Café Olé", "violation_type": "REDDISH"},
        {"name": "  ", "violation_type": "RED"},
    ]

    # When they are counted
    counts = job_code.count_red_violations(rows)

    # Then the two real RED rows count for the trimmed name; the others do not count
    assert counts == [("Café Olé", 2)]


def test_no_rows_give_no_counts(job_code: ModuleType) -> None:
    # Given no rows / When they are counted / Then nothing is reported
    assert job_code.count_red_violations([]) == []


# --- reading and the header check ---------------------------------------------------------------


def test_header_is_matched_case_insensitively_with_bom_and_spaces(job_code: ModuleType) -> None:
    # Given a CSV whose header has a BOM, odd case and padding, with quoted names
    text = (
        "\ufeff Name ,Inspection_Date, VIOLATION_TYPE ,violation_description\n"
        '"Burgers, Fries & Shakes",2026-01-02,RED,"Raw, uncovered"\n'
        '"The ""Golden"" Spoon",2026-01-03,RED,x\n'
        "\n"
        "Short Row\n"
    )

    # When it is read
    rows = list(job_code.read_rows(text))

    # Then the rows carry the two needed columns by their normal names; blank lines are skipped
    assert rows == [
        {"name": "Burgers, Fries & Shakes", "violation_type": "RED"},
        {"name": 'The "Golden" Spoon', "violation_type": "RED"},
        {"name": "Short Row", "violation_type": ""},
    ]


def test_check_header_gives_column_positions(job_code: ModuleType) -> None:
    # Given a header with the columns in another order
    # When it is checked / Then it gives where the needed columns are
    assert job_code.check_header(["violation_type", "x", "NAME"]) == {"name": 2, "violation_type": 0}


def test_missing_column_is_named_with_the_columns_found(job_code: ModuleType) -> None:
    # Given the malformed header the demo's failing run uses
    header = ["name", "inspection_date", "violation", "violation_description"]

    # When it is checked
    with pytest.raises(job_code.MissingColumns) as caught:
        job_code.check_header(header)

    # Then the error names the missing column and lists what was found
    assert caught.value.missing == ["violation_type"]
    assert caught.value.found == header
    assert str(caught.value) == (
        "missing required column(s): violation_type; "
        "columns found: name, inspection_date, violation, violation_description"
    )


def test_every_missing_column_is_named(job_code: ModuleType) -> None:
    # Given a header with neither needed column
    # When it is checked / Then both are named
    with pytest.raises(job_code.MissingColumns, match=r"missing required column\(s\): name, violation_type"):
        job_code.check_header(["restaurant", "type"])


def test_empty_input_is_bad_input(job_code: ModuleType) -> None:
    # Given an empty file / When it is read / Then it is refused as bad input
    with pytest.raises(job_code.BadInput, match="empty"):
        list(job_code.read_rows(""))


def test_output_is_quoted_csv_with_the_expected_header(job_code: ModuleType) -> None:
    # Given counts for names that need CSV quoting
    counts = [('The "Golden" Spoon', 3), ("Burgers, Fries & Shakes", 2), ("Café Olé", 1)]

    # When they are formatted
    text = job_code.format_output(counts)

    # Then the header comes first, quoting is correct and the result reads back unchanged
    assert text.splitlines()[0] == "name,total_red_violations"
    assert '"The ""Golden"" Spoon",3' in text.splitlines()
    assert parse_result_csv(text) == counts


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [("s3://bucket/key.csv", ("bucket", "key.csv")), ("s3://b/a/été 2026/x+y.csv", ("b", "a/été 2026/x+y.csv"))],
)
def test_parse_s3_uri(job_code: ModuleType, uri: str, parsed: tuple[str, str]) -> None:
    # Given an s3:// URI / When it is parsed / Then bucket and key are split at the first '/'
    assert job_code.parse_s3_uri(uri) == parsed


@pytest.mark.parametrize("uri", ["bucket/key", "s3://bucket", "s3://bucket/", "s3:///key", "https://b/k"])
def test_parse_s3_uri_refuses_non_objects(job_code: ModuleType, uri: str) -> None:
    # Given something that is not s3://bucket/key / When it is parsed / Then it is refused
    with pytest.raises(ValueError, match="expected s3://bucket/key"):
        job_code.parse_s3_uri(uri)


# --- main() end to end over an in-memory S3 -----------------------------------------------------


def test_main_counts_and_writes_the_result(job_code: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the demo's inspections file in the landing bucket
    text = generate_inspections()
    s3 = InMemoryS3({("landing", "inspections/a.csv"): text.encode("utf-8")})

    # When the job runs
    code = job_code.main(
        ["--input", "s3://landing/inspections/a.csv", "--output", "s3://curated/out/red_violations.csv"], s3_client=s3
    )

    # Then it succeeds, writes what the independent check expects and logs its progress
    assert code == 0
    [put] = s3.puts
    assert (put["Bucket"], put["Key"]) == ("curated", "out/red_violations.csv")
    assert put["ContentType"] == "text/csv; charset=utf-8"
    expected = expected_red_counts(text)
    assert parse_result_csv(put["Body"].decode("utf-8")) == expected
    out = capsys.readouterr().out
    assert "read 2000 rows" in out
    assert f"wrote {len(expected)} restaurants to s3://curated/out/red_violations.csv" in out


def test_main_fails_with_exit_2_on_a_missing_column(job_code: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the malformed file (violation_type renamed to violation)
    s3 = InMemoryS3({("landing", "inspections/bad.csv"): generate_malformed_inspections().encode("utf-8")})

    # When the job runs
    code = job_code.main(
        ["--input", "s3://landing/inspections/bad.csv", "--output", "s3://curated/o.csv"], s3_client=s3
    )

    # Then it exits 2, says on stderr which column is missing and what it found, and writes nothing
    assert code == 2
    err = capsys.readouterr().err
    assert "missing required column(s): violation_type" in err
    assert "columns found: name, inspection_date, violation, violation_description" in err
    assert "s3://landing/inspections/bad.csv" in err
    assert s3.puts == []


def test_main_fails_with_exit_2_on_text_that_is_not_utf8(
    job_code: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a Latin-1 file
    s3 = InMemoryS3({("landing", "x.csv"): "name,violation_type\nCafé,RED\n".encode("latin-1")})

    # When the job runs
    code = job_code.main(["--input", "s3://landing/x.csv", "--output", "s3://curated/o.csv"], s3_client=s3)

    # Then it refuses the input as bad
    assert code == 2
    assert "is not UTF-8" in capsys.readouterr().err
    assert s3.puts == []


def test_main_reads_a_utf8_file_with_bom(job_code: ModuleType) -> None:
    # Given a file saved by a spreadsheet: UTF-8 with a BOM and CRLF line ends
    body = "\ufeffName,Violation_Type\r\nCafé Olé,RED\r\nCafé Olé,RED\r\nJoe's,BLUE\r\n".encode()
    s3 = InMemoryS3({("landing", "x.csv"): body})

    # When the job runs
    code = job_code.main(["--input", "s3://landing/x.csv", "--output", "s3://curated/o.csv"], s3_client=s3)

    # Then it counts as usual
    assert code == 0
    assert s3.objects[("curated", "o.csv")].decode("utf-8") == "name,total_red_violations\nCafé Olé,2\n"


# --- the script as a process --------------------------------------------------------------------


def test_script_is_runnable_on_its_own(repo_root: Path) -> None:
    # Given the script file as script-runner.jar gets it
    path = repo_root / SCRIPT

    # When it is started with a bad URI (so it stops before touching S3)
    result = subprocess.run(
        [sys.executable, str(path), "--input", "not-a-uri", "--output", "s3://b/k"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )

    # Then it has the python3 shebang, and argparse refuses the URI with exit code 2
    assert path.read_text(encoding="utf-8").splitlines()[0] == "#!/usr/bin/env python3"
    assert result.returncode == 2
    assert "expected s3://bucket/key" in result.stderr


def test_bootstrap_script_installs_boto3_only_when_missing(repo_root: Path) -> None:
    # Given the bootstrap action
    path = repo_root / "jobs" / "red_violations" / "bootstrap" / "install-deps.sh"
    text = path.read_text(encoding="utf-8")

    # When bash parses it
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=60)

    # Then it is valid, strict, and installs boto3 only if the import fails
    assert result.returncode == 0, result.stderr
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "python3 -c 'import boto3'" in text
    assert "|| sudo python3 -m pip install boto3" in text


# --- sample data --------------------------------------------------------------------------------


def test_generated_inspections_are_deterministic() -> None:
    # Given the same arguments twice, and another seed
    # When the data is generated
    first, second, other = generate_inspections(), generate_inspections(), generate_inspections(seed=8)

    # Then the same arguments give the same text, and another seed other text
    assert first == second
    assert first != other


def test_generated_inspections_exercise_quoting_and_unicode() -> None:
    # Given the default sample
    text = generate_inspections()

    # When it is inspected
    lines = text.splitlines()

    # Then it has the header, the row count, ~40 restaurants with tricky names and all violation types
    assert lines[0] == "name,inspection_date,violation_type,violation_description"
    assert len(lines) == 2001
    assert len(RESTAURANTS) == len(set(RESTAURANTS)) >= 35
    assert any(not name.isascii() for name in RESTAURANTS)
    assert any("," in name for name in RESTAURANTS) and any('"' in name for name in RESTAURANTS)
    assert "Café Olé" in text
    assert '"Burgers, Fries & Shakes"' in text
    for violation_type in (",RED,", ",BLUE,", ",,"):
        assert violation_type in text
    assert len(generate_inspections(rows=10).splitlines()) == 11


def test_expected_counts_agree_with_the_job(job_code: ModuleType) -> None:
    # Given several generated samples
    for seed in (1, 7, 42):
        text = generate_inspections(rows=1500, seed=seed)

        # When the job's functions and the independent check count them
        from_job = job_code.count_red_violations(job_code.read_rows(text))
        independent = expected_red_counts(text)

        # Then they agree, clean restaurants are absent and the result round-trips through the output CSV
        assert from_job == independent
        assert from_job, "a sample must have RED violations"
        assert not CLEAN_RESTAURANTS & {name for name, _ in from_job}
        assert parse_result_csv(job_code.format_output(from_job)) == independent


def test_malformed_inspections_fail_on_the_missing_column(job_code: ModuleType) -> None:
    # Given the malformed sample
    text = generate_malformed_inspections()

    # When the job reads it / Then it stops on violation_type; the independent check refuses it too
    assert text.splitlines()[0] == "name,inspection_date,violation,violation_description"
    assert text.splitlines()[1:] == generate_inspections().splitlines()[1:]
    with pytest.raises(job_code.MissingColumns, match="violation_type"):
        list(job_code.read_rows(text))
    with pytest.raises(ValueError, match="violation_type"):
        expected_red_counts(text)
