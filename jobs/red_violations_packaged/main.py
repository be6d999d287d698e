"""The red-violations count as a Python project: this entry point, two modules of its own (violations.columns,
violations.counting) and one third-party package (toolz, see requirements.txt).

`emr-autopilot jobs deploy` ships the modules as a zip (--py-files) and toolz in a packed virtual environment
(--archives ...#environment), so the count runs the same on EMR on EC2, EMR Serverless, EMR on EKS and the local
runtime, with nothing installed on the nodes:

spark-submit main.py --input s3://.../inspections.csv --output s3://.../out/
writes one CSV (with header name,total_red_violations) under --output, as red_violations_spark.py does.
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession
from violations.columns import required_columns
from violations.counting import red_counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    spark = SparkSession.builder.appName("red-violations-packaged").getOrCreate()
    # escape='"': standard CSV doubles quotes inside quoted fields; Spark's default is a backslash.
    rows = spark.read.option("header", True).option("escape", '"').option("multiLine", True).csv(args.input)
    name, violation_type = required_columns(rows.columns)
    counts = red_counts(rows, name, violation_type)
    # One file: the result is one row per restaurant, small by construction.
    counts.coalesce(1).write.mode("overwrite").option("header", True).option("escape", '"').csv(args.output)
    print(f"wrote {counts.count()} restaurants to {args.output}")
    spark.stop()


if __name__ == "__main__":
    main()
