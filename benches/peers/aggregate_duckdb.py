"""Peer of `careplans import --all` in DuckDB SQL, for timing the same work on the same files.

    python aggregate_duckdb.py EXTRACT_DIR AREAS_YAML TEMPLATES_DIR OUT_DIR

Reads a record-level extract (plans and events, Parquet if present, else CSV; every column
text) and writes OUT_DIR/YYYY-MM.csv for every month from the first to the last month in which
any plan was viewed, byte for byte what `careplans import` publishes. It counts per borough,
template and month, as `aggregate_extract` in src/import/extract.rs does:

* a plan whose template changed (`earlier_template_id`, `template_changed`) is two episodes, the
  earlier template's from `created` up to the change and `template_id`'s from the change on; it
  is a new plan only in `created`, in the earlier template; deaths and views count in the
  template of their month;
* a plan is live at the end of a month from `created` until it ends (in `died_month` if set,
  else, if archived, in `last_updated`); active plans, those with a CPR decision made and with
  a preference expressed are running totals of episodes starting minus episodes stopping;
* deaths, those with a preference expressed and those in the preferred place;
* views by each service (events joined to their plan);
* plans reviewed in the last 12 months: live plans created or updated in that month or the 11
  before, across a template change. Each plan's reviews are split into stretches less than 12
  months apart (window functions), each covering its first review to 12 months after its last.

It adds the unrounded counts up to STP areas, London and all templates, then suppresses counts
of 1..7 and rounds the rest to the nearest 5 (common.py).

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
# row (UNION ALL BY NAME leaves the others NULL), from the `plans` and `views` tables and the
# update events. Parameters: $first, $last (month indexes).
CELL_MEASURES = """
WITH
months AS (SELECT range AS month FROM range($first, $last + 1)),
-- Each plan in each template it used: the earlier one up to the change, then the current one.
episodes AS (
    SELECT plan_id, borough, first_template AS template, created AS start,
           coalesce(changed, ended) AS stop, cpr, pref
    FROM plans
    UNION ALL
    SELECT plan_id, borough, template_id, changed, ended, cpr, pref
    FROM plans
    WHERE changed IS NOT NULL
),
-- Reviews: the month a plan was created and every month it was updated.
reviews AS (
    SELECT plan_id, created AS month FROM plans
    UNION
    SELECT plan_id, month_index(timestamp) FROM {updates} WHERE kind = 'update'
),
gaps AS (
    SELECT plan_id, month,
           coalesce(month - lag(month) OVER (PARTITION BY plan_id ORDER BY month),
                    {review_months} + 1) > {review_months} AS opens
    FROM reviews
),
stretches AS (
    SELECT plan_id, min(month) AS covered_from, max(month) + {review_months} AS covered_until
    FROM (SELECT plan_id, month,
                 sum(opens::INTEGER) OVER (PARTITION BY plan_id ORDER BY month
                                           ROWS UNBOUNDED PRECEDING) AS stretch
          FROM gaps)
    GROUP BY plan_id, stretch
),
-- Where a stretch meets an episode, the plan counts as reviewed in that episode's template.
covered AS (
    SELECT borough, template,
           greatest(covered_from, start) AS since,
           CASE WHEN stop IS NULL THEN covered_until ELSE least(covered_until, stop) END AS until
    FROM stretches JOIN episodes USING (plan_id)
),
-- The live measures as running totals of what starts minus what stops. Changes before the
-- window land on its first month, so the totals start with what was already live.
deltas AS (
    SELECT borough, template, start AS month,
           1 AS live, cpr::INTEGER AS cpr, pref::INTEGER AS pref, 0 AS reviewed
    FROM episodes
    UNION ALL
    SELECT borough, template, stop, -1, -cpr::INTEGER, -pref::INTEGER, 0
    FROM episodes
    WHERE stop IS NOT NULL
    UNION ALL
    SELECT borough, template, since, 0, 0, 0, 1 FROM covered WHERE since < until
    UNION ALL
    SELECT borough, template, until, 0, 0, 0, -1 FROM covered WHERE since < until
),
changes AS (
    SELECT borough, template, greatest(month, $first) AS month,
           sum(live) AS live, sum(cpr) AS cpr, sum(pref) AS pref, sum(reviewed) AS reviewed
    FROM deltas
    WHERE month <= $last
    GROUP BY ALL
),
cells AS (SELECT DISTINCT borough, template FROM changes),
running AS (
    SELECT borough, template, month,
           sum(coalesce(live, 0)) OVER totals AS live,
           sum(coalesce(cpr, 0)) OVER totals AS cpr,
           sum(coalesce(pref, 0)) OVER totals AS pref,
           sum(coalesce(reviewed, 0)) OVER totals AS reviewed
    FROM cells CROSS JOIN months
    LEFT JOIN changes USING (borough, template, month)
    WINDOW totals AS (PARTITION BY borough, template ORDER BY month ROWS UNBOUNDED PRECEDING)
),
-- As careplans, a total that an inconsistent plan would take below zero counts as zero.
active AS (
    SELECT borough, template, month,
           greatest(live, 0) AS active_plans,
           greatest(cpr, 0) AS cpr_decision_made,
           greatest(pref, 0) AS preference_expressed,
           greatest(reviewed, 0) AS plans_reviewed_last_12_months
    FROM running
),
births AS (
    SELECT borough, first_template AS template, created AS month, count(*) AS new_plans
    FROM plans
    WHERE created BETWEEN $first AND $last
    GROUP BY ALL
),
deaths AS (
    SELECT borough,
           CASE WHEN died >= changed THEN template_id ELSE first_template END AS template,
           died AS month,
           count(*) AS deaths,
           count(*) FILTER (WHERE pref) AS deaths_with_preference_recorded,
           count(*) FILTER (WHERE dipp) AS deaths_in_preferred_place
    FROM plans
    WHERE died BETWEEN $first AND $last
    GROUP BY ALL
)
SELECT * FROM active
UNION ALL BY NAME SELECT * FROM births
UNION ALL BY NAME SELECT * FROM deaths
UNION ALL BY NAME SELECT * FROM views
WHERE borough IS NOT NULL AND month BETWEEN $first AND $last
"""


def aggregate(con, plans_path, events_path, kind, areas, templates):
    """(first month, last month, rolled-up unrounded rows) for common.write_metrics."""
    # As polars' casts, a month that does not parse is NULL rather than an error.
    con.execute(
        "CREATE MACRO month_index(s) AS "
        "TRY_CAST(substr(s, 1, 4) AS INTEGER) * 12 + TRY_CAST(substr(s, 6, 2) AS INTEGER) - 1"
    )
    # Plans are read once into the columns the counts need; the plan measures, the reviews and
    # the events' join all use them, and a CSV is expensive to parse twice. A NULL cell (Parquet)
    # means the same as an empty one (CSV).
    con.execute(f"""
        CREATE TEMP TABLE plans AS
        SELECT *,
               CASE WHEN changed IS NOT NULL THEN earlier_template_id
                    ELSE template_id END AS first_template
        FROM (
            SELECT plan_id,
                   borough_code AS borough,
                   template_id,
                   earlier_template_id,
                   month_index(created) AS created,
                   CASE WHEN coalesce(died_month, '') <> '' THEN month_index(died_month)
                        WHEN status = 'archived' THEN month_index(last_updated)
                   END AS ended,
                   CASE WHEN coalesce(died_month, '') <> '' THEN month_index(died_month)
                   END AS died,
                   CASE WHEN coalesce(template_changed, '') <> ''
                        THEN month_index(template_changed)
                   END AS changed,
                   coalesce(cpr_decision_made = 'true', false) AS cpr,
                   coalesce(preference_expressed = 'true', false) AS pref,
                   coalesce(died_in_preferred_place = 'true', false) AS dipp
            FROM {source(plans_path, kind)}
        )
    """)
    # Views by service per cell and month: the template is the one the plan used that month.
    # Views of plans the extract does not list keep a NULL borough; they still date the
    # window, as any view does.
    filters = ",\n".join(
        f"count(*) FILTER (WHERE service = '{service}') AS {measure}"
        for service, measure in common.SERVICES.items()
    )
    con.execute(f"""
        CREATE TEMP TABLE views AS
        SELECT p.borough,
               CASE WHEN e.month >= p.changed THEN p.template_id
                    ELSE p.first_template END AS template,
               e.month,
               {filters}
        FROM (SELECT plan_id, month_index(timestamp) AS month, service
              FROM {source(events_path, kind)}
              WHERE kind = 'view') AS e
        LEFT JOIN plans AS p USING (plan_id)
        GROUP BY ALL
    """)
    first, last = con.execute("SELECT min(month), max(month) FROM views").fetchone()
    if first is None:
        sys.exit("the extract has no views to date it by")

    con.execute("CREATE TEMP TABLE membership (area_code VARCHAR, borough VARCHAR)")
    con.executemany("INSERT INTO membership VALUES (?, ?)", areas.membership)
    con.execute("CREATE TEMP TABLE templates (template VARCHAR)")
    con.executemany("INSERT INTO templates VALUES (?)", [[t] for t in templates])

    # Rolled up from the unrounded counts; the inner joins drop boroughs and templates the
    # records do not know, as careplans does.
    sums = ",\n".join(f"sum(coalesce({m}, 0))::BIGINT" for m in common.MEASURES)
    measures = CELL_MEASURES.format(
        updates=source(events_path, kind), review_months=common.REVIEW_MONTHS
    )
    rows = con.execute(
        f"""
        WITH measures AS ({measures})
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
