"""The red-violations count as a PySpark application (spark-submit on EMR).

spark-submit red_violations_spark.py --input s3://.../inspections.csv --output s3://.../out/
writes one CSV (with header name,total_red_violations) under --output.
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    spark = SparkSession.builder.appName("red-violations").getOrCreate()
    # escape='"': standard CSV doubles quotes inside quoted fields; Spark's default is a backslash.
    rows = spark.read.option("header", True).option("escape", '"').option("multiLine", True).csv(args.input)
    columns = {name.strip().lower().lstrip("\ufeff"): name for name in rows.columns}
    missing = [name for name in ("name", "violation_type") if name not in columns]
    if missing:
        raise SystemExit(f"missing required column(s): {', '.join(missing)}; columns found: {', '.join(rows.columns)}")
    counts = (
        rows.where(F.upper(F.trim(F.col(columns["violation_type"]))) == "RED")
        .where(F.trim(F.col(columns["name"])) != "")
        .groupBy(F.trim(F.col(columns["name"])).alias("name"))
        .agg(F.count(F.lit(1)).alias("total_red_violations"))
        .orderBy(F.desc("total_red_violations"), F.asc("name"))
    )
    # One file: the result is one row per restaurant, small by construction.
    counts.coalesce(1).write.mode("overwrite").option("header", True).option("escape", '"').csv(args.output)
    print(f"wrote {counts.count()} restaurants to {args.output}")
    spark.stop()


if __name__ == "__main__":
    main()
