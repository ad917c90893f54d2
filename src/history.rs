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
    #[serde(skip)]
    pub template: Template,
}

/// Every template's versions, oldest first, by template id.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub templates: BTreeMap<String, Vec<TemplateVersion>>,
    /// Commits visited by the walk.
    pub commits: usize,
}

/// A commit that changed a template file, with the template as it was after the commit.
struct Touch {
    commit: Oid,
    time: i64,
    author: String,
    message: String,
    template: Template,
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
        let mut options = DiffOptions::new();
        options.pathspec(&folder).skip_binary_check(true);
        let diff = repo.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut options))?;
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
            let Some(template) = parse_template(blob.content()) else {
                continue; // an invalid revision of a file has no version to show
            };
            let author = commit.author();
            touches.entry(template.id.clone()).or_default().push(Touch {
                commit: oid,
                time: commit.time().seconds(),
                author: author.name().unwrap_or("unknown").to_owned(),
                message: commit.message().unwrap_or_default().to_owned(),
                template,
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
                .is_some_and(|last| last.template.version == touch.template.version)
            {
                continue;
            }
            versions.push(TemplateVersion {
                version: touch.template.version.to_string(),
                commit: touch.commit.to_string(),
                date: iso_date(touch.time),
                author: touch.author,
                subject: touch.message.lines().next().unwrap_or_default().to_owned(),
                trailers: parse_trailers(&touch.message),
                template: touch.template,
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
