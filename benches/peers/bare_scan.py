"""The floor under `careplans import`: read every value of every column import reads from the
same extract files and do nothing else with them.

    python bare_scan.py duckdb|polars EXTRACT_DIR

A bare row count would be answered from the Parquet footer without reading a value, so each
engine sums the lengths of every text column of `plans` and `events` (the extract's columns are
all text): every page is read, decompressed and decoded, and nothing is grouped, joined or
written. Prints the total on stdout, so both engines can be seen to have read the same values.
"""

import sys
from pathlib import Path

PLANS = (
    "plan_id",
    "borough_code",
    "template_id",
    "age_band",
    "created",
    "last_updated",
    "status",
    "cpr_decision_made",
    "preference_expressed",
    "died_month",
    "died_in_preferred_place",
    "earlier_template_id",
    "template_changed",
)
EVENTS = ("plan_id", "timestamp", "service", "kind")


def duckdb_scan(extract):
    import duckdb

    def total(path, columns):
        lengths = " + ".join(f"coalesce(sum(length({c})), 0)" for c in columns)
        name = str(path).replace("'", "''")
        return duckdb.sql(f"SELECT {lengths} FROM read_parquet('{name}')").fetchall()[0][0]

    return total(extract / "plans.parquet", PLANS) + total(extract / "events.parquet", EVENTS)


def polars_scan(extract):
    import polars as pl

    def total(path, columns):
        lengths = pl.sum_horizontal(pl.col(c).str.len_bytes().cast(pl.UInt64).sum() for c in columns)
        return pl.scan_parquet(path).select(lengths).collect(engine="streaming").item()

    return total(extract / "plans.parquet", PLANS) + total(extract / "events.parquet", EVENTS)


def main():
    engine, extract = sys.argv[1], Path(sys.argv[2])
    scan = {"duckdb": duckdb_scan, "polars": polars_scan}[engine]
    print(scan(extract))


if __name__ == "__main__":
    main()
