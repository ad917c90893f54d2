//! Secondary suppression: choose further cells to hide so that no suppressed count can be
//! worked out from the published totals.
//!
//! A month's published figures for one measure form a linked table: rows are areas in a
//! hierarchy (boroughs add up to their STP area, STP areas to London) and columns are the
//! templates plus their total (`all`). Every row's total is the sum of its parts and every
//! parent row is the sum of its children, column by column.
//!
//! Those equations are flow conservation in a network (after dropping the row equations of
//! parent rows, which the others imply): every cell is an arc, every remaining equation a node.
//! The published cells are known flows; the suppressed cells are unknown flows that cannot be
//! negative (a `*` does not tell a reader whether it is a small count or one hidden to protect
//! another). A suppressed cell can be recovered exactly if and only if no cycle of suppressed
//! cells runs through it along which flow can be moved by one without any count going below
//! zero (the constraint matrix of a network is totally unimodular, so every other solution is
//! the true one plus such cycles). So:
//!
//! * `recoverable` finds the suppressed cells on no such cycle (the bridges of their graph);
//! * `protect` takes each unprotected primary cell and suppresses the cheapest path of published
//!   cells (by the counts they would hide) that closes a cycle through it. Hiding more cells
//!   only adds cycles, so one pass protects every cell.
//!
//! Rounding is ignored here on purpose: treating published counts as exact gives the reader
//! more than they have, so a table safe under that assumption is safe when rounded too.
//!
//! Left open: a reader who assumes every `*` is a small count (1 to the threshold) can sometimes
//! narrow one further (seven boroughs' `*` under a London `*` of at most seven must each be one);
//! that follows from the threshold rule itself, not from the totals, and no further suppression
//! inside the table removes it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How a cell of the table is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellStatus {
    Published,
    /// A small count, suppressed by the threshold rule.
    Primary,
    /// Hidden only so that a primary cell cannot be recovered.
    Secondary,
}

/// One measure in one month: rows in a hierarchy, `columns` part columns and their total.
#[derive(Debug, Clone)]
pub struct LinkedTable {
    /// Each row's parent row; exactly one row (the root) has none.
    pub parents: Vec<Option<usize>>,
    /// Number of part columns; the total column is index `columns`.
    pub columns: usize,
    /// Unrounded counts, row by row, `columns + 1` per row (the total last).
    pub values: Vec<u64>,
    pub status: Vec<CellStatus>,
}

/// An arc of the network: a cell, flowing from node `from` to node `to`.
#[derive(Debug, Clone, Copy)]
struct Arc {
    from: usize,
    to: usize,
}

impl LinkedTable {
    /// A table whose cells are primary-suppressed when `1 <= value <= threshold`.
    pub fn new(
        parents: Vec<Option<usize>>,
        columns: usize,
        values: Vec<u64>,
        threshold: u64,
    ) -> LinkedTable {
        let status = values
            .iter()
            .map(|&v| {
                if (1..=threshold).contains(&v) {
                    CellStatus::Primary
                } else {
                    CellStatus::Published
                }
            })
            .collect();
        LinkedTable {
            parents,
            columns,
            values,
            status,
        }
    }

    pub fn width(&self) -> usize {
        self.columns + 1
    }

    pub fn rows(&self) -> usize {
        self.parents.len()
    }

    pub fn cell(&self, row: usize, column: usize) -> usize {
        row * self.width() + column
    }

    fn leaves(&self) -> Vec<bool> {
        let mut leaf = vec![true; self.rows()];
        for parent in self.parents.iter().flatten() {
            leaf[*parent] = false;
        }
        leaf
    }

    /// The network: node ids are `row * width + column` for the column equations of parent rows,
    /// `row * width` (column 0's slot) for the row equation of a leaf, and one node past the end
    /// for the outside of the table.
    fn arcs(&self) -> (Vec<Arc>, usize) {
        let width = self.width();
        let leaf = self.leaves();
        let outside = self.rows() * width;
        // The equation a cell takes part in as the whole: its row's (a leaf) or its column's
        // within its row (a parent row).
        let own = |row: usize, column: usize| {
            if leaf[row] {
                row * width
            } else {
                row * width + column
            }
        };
        // The equation it takes part in as a part: its parent's column, or the outside.
        let up =
            |row: usize, column: usize| self.parents[row].map_or(outside, |p| p * width + column);
        let mut arcs = Vec::with_capacity(self.values.len());
        for row in 0..self.rows() {
            for column in 0..width {
                let arc = if column < self.columns {
                    Arc {
                        from: own(row, column),
                        to: up(row, column),
                    }
                } else {
                    Arc {
                        from: up(row, column),
                        to: own(row, column),
                    }
                };
                arcs.push(arc);
            }
        }
        (arcs, outside + 1)
    }

    /// The bounds a reader can place on a cell. A suppressed count could be any count to them:
    /// `*` does not say whether it is small or hidden to protect another, and a secondary `*`
    /// can be zero.
    fn bounds(&self, cell: usize) -> (u64, u64) {
        match self.status[cell] {
            CellStatus::Primary | CellStatus::Secondary => (0, u64::MAX),
            CellStatus::Published => (self.values[cell], self.values[cell]),
        }
    }

    /// Every suppressed cell whose count can be worked out exactly: the bridges of the graph of
    /// suppressed cells, found in one pass. (Every suppressed count above zero can move either
    /// way, so a cell is on a cycle with slack exactly when it is on a cycle at all; a hidden
    /// zero, which can only move up, is judged by the same shape.)
    pub fn recoverable(&self) -> Vec<usize> {
        let bridges = self.bridges();
        (0..self.values.len()).filter(|&c| bridges[c]).collect()
    }

    /// Which suppressed cells lie on no cycle of suppressed cells (Tarjan's bridges, iterative).
    fn bridges(&self) -> Vec<bool> {
        let (arcs, nodes) = self.arcs();
        let mut adjacency: Vec<Vec<(usize, usize)>> = vec![Vec::new(); nodes];
        for (cell, arc) in arcs.iter().enumerate() {
            if self.status[cell] != CellStatus::Published {
                adjacency[arc.from].push((arc.to, cell));
                adjacency[arc.to].push((arc.from, cell));
            }
        }
        let unseen = usize::MAX;
        let mut order = vec![unseen; nodes];
        let mut low = vec![0; nodes];
        let mut bridge = vec![false; arcs.len()];
        let mut counter = 0;
        for root in 0..nodes {
            if order[root] != unseen || adjacency[root].is_empty() {
                continue;
            }
            order[root] = counter;
            low[root] = counter;
            counter += 1;
            // (node, the cell it was reached by, the next neighbour to look at)
            let mut stack = vec![(root, usize::MAX, 0usize)];
            while let Some(top) = stack.len().checked_sub(1) {
                let (node, via, next) = stack[top];
                if let Some(&(neighbour, cell)) = adjacency[node].get(next) {
                    stack[top].2 += 1;
                    if cell == via {
                        continue;
                    }
                    if order[neighbour] == unseen {
                        order[neighbour] = counter;
                        low[neighbour] = counter;
                        counter += 1;
                        stack.push((neighbour, cell, 0));
                    } else {
                        low[node] = low[node].min(order[neighbour]);
                    }
                } else {
                    stack.pop();
                    if let Some(&(parent, _, _)) = stack.last() {
                        low[parent] = low[parent].min(low[node]);
                        if low[node] > order[parent] {
                            bridge[via] = true;
                        }
                    }
                }
            }
        }
        bridge
    }

    /// Suppresses further cells until no suppressed cell can be recovered. Returns how many
    /// cells were added.
    pub fn protect(&mut self) -> usize {
        let mut added = 0;
        let costs: Vec<u64> = (0..self.values.len()).map(|cell| self.cost(cell)).collect();
        let mut bridges = self.bridges();
        for cell in 0..self.values.len() {
            if self.status[cell] != CellStatus::Primary || !bridges[cell] {
                continue;
            }
            // Published cells may join the cycle at what hiding them costs readers; a cycle
            // always exists through the totals.
            let Some(path) = self.cycle_through(cell, Some(&|index| costs[index])) else {
                continue;
            };
            for arc in path {
                if self.status[arc] == CellStatus::Published {
                    self.status[arc] = CellStatus::Secondary;
                    added += 1;
                }
            }
            bridges = self.bridges();
        }
        added
    }

    /// What hiding a published cell costs readers: the count it hides (plus one, so fewer
    /// cells win among equals), weighted by how widely the cell is read. An area's figure for
    /// all templates is read most, so it is hidden last; a template's figure in a smaller area
    /// first: borough x1, STP area x10, London x100, and an all-templates total x1000.
    fn cost(&self, cell: usize) -> u64 {
        let width = self.columns + 1;
        let (row, column) = (cell / width, cell % width);
        let depth = |mut row: usize| {
            let mut depth = 0u32;
            while let Some(parent) = self.parents[row] {
                row = parent;
                depth += 1;
            }
            depth
        };
        let deepest = (0..self.parents.len()).map(depth).max().unwrap_or(0);
        let area_weight = 10u64.pow(deepest - depth(row));
        let total_weight = if column == self.columns { 1000 } else { 1 };
        (self.values[cell] + 1)
            .saturating_mul(area_weight)
            .saturating_mul(total_weight)
    }

    /// The cheapest cycle through `cell` along which a unit of flow can move within bounds:
    /// the cells on it other than `cell`. Only suppressed cells may be used unless `cost` prices
    /// published ones (which would become secondary, so free to move in either direction).
    fn cycle_through(
        &self,
        cell: usize,
        cost: Option<&dyn Fn(usize) -> u64>,
    ) -> Option<Vec<usize>> {
        let (arcs, nodes) = self.arcs();
        // Residual graph: (to, cell, cost) per node.
        let mut residual: Vec<Vec<(usize, usize, u64)>> = vec![Vec::new(); nodes];
        for (index, arc) in arcs.iter().enumerate() {
            if index == cell {
                continue;
            }
            let value = self.values[index];
            let (lo, hi, price) = match (self.status[index], cost) {
                (CellStatus::Published, None) => continue,
                // A zero is never hidden: a reader may know it is zero anyway (a retired
                // template takes no new plans), and then hiding it protects nothing. A cycle
                // without zeros always exists: through the totals, which are at least the
                // small count itself.
                (CellStatus::Published, Some(_)) if value == 0 => continue,
                (CellStatus::Published, Some(cost)) => (0, u64::MAX, cost(index)),
                _ => {
                    let (lo, hi) = self.bounds(index);
                    (lo, hi, 0)
                }
            };
            if value < hi {
                residual[arc.from].push((arc.to, index, price));
            }
            if value > lo {
                residual[arc.to].push((arc.from, index, price));
            }
        }
        let (lo, hi) = self.bounds(cell);
        let arc = arcs[cell];
        let value = self.values[cell];
        // Moving one more unit through the cell needs a way back from its head to its tail;
        // one less needs a way from its tail to its head.
        let mut options = Vec::new();
        if value < hi {
            options.extend(cheapest_path(&residual, arc.to, arc.from));
        }
        if value > lo {
            options.extend(cheapest_path(&residual, arc.from, arc.to));
        }
        options
            .into_iter()
            .min_by_key(|(price, _)| *price)
            .map(|(_, cells)| cells)
    }
}

/// Dijkstra over the residual graph: the cheapest path's price and the cells it runs along.
fn cheapest_path(
    residual: &[Vec<(usize, usize, u64)>],
    from: usize,
    to: usize,
) -> Option<(u64, Vec<usize>)> {
    let mut best = vec![u64::MAX; residual.len()];
    let mut came_by: Vec<Option<(usize, usize)>> = vec![None; residual.len()];
    let mut queue = BinaryHeap::new();
    best[from] = 0;
    queue.push(Reverse((0u64, from)));
    while let Some(Reverse((price, node))) = queue.pop() {
        if price > best[node] {
            continue;
        }
        if node == to {
            break;
        }
        for &(next, cell, step) in &residual[node] {
            let candidate = price.saturating_add(step);
            if candidate < best[next] {
                best[next] = candidate;
                came_by[next] = Some((node, cell));
                queue.push(Reverse((candidate, next)));
            }
        }
    }
    if best[to] == u64::MAX {
        return None;
    }
    let mut cells = Vec::new();
    let mut node = to;
    while let Some((previous, cell)) = came_by[node] {
        cells.push(cell);
        node = previous;
        if node == from {
            break;
        }
    }
    Some((best[to], cells))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DisclosureRule;
    use crate::model::Count;
    use proptest::prelude::*;

    /// London with two boroughs, two templates: rows London, A, B.
    fn table(leaves: [[u64; 2]; 2]) -> LinkedTable {
        let mut values = vec![0; 9];
        for (row, parts) in leaves.iter().enumerate() {
            let r = row + 1;
            values[r * 3] = parts[0];
            values[r * 3 + 1] = parts[1];
            values[r * 3 + 2] = parts[0] + parts[1];
            values[0] += parts[0];
            values[1] += parts[1];
            values[2] += parts[0] + parts[1];
        }
        LinkedTable::new(vec![None, Some(0), Some(0)], 2, values, 7)
    }

    #[test]
    fn a_lone_small_count_is_recoverable_from_its_row_total() {
        let t = table([[3, 40], [50, 60]]);
        assert_eq!(t.recoverable(), vec![3]);
    }

    #[test]
    fn protection_hides_the_cheapest_cycle_and_leaves_nothing_recoverable() {
        let mut t = table([[3, 40], [50, 60]]);
        let added = t.protect();
        assert!(added >= 1);
        assert!(t.recoverable().is_empty(), "{:?}", t.status);
        // The cheapest way round is through the other template and the other borough.
        assert_eq!(t.status[t.cell(1, 1)], CellStatus::Secondary);
    }

    #[test]
    fn two_small_counts_on_a_diagonal_are_each_alone_in_their_row() {
        let mut t = table([[1, 8], [8, 1]]);
        assert_eq!(t.recoverable(), vec![t.cell(1, 0), t.cell(2, 1)]);
        t.protect();
        assert!(t.recoverable().is_empty(), "{:?}", t.status);
    }

    #[test]
    fn a_table_without_small_counts_is_left_alone() {
        let mut t = table([[30, 40], [50, 60]]);
        assert_eq!(t.protect(), 0);
    }

    /// An independent reader: tries every way of moving the hidden leaf counts by -1, 0 or +1,
    /// recomputes every total the table publishes, and keeps the moves that agree with every
    /// published cell and leave no count negative. A suppressed cell no such move
    /// changes is exactly known to the reader. (Moves of one suffice: the table's equations are
    /// a network, so any other solution is reached through unit cycles.)
    fn cells_a_reader_can_recover(table: &LinkedTable) -> Vec<usize> {
        let rows = table.rows();
        let width = table.width();
        let leaves = table.leaves();
        let hidden: Vec<usize> = (0..rows)
            .filter(|&r| leaves[r])
            .flat_map(|r| (0..table.columns).map(move |c| r * width + c))
            .filter(|&cell| table.status[cell] != CellStatus::Published)
            .collect();
        let mut moved = vec![false; table.values.len()];
        let combinations = 3usize.pow(hidden.len() as u32);
        for code in 0..combinations {
            let mut delta = vec![0i64; table.values.len()];
            let mut rest = code;
            for &cell in &hidden {
                delta[cell] = (rest % 3) as i64 - 1;
                rest /= 3;
            }
            if hidden.iter().all(|&cell| delta[cell] == 0) {
                continue;
            }
            // Totals: each leaf row's total, then each parent from its children (deepest first).
            for row in 0..rows {
                if leaves[row] {
                    delta[row * width + table.columns] =
                        (0..table.columns).map(|c| delta[row * width + c]).sum();
                }
            }
            let mut order: Vec<usize> = (0..rows).filter(|&r| !leaves[r]).collect();
            let depth = |mut r: usize| {
                let mut d = 0;
                while let Some(p) = table.parents[r] {
                    r = p;
                    d += 1;
                }
                d
            };
            order.sort_by_key(|&r| std::cmp::Reverse(depth(r)));
            for parent in order {
                for column in 0..width {
                    delta[parent * width + column] = (0..rows)
                        .filter(|&r| table.parents[r] == Some(parent))
                        .map(|r| delta[r * width + column])
                        .sum();
                }
            }
            let consistent = (0..table.values.len()).all(|cell| {
                let value = table.values[cell] as i64 + delta[cell];
                match table.status[cell] {
                    CellStatus::Published => delta[cell] == 0,
                    CellStatus::Primary | CellStatus::Secondary => value >= 0,
                }
            });
            if consistent {
                for (cell, d) in delta.iter().enumerate() {
                    moved[cell] |= *d != 0;
                }
            }
        }
        (0..table.values.len())
            .filter(|&cell| table.status[cell] != CellStatus::Published && !moved[cell])
            .collect()
    }

    /// A random table: London, one or two STP areas, one or two boroughs each (three at most),
    /// one to three templates, leaf counts skewed small so that many are suppressed.
    fn random_table() -> impl Strategy<Value = LinkedTable> {
        (1usize..=2, 1usize..=3, 1usize..=3)
            .prop_flat_map(|(stps, boroughs, columns)| {
                let boroughs = boroughs.max(stps);
                let counts = proptest::collection::vec(
                    prop_oneof![3 => 0u64..=8, 1 => 0u64..=60],
                    boroughs * columns,
                );
                (Just(stps), Just(boroughs), Just(columns), counts)
            })
            .prop_map(|(stps, boroughs, columns, counts)| {
                let width = columns + 1;
                // Rows: London, the STP areas, then boroughs spread over them.
                let mut parents = vec![None];
                parents.extend((0..stps).map(|_| Some(0)));
                parents.extend((0..boroughs).map(|b| Some(1 + b % stps)));
                let rows = parents.len();
                let mut values = vec![0u64; rows * width];
                for b in 0..boroughs {
                    let row = 1 + stps + b;
                    for c in 0..columns {
                        let v = counts[b * columns + c];
                        for target in [row, parents[row].unwrap(), 0] {
                            values[target * width + c] += v;
                            values[target * width + columns] += v;
                        }
                    }
                }
                LinkedTable::new(parents, columns, values, 7)
            })
    }

    #[test]
    fn the_reader_recovers_what_primary_suppression_alone_leaves_open() {
        // Proves the reader is not blind: a lone small count is found.
        let t = table([[3, 40], [50, 60]]);
        assert_eq!(cells_a_reader_can_recover(&t), vec![t.cell(1, 0)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn with_secondary_suppression_no_suppressed_count_can_be_recovered(mut t in random_table()) {
            t.protect();
            prop_assert_eq!(cells_a_reader_can_recover(&t), Vec::<usize>::new(), "{:?} {:?}", t.values, t.status);
            prop_assert!(t.recoverable().is_empty());
            // Small counts are the primary cells; zeros are never hidden.
            for (cell, status) in t.status.iter().enumerate() {
                match status {
                    CellStatus::Primary => prop_assert!((1..=7).contains(&t.values[cell])),
                    CellStatus::Secondary => prop_assert!(t.values[cell] > 7),
                    CellStatus::Published => {}
                }
            }
        }

        #[test]
        fn the_structural_audit_agrees_with_the_reader(t in random_table()) {
            // Without protection: whatever the reader recovers, `recoverable` reports.
            let found = cells_a_reader_can_recover(&t);
            prop_assert_eq!(t.recoverable(), found);
        }

        #[test]
        fn without_secondary_suppression_every_published_count_is_zero_or_rounded_above_the_threshold(count in 0u64..1_000_000) {
            let rule = DisclosureRule::default();
            match super::super::publish(count, &rule) {
                Count::Value(v) => prop_assert!(v == 0 || (v % rule.rounding_base == 0 && v >= rule.threshold)),
                Count::Suppressed => prop_assert!((1..=rule.threshold).contains(&count)),
            }
        }
    }
}
