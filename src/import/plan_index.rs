//! Every plan of an extract found by its id: what the events need of their plan (its cells and
//! the month its template changed), looked up by hashing each event's plan id once. This takes
//! the place of joining the events to the plans: at 100M events, polars' join on the id's text
//! (hashing and probing string views, then gathering the plan's columns into every event row)
//! was about 29% of an import.

use std::sync::Arc;

use hashbrown::HashTable;
use polars::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

/// Polars' array of string views, as a rechunked `plan_id` column holds it.
type IdArray = <StringType as PolarsDataType>::Array;

/// The plans, by id: a hash table of their rows (`pid`), with the plans' own `plan_id` column
/// to compare ids against (as text, so two ids that share a hash are still told apart), and
/// what an event needs of each plan in one place, so that finding it costs one more memory
/// read. (Entries holding the id's bytes and the cells were slower: 36 bytes an entry made the
/// table too large for the reads it saved.)
pub struct PlanIndex {
    ids: IdArray,
    table: HashTable<u32>,
    plans: Vec<Cells>,
    /// Rows whose id an earlier row has.
    repeated: u64,
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

/// An unknown cell, as `extract::NO_CELL` packs it.
const UNKNOWN_CELL: u32 = u32::MAX;
const NEVER: i32 = i32::MAX;

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
        if ids.len() > u32::MAX as usize {
            polars_bail!(ComputeError: "more than {} plans", u32::MAX);
        }
        let cell_first = plans.column("cell_first")?.u32()?;
        let cell_now = plans.column("cell_now")?.u32()?;
        let changed = plans.column("changed_index")?.i64()?;
        let plans = cell_first
            .iter()
            .zip(cell_now.iter())
            .zip(changed.iter())
            .map(|((first, now), changed)| Cells {
                first: first.unwrap_or(UNKNOWN_CELL),
                now: now.unwrap_or(UNKNOWN_CELL),
                // A month past i32's range is no month an extract the check passes has.
                changed: changed.map_or(NEVER, |m| i32::try_from(m).unwrap_or(NEVER)),
            })
            .collect();
        let mut table = HashTable::with_capacity(ids.len());
        let mut repeated = 0;
        for (pid, id) in ids.iter().enumerate() {
            // A plan with no id matches no event (polars' joins do not match nulls either).
            let Some(id) = id else { continue };
            let hash = xxh3_64(id.as_bytes());
            if table
                .find(hash, |&other: &u32| ids.value(other as usize) == id)
                .is_none()
            {
                table.insert_unique(hash, pid as u32, |&other: &u32| {
                    xxh3_64(ids.value(other as usize).as_bytes())
                });
            } else {
                repeated += 1;
            }
        }
        Ok(Arc::new(PlanIndex {
            ids,
            table,
            plans,
            repeated,
        }))
    }

    /// How many plans have an id an earlier plan has: a plan listed twice (which would be
    /// counted twice), found exactly, ids compared as text.
    pub fn repeated_ids(&self) -> u64 {
        self.repeated
    }

    /// The row of the plan with this id.
    pub fn pid(&self, id: &str) -> Option<u32> {
        self.table
            .find(xxh3_64(id.as_bytes()), |&pid: &u32| {
                self.ids.value(pid as usize) == id
            })
            .copied()
    }

    /// What an event with this plan id in the month `month` (a `Month::index`) counts in.
    pub fn of_event(&self, id: &str, month: Option<i64>) -> Option<PlanOfEvent> {
        let pid = self.pid(id)?;
        let plan = self.plans[pid as usize];
        let cell = match month {
            Some(month) if plan.changed != NEVER && month >= i64::from(plan.changed) => plan.now,
            _ => plan.first,
        };
        Some(PlanOfEvent {
            pid,
            cell: (cell != UNKNOWN_CELL).then_some(cell),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans() -> DataFrame {
        df!(
            "plan_id" => [Some("P-A"), Some("P-B"), None, Some("P-A"), Some("P-C")],
            "cell_first" => [Some(1u32), Some(2), Some(3), Some(4), None],
            "cell_now" => [Some(5u32), Some(2), Some(3), Some(4), None],
            "changed_index" => [Some(20i64), None, None, None, None],
        )
        .unwrap()
    }

    #[test]
    fn events_find_their_plan_and_its_cell_in_their_month() {
        let index = PlanIndex::new(&plans()).unwrap();
        let cell =
            |id: &str, month: Option<i64>| index.of_event(id, month).map(|p| (p.pid, p.cell));
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
            "changed_index" => [None::<i64>, None, None],
        )
        .unwrap();
        let index = PlanIndex::new(&frame).unwrap();
        assert_eq!(index.pid(&long("A")), Some(0));
        assert_eq!(index.pid(&long("B")), Some(1));
        assert_eq!(index.pid("PLAN-0123456789-"), Some(2));
        assert_eq!(index.pid(&long("C")), None);
        assert_eq!(index.pid(&long("AB")), None);
    }

    #[test]
    fn a_repeated_id_is_found_under_its_first_row() {
        let index = PlanIndex::new(&plans()).unwrap();
        assert_eq!(index.pid("P-A"), Some(0));
        assert_eq!(index.repeated_ids(), 1);
    }

    #[test]
    fn many_ids_are_all_found_and_only_they() {
        let ids: Vec<String> = (0..50_000).map(|i| format!("P-{i:014}")).collect();
        let n = ids.len();
        let frame = df!(
            "plan_id" => ids.clone(),
            "cell_first" => vec![0u32; n],
            "cell_now" => vec![0u32; n],
            "changed_index" => vec![None::<i64>; n],
        )
        .unwrap();
        let index = PlanIndex::new(&frame).unwrap();
        for (pid, id) in ids.iter().enumerate() {
            assert_eq!(index.pid(id), Some(pid as u32));
        }
        assert_eq!(index.pid("P-00000000050000"), None);
        assert_eq!(index.repeated_ids(), 0);
    }
}
