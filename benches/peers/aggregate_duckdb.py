"""Peer of `careplans import --all` in DuckDB SQL, for timing the same work on the same files.

    python aggregate_duckdb.py EXTRACT_DIR AREAS_YAML TEMPLATES_DIR OUT_DIR

Reads a record-level extract (plans and events, Parquet if present, else CSV; every column
text) and writes OUT_DIR/YYYY-MM.csv for every month from the first to the last month of any
event, byte for byte what `careplans import` publishes. Per borough, template and month it
counts new plans, active plans (created by the end of the month and not yet ended, where a
plan ends in the month its person died, else, if archived, in its last_updated month), those
with a CPR decision and with a preferred place of death recorded, deaths and deaths in the
preferred place, and views by each service (events joined to their plan). It adds the
unrounded counts up to STP areas, London and all templates, then suppresses counts of 1..7 and
rounds the rest to the nearest 5 (common.py).

Prints `engine=duckdb seconds_total=... seconds_aggregate=...` on stderr.
"""

import sys
import time

# Taken before the engine's import, so seconds_total includes its start-up as a CLI's does.
STARTED = time.perf_counter()

import duckdb  # noqa: E402

import common  # noqa: E402


def source(path, kind):
    """A table function reading one extract file with every column as text."""
    name = str(path).replace("'", "''")
    if kind == "parquet":
        return f"read_parquet('{name}')"
    # An explicit dialect, so the sniffer cannot guess differently on an unusual sample.
    return f"read_csv('{name}', header = true, delim = ',', quote = '\"', all_varchar = true)"


# Unrounded counts per borough, template and month of the window, one measure or a few a
# row (UNION ALL BY NAME leaves the others NULL), from the `plans` and `views` tables.
# Parameters: $first, $last (month indexes).
CELL_MEASURES = """
WITH
months AS (SELECT range AS month FROM range($first, $last + 1)),
cells AS (SELECT DISTINCT borough, template FROM plans),
-- Active plans as a running total of starts minus ends. A plan that ends before it starts is
-- never active, hence ends no earlier than created; changes before the window land on its
-- first month so the total starts with the plans already live.
deltas AS (
    SELECT borough, template, greatest(created, $first) AS month,
           1 AS live, cpr::INTEGER AS cpr, ppd::INTEGER AS ppd
    FROM plans
    UNION ALL
    SELECT borough, template, greatest(ended, created, $first),
           -1, -cpr::INTEGER, -ppd::INTEGER
    FROM plans
    WHERE ended IS NOT NULL
),
changes AS (
    SELECT borough, template, month,
           sum(live) AS live, sum(cpr) AS cpr, sum(ppd) AS ppd
    FROM deltas
    WHERE month <= $last
    GROUP BY ALL
),
active AS (
    SELECT borough, template, month,
           sum(coalesce(live, 0)) OVER running AS active_plans,
           sum(coalesce(cpr, 0)) OVER running AS cpr_recorded,
           sum(coalesce(ppd, 0)) OVER running AS preferred_place_recorded
    FROM cells CROSS JOIN months
    LEFT JOIN changes USING (borough, template, month)
    WINDOW running AS (PARTITION BY borough, template ORDER BY month
                       ROWS UNBOUNDED PRECEDING)
),
births AS (
    SELECT borough, template, created AS month, count(*) AS new_plans
    FROM plans
    WHERE created BETWEEN $first AND $last
    GROUP BY ALL
),
deaths AS (
    SELECT borough, template, died AS month, count(*) AS deaths,
           count(*) FILTER (WHERE dipp) AS deaths_in_preferred_place
    FROM plans
    WHERE died BETWEEN $first AND $last
    GROUP BY ALL
)
SELECT * FROM active
UNION ALL BY NAME SELECT * FROM births
UNION ALL BY NAME SELECT * FROM deaths
UNION ALL BY NAME SELECT * FROM views WHERE borough IS NOT NULL
"""


def aggregate(con, plans_path, events_path, kind, areas, templates):
    """(first month, last month, rolled-up unrounded rows) for common.write_metrics."""
    con.execute(
        "CREATE MACRO month_index(s) AS "
        "CAST(substr(s, 1, 4) AS INTEGER) * 12 + CAST(substr(s, 6, 2) AS INTEGER) - 1"
    )
    # Plans are read once into the columns the counts need; both the plan measures and the
    # events' join use them, and a CSV is expensive to parse twice.
    con.execute(f"""
        CREATE TEMP TABLE plans AS
        SELECT plan_id,
               borough_code AS borough,
               template_id AS template,
               month_index(created) AS created,
               CASE WHEN coalesce(died_month, '') <> '' THEN month_index(died_month)
                    WHEN status = 'archived' THEN month_index(last_updated)
               END AS ended,
               CASE WHEN coalesce(died_month, '') <> '' THEN month_index(died_month)
               END AS died,
               cpr_decision_recorded = 'true' AS cpr,
               preferred_place_of_death_recorded = 'true' AS ppd,
               died_in_preferred_place = 'true' AS dipp
        FROM {source(plans_path, kind)}
    """)
    # One pass over the events gives both the month window (every event counts, whatever
    # its kind or plan) and the views; events of unknown plans keep a NULL borough.
    filters = ",\n".join(
        f"count(*) FILTER (WHERE kind = 'view' AND service = '{service}') AS {measure}"
        for service, measure in common.SERVICES.items()
    )
    con.execute(f"""
        CREATE TEMP TABLE views AS
        SELECT p.borough, p.template, month_index(e.timestamp) AS month,
               {filters}
        FROM {source(events_path, kind)} AS e
        LEFT JOIN plans AS p USING (plan_id)
        GROUP BY ALL
    """)
    first, last = con.execute("SELECT min(month), max(month) FROM views").fetchone()
    if first is None:
        sys.exit("the extract has no events")

    con.execute("CREATE TEMP TABLE membership (area_code VARCHAR, borough VARCHAR)")
    con.executemany("INSERT INTO membership VALUES (?, ?)", areas.membership)
    con.execute("CREATE TEMP TABLE templates (template VARCHAR)")
    con.executemany("INSERT INTO templates VALUES (?)", [[t] for t in templates])

    # Rolled up from the unrounded counts; the inner joins drop boroughs and templates the
    # records do not know, as careplans does.
    sums = ",\n".join(f"sum(coalesce({m}, 0))::BIGINT" for m in common.MEASURES)
    rows = con.execute(
        f"""
        WITH measures AS ({CELL_MEASURES})
        SELECT month, area_code,
               CASE WHEN grouping(template) = 1 THEN '{common.ALL_TEMPLATES}'
                    ELSE template END,
               {sums}
        FROM measures
        JOIN membership USING (borough)
        JOIN templates USING (template)
        GROUP BY GROUPING SETS ((month, area_code, template), (month, area_code))
        """,
        {"first": first, "last": last},
    ).fetchall()
    return first, last, rows


def main(argv):
    extract_dir, areas_path, templates_dir, out_dir = common.parse_args(argv)
    areas = common.Areas(areas_path)
    templates = common.template_ids(templates_dir)
    plans_path, events_path, kind = common.extract_files(extract_dir)

    aggregate_started = time.perf_counter()
    con = duckdb.connect()
    first, last, rows = aggregate(con, plans_path, events_path, kind, areas, templates)
    con.close()
    aggregate_seconds = time.perf_counter() - aggregate_started

    common.write_metrics(out_dir, first, last, areas, templates, rows)
    common.report("duckdb", STARTED, aggregate_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
