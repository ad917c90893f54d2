//! What changed among the files a snapshot reads: each changed path classified by the folders
//! `[paths]` in `careplans.toml` names, so a rebuild reads again only those files. Editor
//! noise (swap and temporary files) and folders careplans never reads (`public/`, `target/`,
//! `.git/`) are not changes. It only classifies; it never reads a file.

use std::path::{Path, PathBuf};

use crate::config::{CONFIG_FILE, Paths};

/// What a changed file is, by where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// `careplans.toml`: it may move every folder, so everything is read again.
    Config,
    /// A JSON Schema or the metrics table schema: the files it governs are checked again.
    Schemas,
    Templates,
    Areas,
    /// London-wide change points.
    ChangePoints,
    Programmes,
    Metrics,
    Reports,
    /// A minijinja template of the site's theme.
    Theme,
    /// A static asset of the theme (CSS, images): copied, nothing rendered.
    Static,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Config => "config",
            ChangeKind::Schemas => "schemas",
            ChangeKind::Templates => "templates",
            ChangeKind::Areas => "areas",
            ChangeKind::ChangePoints => "change points",
            ChangeKind::Programmes => "programmes",
            ChangeKind::Metrics => "metrics",
            ChangeKind::Reports => "reports",
            ChangeKind::Theme => "theme templates",
            ChangeKind::Static => "static files",
        }
    }
}

/// One changed path, relative to the workspace, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangedFile {
    pub path: String,
    pub kind: ChangeKind,
}

/// A batch of changed files (one debounced save, say), each path once, in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    files: Vec<ChangedFile>,
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
        || (name.starts_with('#') && name.ends_with('#')) // emacs auto-save
        || name.ends_with("___jb_tmp___") // JetBrains safe write
        || name.ends_with("___jb_old___")
}

/// Whether `path` is `dir` or lies inside it.
fn within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." {
        return true;
    }
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl Changes {
    /// What a changed path (relative to the workspace) is, or `None` when no snapshot reads it.
    pub fn classify(paths: &Paths, relative: &str) -> Option<ChangeKind> {
        let text = relative.replace('\\', "/");
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
        if text == CONFIG_FILE {
            return Some(ChangeKind::Config);
        }
        let site_templates = crate::config::join(&paths.site, "templates");
        let site_static = crate::config::join(&paths.site, "static");
        // The most specific folders first: `[paths]` may nest one inside another.
        let folders = [
            (paths.templates(), ChangeKind::Templates),
            (paths.programmes(), ChangeKind::Programmes),
            (paths.metrics(), ChangeKind::Metrics),
            (paths.areas(), ChangeKind::Areas),
            (paths.change_points(), ChangeKind::ChangePoints),
            (site_templates, ChangeKind::Theme),
            (site_static, ChangeKind::Static),
            (paths.schemas.clone(), ChangeKind::Schemas),
            (paths.reports.clone(), ChangeKind::Reports),
        ];
        folders
            .into_iter()
            .find(|(dir, _)| within(&text, dir))
            .map(|(_, kind)| kind)
    }

    /// The changes among absolute paths a file watcher reported under `root`.
    pub fn from_events(paths: &Paths, root: &Path, events: &[PathBuf]) -> Changes {
        let relative: Vec<String> = events
            .iter()
            .filter_map(|p| p.strip_prefix(root).ok())
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect();
        Changes::of_paths(paths, relative.iter().map(String::as_str))
    }

    /// The changes among workspace-relative paths.
    pub fn of_paths<'a>(paths: &Paths, relative: impl IntoIterator<Item = &'a str>) -> Changes {
        let mut files: Vec<ChangedFile> = relative
            .into_iter()
            .filter_map(|path| {
                Changes::classify(paths, path).map(|kind| ChangedFile {
                    path: path.replace('\\', "/"),
                    kind,
                })
            })
            .collect();
        files.sort();
        files.dedup();
        Changes { files }
    }

    /// A change to the configuration: everything is read again.
    pub fn everything() -> Changes {
        Changes {
            files: vec![ChangedFile {
                path: CONFIG_FILE.to_owned(),
                kind: ChangeKind::Config,
            }],
        }
    }

    pub fn files(&self) -> &[ChangedFile] {
        &self.files
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn any(&self, kind: ChangeKind) -> bool {
        self.files.iter().any(|f| f.kind == kind)
    }

    pub fn of(&self, kind: ChangeKind) -> impl Iterator<Item = &ChangedFile> {
        self.files.iter().filter(move |f| f.kind == kind)
    }

    /// The distinct kinds, in a stable order.
    pub fn kinds(&self) -> Vec<ChangeKind> {
        let mut kinds: Vec<ChangeKind> = self.files.iter().map(|f| f.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Adds another batch (a rebuild that failed leaves its changes to the next one).
    pub fn extend(&mut self, other: &Changes) {
        self.files.extend(other.files.iter().cloned());
        self.files.sort();
        self.files.dedup();
    }

    /// These changes without the files `keep` refuses, or all of them when it refuses every one.
    pub fn keeping(&self, keep: impl Fn(&ChangedFile) -> bool) -> Changes {
        let files: Vec<ChangedFile> = self.files.iter().filter(|f| keep(f)).cloned().collect();
        if files.is_empty() {
            self.clone()
        } else {
            Changes { files }
        }
    }

    /// For a log line: the path when one file changed, else how many and the first few.
    pub fn describe(&self) -> String {
        match self.files.as_slice() {
            [] => "nothing".to_owned(),
            [one] => one.path.clone(),
            many => {
                let first: Vec<&str> = many.iter().take(3).map(|f| f.path.as_str()).collect();
                let more = if many.len() > 3 { ", ..." } else { "" };
                format!("{} files ({}{more})", many.len(), first.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_of(paths: &Paths, relative: &[&str]) -> Vec<ChangeKind> {
        Changes::of_paths(paths, relative.iter().copied()).kinds()
    }

    #[test]
    fn groups_a_save_into_one_change() {
        let paths = Paths::default();
        let changes = Changes::of_paths(
            &paths,
            [
                "records/templates/.urgent-care-plan.yaml.swp",
                "records/templates/urgent-care-plan.yaml~",
                "records/templates/.urgent-care-plan.yaml.tmp.123",
                "records/templates/urgent-care-plan.yaml",
                "records/templates/urgent-care-plan.yaml",
                "records/templates/4913",
            ],
        );
        assert_eq!(
            changes.files(),
            &[ChangedFile {
                path: "records/templates/urgent-care-plan.yaml".into(),
                kind: ChangeKind::Templates
            }]
        );
        assert_eq!(
            changes.describe(),
            "records/templates/urgent-care-plan.yaml"
        );
    }

    #[test]
    fn ignores_output_build_and_git_folders() {
        let paths = Paths::default();
        for path in [
            "public/index.html",
            "target/debug/careplans",
            ".git/index",
            ".public.new-1/index.html",
            "README.md",
        ] {
            assert_eq!(Changes::classify(&paths, path), None, "{path}");
        }
    }

    #[test]
    fn classifies_each_kind_of_file() {
        let paths = Paths::default();
        for (path, kind) in [
            ("careplans.toml", ChangeKind::Config),
            ("records-schema/template.schema.json", ChangeKind::Schemas),
            ("records/templates/frailty.yaml", ChangeKind::Templates),
            ("records/areas.yaml", ChangeKind::Areas),
            ("records/programmes/nel.yaml", ChangeKind::Programmes),
            ("records/metrics/2021-04.csv", ChangeKind::Metrics),
            ("reports/overview.yaml", ChangeKind::Reports),
            ("site/templates/base.html", ChangeKind::Theme),
            ("site/static/careplans.css", ChangeKind::Static),
        ] {
            assert_eq!(Changes::classify(&paths, path), Some(kind), "{path}");
        }
    }

    #[test]
    fn folders_come_from_the_paths_in_the_config() {
        let paths = Paths {
            records: "data/records".into(),
            schemas: "schemas".into(),
            reports: "dashboards".into(),
            site: "theme".into(),
        };
        assert_eq!(
            kinds_of(
                &paths,
                &[
                    "data/records/templates/a.yaml",
                    "dashboards/overview.yaml",
                    "theme/templates/base.html",
                    "schemas/areas.schema.json",
                ]
            ),
            vec![
                ChangeKind::Schemas,
                ChangeKind::Templates,
                ChangeKind::Reports,
                ChangeKind::Theme
            ]
        );
        // The default folders mean nothing in this workspace.
        assert!(kinds_of(&paths, &["records/templates/a.yaml", "reports/x.yaml"]).is_empty());
    }
}
