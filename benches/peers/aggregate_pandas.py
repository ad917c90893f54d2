"""Peer of `careplans import --all` in pandas, for timing the same work on the same files.

    python aggregate_pandas.py EXTRACT_DIR AREAS_YAML TEMPLATES_DIR OUT_DIR

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
* views by each service (events looked up in the plans' index, batch by batch);
* plans reviewed in the last 12 months: live plans created or updated in that month or the 11
  before, across a template change. Each plan's reviews are split into stretches less than 12
  months apart, each covering its first review to 12 months after its last.

Everything is vectorised: each plan, episode, stretch and event is a row of an array, and the
counts are running totals over a small grid of cells (borough x template) by month. It adds the
unrounded counts up to STP areas, London and all templates, then suppresses counts of 1..7 and
rounds the rest to the nearest 5 (common.py).

Plan ids must be unique (careplans refuses an extract that lists a plan twice).

Prints `engine=pandas seconds_total=... seconds_aggregate=...` on stderr.
"""

import sys
import time

# Taken before the engine's import, so seconds_total includes its start-up as a CLI's does.
STARTED = time.perf_counter()

import numpy as np  # noqa: E402
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
    "cpr_decision_made": FLAG,
    "preference_expressed": FLAG,
    "died_month": "category",
    "died_in_preferred_place": FLAG,
    "earlier_template_id": "category",
    "template_changed": "category",
}
CATEGORIES = [name for name, dtype in PLAN_COLUMNS.items() if dtype is not str]
# The events' columns, read by pyarrow directly (see event_batches): services and kinds as
# dictionaries, which become categories.
EVENT_COLUMNS = ["plan_id", "timestamp", "service", "kind"]
EVENT_DICTIONARIES = ["service", "kind"]

# Events are read in batches of about this size, so memory does not grow with their number.
CSV_BLOCK_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 1 << 21

# Stands in for "never" (no death, not archived, no template change): a month later than any
# window's last.
NEVER = common.month_index("9999-12")
# Months (up to NEVER) fit in this many bits of a packed key; services in 3.
MONTH_BITS = 17
SERVICE_BITS = 3


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
        yield batch.to_pandas()


def month_index(texts):
    """Month indexes of "YYYY-MM..." texts (common.month_index); an empty text is NEVER.

    Through categories: an extract has only a few hundred distinct months, so each is
    parsed once rather than once a row.
    """
    if not isinstance(texts.dtype, pd.CategoricalDtype):
        texts = texts.str.slice(0, 7).astype("category")
    lookup = {m: common.month_index(m) if m else NEVER for m in texts.cat.categories}
    return texts.map(lookup).astype("int64").to_numpy()


def codes(column, categories):
    """The position in `categories` of each value of a categorical column (-1 if absent).

    Recoded with set_categories: an astype to a CategoricalDtype of the same categories in
    another order is a no-op, as unordered dtypes compare equal whatever their order.
    """
    return column.cat.set_categories(categories).cat.codes.to_numpy().astype("int64")


class Plans:
    """The plans as the counts need them, one numpy array each, row for row with the table.

    A cell is one small number, borough x templates + template (over the categories of the
    extract's own columns), so a plan's cell in either of its templates is an array lookup.
    """

    def __init__(self, raw):
        self.boroughs = list(raw["borough_code"].cat.categories)
        self.templates = sorted(
            set(raw["template_id"].cat.categories)
            | set(raw["earlier_template_id"].cat.categories)
        )
        borough = codes(raw["borough_code"], self.boroughs)
        width = len(self.templates)
        now = codes(raw["template_id"], self.templates)
        earlier = codes(raw["earlier_template_id"], self.templates)
        self.ids = pd.Index(raw["plan_id"])
        if not self.ids.is_unique:
            sys.exit("plan ids are not unique; this peer needs them to be")
        self.created = month_index(raw["created"])
        self.died = month_index(raw["died_month"])
        # The month from which template_id applies (NEVER: the plan never changed template).
        self.changed = month_index(raw["template_changed"])
        moved = self.changed != NEVER
        archived = np.where(
            (raw["status"] == "archived").to_numpy(), month_index(raw["last_updated"]), NEVER
        )
        self.ended = np.where(self.died != NEVER, self.died, archived)
        self.cell_now = borough * width + now
        self.cell_first = np.where(moved, borough * width + earlier, self.cell_now)
        self.cpr = (raw["cpr_decision_made"] == "true").to_numpy()
        self.pref = (raw["preference_expressed"] == "true").to_numpy()
        self.dipp = (raw["died_in_preferred_place"] == "true").to_numpy()
        self.moved = np.flatnonzero(moved)

    @property
    def cells(self):
        return len(self.boroughs) * len(self.templates)

    def cell_in(self, rows, months):
        """The cell of plan `rows` in `months`: the current template's from its change on."""
        return np.where(months >= self.changed[rows], self.cell_now[rows], self.cell_first[rows])

    def episodes(self):
        """(plan row, cell, start, stop) of every episode: each plan's first one, then the
        later ones of plans that moved. NEVER as a stop means still live."""
        rows = np.arange(len(self.created))
        moved = self.moved
        return (
            np.concatenate([rows, moved]),
            np.concatenate([self.cell_first, self.cell_now[moved]]),
            np.concatenate([self.created, self.changed[moved]]),
            np.concatenate([np.where(self.changed != NEVER, self.changed, self.ended),
                            self.ended[moved]]),
        )


def read_events(path, kind, plans):
    """(first, last, views, reviews), reading the events once.

    `first` and `last` are the months of the first and last view (of any plan); `views` the
    packed (cell, month, service) keys of views and how many each has; `reviews` the packed
    (plan row, month) keys of every plan's creation and updates, sorted and unique.
    """
    first = last = None
    views = []
    reviews = [np.unique(np.arange(len(plans.created)) << MONTH_BITS | plans.created)]
    for events in event_batches(path, kind):
        if events.empty:
            continue
        months = month_index(events["timestamp"])
        is_view = (events["kind"] == "view").to_numpy()
        # Every view sets the window, whatever its plan.
        if is_view.any():
            low, high = months[is_view].min(), months[is_view].max()
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
        # A hash lookup in the plans' index (built once), where a merge would hash all
        # the plans again for every batch. Events of plans not in the extract count nowhere.
        rows = plans.ids.get_indexer(events["plan_id"])
        services = codes(events["service"], list(common.SERVICES))
        seen = is_view & (rows >= 0) & (services >= 0)
        cells = plans.cell_in(rows[seen], months[seen])
        keys = (cells << MONTH_BITS | months[seen]) << SERVICE_BITS | services[seen]
        views.append(pd.Series(keys).value_counts())
        updated = (events["kind"] == "update").to_numpy() & (rows >= 0)
        reviews.append(np.unique(rows[updated].astype("int64") << MONTH_BITS | months[updated]))
    if first is None:
        sys.exit("the extract has no views to date it by")
    views = pd.concat(views).groupby(level=0).sum()
    return int(first), int(last), views, np.unique(np.concatenate(reviews))


def stretches(reviews):
    """(plan row, covered from, covered until) of each run of a plan's reviews less than
    REVIEW_MONTHS apart: it keeps the plan reviewed from its first review up to (not
    including) REVIEW_MONTHS after its last."""
    rows = reviews >> MONTH_BITS
    months = reviews & ((1 << MONTH_BITS) - 1)
    opens = np.ones(len(reviews), dtype=bool)
    opens[1:] = (rows[1:] != rows[:-1]) | (months[1:] - months[:-1] > common.REVIEW_MONTHS)
    closes = np.append(opens[1:], True)
    return rows[opens], months[opens], months[closes] + common.REVIEW_MONTHS


class Grid:
    """Counts per cell and month of the window, as dense arrays (cells x months)."""

    def __init__(self, cells, first, last):
        self.cells, self.first, self.months = cells, first, last - first + 1
        self.size = cells * self.months

    def count(self, cells, months, weights=None):
        """Adds up rows at (cell, month), leaving out months outside the window."""
        inside = (months >= self.first) & (months < self.first + self.months)
        index = cells[inside] * self.months + (months[inside] - self.first)
        weights = None if weights is None else weights[inside]
        counts = np.bincount(index, weights=weights, minlength=self.size)
        return counts.astype("int64").reshape(self.cells, self.months)

    def changes(self, cells, months, weights=None):
        """Like count, but a change before the window lands on its first month, so that a
        running total starts with what was already live."""
        return self.count(cells, np.maximum(months, self.first), weights)

    @staticmethod
    def running(starts, stops):
        """Running totals of starts minus stops; as careplans, a total that an inconsistent
        plan would take below zero counts as zero."""
        return np.maximum(np.cumsum(starts - stops, axis=1), 0)


def cell_measures(plans, first, last, views, reviews):
    """Every measure per cell and month of the window, unrounded: {measure: cells x months}."""
    grid = Grid(plans.cells, first, last)
    rows, cells, starts, stops = plans.episodes()
    cpr, pref = plans.cpr[rows].astype("int64"), plans.pref[rows].astype("int64")
    out = {
        "active_plans": grid.running(grid.changes(cells, starts), grid.changes(cells, stops)),
        "cpr_decision_made": grid.running(
            grid.changes(cells, starts, cpr), grid.changes(cells, stops, cpr)
        ),
        "preference_expressed": grid.running(
            grid.changes(cells, starts, pref), grid.changes(cells, stops, pref)
        ),
    }

    # Reviews: where a stretch meets an episode of its plan, the plan counts as reviewed in
    # that episode's cell. Every plan has a first episode (row for row with the plans); a
    # stretch meets a plan's later episode only if the plan moved.
    plan, covered_from, covered_until = stretches(reviews)
    later = np.full(len(plans.created), -1)
    later[plans.moved] = np.arange(len(plans.moved)) + len(plans.created)
    moved = later[plan] >= 0
    episode = np.concatenate([plan, later[plan][moved]])
    since = np.maximum(np.concatenate([covered_from, covered_from[moved]]), starts[episode])
    until = np.minimum(np.concatenate([covered_until, covered_until[moved]]), stops[episode])
    met = since < until
    reviewed_cells = cells[episode][met]
    out["plans_reviewed_last_12_months"] = grid.running(
        grid.changes(reviewed_cells, since[met]), grid.changes(reviewed_cells, until[met])
    )

    out["new_plans"] = grid.count(plans.cell_first, plans.created)
    dead = np.flatnonzero(plans.died != NEVER)
    died_cells = plans.cell_in(dead, plans.died[dead])
    died = plans.died[dead]
    out["deaths"] = grid.count(died_cells, died)
    out["deaths_with_preference_recorded"] = grid.count(
        died_cells, died, plans.pref[dead].astype("int64")
    )
    out["deaths_in_preferred_place"] = grid.count(
        died_cells, died, plans.dipp[dead].astype("int64")
    )

    keys = views.index.to_numpy()
    services = keys & ((1 << SERVICE_BITS) - 1)
    months = (keys >> SERVICE_BITS) & ((1 << MONTH_BITS) - 1)
    view_cells = keys >> (SERVICE_BITS + MONTH_BITS)
    counts = views.to_numpy()
    for code, measure in enumerate(common.SERVICES.values()):
        this = services == code
        out[measure] = grid.count(view_cells[this], months[this], counts[this])
    return grid, out


def cell_frame(plans, grid, measures):
    """The cell counts as a frame of borough, template, month and the MEASURES columns."""
    cells = np.repeat(np.arange(grid.cells), grid.months)
    width = len(plans.templates)
    frame = pd.DataFrame(
        {
            "borough": np.asarray(plans.boroughs, dtype=object)[cells // width],
            "template": np.asarray(plans.templates, dtype=object)[cells % width],
            "month": np.tile(np.arange(grid.first, grid.first + grid.months), grid.cells),
        }
    )
    for measure in common.MEASURES:
        frame[measure] = measures[measure].reshape(-1)
    return frame


def roll_up(cells, areas, templates):
    """Unrounded totals per month, area and template (and "all"), as rows of plain values."""
    measures = list(common.MEASURES)
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
    plans = Plans(read_plans(plans_path, kind))
    first, last, views, reviews = read_events(events_path, kind, plans)
    grid, measures = cell_measures(plans, first, last, views, reviews)
    return first, last, roll_up(cell_frame(plans, grid, measures), areas, templates)


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
