//! Analysis with polars: the published metrics as tables (with rates computed from published
//! counts), and report queries (polars SQL) over them. Returns plain values for rendering; it
//! never formats for display and never reads files.

pub mod compare;
pub mod evidence;
pub mod intervals;
pub mod pool;
pub mod query;
pub mod reads;
pub mod reports;
pub mod spc;
pub mod sql_guard;
pub mod tables;

pub use query::{Cell, QueryError, QueryResult, run_query};
pub use tables::{Tables, build_tables};
