//! Every plan of an extract found by its id: what the events need of their plan (its cells and
//! the month its template changed). Each event's plan is looked for first where the last
//! event's plan was (`PlanIndex::find_from`), then in a hash table (`Keys`). This takes the
//! place of joining the events to the plans: at 100M events, polars' join on the id's text
//! (hashing and probing string views, then gathering the plan's columns into every event row)
//! was about 29% of an import.

use std::sync::Arc;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

/// Polars' array of string views, as a rechunked `plan_id` column holds it.
type IdArray = <StringType as PolarsDataType>::Array;

/// The plans, by id: each row's id (read in order from the last event's plan) and a hash
/// table (`Keys`), and what an event needs of each plan in one place. (With events in
/// the plans' order, a table whose entries held the id's bytes and the cells was no faster
/// than one of rows; with events in time order, where every event goes to the table, it is a
/// third faster, so ids of one width get one: `Keys::Fixed`.)
pub struct PlanIndex {
    keys: Keys,
    plans: Vec<Cells>,
    /// Rows whose id an earlier row has.
    repeated: u64,
}

/// How the table finds an id.
enum Keys {
    /// Every plan's id has one length of at most 16 bytes (a fixed-format identifier, as
    /// real extracts and synth's have): each id's bytes are its key, held in the table's slot
    /// beside the plan's row and cells, so that finding a plan reads one slot and nothing
    /// else. With events in time order (no order to follow) the hash table of rows read four
    /// places for each event: its control bytes, its entry, the id's text, the cells.
    Fixed(FixedTable),
    /// Any other ids: hash tables of plan rows keyed by XXH3 of the id, in shards by hash
    /// built each on a thread of its own, ids compared as text against the plans' column (so
    /// two ids that share a hash are still told apart).
    Text(TextTable),
}

/// The plans' own `plan_id` column, and hash tables of their rows.
struct TextTable {
    ids: IdArray,
    shards: Vec<HashTable<u32>>,
}

/// A plan found: its row and where its events count.
#[derive(Clone, Copy)]
pub struct Found {
    pid: u32,
    cells: Cells,
}

/// Where one plan's events count.
#[derive(Clone, Copy)]
struct Cells {
    /// The cell of the plan's first episode and of its current one (`UNKNOWN_CELL`: unknown),
    /// and the month index its template changed (`NEVER`: it did not).
    first: u32,
    now: u32,
    changed: i32,
}

/// The shard of the table a hash's plan is in: bits the table itself does not use (it takes
/// the low bits for the slot and the top seven for its tag).
fn shard_of(hash: u64, shards: usize) -> usize {
    ((hash >> 32) as u32 as usize) % shards
}

/// How many shards a table of `plans` is built in: one a thread, one under 100,000 plans.
fn shards_for(plans: usize) -> usize {
    if plans < 100_000 {
        1
    } else {
        super::parallel::threads()
    }
}

/// Each shard built by `build`, a thread each, with the rows they found repeated, added up.
fn in_shards<T: Send>(
    shards: usize,
    build: impl Fn(usize) -> (T, u64) + Sync,
) -> PolarsResult<(Vec<T>, u64)> {
    let build = &build;
    let built = super::parallel::on_threads((0..shards).map(|shard| move || build(shard)))
        .ok_or_else(|| polars_err!(ComputeError: "building the plans' index failed"))?;
    let repeated = built.iter().map(|(_, repeated)| repeated).sum();
    Ok((
        built.into_iter().map(|(table, _)| table).collect(),
        repeated,
    ))
}

/// A column's values, `missing` where there is none, read array by array from the values
/// and the validity (polars' iterator of options over chunks took 0.15 s at 10M plans).
fn values_or<T: PolarsNumericType>(column: &ChunkedArray<T>, missing: T::Native) -> Vec<T::Native> {
    let mut values = Vec::with_capacity(column.len());
    for array in column.downcast_iter() {
        match array.validity() {
            None => values.extend_from_slice(array.values()),
            Some(valid) => values.extend(
                array
                    .values()
                    .iter()
                    .zip(valid.iter())
                    .map(|(&value, valid)| if valid { value } else { missing }),
            ),
        }
    }
    values
}

/// An unknown cell, as `extract::NO_CELL` packs it.
const UNKNOWN_CELL: u32 = u32::MAX;
const NEVER: i32 = i32::MAX;

/// How many rows after the last event's plan `PlanIndex::find_from` looks at.
const NEARBY: usize = 4;

/// Where `PlanIndex::find_from` looks first: the last event's plan, and whether the events
/// seem to come in the plans' order.
pub struct Cursor {
    last: u32,
    ordered: bool,
}

impl Default for Cursor {
    fn default() -> Cursor {
        Cursor {
            last: 0,
            ordered: true,
        }
    }
}

/// What an event's plan gives it, or nothing when the plan is not in the extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOfEvent {
    pub pid: u32,
    /// The cell the event counts in: the current template's from the month it changed, the
    /// first one's before it (and when the event's month is unknown).
    pub cell: Option<u32>,
}

impl PlanIndex {
    /// The index of the collected plans (`pid` is the row): their `plan_id`, `cell_first`,
    /// `cell_now` and `changed_index` columns. A plan listed twice is found under its first
    /// row; the aggregation refuses such an extract anyway (`Anomalies::repeated_ids`,
    /// from [`PlanIndex::repeated_ids`]).
    pub fn new(plans: &DataFrame) -> PolarsResult<Arc<PlanIndex>> {
        let ids = plans.column("plan_id")?.str()?.rechunk();
        let ids = ids.downcast_as_array().clone();
        // `u32::MAX` marks an empty slot of the fixed table.
        if ids.len() >= u32::MAX as usize {
            polars_bail!(ComputeError: "more than {} plans", u32::MAX - 1);
        }
        let cell_first = values_or(plans.column("cell_first")?.u32()?, UNKNOWN_CELL);
        let cell_now = values_or(plans.column("cell_now")?.u32()?, UNKNOWN_CELL);
        let changed = values_or(plans.column("changed_index")?.i32()?, NEVER);
        let plans: Vec<Cells> = cell_first
            .into_iter()
            .zip(cell_now)
            .zip(changed)
            .map(|((first, now), changed)| Cells {
                first,
                now,
                changed,
            })
            .collect();
        // The fixed table holds what it needs of the ids (their keys), so the plans' column
        // of them can go once it is built.
        let (keys, repeated) = match FixedTable::width_of(&ids) {
            Some(width) => {
                let (table, repeated) = FixedTable::new(&ids, width, &plans)?;
                (Keys::Fixed(table), repeated)
            }
            None => {
                let (shards, repeated) = text_shards(&ids)?;
                (Keys::Text(TextTable { ids, shards }), repeated)
            }
        };
        Ok(Arc::new(PlanIndex {
            keys,
            plans,
            repeated,
        }))
    }

    /// How many plans have an id an earlier plan has: a plan listed twice (which would be
    /// counted twice), found exactly, ids compared as text.
    pub fn repeated_ids(&self) -> u64 {
        self.repeated
    }

    /// The plan with this id, in the table.
    pub fn find(&self, id: &str) -> Option<Found> {
        match &self.keys {
            Keys::Fixed(table) => table.find(key_of(id, table.width)?),
            Keys::Text(table) => {
                let hash = xxh3_64(id.as_bytes());
                let pid = *table.shards[shard_of(hash, table.shards.len())]
                    .find(hash, |&pid: &u32| table.ids.value(pid as usize) == id)?;
                Some(self.at(pid as usize))
            }
        }
    }

    fn at(&self, pid: usize) -> Found {
        Found {
            pid: pid as u32,
            cells: self.plans[pid],
        }
    }

    /// The plan with this id, looked for first where the last event's plan was (`cursor`). Where events come in the plans' order (each plan's events together, as
    /// `synth` writes them and as an extract made plan by plan is), the next event's plan
    /// is the same or one of the next few rows, and reading those rows of the plans' column
    /// (in order, so the memory is at hand) costs far less than the hash table's random
    /// reads: at 10M plans and 100M events, 0.79x the time of an import. Once the next rows
    /// miss, events are taken to come in another order and go straight to the table, until
    /// the table finds a plan just after the last one again.
    /// Where ids repeat, only the table is used, so that a repeated id is found under its
    /// first row as `find` finds it.
    pub fn find_from(&self, id: &str, cursor: &mut Cursor) -> Option<Found> {
        if self.repeated > 0 {
            return self.find(id);
        }
        match &self.keys {
            Keys::Fixed(table) => {
                // An id of another width is no plan's.
                let key = key_of(id, table.width)?;
                let is = |pid: usize| table.rows.get(pid) == Some(&key);
                self.follow(cursor, is, || table.find(key))
            }
            Keys::Text(table) => {
                let probe = Probe::of(id);
                self.follow(cursor, |pid| table.row_is(pid, &probe), || self.find(id))
            }
        }
    }

    /// `find_from` with `is` telling whether a row has the id, and `find` looking it up in
    /// the table.
    fn follow(
        &self,
        cursor: &mut Cursor,
        is: impl Fn(usize) -> bool,
        find: impl FnOnce() -> Option<Found>,
    ) -> Option<Found> {
        let last = cursor.last as usize;
        let ahead = last + 1..(last + 1 + NEARBY).min(self.plans.len());
        let found = if is(last) {
            self.at(last)
        } else if cursor.ordered {
            let near = ahead.clone().find(|&pid| is(pid));
            cursor.ordered = near.is_some();
            match near {
                Some(pid) => self.at(pid),
                None => find()?,
            }
        } else {
            let found = find()?;
            cursor.ordered = ahead.contains(&(found.pid as usize));
            found
        };
        cursor.last = found.pid;
        Some(found)
    }
}

/// An event's plan id as `PlanIndex::find_from` compares it with the plans' rows: by its
/// string view where it is short enough to sit inline in one (the length, then the bytes,
/// zeros after them), so that each comparison is one 16-byte compare and not a call to
/// `memcmp` (4% of an import's time at 100M events).
struct Probe<'a> {
    id: &'a str,
    inline: Option<u128>,
}

impl Probe<'_> {
    fn of(id: &str) -> Probe<'_> {
        // An empty id is compared as text: a missing plan id's view is all zeros too.
        let inline = super::check::inline_view(id).filter(|_| !id.is_empty());
        Probe { id, inline }
    }
}

impl TextTable {
    /// Whether row `pid` of the plans has the probe's id.
    fn row_is(&self, pid: usize, probe: &Probe) -> bool {
        match (probe.inline, self.ids.views().get(pid)) {
            // Equal inline views are equal texts (polars' own comparisons rely on it).
            (Some(inline), Some(view)) => view.as_u128() == inline,
            _ => self
                .ids
                .get(pid)
                .is_some_and(|id| same_text(id.as_bytes(), probe.id.as_bytes())),
        }
    }
}

/// Whether two texts are equal, ids of 8 to 16 bytes (synth's are 13) compared as the two
/// eight-byte words that cover them, without a call to `memcmp`.
fn same_text(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if !(8..=16).contains(&n) {
        return a == b;
    }
    let word = |bytes: &[u8], at: usize| {
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default())
    };
    word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
}

impl Found {
    /// What an event of the plan in the month `month` (a `Month::index`) counts in.
    pub fn in_month(self, month: Option<i64>) -> PlanOfEvent {
        let plan = self.cells;
        let cell = match month {
            Some(month) if plan.changed != NEVER && month >= i64::from(plan.changed) => plan.now,
            _ => plan.first,
        };
        PlanOfEvent {
            pid: self.pid,
            cell: (cell != UNKNOWN_CELL).then_some(cell),
        }
    }
}

/// The sharded hash tables of `Keys::Text`, and how many rows repeat an earlier row's id.
fn text_shards(ids: &IdArray) -> PolarsResult<(Vec<HashTable<u32>>, u64)> {
    let shard_count = shards_for(ids.len());
    let build = |shard: usize| {
        let mut table = HashTable::with_capacity(ids.len() / shard_count + 1);
        let mut repeated = 0u64;
        for (pid, id) in ids.iter().enumerate() {
            // A plan with no id matches no event (polars' joins do not match nulls either).
            let Some(id) = id else { continue };
            let hash = xxh3_64(id.as_bytes());
            if shard_of(hash, shard_count) != shard {
                continue;
            }
            let same = |&other: &u32| ids.value(other as usize) == id;
            let rehash = |&other: &u32| xxh3_64(ids.value(other as usize).as_bytes());
            match table.entry(hash, same, rehash) {
                Entry::Occupied(_) => repeated += 1,
                Entry::Vacant(slot) => {
                    slot.insert(pid as u32);
                }
            }
        }
        (table, repeated)
    };
    in_shards(shard_count, build)
}

/// Open-addressing tables of plans whose ids all have one length of at most 16 bytes,
/// probed linearly, each a power of two of slots at most two-thirds full, in shards by hash
/// built each on a thread of its own (as the text tables are). Equal keys are equal ids: the
/// key is the id's bytes, nothing of it is lost.
struct FixedTable {
    width: usize,
    /// Each row's key (`NO_KEY` for a plan without an id), in the plans' order: what
    /// `PlanIndex::find_from` compares an event's key with, one number for each row it looks
    /// at, where the plans' column of ids took a view, then the text beside it.
    rows: Vec<u128>,
    shards: Vec<FixedShard>,
}

/// The key of a plan without an id: sixteen 0xFF bytes, which no text has (0xFF is never in
/// UTF-8), so no event's id matches it.
const NO_KEY: u128 = u128::MAX;

struct FixedShard {
    slots: Vec<Slot>,
    /// `64 - log2(slots)`: a hash's top bits are its home slot.
    shift: u32,
}

/// One plan: its id's bytes, its row and its cells, in 32 bytes aligned to 32, so that a slot
/// never spans two cache lines.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Slot {
    key: u128,
    pid: u32,
    cells: Cells,
}

/// The row of an empty slot (`PlanIndex::new` refuses that many plans).
const EMPTY: u32 = u32::MAX;

impl Slot {
    const EMPTY: Slot = Slot {
        key: 0,
        pid: EMPTY,
        cells: Cells {
            first: UNKNOWN_CELL,
            now: UNKNOWN_CELL,
            changed: NEVER,
        },
    };
}

/// A region of a shard is 2^13 slots: 256 KiB, which a core's cache holds.
const REGION_SLOT_BITS: u32 = 13;

/// Where a key goes in a `FixedTable` of a given size: its shard, and the region of the
/// shard's slots its home slot is in.
#[derive(Clone, Copy)]
struct Layout {
    shards: usize,
    regions: usize,
    /// `64 - log2(slots)`, as `FixedShard::shift`.
    shift: u32,
    /// A home slot's region is its top bits: it shifted right by this.
    region_shift: u32,
}

impl Layout {
    /// The slots of the rows from `first` on, one for each of `keys`, in lists by shard and
    /// region (shard by shard, each shard's regions in order), each list in row order; and
    /// each row's key in `keys`.
    fn sort(
        self,
        ids: &IdArray,
        width: usize,
        plans: &[Cells],
        first: usize,
        keys: &mut [u128],
    ) -> Vec<Vec<Slot>> {
        let rows = first..first + keys.len();
        let lists = self.shards * self.regions;
        // A list's expected length and an eighth more: few lists grow.
        let expected = rows.len() / lists + rows.len() / lists / 8 + 4;
        let mut sorted: Vec<Vec<Slot>> = (0..lists).map(|_| Vec::with_capacity(expected)).collect();
        for ((pid, cells), row_key) in rows.clone().zip(&plans[rows]).zip(keys) {
            // A plan with no id matches no event (polars' joins do not match nulls either).
            let Some(key) = ids.get(pid).and_then(|id| key_of(id, width)) else {
                continue;
            };
            *row_key = key;
            let hash = hash_of(key);
            let home = (hash >> self.shift) as usize;
            let list = shard_of(hash, self.shards) * self.regions + (home >> self.region_shift);
            sorted[list].push(Slot {
                key,
                pid: pid as u32,
                cells: *cells,
            });
        }
        sorted
    }
}

impl FixedTable {
    /// The one length every present id has, if it is at most 16 bytes.
    fn width_of(ids: &IdArray) -> Option<usize> {
        let mut lengths = ids.iter().flatten().map(str::len);
        let width = lengths.next().unwrap_or(0);
        (width <= 16 && lengths.all(|len| len == width)).then_some(width)
    }

    /// The table, built in two passes so that no insert misses the cache: the rows are first
    /// sorted (a thread for each stretch of rows) by the shard and the region of the table
    /// their home slot is in, each region small enough to stay in the processor's cache;
    /// then each shard is filled (a thread each) region by region. Inserting the rows as they
    /// came, each into a slot anywhere in hundreds of megabytes, took 1.1 s of an import at
    /// 10M plans: nearly every insert waited for memory.
    fn new(ids: &IdArray, width: usize, plans: &[Cells]) -> PolarsResult<(FixedTable, u64)> {
        let shard_count = shards_for(ids.len());
        let slots = (ids.len() / shard_count * 3 / 2)
            .max(16)
            .next_power_of_two();
        let slot_bits = slots.trailing_zeros();
        let region_bits = slot_bits.saturating_sub(REGION_SLOT_BITS);
        let layout = Layout {
            shards: shard_count,
            regions: 1 << region_bits,
            shift: 64 - slot_bits,
            region_shift: slot_bits - region_bits,
        };
        // One stretch of rows for each thread that fills a shard.
        let per = ids.len().div_ceil(shard_count).max(1);
        let mut rows = vec![NO_KEY; ids.len()];
        let stretches = rows.chunks_mut(per).enumerate();
        let sorted =
            super::parallel::on_threads(stretches.map(|(stretch, keys)| {
                move || layout.sort(ids, width, plans, stretch * per, keys)
            }))
            .ok_or_else(|| polars_err!(ComputeError: "building the plans' index failed"))?;
        let sorted = &sorted;
        let build = |shard: usize| {
            let mut table = FixedShard {
                slots: vec![Slot::EMPTY; slots],
                shift: layout.shift,
            };
            let mask = slots - 1;
            let mut repeated = 0u64;
            for region in 0..layout.regions {
                // The stretches in order, so a region's rows come in row order: an id listed
                // twice finds its first row already in the table.
                for stretch in sorted {
                    for pending in &stretch[shard * layout.regions + region] {
                        let mut at = table.home(hash_of(pending.key));
                        loop {
                            let slot = &mut table.slots[at];
                            if slot.pid == EMPTY {
                                *slot = *pending;
                                break;
                            }
                            if slot.key == pending.key {
                                repeated += 1;
                                break;
                            }
                            at = (at + 1) & mask;
                        }
                    }
                }
            }
            (table, repeated)
        };
        let (shards, repeated) = in_shards(shard_count, build)?;
        Ok((
            FixedTable {
                width,
                rows,
                shards,
            },
            repeated,
        ))
    }

    fn find(&self, key: u128) -> Option<Found> {
        let hash = hash_of(key);
        let shard = &self.shards[shard_of(hash, self.shards.len())];
        let mask = shard.slots.len() - 1;
        let mut at = shard.home(hash);
        loop {
            let slot = &shard.slots[at];
            if slot.pid == EMPTY {
                return None;
            }
            if slot.key == key {
                return Some(Found {
                    pid: slot.pid,
                    cells: slot.cells,
                });
            }
            at = (at + 1) & mask;
        }
    }
}

impl FixedShard {
    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }
}

/// The key of an id of `width` bytes: its bytes, little-endian, zeros after them. An id of
/// any other length is no plan's.
fn key_of(id: &str, width: usize) -> Option<u128> {
    let bytes = id.as_bytes();
    if bytes.len() != width {
        return None;
    }
    let mut key = [0u8; 16];
    key[..bytes.len()].copy_from_slice(bytes);
    Some(u128::from_le_bytes(key))
}

/// A key's hash: a folded multiply of its halves (as foldhash mixes), then a multiply whose
/// top bits index a shard's slots (and bits 32 and up pick the shard, `shard_of`).
fn hash_of(key: u128) -> u64 {
    let (low, high) = (key as u64, (key >> 64) as u64);
    let product =
        u128::from(low ^ 0x243f_6a88_85a3_08d3) * u128::from(high ^ 0x1319_8a2e_0370_7344);
    ((product as u64) ^ ((product >> 64) as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_equal_exactly_when_their_bytes_are() {
        let ids = [
            "",
            "P1",
            "P0000001",
            "P00000001234",
            "P000000012345",
            "P0000000123456789",
        ];
        for a in ids {
            for b in ids {
                assert_eq!(same_text(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
            }
        }
        // Differences in the middle, the first word and the last.
        assert!(!same_text(b"P000000012345", b"P000000X12345"));
        assert!(!same_text(b"P000000012345", b"X000000012345"));
        assert!(!same_text(b"P000000012345", b"P00000001234X"));
    }

    fn row(found: Found) -> u32 {
        found.pid
    }

    fn pid(index: &PlanIndex, id: &str) -> Option<u32> {
        index.find(id).map(row)
    }

    fn plans() -> DataFrame {
        df!(
            "plan_id" => [Some("P-A"), Some("P-B"), None, Some("P-A"), Some("P-C")],
            "cell_first" => [Some(1u32), Some(2), Some(3), Some(4), None],
            "cell_now" => [Some(5u32), Some(2), Some(3), Some(4), None],
            "changed_index" => [Some(20i32), None, None, None, None],
        )
        .unwrap()
    }

    #[test]
    fn events_find_their_plan_and_its_cell_in_their_month() {
        let index = PlanIndex::new(&plans()).unwrap();
        let cell = |id: &str, month: Option<i64>| {
            let plan = index.find(id).map(|found| found.in_month(month));
            plan.map(|p| (p.pid, p.cell))
        };
        // Before the template changed, on the month it changed, after, and with no month.
        assert_eq!(cell("P-A", Some(19)), Some((0, Some(1))));
        assert_eq!(cell("P-A", Some(20)), Some((0, Some(5))));
        assert_eq!(cell("P-A", Some(31)), Some((0, Some(5))));
        assert_eq!(cell("P-A", None), Some((0, Some(1))));
        assert_eq!(cell("P-B", Some(40)), Some((1, Some(2))));
        // A plan whose cell is unknown is still a plan of the extract.
        assert_eq!(cell("P-C", Some(40)), Some((4, None)));
        // Ids are matched exactly: no prefix, no case folding, and a null id matches nothing.
        assert_eq!(cell("P-", Some(40)), None);
        assert_eq!(cell("p-a", Some(40)), None);
        assert_eq!(cell("", Some(40)), None);
    }

    #[test]
    fn ids_longer_than_an_entry_holds_are_compared_whole() {
        let long = |tail: &str| format!("PLAN-0123456789-{tail}");
        let frame = df!(
            "plan_id" => [long("A"), long("B"), "PLAN-0123456789-".to_owned()],
            "cell_first" => [1u32, 2, 3],
            "cell_now" => [1u32, 2, 3],
            "changed_index" => [None::<i32>, None, None],
        )
        .unwrap();
        let index = PlanIndex::new(&frame).unwrap();
        assert_eq!(pid(&index, &long("A")), Some(0));
        assert_eq!(pid(&index, &long("B")), Some(1));
        assert_eq!(pid(&index, "PLAN-0123456789-"), Some(2));
        assert_eq!(pid(&index, &long("C")), None);
        assert_eq!(pid(&index, &long("AB")), None);
    }

    /// Events in the plans' order, in reverse, interleaved, with unknown and repeated ids:
    /// looking from the last event's plan finds what the table finds, in every order.
    #[test]
    fn looking_from_the_last_plan_finds_what_the_table_finds_in_any_order() {
        let ids: Vec<String> = (0..1_000).map(|i| format!("P-{i:014}")).collect();
        let n = ids.len();
        let mut with_repeat = ids.clone();
        with_repeat[500] = ids[499].clone();
        with_repeat[600] = ids[100].clone();
        let frame = df!(
            "plan_id" => with_repeat.clone(),
            "cell_first" => vec![0u32; n],
            "cell_now" => vec![0u32; n],
            "changed_index" => vec![None::<i32>; n],
        )
        .unwrap();
        let index = PlanIndex::new(&frame).unwrap();
        let in_order: Vec<String> = (0..n)
            .flat_map(|i| std::iter::repeat_n(with_repeat[i].clone(), i % 3))
            .collect();
        let skipping: Vec<String> = (0..n).step_by(7).map(|i| ids[i].clone()).collect();
        let reversed: Vec<String> = in_order.iter().rev().cloned().collect();
        let scattered: Vec<String> = (0..n).map(|i| ids[(i * 389) % n].clone()).collect();
        let mut unknown = in_order.clone();
        unknown.insert(10, "P-99999999999999".into());
        unknown.insert(20, "P-0000000000000".into());
        for events in [in_order, skipping, reversed, scattered, unknown] {
            let mut cursor = Cursor::default();
            for id in &events {
                assert_eq!(
                    index.find_from(id, &mut cursor).map(row),
                    pid(&index, id),
                    "{id}"
                );
            }
        }
        // The repeated id is found under its first row, wherever the cursor is.
        let mut cursor = Cursor::default();
        assert_eq!(index.find_from(&ids[498], &mut cursor).map(row), Some(498));
        assert_eq!(index.find_from(&ids[499], &mut cursor).map(row), Some(499));
        assert_eq!(index.find_from(&ids[499], &mut cursor).map(row), Some(499));
        assert_eq!(index.find_from(&ids[501], &mut cursor).map(row), Some(501));
        assert_eq!(index.find_from(&ids[500], &mut cursor).map(row), None);
        assert_eq!(index.find_from(&ids[598], &mut cursor).map(row), Some(598));
        assert_eq!(index.find_from(&ids[100], &mut cursor).map(row), Some(100));
        // Without repeats, the rows after the last plan are looked at first.
        let index = PlanIndex::new(&frame.head(Some(500))).unwrap();
        let mut cursor = Cursor::default();
        assert_eq!(index.find_from(&ids[3], &mut cursor).map(row), Some(3));
        assert!(cursor.ordered);
        assert_eq!(index.find_from(&ids[300], &mut cursor).map(row), Some(300));
        assert!(!cursor.ordered, "a jump is not the plans' order");
        assert_eq!(index.find_from(&ids[302], &mut cursor).map(row), Some(302));
        assert!(
            cursor.ordered,
            "the table found the plan just after the last"
        );
    }

    #[test]
    fn a_repeated_id_is_found_under_its_first_row() {
        let index = PlanIndex::new(&plans()).unwrap();
        assert_eq!(pid(&index, "P-A"), Some(0));
        assert_eq!(index.repeated_ids(), 1);
    }

    #[test]
    fn many_ids_are_all_found_and_only_they() {
        // Ids of one width (the fixed table) and of many (the hash tables, in shards on a
        // machine with more than one processor), each with every 1000th id listed again.
        let widths: [fn(usize) -> String; 2] = [|i| format!("P-{i:014}"), |i| format!("P-{i}")];
        for format in widths {
            let first: Vec<String> = (0..150_000).map(format).collect();
            let mut ids = first.clone();
            ids.extend(first.iter().step_by(1000).cloned());
            let n = ids.len();
            let frame = df!(
                "plan_id" => ids.clone(),
                "cell_first" => (0..n as u32).collect::<Vec<_>>(),
                "cell_now" => vec![0u32; n],
                "changed_index" => vec![None::<i32>; n],
            )
            .unwrap();
            let index = PlanIndex::new(&frame).unwrap();
            assert_eq!(
                matches!(index.keys, Keys::Fixed(_)),
                first[0].len() == first[149_999].len()
            );
            for (row, id) in first.iter().enumerate() {
                let found = index.find(id).map(|found| found.in_month(None));
                assert_eq!(
                    found,
                    Some(PlanOfEvent {
                        pid: row as u32,
                        cell: Some(row as u32)
                    })
                );
            }
            assert_eq!(pid(&index, &format(150_000)), None);
            assert_eq!(pid(&index, "P-"), None);
            assert_eq!(index.repeated_ids(), 150);
        }
    }
}
