//! A review of two revisions: both read with git2 through the same loader as the work tree
//! (HEAD may be the work tree, uncommitted edits included), the commits between them with
//! their trailers and the templates each touched, the semantic diff and the rules' results.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Result, bail};
use git2::{DiffOptions, Oid, Sort};

use super::diff_templates;
use super::report::Review;
use super::rules::{self, CommitInfo, RuleInputs};
use super::trailers::parse_trailers;
use crate::diagnostic::Severity;
use crate::model::{Template, TemplateStatus};
use crate::snapshot::Snapshot;
use crate::snapshot::git::GitWorkspace;
use crate::snapshot::source::WorkTree;

/// Refuses to review records that do not load: a template that fails to parse would otherwise
/// look removed.
fn templates_of(snapshot: &Snapshot, label: &str) -> Result<Vec<Template>> {
    let dir = snapshot.config.paths.templates();
    let broken: Vec<String> = snapshot
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error && d.path.starts_with(&dir))
        .map(|d| d.location())
        .collect();
    if !broken.is_empty() {
        bail!(
            "templates at {label} have errors ({}); run `careplans check` there first",
            broken.join(", ")
        );
    }
    Ok(snapshot.templates.iter().map(|t| t.value.clone()).collect())
}

/// The template ids a tree-to-tree diff touches, by file name.
fn touched(
    workspace: &GitWorkspace,
    old: Option<&git2::Tree<'_>>,
    new: &git2::Tree<'_>,
    folder: &str,
) -> Result<Vec<String>> {
    let mut options = DiffOptions::new();
    options.pathspec(folder);
    let diff = workspace
        .repo
        .diff_tree_to_tree(old, Some(new), Some(&mut options))?;
    let mut ids = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(stem) = file
                .path()
                .and_then(|p| p.file_stem())
                .and_then(|s| s.to_str())
            {
                ids.insert(stem.to_owned());
            }
        }
    }
    Ok(ids.into_iter().collect())
}

/// The commits in BASE..HEAD (first-parent and merged ones alike), newest first.
pub fn commits_between(
    workspace: &GitWorkspace,
    base: Oid,
    head: Oid,
    templates_dir: &str,
) -> Result<Vec<CommitInfo>> {
    let folder = crate::config::join(&workspace.prefix, templates_dir);
    let mut walk = workspace.repo.revwalk()?;
    walk.push(head)?;
    walk.hide(base)?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    let mut out = Vec::new();
    for oid in walk {
        let commit = workspace.repo.find_commit(oid?)?;
        let tree = commit.tree()?;
        let parent = commit.parent(0).ok().map(|p| p.tree()).transpose()?;
        let message = commit.message().unwrap_or_default().to_owned();
        let author = commit.author();
        out.push(CommitInfo {
            id: commit.id().to_string(),
            author_name: author.name().unwrap_or_default().to_owned(),
            author_email: author.email().unwrap_or_default().to_owned(),
            subject: message.lines().next().unwrap_or_default().to_owned(),
            trailers: parse_trailers(&message),
            touched_templates: touched(workspace, parent.as_ref(), &tree, &folder)?,
        });
    }
    Ok(out)
}

/// A review with the templates on both sides, for pages that show them side by side.
pub struct ReviewedTemplates {
    pub review: Review,
    pub base: Vec<Template>,
    pub head: Vec<Template>,
}

/// Computes the review of `base` against `head` (`None`: the work tree).
pub fn review(root: &Path, base: &str, head: Option<&str>) -> Result<Review> {
    Ok(review_with_templates(root, base, head)?.review)
}

/// The review and both sides' templates.
pub fn review_with_templates(
    root: &Path,
    base: &str,
    head: Option<&str>,
) -> Result<ReviewedTemplates> {
    let workspace = GitWorkspace::discover(root)?;
    let base_oid = workspace.resolve(base)?;
    let base_snapshot = Snapshot::load(&workspace.source_at(base_oid, base)?)?;
    let base_templates = templates_of(&base_snapshot, base)?;
    let templates_dir = base_snapshot.config.paths.templates();
    let signoff_trailer = base_snapshot.config.review.signoff_trailer.clone();

    let (head_label, head_templates, head_oid, uncommitted) = match head {
        Some(rev) => {
            let oid = workspace.resolve(rev)?;
            let snapshot = Snapshot::load(&workspace.source_at(oid, rev)?)?;
            (rev.to_owned(), templates_of(&snapshot, rev)?, oid, None)
        }
        None => {
            let snapshot = Snapshot::load(&WorkTree::new(root))?;
            let templates = templates_of(&snapshot, "the work tree")?;
            let head_commit = workspace.repo.head()?.peel_to_commit()?;
            // Templates whose content differs from the last commit were edited by whoever is
            // working here now.
            let committed = Snapshot::load(&workspace.source_at(head_commit.id(), "HEAD")?)?;
            let committed_templates: Vec<Template> = committed
                .templates
                .iter()
                .map(|t| t.value.clone())
                .collect();
            let edited: Vec<String> = diff_templates(&committed_templates, &templates)
                .into_iter()
                .map(|d| d.id)
                .collect();
            let config = workspace.repo.config().ok();
            let get = |key: &str| {
                config
                    .as_ref()
                    .and_then(|c| c.get_string(key).ok())
                    .unwrap_or_default()
            };
            let who = (!edited.is_empty()).then(|| (get("user.name"), get("user.email"), edited));
            ("work tree".to_owned(), templates, head_commit.id(), who)
        }
    };
    let commits = commits_between(&workspace, base_oid, head_oid, &templates_dir)?;
    let retired_at_base: Vec<String> = base_templates
        .iter()
        .filter(|t| t.status == TemplateStatus::Retired)
        .map(|t| t.id.clone())
        .collect();
    let diffs = diff_templates(&base_templates, &head_templates);
    let results = rules::evaluate(
        &diffs,
        &RuleInputs {
            commits: &commits,
            uncommitted,
            signoff_trailer: &signoff_trailer,
            retired_at_base: &retired_at_base,
        },
    );
    Ok(ReviewedTemplates {
        review: Review {
            base: base.to_owned(),
            head: head_label,
            templates: diffs,
            rules: results,
            templates_dir,
        },
        base: base_templates,
        head: head_templates,
    })
}
