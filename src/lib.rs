//! careplans: care-plan templates and uptake figures handled like code.
//!
//! The pipeline: `snapshot` loads a records repository (work tree or git revision), `validate`
//! checks it, `analyse` builds the tables and runs the reports, `render` makes the pages and
//! `site` writes them; `pipeline` runs those stages in order (and again, incrementally, for
//! `serve`). The commands in `cmd` parse nothing and decide nothing: arguments in, one
//! pipeline call, an exit status out. The binary only parses arguments and exits.

pub mod analyse;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod diagnostic;
pub mod disclosure;
pub mod extract;
pub mod fhir;
pub mod history;
pub mod import;
pub mod model;
pub mod panics;
pub mod pipeline;
pub mod progress;
pub mod render;
pub mod review;
pub mod serve;
pub mod site;
pub mod snapshot;
pub mod synth;
pub mod validate;
pub mod yaml;
