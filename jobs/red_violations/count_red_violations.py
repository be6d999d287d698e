#!/usr/bin/env python3
"""Count RED violations per restaurant in an inspections CSV on S3.

Runs on an EMR node through script-runner.jar, or locally as a plain process
(boto3 then follows AWS_ENDPOINT_URL to an emulator by itself).

    count_red_violations.py --input s3://bucket/in.csv --output s3://bucket/out.csv

The input needs the columns `name` and `violation_type` (header names are matched
case-insensitively; a BOM and surrounding spaces are ignored). A row is a RED
violation when violation_type is RED (case and surrounding spaces ignored). The
output is `name,total_red_violations`, count descending then name ascending, only
restaurants with at least one RED violation.

Exit codes: 0 done, 1 S3 read/write failed, 2 bad arguments or bad input
(a required column is missing, the file is empty or not UTF-8).

Only the standard library and boto3. The counting, header check and output
formatting are pure functions, tested without S3.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

REQUIRED_COLUMNS = ("name", "violation_type")
OUTPUT_HEADER = ("name", "total_red_violations")
RED = "RED"
EXIT_S3_ERROR = 1
EXIT_BAD_INPUT = 2


class BadInput(ValueError):
    """The input cannot be counted; the message says why."""


class MissingColumns(BadInput):
    def __init__(self, missing: Sequence[str], found: Sequence[str]) -> None:
        self.missing = list(missing)
        self.found = list(found)
        super().__init__(
            f"missing required column(s): {', '.join(self.missing)}; "
            f"columns found: {', '.join(self.found) if self.found else '(none)'}"
        )


def normalize_column(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def check_header(header: Sequence[str]) -> dict[str, int]:
    """Position of each required column in the header row; raises MissingColumns."""
    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        positions.setdefault(normalize_column(column), index)
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        raise MissingColumns(missing, [column.replace("\ufeff", "").strip() for column in header])
    return {column: positions[column] for column in REQUIRED_COLUMNS}


def read_rows(csv_text: str) -> Iterator[dict[str, str]]:
    """Rows of the CSV as {"name": ..., "violation_type": ...}; checks the header first."""
    reader = csv.reader(io.StringIO(csv_text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None:
        raise BadInput("the input is empty: no header row")
    positions = check_header(header)
    for row in reader:
        if not row:  # a blank line
            continue
        yield {column: row[index] if index < len(row) else "" for column, index in positions.items()}


def count_red_violations(rows: Iterable[Mapping[str, str]]) -> list[tuple[str, int]]:
    """(name, RED violation count) per restaurant with any, count descending then name ascending."""
    counts: Counter[str] = Counter()
    for row in rows:
        name = (row.get("name") or "").strip()
        if name and (row.get("violation_type") or "").strip().upper() == RED:
            counts[name] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def format_output(counts: Iterable[tuple[str, int]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(OUTPUT_HEADER)
    writer.writerows(counts)
    return buffer.getvalue()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValueError(f"expected s3://bucket/key, got {uri!r}")
    return bucket, key


def _s3_uri(value: str) -> str:
    try:
        parse_s3_uri(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Count RED violations per restaurant.")
    parser.add_argument("--input", required=True, type=_s3_uri, help="s3://bucket/key of the inspections CSV")
    parser.add_argument("--output", required=True, type=_s3_uri, help="s3://bucket/key of the result CSV")
    return parser


def main(argv: Sequence[str] | None = None, s3_client: Any = None) -> int:
    args = _parser().parse_args(argv)
    if s3_client is None:
        import boto3  # imported here so the pure functions above need only the standard library

        s3_client = boto3.client("s3")
    from botocore.exceptions import BotoCoreError, ClientError

    in_bucket, in_key = parse_s3_uri(args.input)
    out_bucket, out_key = parse_s3_uri(args.output)
    print(f"reading {args.input}", flush=True)
    try:
        body = s3_client.get_object(Bucket=in_bucket, Key=in_key)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        print(f"error: cannot read {args.input}: {exc}", file=sys.stderr, flush=True)
        return EXIT_S3_ERROR
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        print(f"error: {args.input} is not UTF-8 text: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT

    rows = 0

    def counted(source: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
        nonlocal rows
        for row in source:
            rows += 1
            yield row

    try:
        counts = count_red_violations(counted(read_rows(text)))
    except BadInput as exc:
        print(f"error: {args.input}: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    print(f"read {rows} rows", flush=True)
    print(f"counted {sum(count for _, count in counts)} RED violations", flush=True)

    try:
        s3_client.put_object(
            Bucket=out_bucket,
            Key=out_key,
            Body=format_output(counts).encode("utf-8"),
            ContentType="text/csv; charset=utf-8",
        )
    except (BotoCoreError, ClientError) as exc:
        print(f"error: cannot write {args.output}: {exc}", file=sys.stderr, flush=True)
        return EXIT_S3_ERROR
    print(f"wrote {len(counts)} restaurants to {args.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
