//! Template version history from git: one walk over the commits, each visited once, with tree
//! diffs limited to the templates folder. Reads only; it never changes the repository.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use git2::{DiffOptions, Oid, Sort};
use serde::Serialize;

use crate::model::{Template, iso_date};
use crate::review::trailers::{Trailer, parse_trailers};
use crate::snapshot::git::GitWorkspace;

/// One version of a template: the commit that first gave the template this version.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateVersion {
    pub version: String,
    pub commit: String,
    /// Commit date, `YYYY-MM-DD` (UTC).
    pub date: String,
    pub author: String,
    pub subject: String,
    pub trailers: Vec<Trailer>,
    /// The template's file at this version.
    #[serde(skip)]
    pub blob: Oid,
    /// The template at this version, once `History::load_templates` has read it.
    #[serde(skip)]
    pub template: Option<Template>,
}

/// Every template's versions, oldest first, by template id.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub templates: BTreeMap<String, Vec<TemplateVersion>>,
    /// Commits visited by the walk.
    pub commits: usize,
}

/// A commit that changed a template file: the file's id and version after the commit.
struct Touch {
    commit: Oid,
    time: i64,
    author: String,
    message: String,
    version: String,
    blob: Oid,
}

impl History {
    /// Parses the template of every version (for diffs between versions). Kept apart from the
    /// walk, which only needs each file's version line.
    pub fn load_templates(&mut self, workspace: &GitWorkspace) {
        for versions in self.templates.values_mut() {
            for version in versions.iter_mut() {
                version.template = workspace
                    .repo
                    .find_blob(version.blob)
                    .ok()
                    .and_then(|b| parse_template(b.content()));
            }
        }
    }
}

/// The template's id (file name) and version, from its top-level `version:` line; a file
/// written another way is parsed in full.
fn id_and_version(path: &str, bytes: &[u8]) -> Option<(String, String)> {
    let id = Path::new(path).file_stem()?.to_str()?.to_owned();
    let text = std::str::from_utf8(bytes).ok()?;
    let quick = text.lines().find_map(|line| {
        let rest = line.strip_prefix("version:")?;
        let value = rest
            .split('#')
            .next()?
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        value
            .parse::<crate::model::Version>()
            .ok()
            .map(|v| v.to_string())
    });
    match quick {
        Some(version) => Some((id, version)),
        None => parse_template(bytes).map(|t| (id, t.version.to_string())),
    }
}

/// The commit a history starts from: `rev` resolved, or HEAD; `None` outside a repository
/// or before the first commit.
pub fn head_commit(root: &Path, rev: Option<&str>) -> Option<Oid> {
    let workspace = GitWorkspace::discover(root).ok()?;
    match rev {
        Some(rev) => workspace.resolve(rev).ok(),
        None => workspace
            .repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .ok()
            .map(|c| c.id()),
    }
}

/// Every template's history from `head` (see `head_commit`), with each version's template
/// parsed; `None` when there is no commit to start from.
pub fn read(root: &Path, head: Option<Oid>, templates_dir: &str) -> Result<Option<History>> {
    let Some(head) = head else {
        return Ok(None);
    };
    let workspace = GitWorkspace::discover(root)?;
    let mut history = template_history(&workspace, head, templates_dir)?;
    history.load_templates(&workspace);
    Ok(Some(history))
}

/// Walks history from `head` once. For each commit, only the templates folder is compared with
/// the first parent; changed template files are parsed at that commit.
pub fn template_history(
    workspace: &GitWorkspace,
    head: Oid,
    templates_dir: &str,
) -> Result<History> {
    let repo = &workspace.repo;
    let folder = if workspace.prefix.is_empty() {
        templates_dir.to_owned()
    } else {
        format!("{}/{templates_dir}", workspace.prefix)
    };
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME | Sort::REVERSE)?;
    walk.simplify_first_parent()?;
    let mut touches: BTreeMap<String, Vec<Touch>> = BTreeMap::new();
    let mut commits = 0;
    for oid in walk {
        let oid = oid?;
        commits += 1;
        let commit = repo.find_commit(oid)?;
        let tree = commit.tree()?;
        let parent_tree = match commit.parent(0) {
            Ok(parent) => Some(parent.tree()?),
            // The first commit, or a parent missing from a shallow clone.
            Err(_) => None,
        };
        // Compare only the templates folder, and only when its tree changed at all.
        let folder_tree =
            |tree: &git2::Tree<'_>| tree.get_path(Path::new(&folder)).ok().map(|e| e.id());
        let now = folder_tree(&tree);
        let before = parent_tree.as_ref().and_then(folder_tree);
        if now == before {
            continue;
        }
        let (Some(now), before) = (now, before) else {
            continue;
        };
        let new_folder = repo.find_tree(now)?;
        let old_folder = before.map(|id| repo.find_tree(id)).transpose()?;
        let mut options = DiffOptions::new();
        options.skip_binary_check(true);
        let diff =
            repo.diff_tree_to_tree(old_folder.as_ref(), Some(&new_folder), Some(&mut options))?;
        for delta in diff.deltas() {
            let file = delta.new_file();
            let Some(path) = file.path().and_then(Path::to_str) else {
                continue;
            };
            if !(path.ends_with(".yaml") || path.ends_with(".yml")) || file.id().is_zero() {
                continue; // removals have no new version
            }
            let Ok(blob) = repo.find_blob(file.id()) else {
                continue;
            };
            let Some((id, version)) = id_and_version(path, blob.content()) else {
                continue; // an unreadable revision of a file has no version to show
            };
            let author = commit.author();
            touches.entry(id).or_default().push(Touch {
                commit: oid,
                time: commit.time().seconds(),
                author: author.name().unwrap_or("unknown").to_owned(),
                message: commit.message().unwrap_or_default().to_owned(),
                version,
                blob: file.id(),
            });
        }
    }
    let mut history = History {
        commits,
        ..History::default()
    };
    for (id, list) in touches {
        let mut versions: Vec<TemplateVersion> = Vec::new();
        for touch in list {
            if versions
                .last()
                .is_some_and(|last| last.version == touch.version)
            {
                continue;
            }
            versions.push(TemplateVersion {
                version: touch.version,
                commit: touch.commit.to_string(),
                date: iso_date(touch.time),
                author: touch.author,
                subject: touch.message.lines().next().unwrap_or_default().to_owned(),
                trailers: parse_trailers(&touch.message),
                blob: touch.blob,
                template: None,
            });
        }
        history.templates.insert(id, versions);
    }
    Ok(history)
}

fn parse_template(bytes: &[u8]) -> Option<Template> {
    let text = crate::snapshot::text::decode(bytes, "").ok()?;
    let doc = crate::yaml::parse(&text).ok()?;
    serde_json::from_value(doc.value).ok()
}
