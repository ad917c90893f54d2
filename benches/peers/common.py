"""Shared parts of the peer aggregations (DuckDB and pandas) of `careplans import --all`.

Everything here is small and engine-independent: the command line, the areas and templates,
the month arithmetic, disclosure control and the published CSV files. The heavy work (reading
the extract, counting, rolling up) is each engine's own, so the timings compare the engines.

Plain Python only: the DuckDB peer must not need pandas (or numpy) to run.
"""

import os
import sys
import time
from pathlib import Path

import yaml

# The published measures, in the column order of the metrics files (src/model.rs, Measure).
MEASURES = (
    "active_plans",
    "new_plans",
    "views_las",
    "views_111",
    "views_ooh_gp",
    "views_ed",
    "views_gp",
    "deaths",
    "deaths_with_preference_recorded",
    "deaths_in_preferred_place",
    "cpr_decision_made",
    "preference_expressed",
    "plans_reviewed_last_12_months",
)
HEADER = "month,area_code,template," + ",".join(MEASURES) + "\n"

# Services as they appear in the extract, and the measure each one's views count towards.
SERVICES = {
    "las": "views_las",
    "111": "views_111",
    "ooh-gp": "views_ooh_gp",
    "ed": "views_ed",
    "gp": "views_gp",
}

ALL_TEMPLATES = "all"

# A plan counts as reviewed at the end of a month when it was created or updated in that month
# or the REVIEW_MONTHS - 1 before (src/extract/mod.rs, REVIEW_MONTHS).
REVIEW_MONTHS = 12

# careplans.toml [disclosure]: counts 1..THRESHOLD are suppressed, the rest rounded to BASE.
THRESHOLD = 7
BASE = 5

USAGE = "usage: {} EXTRACT_DIR AREAS_YAML TEMPLATES_DIR OUT_DIR"


class Areas:
    """Published areas in file order, and which boroughs add up to each.

    `order` is London, then the STP areas, then the boroughs, as areas.yaml lists them; that is
    the row order of the published files. `membership` pairs every area with each of its
    boroughs (a borough is its own single member), so an engine rolls up with one join.
    """

    def __init__(self, path):
        with open(path, encoding="utf-8") as file:
            doc = yaml.safe_load(file)
        london = doc["london"]["code"]
        stps = [stp["code"] for stp in doc.get("stp_areas") or []]
        boroughs = [(b["code"], b.get("stp")) for b in doc.get("boroughs") or []]
        self.order = [london] + stps + [code for code, _ in boroughs]
        self.membership = [(london, code) for code, _ in boroughs]
        for stp in stps:
            self.membership += [(stp, code) for code, parent in boroughs if parent == stp]
        self.membership += [(code, code) for code, _ in boroughs]


def template_ids(directory):
    """The `id` of every template file, sorted as careplans sorts them (by code point)."""
    ids = []
    for path in Path(directory).glob("*.yaml"):
        with open(path, encoding="utf-8") as file:
            ids.append(str(yaml.safe_load(file)["id"]))
    return sorted(ids)


def extract_files(directory):
    """(plans, events, format): Parquet when the extract has it, as it is cheaper to read."""
    directory = Path(directory)
    for suffix in ("parquet", "csv"):
        plans = directory / f"plans.{suffix}"
        events = directory / f"events.{suffix}"
        if plans.is_file() and events.is_file():
            return plans, events, suffix
    sys.exit(f"{directory} has neither plans/events.parquet nor plans/events.csv")


def month_index(text):
    """Months since year 0 of "2021-04" (or of a timestamp), as careplans numbers them."""
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def month_text(index):
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def publish(count):
    """A count as published: 0 stays, 1..THRESHOLD is "*", the rest rounded (halves up)."""
    if count == 0:
        return "0"
    if count <= THRESHOLD:
        return "*"
    return str((count + BASE // 2) // BASE * BASE)


def write_metrics(out_dir, first, last, areas, templates, rows):
    """Writes OUT_DIR/YYYY-MM.csv for every month first..last (month indexes, inclusive).

    `rows` yields (month index, area code, template or "all", *counts in MEASURES order), the
    unrounded rolled-up totals. Rows an engine leaves out (nothing counted) are published as
    zeros, since every area and template has a row every month.
    """
    totals = {}
    for row in rows:
        totals[(int(row[0]), row[1], row[2])] = row[3:]
    zeros = (0,) * len(MEASURES)
    columns = [ALL_TEMPLATES] + list(templates)
    os.makedirs(out_dir, exist_ok=True)
    for month in range(first, last + 1):
        label = month_text(month)
        lines = [HEADER]
        for area in areas.order:
            for template in columns:
                counts = totals.get((month, area, template), zeros)
                published = ",".join(publish(int(count)) for count in counts)
                lines.append(f"{label},{area},{template},{published}\n")
        # Binary mode, so the files end lines with "\n" on every platform, as careplans does.
        with open(Path(out_dir) / f"{label}.csv", "wb") as file:
            file.write("".join(lines).encode("utf-8"))


def parse_args(argv):
    if len(argv) != 5:
        sys.exit(USAGE.format(Path(argv[0]).name))
    return argv[1], argv[2], argv[3], argv[4]


def report(engine, started, aggregate_seconds):
    print(
        f"engine={engine} seconds_total={time.perf_counter() - started:.3f} "
        f"seconds_aggregate={aggregate_seconds:.3f}",
        file=sys.stderr,
    )
