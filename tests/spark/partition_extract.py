"""Lays a flat extract out as a cluster holds it, for deploy/spark/counts.py.

    python partition_extract.py FLAT_DIR OUT_DIR

FLAT_DIR holds plans and events as `careplans synth --out` writes them (Parquet if
plans.parquet is there, else CSV). OUT_DIR gets them partitioned Hive style, every column text:

    OUT_DIR/plans/created=YYYY-MM/part-0.parquet    the plans without `created` (it is the path)
    OUT_DIR/events/month=YYYY-MM/part-0.parquet     the events with all their columns, by the
                                                    month of `timestamp`

The tables are streamed batch by batch, so memory stays bounded whatever their size.
"""

import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.dataset
import pyarrow.parquet

PLANS_COLUMNS = [
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
]
EVENTS_COLUMNS = ["plan_id", "timestamp", "service", "kind"]
BATCH_ROWS = 1 << 20


def batches(path, columns):
    """The table at `path` (Parquet or CSV) in record batches of plain text columns."""
    if path.suffix == ".parquet":
        source = pyarrow.parquet.ParquetFile(path).iter_batches(
            batch_size=BATCH_ROWS, columns=columns
        )
    else:
        source = pyarrow.csv.open_csv(
            path,
            convert_options=pyarrow.csv.ConvertOptions(
                include_columns=columns,
                column_types={name: pa.string() for name in columns},
                strings_can_be_null=False,
            ),
        )
    # Plain strings (synth writes Arrow string views), which every Parquet reader knows.
    schema = pa.schema([(name, pa.string()) for name in columns])
    for batch in source:
        yield pa.RecordBatch.from_arrays(
            [batch.column(name).cast(pa.string()) for name in columns], schema=schema
        )


def write_partitioned(batches_in, schema, key, out):
    """Writes batches into out/KEY=value/part-N.parquet, the key column in the path only."""
    pyarrow.dataset.write_dataset(
        pa.RecordBatchReader.from_batches(schema, batches_in),
        out,
        format="parquet",
        partitioning=pyarrow.dataset.partitioning(
            pa.schema([(key, pa.string())]), flavor="hive"
        ),
        basename_template="part-{i}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        max_partitions=100_000,
    )


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: python partition_extract.py FLAT_DIR OUT_DIR")
    flat, out = Path(argv[1]), Path(argv[2])
    suffix = "parquet" if (flat / "plans.parquet").is_file() else "csv"
    plans, events = flat / f"plans.{suffix}", flat / f"events.{suffix}"
    if not plans.is_file() or not events.is_file():
        sys.exit(f"{flat} has neither plans/events.parquet nor plans/events.csv")
    for table in ("plans", "events"):
        shutil.rmtree(out / table, ignore_errors=True)

    plan_schema = pa.schema([(name, pa.string()) for name in PLANS_COLUMNS])
    write_partitioned(batches(plans, PLANS_COLUMNS), plan_schema, "created", out / "plans")

    # The events keep every column; `month` is added for the path and lives only there.
    event_schema = pa.schema([(name, pa.string()) for name in EVENTS_COLUMNS + ["month"]])

    def with_month(source):
        for batch in source:
            month = pc.utf8_slice_codeunits(batch.column("timestamp"), 0, 7)
            yield pa.RecordBatch.from_arrays(
                batch.columns + [month], schema=event_schema
            )

    write_partitioned(
        with_month(batches(events, EVENTS_COLUMNS)), event_schema, "month", out / "events"
    )
    months = sorted(p.name for p in (out / "events").iterdir())
    print(
        f"partitioned {flat} into {out}: {len(list((out / 'plans').iterdir()))} created= and "
        f"{len(months)} month= folders",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
