//! Semantic review of template changes between two snapshots: what changed, in clinical words, and the version-bump and sign-off rules.
