//! Rules over a loaded `Snapshot`: identities, references, logic across rows and months,
//! disclosure control and patient identifiers. Validation only reads the snapshot and returns
//! diagnostics; it never changes records and never stops at the first problem.

pub mod identifiers;
pub mod metrics;
pub mod records;
pub mod scan;
pub mod schema;

use crate::diagnostic::{self, Diagnostic};
use crate::model::Month;
use crate::snapshot::Snapshot;

/// Everything `check` reports: the loader's diagnostics plus every rule here, sorted.
/// `today` is the current month (a parameter so tests do not depend on the clock).
pub fn validate(snapshot: &Snapshot, today: Month) -> Vec<Diagnostic> {
    let mut out = snapshot.diagnostics.clone();
    out.extend(records::check(snapshot));
    out.extend(metrics::check(snapshot, today));
    out.extend(scan::check(snapshot));
    diagnostic::sort(&mut out);
    out.dedup();
    out
}
