"""careplans' counting on Apache Spark, for an extract that outgrows one machine.

    spark-submit deploy/spark/counts.py EXTRACT_DIR RECORDS_DIR OUT_DIR

EXTRACT_DIR holds the record-level extract partitioned Hive style, every column text:
`plans/created=YYYY-MM/*.parquet` (the plans table without `created`, which is in the path) and
`events/month=YYYY-MM/*.parquet` (the events table with all its columns; `month` is the month of
`timestamp`). RECORDS_DIR is the records folder: its `areas.yaml` and `templates/*.yaml` give the
boroughs and templates that are counted (rows of others count nowhere, as in careplans). Any path
Spark reads works (hdfs://, s3a://, a local folder); PyYAML must be importable on the driver.

Writes OUT_DIR/counts.csv, one file: `month,borough_code,template_id` and the 13 measures in the
order of the metrics table schema, the UNROUNDED counts per month, borough and template, from the
first to the last month in which any plan was viewed (rows of all zeros are left out, except that
the first and last months always have a row). `careplans import OUT_DIR --all` then checks it and
does the rest on one machine: adding up to STP areas, London and all templates, disclosure
control, writing records/metrics/YYYY-MM.csv. The published files are byte for byte those of
`careplans import EXTRACT --all` on the same extract, flat (tests/spark/check_spark.sh).

The counting is `aggregate_extract` in src/import/extract.rs, in Spark SQL:

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

Nothing here checks the extract's rows (`careplans import` refuses malformed values, duplicate
plans and events of unlisted plans); run it on an extract that a check has passed.
"""

import sys
import time

import yaml
from pyspark.sql import SparkSession

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
# Services as they appear in the extract, and the measure each one's views count towards.
SERVICES = {
    "las": "views_las",
    "111": "views_111",
    "ooh-gp": "views_ooh_gp",
    "ed": "views_ed",
    "gp": "views_gp",
}
# A plan counts as reviewed at the end of a month when it was created or updated in that month
# or the REVIEW_MONTHS - 1 before (src/extract/mod.rs).
REVIEW_MONTHS = 12
PLANS_COLUMNS = (
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
EVENTS_COLUMNS = ("plan_id", "timestamp", "service", "kind")
COUNTS_FILE = "counts.csv"
USAGE = "usage: spark-submit counts.py EXTRACT_DIR RECORDS_DIR OUT_DIR"


def month_index(text):
    """SQL for the month index (months since year 0) of a "YYYY-MM..." text; NULL if it does
    not parse, as polars' casts give."""
    return (
        f"(try_cast(substring({text}, 1, 4) AS INT) * 12"
        f" + try_cast(substring({text}, 6, 2) AS INT) - 1)"
    )


def not_empty(column):
    return f"coalesce({column}, '') <> ''"


def month_text(index):
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def quoted(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def read_files(spark, pattern):
    """The text of every file matching a Hadoop glob, read on the driver through Hadoop's file
    system API: the records folder may be local to the driver or on a cluster's storage."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(pattern)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    texts = []
    for status in fs.globStatus(path) or []:
        stream = fs.open(status.getPath())
        try:
            texts.append(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
        finally:
            stream.close()
    return texts


def reference(spark, records):
    """(boroughs in areas.yaml order, template ids sorted by code point, as careplans sorts
    them): the codes of the rows that are counted."""
    areas = read_files(spark, f"{records}/areas.yaml")
    if not areas:
        sys.exit(f"{records}/areas.yaml is missing")
    boroughs = [str(b["code"]) for b in yaml.safe_load(areas[0]).get("boroughs") or []]
    templates = []
    for text in read_files(spark, f"{records}/templates/*.{{yaml,yml}}"):
        document = yaml.safe_load(text)
        if isinstance(document, dict) and document.get("id") is not None:
            templates.append(str(document["id"]))
    if not boroughs or not templates:
        sys.exit(f"{records} has no boroughs or no templates")
    return boroughs, sorted(templates)


def read_tables(spark, extract):
    """The plans and events tables as temporary views `plans_raw` and `events_raw`, every
    column text (`created` from the plans' partition directories)."""
    for table, columns in (("plans", PLANS_COLUMNS), ("events", EVENTS_COLUMNS)):
        frame = spark.read.parquet(f"{extract}/{table}")
        missing = [name for name in columns if name not in frame.columns]
        if missing:
            sys.exit(f"{extract}/{table} lacks {', '.join(missing)}")
        frame.selectExpr(*(f"CAST({name} AS STRING) AS {name}" for name in columns)) \
            .createOrReplaceTempView(f"{table}_raw")


def count(spark, boroughs, templates):
    """(first month, last month, rows of month, borough, template and the MEASURES), the
    unrounded counts of known boroughs and templates, with no all-zero rows."""
    # Each plan with its months as indexes; a NULL cell (Parquet) or an empty one (CSV) means
    # the same. Used by every count below, so it is kept in memory.
    plans = spark.sql(f"""
        SELECT *,
               CASE WHEN changed IS NOT NULL THEN earlier_template_id
                    ELSE template_id END AS first_template
        FROM (
            SELECT plan_id,
                   borough_code AS borough,
                   template_id,
                   earlier_template_id,
                   {month_index('created')} AS created,
                   CASE WHEN {not_empty('died_month')} THEN {month_index('died_month')}
                        WHEN status = 'archived' THEN {month_index('last_updated')}
                   END AS ended,
                   CASE WHEN {not_empty('died_month')} THEN {month_index('died_month')}
                   END AS died,
                   CASE WHEN {not_empty('template_changed')}
                        THEN {month_index('template_changed')}
                   END AS changed,
                   coalesce(cpr_decision_made = 'true', false) AS cpr,
                   coalesce(preference_expressed = 'true', false) AS pref,
                   coalesce(died_in_preferred_place = 'true', false) AS dipp
            FROM plans_raw
        )
    """).cache()
    plans.createOrReplaceTempView("plans")

    # Views by service per cell and month, in the template the plan used that month. Views of
    # plans the extract does not list keep a NULL borough; they still date the window.
    by_service = ",\n".join(
        f"count(*) FILTER (WHERE e.service = {quoted(service)}) AS {measure}"
        for service, measure in SERVICES.items()
    )
    views = spark.sql(f"""
        SELECT p.borough,
               CASE WHEN e.month >= p.changed THEN p.template_id
                    ELSE p.first_template END AS template,
               e.month,
               {by_service}
        FROM (SELECT plan_id, {month_index('timestamp')} AS month, service
              FROM events_raw
              WHERE kind = 'view') AS e
        LEFT JOIN plans AS p ON e.plan_id = p.plan_id
        GROUP BY 1, 2, 3
    """).cache()
    views.createOrReplaceTempView("views")
    first, last = spark.sql("SELECT min(month), max(month) FROM views").first()
    if first is None:
        sys.exit("the extract has no views to date it by")

    spark.sql("""
        CREATE OR REPLACE TEMP VIEW episodes AS
        SELECT plan_id, borough, first_template AS template, created AS start,
               coalesce(changed, ended) AS stop, cpr, pref
        FROM plans
        UNION ALL
        SELECT plan_id, borough, template_id, changed, ended, cpr, pref
        FROM plans
        WHERE changed IS NOT NULL
    """)
    # Reviews: the month a plan was created and every month it was updated, in stretches of
    # reviews less than REVIEW_MONTHS apart; where a stretch meets an episode, the plan counts
    # as reviewed in that episode's template.
    spark.sql(f"""
        CREATE OR REPLACE TEMP VIEW covered AS
        WITH reviews AS (
            SELECT plan_id, created AS month FROM plans
            UNION
            SELECT plan_id, {month_index('timestamp')} FROM events_raw WHERE kind = 'update'
        ),
        gaps AS (
            SELECT plan_id, month,
                   coalesce(month - lag(month) OVER (PARTITION BY plan_id ORDER BY month),
                            {REVIEW_MONTHS + 1}) > {REVIEW_MONTHS} AS opens
            FROM reviews
        ),
        numbered AS (
            SELECT plan_id, month,
                   sum(CAST(opens AS INT)) OVER (
                       PARTITION BY plan_id ORDER BY month
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS stretch
            FROM gaps
        ),
        stretches AS (
            SELECT plan_id, min(month) AS covered_from,
                   max(month) + {REVIEW_MONTHS} AS covered_until
            FROM numbered
            GROUP BY plan_id, stretch
        ),
        met AS (
            SELECT e.borough, e.template,
                   greatest(s.covered_from, e.start) AS since,
                   CASE WHEN e.stop IS NULL THEN s.covered_until
                        ELSE least(s.covered_until, e.stop) END AS until
            FROM stretches AS s JOIN episodes AS e ON s.plan_id = e.plan_id
        )
        SELECT * FROM met WHERE since < until
    """)
    # The live measures as running totals of what starts minus what stops, over every cell
    # and month of the window. Changes before the window land on its first month, so the
    # totals start with what was already live; as careplans, a total that an inconsistent
    # plan would take below zero counts as zero.
    spark.sql(f"""
        CREATE OR REPLACE TEMP VIEW live AS
        WITH deltas AS (
            SELECT borough, template, start AS month,
                   1 AS live, CAST(cpr AS INT) AS cpr, CAST(pref AS INT) AS pref,
                   0 AS reviewed
            FROM episodes
            UNION ALL
            SELECT borough, template, stop, -1, -CAST(cpr AS INT), -CAST(pref AS INT), 0
            FROM episodes
            WHERE stop IS NOT NULL
            UNION ALL
            SELECT borough, template, since, 0, 0, 0, 1 FROM covered
            UNION ALL
            SELECT borough, template, until, 0, 0, 0, -1 FROM covered
        ),
        changes AS (
            SELECT borough, template, greatest(month, {first}) AS month,
                   sum(live) AS live, sum(cpr) AS cpr, sum(pref) AS pref,
                   sum(reviewed) AS reviewed
            FROM deltas
            WHERE month <= {last}
            GROUP BY borough, template, greatest(month, {first})
        ),
        cells AS (SELECT DISTINCT borough, template FROM changes),
        months AS (SELECT id AS month FROM range({first}, {last + 1})),
        running AS (
            SELECT c.borough, c.template, m.month,
                   sum(coalesce(d.live, 0)) OVER totals AS live,
                   sum(coalesce(d.cpr, 0)) OVER totals AS cpr,
                   sum(coalesce(d.pref, 0)) OVER totals AS pref,
                   sum(coalesce(d.reviewed, 0)) OVER totals AS reviewed
            FROM cells AS c CROSS JOIN months AS m
            LEFT JOIN changes AS d
              ON d.borough = c.borough AND d.template = c.template AND d.month = m.month
            WINDOW totals AS (PARTITION BY c.borough, c.template ORDER BY m.month
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        )
        SELECT borough, template, month,
               greatest(live, 0) AS active_plans,
               greatest(cpr, 0) AS cpr_decision_made,
               greatest(pref, 0) AS preference_expressed,
               greatest(reviewed, 0) AS plans_reviewed_last_12_months
        FROM running
    """)
    spark.sql(f"""
        CREATE OR REPLACE TEMP VIEW births AS
        SELECT borough, first_template AS template, created AS month, count(*) AS new_plans
        FROM plans
        WHERE created BETWEEN {first} AND {last}
        GROUP BY 1, 2, 3
    """)
    spark.sql(f"""
        CREATE OR REPLACE TEMP VIEW deaths AS
        SELECT borough,
               CASE WHEN died >= changed THEN template_id ELSE first_template END AS template,
               died AS month,
               count(*) AS deaths,
               count(*) FILTER (WHERE pref) AS deaths_with_preference_recorded,
               count(*) FILTER (WHERE dipp) AS deaths_in_preferred_place
        FROM plans
        WHERE died BETWEEN {first} AND {last}
        GROUP BY 1, 2, 3
    """)

    # Every part as the full row of measures (0 for those it does not count), added up per
    # cell and month, for the boroughs and templates the records know.
    parts = {
        "live": (
            "active_plans",
            "cpr_decision_made",
            "preference_expressed",
            "plans_reviewed_last_12_months",
        ),
        "births": ("new_plans",),
        "deaths": ("deaths", "deaths_with_preference_recorded", "deaths_in_preferred_place"),
        "views": tuple(SERVICES.values()),
    }
    selects = "\nUNION ALL\n".join(
        "SELECT borough, template, month, "
        + ", ".join(
            f"CAST({m} AS BIGINT) AS {m}" if m in counted else f"CAST(0 AS BIGINT) AS {m}"
            for m in MEASURES
        )
        + f" FROM {view}"
        for view, counted in parts.items()
    )
    known_boroughs = ", ".join(quoted(code) for code in boroughs)
    known_templates = ", ".join(quoted(code) for code in templates)
    rows = spark.sql(f"""
        SELECT month, borough, template, {", ".join(f"sum({m}) AS {m}" for m in MEASURES)}
        FROM ({selects})
        WHERE borough IN ({known_boroughs}) AND template IN ({known_templates})
          AND month BETWEEN {first} AND {last}
        GROUP BY month, borough, template
        HAVING {" OR ".join(f"sum({m}) <> 0" for m in MEASURES)}
    """).collect()
    plans.unpersist()
    views.unpersist()
    return first, last, [tuple(row) for row in rows]


def counts_csv(first, last, rows, boroughs, templates):
    """The text of counts.csv, rows by month, borough (areas.yaml order) and template."""
    borough_order = {code: i for i, code in enumerate(boroughs)}
    template_order = {code: i for i, code in enumerate(templates)}
    rows = sorted(rows, key=lambda r: (r[0], borough_order[r[1]], template_order[r[2]]))
    # `careplans import --all` takes its window from the months of the rows: the first and the
    # last month keep a row even if every count in them were zero.
    months = {row[0] for row in rows}
    zeros = (0,) * len(MEASURES)
    for month in sorted({first, last} - months):
        rows.append((month, boroughs[0], templates[0]) + zeros)
    rows.sort(key=lambda r: (r[0], borough_order[r[1]], template_order[r[2]]))
    lines = [",".join(("month", "borough_code", "template_id") + MEASURES)]
    for month, borough, template, *counts in rows:
        lines.append(",".join([month_text(month), borough, template] + [str(c) for c in counts]))
    return "\n".join(lines) + "\n"


def write_file(spark, directory, name, text):
    """Writes one file through Hadoop's file system API (so OUT_DIR may be hdfs://... as well
    as local), to a temporary name first and then renamed over `name`."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    folder = hadoop_path(directory)
    fs = folder.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    # No .crc beside the file on a local file system.
    fs.setWriteChecksum(False)
    fs.mkdirs(folder)
    temporary = hadoop_path(folder, f".{name}.tmp")
    target = hadoop_path(folder, name)
    stream = fs.create(temporary, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()
    if fs.exists(target):
        fs.delete(target, False)
    if not fs.rename(temporary, target):
        sys.exit(f"cannot rename {temporary} to {target}")
    return target.toString()


def main(argv):
    if len(argv) != 4:
        sys.exit(USAGE)
    extract, records, out = argv[1:]
    started = time.perf_counter()
    spark = (
        SparkSession.builder.appName("careplans counts")
        # Partition values stay text ("2021-03" is a month, not a date or a number).
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .getOrCreate()
    )
    boroughs, templates = reference(spark, records)
    read_tables(spark, extract)
    first, last, rows = count(spark, boroughs, templates)
    written = write_file(
        spark, out, COUNTS_FILE, counts_csv(first, last, rows, boroughs, templates)
    )
    print(
        f"wrote {len(rows)} rows, {month_text(first)} to {month_text(last)}, to {written} "
        f"in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
