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

Prints `engine=pandas seconds_total=... seconds_aggregate=...` on stderr.
"""

import sys
import time

import common

PLAN_COLUMNS = [
    "plan_id",
    "borough_code",
    "template_id",
    "created",
    "last_updated",
    "status",
    "cpr_decision_recorded",
    "preferred_place_of_death_recorded",
    "died_month",
    "died_in_preferred_place",
]
EVENT_COLUMNS = ["plan_id", "timestamp", "service", "kind"]
KEYS = ["borough", "template", "month"]

# Stands in for "never" (no death, not archived): a month later than any window's last.
NEVER = common.month_index("9999-12")


def read(pd, path, kind, columns):
    """One extract file, every column as text and missing cells as empty strings."""
    if kind == "parquet":
        frame = pd.read_parquet(path, columns=columns)
    else:
        # pyarrow's reader parses on every core; pandas' own C reader uses one.
        frame = pd.read_csv(
            path, usecols=columns, dtype=str, engine="pyarrow", keep_default_na=False
        )
    return frame.fillna("")


def month_index(texts):
    """Month indexes of "YYYY-MM..." texts, in careplans' numbering (common.month_index)."""
    return (
        texts.str.slice(0, 4).astype("int32") * 12
        + texts.str.slice(5, 7).astype("int32")
        - 1
    )


def plan_measures(pd, plans, first, last):
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

    in_window = created.between(first, last)
    births = (
        plans[in_window]
        .groupby(["borough", "template", created[in_window].rename("month")], observed=True)
        .size()
        .rename("new_plans")
    )
    dead = plans[plans["died"].between(first, last)].rename(columns={"died": "month"})
    deaths = dead.groupby(KEYS, observed=True).agg(
        deaths=("dipp", "size"), deaths_in_preferred_place=("dipp", "sum")
    )
    return [active, births.to_frame(), deaths]


def aggregate(pd, plans_path, events_path, kind, areas, templates):
    """(first month, last month, rolled-up unrounded rows) for common.write_metrics."""
    raw = read(pd, plans_path, kind, PLAN_COLUMNS)
    # Category codes make the many group-bys below cheap; there are few boroughs/templates.
    plans = pd.DataFrame(
        {
            "plan_id": raw["plan_id"],
            "borough": raw["borough_code"].astype("category"),
            "template": raw["template_id"].astype("category"),
            "created": month_index(raw["created"]),
            "cpr": raw["cpr_decision_recorded"] == "true",
            "ppd": raw["preferred_place_of_death_recorded"] == "true",
            "dipp": raw["died_in_preferred_place"] == "true",
        }
    )
    has_died = raw["died_month"] != ""
    plans["died"] = month_index(raw["died_month"].where(has_died, "9999-12"))
    archived = raw["last_updated"].where(raw["status"] == "archived", "9999-12")
    plans["ended"] = plans["died"].where(has_died, month_index(archived))
    del raw

    events = read(pd, events_path, kind, EVENT_COLUMNS)
    # Every event sets the window, whatever its kind or plan. Timestamps are fixed-width, so
    # the smallest text is the earliest.
    stamps = events["timestamp"]
    first = common.month_index(stamps.min()) if len(stamps) else None
    last = common.month_index(stamps.max()) if len(stamps) else None
    if first is None:
        sys.exit("the extract has no events")
    views = events.loc[events["kind"] == "view", ["plan_id", "timestamp", "service"]]
    del events, stamps
    views = views.assign(
        month=month_index(views["timestamp"]),
        service=views["service"].astype("category"),
    ).drop(columns="timestamp")
    # An inner join, as careplans': views of plans not in the extract count nowhere.
    views = views.merge(plans[["plan_id", "borough", "template"]], on="plan_id")
    views = (
        views.groupby(KEYS + ["service"], observed=True)
        .size()
        .unstack("service", fill_value=0)
        .reindex(columns=list(common.SERVICES), fill_value=0)
        .rename(columns=common.SERVICES)
    )

    parts = plan_measures(pd, plans, first, last) + [views]
    # Back to plain text keys: the frames are small now, and the rollup joins on text.
    cells = (
        pd.concat([part.reset_index().astype({"borough": str, "template": str}) for part in parts])
        .fillna(0)
        .groupby(KEYS)[list(common.MEASURES)]
        .sum()
        .reset_index()
    )

    # Rolled up from the unrounded counts; the inner joins drop boroughs and templates the
    # records do not know, as careplans does.
    membership = pd.DataFrame(areas.membership, columns=["area_code", "borough"])
    known = cells[cells["template"].isin(templates)].merge(membership, on="borough")
    by_template = known.groupby(["month", "area_code", "template"])[list(common.MEASURES)].sum()
    all_templates = (
        known.groupby(["month", "area_code"])[list(common.MEASURES)]
        .sum()
        .assign(template=common.ALL_TEMPLATES)
        .set_index("template", append=True)
    )
    rolled = pd.concat([by_template, all_templates]).reset_index()
    columns = ["month", "area_code", "template"] + list(common.MEASURES)
    rows = rolled[columns].astype({m: "int64" for m in common.MEASURES}).itertuples(
        index=False, name=None
    )
    return first, last, list(rows)


def main(argv):
    started = time.perf_counter()
    # Imported here so seconds_total includes the engine's start-up, as a CLI's run does.
    import pandas as pd

    extract_dir, areas_path, templates_dir, out_dir = common.parse_args(argv)
    areas = common.Areas(areas_path)
    templates = common.template_ids(templates_dir)
    plans_path, events_path, kind = common.extract_files(extract_dir)

    aggregate_started = time.perf_counter()
    first, last, rows = aggregate(pd, plans_path, events_path, kind, areas, templates)
    aggregate_seconds = time.perf_counter() - aggregate_started

    common.write_metrics(out_dir, first, last, areas, templates, rows)
    common.report("pandas", started, aggregate_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
