"""RED violations per restaurant. The RED test is a Python function run on the executors, so they need this module
(from the project's zip) and toolz (from the packed environment): a job shipped without either fails there."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType
from toolz import compose_left

_normalised = compose_left(str.strip, str.upper)


def is_red(violation_type: str | None) -> bool:
    return violation_type is not None and _normalised(violation_type) == "RED"


def red_counts(rows: DataFrame, name: str, violation_type: str) -> DataFrame:
    """(name, total_red_violations), most violations first, then by name."""
    red = F.udf(is_red, BooleanType())
    return (
        rows.where(red(F.col(violation_type)))
        .where(F.trim(F.col(name)) != "")
        .groupBy(F.trim(F.col(name)).alias("name"))
        .agg(F.count(F.lit(1)).alias("total_red_violations"))
        .orderBy(F.desc("total_red_violations"), F.asc("name"))
    )
