//! careplans: care-plan templates and uptake figures handled like code.
//!
//! The pipeline: `snapshot` loads a records repository (work tree or git revision), `validate`
//! checks it, and the commands in `cmd` put the stages together. The binary only parses
//! arguments and exits.

pub mod analyse;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod diagnostic;
pub mod disclosure;
pub mod history;
pub mod import;
pub mod model;
pub mod render;
pub mod review;
pub mod serve;
pub mod site;
pub mod snapshot;
pub mod synth;
pub mod validate;
pub mod yaml;
