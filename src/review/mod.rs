//! Semantic review of template changes between two snapshots: what changed, in clinical words
//! (`diff`), what that means for each service that reads plans (`services`), the version-bump
//! and sign-off rules (`rules`), commit trailers (`trailers`) and the output formats
//! (`report`), and reading two revisions and the commits between them (`revisions`, the only
//! part that reads git).

pub mod diff;
pub mod report;
pub mod revisions;
pub mod rules;
pub mod services;
pub mod trailers;

pub use diff::{Bump, Change, ChangeKind, TemplateDiff, diff_templates};
pub use report::Review;
pub use rules::{CommitInfo, RuleId, RuleInputs, RuleResult};
