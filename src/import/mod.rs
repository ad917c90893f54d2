//! From record-level data to published figures: aggregate at every level from unrounded
//! counts, then apply disclosure control, then write `records/metrics/YYYY-MM.csv`.

pub mod aggregate;
pub mod check;
pub mod counts;
pub mod extract;
pub mod write;
