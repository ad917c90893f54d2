"""The floor under `careplans import`: read every value of every column import reads from the
same extract files and do nothing else with them.

    python bare_scan.py duckdb|polars EXTRACT_DIR

A bare row count would be answered from the Parquet footer without reading a value, so each
engine sums the lengths of every column of `plans` and `events` (import reads and checks them
all; the extract's columns are all text): every page is read, decompressed and decoded, and
nothing is grouped, joined or written. Prints the total on stdout, so both engines can be seen to have read the same values.
"""

import sys
from pathlib import Path


def duckdb_scan(extract):
    import duckdb

    def total(path):
        name = str(path).replace("'", "''")
        table = f"read_parquet('{name}')"
        columns = duckdb.sql(f"SELECT * FROM {table}").columns
        lengths = " + ".join(f'coalesce(sum(length("{c}")), 0)' for c in columns)
        return duckdb.sql(f"SELECT {lengths} FROM {table}").fetchall()[0][0]

    return total(extract / "plans.parquet") + total(extract / "events.parquet")


def polars_scan(extract):
    import polars as pl

    def total(path):
        table = pl.scan_parquet(path)
        columns = table.collect_schema().names()
        lengths = pl.sum_horizontal(
            pl.col(c).str.len_bytes().cast(pl.UInt64).sum() for c in columns
        )
        return table.select(lengths).collect(engine="streaming").item()

    return total(extract / "plans.parquet") + total(extract / "events.parquet")


def main():
    engine, extract = sys.argv[1], Path(sys.argv[2])
    scan = {"duckdb": duckdb_scan, "polars": polars_scan}[engine]
    print(scan(extract))


if __name__ == "__main__":
    main()
