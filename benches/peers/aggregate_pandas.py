"""Peer of `careplans import --all` in pandas, for timing the same work on the same files.

    python aggregate_pandas.py EXTRACT_DIR AREAS_YAML TEMPLATES_DIR OUT_DIR

Reads a record-level extract (plans and events, Parquet if present, else CSV; every column
text) and writes OUT_DIR/YYYY-MM.csv for every month from the first to the last month of any
event, byte for byte what `careplans import` publishes. Per borough, template and month it
counts new plans, active plans (created by the end of the month and not yet ended, where a
plan ends in the month its person died, else, if archived, in its last_updated month), those
with a CPR decision and with a preferred place of death recorded, deaths and deaths in the
preferred place, and views by each service (events joined to their plan). It adds the
unrounded counts up to STP areas, London and all templates, then suppresses counts of 1..7 and
rounds the rest to the nearest 5 (common.py).

Plan ids must be unique (careplans would count a view once per plan row with its id).

Prints `engine=pandas seconds_total=... seconds_aggregate=...` on stderr.
"""

import sys
import time

# Taken before the engine's import, so seconds_total includes its start-up as a CLI's does.
STARTED = time.perf_counter()

import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv  # noqa: E402
import pyarrow.parquet  # noqa: E402

import common  # noqa: E402

# The plan columns read and their types. Columns of few distinct values are categories: a
# byte or two a row instead of a string, and cheap to compare and group by. Closed
# vocabularies are spelt out, or pandas would infer "true"/"false" as booleans; careplans has
# checked the extract, so no other value occurs.
FLAG = pd.CategoricalDtype(["false", "true"])
PLAN_COLUMNS = {
    "plan_id": str,
    "borough_code": "category",
    "template_id": "category",
    "created": "category",
    "last_updated": "category",
    "status": pd.CategoricalDtype(["active", "deceased", "archived"]),
    "cpr_decision_recorded": FLAG,
    "preferred_place_of_death_recorded": FLAG,
    "died_month": "category",
    "died_in_preferred_place": FLAG,
}
CATEGORIES = [name for name, dtype in PLAN_COLUMNS.items() if dtype is not str]
# The events' columns, read by pyarrow directly (see event_batches): services and kinds as
# dictionaries, which become categories, then with a fixed set of them for every batch.
EVENT_COLUMNS = ["plan_id", "timestamp", "service", "kind"]
EVENT_DICTIONARIES = ["service", "kind"]
SERVICE = pd.CategoricalDtype(list(common.SERVICES))

# Events are read in batches of about this size, so memory does not grow with their number.
CSV_BLOCK_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 1 << 21

KEYS = ["borough", "template", "month"]

# Stands in for "never" (no death, not archived): a month later than any window's last.
NEVER = common.month_index("9999-12")


def read_plans(path, kind):
    """The plans with the PLAN_COLUMNS types; a missing cell is an empty text."""
    if kind == "parquet":
        # Dictionary columns become categories directly, rather than strings converted.
        frame = pd.read_parquet(
            path, columns=list(PLAN_COLUMNS), read_dictionary=CATEGORIES
        ).astype(PLAN_COLUMNS)
    else:
        # pyarrow's reader parses on every core; pandas' own C reader uses one.
        frame = pd.read_csv(
            path,
            usecols=list(PLAN_COLUMNS),
            dtype=PLAN_COLUMNS,
            engine="pyarrow",
            keep_default_na=False,
        )
    # A null (Parquet) means the same as an empty cell (CSV), as in careplans.
    for name in frame.columns[frame.isna().any()]:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) and "" not in column.cat.categories:
            column = column.cat.add_categories("")
        frame[name] = column.fillna("")
    return frame


def event_batches(path, kind):
    """The events as a sequence of pandas frames, every column text.

    pandas reads either format through pyarrow; its streaming readers bound memory by a
    batch rather than the file, which 100 million events would not fit in.
    """
    if kind == "parquet":
        batches = pyarrow.parquet.ParquetFile(
            path, read_dictionary=EVENT_DICTIONARIES
        ).iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=EVENT_COLUMNS)
    else:
        types = {name: pa.string() for name in EVENT_COLUMNS}
        types.update(dict.fromkeys(EVENT_DICTIONARIES, pa.dictionary(pa.int32(), pa.string())))
        batches = pyarrow.csv.open_csv(
            path,
            read_options=pyarrow.csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=pyarrow.csv.ConvertOptions(
                include_columns=EVENT_COLUMNS, column_types=types
            ),
        )
    for batch in batches:
        yield batch.to_pandas().astype({"service": SERVICE})


def month_index(texts):
    """Month indexes of "YYYY-MM..." texts (common.month_index); an empty text is NEVER.

    Through categories: an extract has only a few hundred distinct months, so each is
    parsed once rather than once a row.
    """
    if not isinstance(texts.dtype, pd.CategoricalDtype):
        texts = texts.str.slice(0, 7).astype("category")
    lookup = {m: common.month_index(m) if m else NEVER for m in texts.cat.categories}
    return texts.map(lookup).astype("int32")


def plan_frame(raw):
    """The plans as the counts need them: categories, month indexes and flags."""
    plans = pd.DataFrame(
        {
            "plan_id": raw["plan_id"],
            "borough": raw["borough_code"],
            "template": raw["template_id"],
            "created": month_index(raw["created"]),
            "died": month_index(raw["died_month"]),
            "cpr": raw["cpr_decision_recorded"] == "true",
            "ppd": raw["preferred_place_of_death_recorded"] == "true",
            "dipp": raw["died_in_preferred_place"] == "true",
        }
    )
    archived = month_index(raw["last_updated"]).where(raw["status"] == "archived", NEVER)
    plans["ended"] = plans["died"].where(plans["died"] != NEVER, archived)
    return plans


def view_measures(path, kind, plans):
    """(first month, last month, views per KEYS by service), reading the events once."""
    plan_rows = pd.Index(plans["plan_id"])
    if not plan_rows.is_unique:
        sys.exit("plan ids are not unique; this peer needs them to be")
    cells = plans[["borough", "template"]]
    first = last = None
    parts = []
    for events in event_batches(path, kind):
        if events.empty:
            continue
        # Every event sets the window, whatever its kind or plan. Timestamps are
        # fixed-width, so the smallest text is the earliest.
        low, high = events["timestamp"].min(), events["timestamp"].max()
        first = low if first is None else min(first, low)
        last = high if last is None else max(last, high)
        views = events[events["kind"] == "view"]
        # A hash lookup in the plans' index (built once), where a merge would hash all
        # the plans again for every batch.
        rows = plan_rows.get_indexer(views["plan_id"])
        # As careplans' inner join: views of plans not in the extract count nowhere.
        known = rows >= 0
        views = cells.take(rows[known]).assign(
            month=month_index(views["timestamp"][known]).to_numpy(),
            service=views["service"][known].array,
        )
        parts.append(views.groupby(KEYS + ["service"], observed=True).size())
    if first is None:
        sys.exit("the extract has no events")
    counts = (
        pd.concat(parts)
        .groupby(level=KEYS + ["service"], observed=True)
        .sum()
        .unstack("service", fill_value=0)
        .reindex(columns=list(common.SERVICES), fill_value=0)
        .rename(columns=common.SERVICES)
    )
    return common.month_index(first), common.month_index(last), counts


def plan_measures(plans, first, last):
    """Active, CPR and preferred place recorded, new plans and deaths per KEYS, unrounded."""
    months = pd.RangeIndex(first, last + 1, name="month")
    created = plans["created"]

    # Active plans as a running total of starts minus ends, so no plan is expanded month by
    # month. A plan that ends before it starts is never active, hence ends no earlier than
    # created; changes before the window land on its first month so the total starts with
    # the plans already live.
    counted = ["live", "cpr", "ppd"]
    one = plans[["borough", "template"]].assign(
        live=1, cpr=plans["cpr"].astype("int64"), ppd=plans["ppd"].astype("int64")
    )
    starts = one.assign(month=created.clip(lower=first))
    ends = one.assign(month=plans["ended"].clip(lower=created).clip(lower=first))
    ends = ends[ends["month"] <= last]
    ends[counted] *= -1
    deltas = pd.concat([starts[starts["month"] <= last], ends], ignore_index=True)
    changes = deltas.groupby(KEYS, observed=True)[counted].sum()
    # Every borough and template with plans gets every month, with or without changes, in
    # month order for the running total.
    cells = plans[["borough", "template"]].drop_duplicates()
    grid = pd.MultiIndex.from_frame(cells.merge(months.to_frame(), how="cross"))
    active = (
        changes.reindex(grid, fill_value=0)
        .groupby(level=["borough", "template"], observed=True)
        .cumsum()
    )
    active.columns = ["active_plans", "cpr_recorded", "preferred_place_recorded"]

    born = plans.loc[created.between(first, last), ["borough", "template", "created"]]
    births = (
        born.rename(columns={"created": "month"})
        .groupby(KEYS, observed=True)
        .size()
        .rename("new_plans")
    )
    dead = plans.loc[plans["died"].between(first, last), ["borough", "template", "died", "dipp"]]
    deaths = (
        dead.rename(columns={"died": "month"})
        .groupby(KEYS, observed=True)
        .agg(deaths=("dipp", "size"), deaths_in_preferred_place=("dipp", "sum"))
    )
    return [active, births.to_frame(), deaths]


def roll_up(parts, areas, templates):
    """Unrounded totals per month, area and template (and "all"), as rows of plain values."""
    measures = list(common.MEASURES)
    # Back to plain text keys: the frames are small now, and the rollup joins on text.
    cells = (
        pd.concat([part.reset_index().astype({"borough": str, "template": str}) for part in parts])
        .fillna(0)
        .groupby(KEYS)[measures]
        .sum()
        .reset_index()
    )
    # From the unrounded counts; the inner joins drop boroughs and templates the records do
    # not know, as careplans does.
    membership = pd.DataFrame(areas.membership, columns=["area_code", "borough"])
    known = cells[cells["template"].isin(templates)].merge(membership, on="borough")
    by_template = known.groupby(["month", "area_code", "template"])[measures].sum()
    all_templates = (
        known.groupby(["month", "area_code"])[measures]
        .sum()
        .assign(template=common.ALL_TEMPLATES)
        .set_index("template", append=True)
    )
    rolled = pd.concat([by_template, all_templates]).reset_index()
    rolled = rolled[["month", "area_code", "template"] + measures]
    return list(rolled.astype(dict.fromkeys(measures, "int64")).itertuples(index=False, name=None))


def aggregate(plans_path, events_path, kind, areas, templates):
    """(first month, last month, rolled-up unrounded rows) for common.write_metrics."""
    plans = plan_frame(read_plans(plans_path, kind))
    first, last, views = view_measures(events_path, kind, plans)
    parts = plan_measures(plans, first, last) + [views]
    return first, last, roll_up(parts, areas, templates)


def main(argv):
    extract_dir, areas_path, templates_dir, out_dir = common.parse_args(argv)
    areas = common.Areas(areas_path)
    templates = common.template_ids(templates_dir)
    plans_path, events_path, kind = common.extract_files(extract_dir)

    aggregate_started = time.perf_counter()
    first, last, rows = aggregate(plans_path, events_path, kind, areas, templates)
    aggregate_seconds = time.perf_counter() - aggregate_started

    common.write_metrics(out_dir, first, last, areas, templates, rows)
    common.report("pandas", STARTED, aggregate_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
