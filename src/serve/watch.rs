//! File watching for `serve`: debounced native events, grouped by what they change, with editor
//! noise (temporary files, swap files, `public/`, `target/`, `.git/`) dropped.

use std::path::{Path, PathBuf};

/// What a file event changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    Config,
    Templates,
    Areas,
    Programmes,
    Metrics,
    Schemas,
    Reports,
    Site,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Config => "config",
            ChangeKind::Templates => "templates",
            ChangeKind::Areas => "areas",
            ChangeKind::Programmes => "programmes",
            ChangeKind::Metrics => "metrics",
            ChangeKind::Schemas => "schemas",
            ChangeKind::Reports => "reports",
            ChangeKind::Site => "site theme",
        }
    }
}

/// Editors write temporary and swap files next to the one being saved; they are not changes.
fn is_editor_noise(name: &str) -> bool {
    name.starts_with(".#")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.ends_with(".bak")
        || name == "4913" // vim's write test file
        || (name.starts_with('.') && name.contains(".tmp"))
}

/// Classifies a changed path (relative to the workspace), or `None` when it does not matter.
pub fn classify(relative: &Path) -> Option<ChangeKind> {
    let text = relative.to_string_lossy().replace('\\', "/");
    let first = text.split('/').next().unwrap_or_default();
    if matches!(first, "public" | "target" | ".git" | "node_modules")
        || first.starts_with(".public")
    {
        return None;
    }
    let name = text.rsplit('/').next().unwrap_or_default();
    if is_editor_noise(name) {
        return None;
    }
    if text == "careplans.toml" {
        return Some(ChangeKind::Config);
    }
    let kind = if text.starts_with("records/templates/") {
        ChangeKind::Templates
    } else if text.starts_with("records/metrics/") {
        ChangeKind::Metrics
    } else if text.starts_with("records/programmes/") {
        ChangeKind::Programmes
    } else if text == "records/areas.yaml" {
        ChangeKind::Areas
    } else if text.starts_with("records-schema/") {
        ChangeKind::Schemas
    } else if text.starts_with("reports/") {
        ChangeKind::Reports
    } else if text.starts_with("site/") {
        ChangeKind::Site
    } else {
        return None;
    };
    Some(kind)
}

/// The distinct kinds of change in a batch of events, in a stable order.
pub fn group(root: &Path, paths: &[PathBuf]) -> Vec<ChangeKind> {
    let mut kinds: Vec<ChangeKind> = paths
        .iter()
        .filter_map(|p| p.strip_prefix(root).ok().and_then(classify))
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_a_save_into_one_kind() {
        let root = Path::new("/repo");
        let paths: Vec<PathBuf> = [
            "records/templates/.urgent-care-plan.yaml.swp",
            "records/templates/urgent-care-plan.yaml~",
            "records/templates/.urgent-care-plan.yaml.tmp.123",
            "records/templates/urgent-care-plan.yaml",
            "records/templates/urgent-care-plan.yaml",
            "records/templates/4913",
        ]
        .iter()
        .map(|p| root.join(p))
        .collect();
        assert_eq!(group(root, &paths), vec![ChangeKind::Templates]);
    }

    #[test]
    fn ignores_output_build_and_git_folders() {
        for path in [
            "public/index.html",
            "target/debug/careplans",
            ".git/index",
            ".public.new-1/index.html",
        ] {
            assert_eq!(classify(Path::new(path)), None, "{path}");
        }
    }

    #[test]
    fn classifies_each_kind_of_record() {
        assert_eq!(
            classify(Path::new("records/metrics/2021-04.csv")),
            Some(ChangeKind::Metrics)
        );
        assert_eq!(
            classify(Path::new("reports/overview.yaml")),
            Some(ChangeKind::Reports)
        );
        assert_eq!(
            classify(Path::new("careplans.toml")),
            Some(ChangeKind::Config)
        );
        assert_eq!(
            classify(Path::new("site/templates/base.html")),
            Some(ChangeKind::Site)
        );
        assert_eq!(classify(Path::new("README.md")), None);
    }
}
