//! Reading a records repository at a git revision with git2: trees and blobs only, no checkout
//! and no `git` process, so the same loader reads a revision exactly as it reads the work tree.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::source::{MemorySource, Source, SourceError};

/// Refuses revision names that could be mistaken for options or ranges. Accepts what people
/// type: branch and tag names, `origin/main`, hashes, `HEAD~2`, `main^`.
pub fn validate_revision(rev: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "/._-~^@{}".contains(c);
    if rev.is_empty() || rev.len() > 200 {
        bail!("revision name must be 1 to 200 characters");
    }
    if rev.starts_with('-') {
        bail!("revision `{rev}` looks like an option");
    }
    if rev.contains("..") {
        bail!("revision `{rev}` is a range; give a single revision");
    }
    if let Some(bad) = rev.chars().find(|c| !ok_char(*c)) {
        bail!("revision `{rev}` contains `{bad}`, which no revision name needs");
    }
    Ok(())
}

/// The git repository holding a workspace, and the workspace's folder inside it.
pub struct GitWorkspace {
    pub repo: Repository,
    /// The workspace folder relative to the repository root, `/`-separated ("" at the root).
    pub prefix: String,
}

impl GitWorkspace {
    pub fn discover(root: &Path) -> Result<GitWorkspace> {
        let repo = Repository::discover(root)
            .with_context(|| format!("{} is not inside a git repository", root.display()))?;
        let workdir: PathBuf = repo
            .workdir()
            .map(Path::to_path_buf)
            .ok_or_else(|| anyhow!("the git repository has no work tree"))?;
        let workdir = workdir.canonicalize().unwrap_or(workdir);
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let prefix = root
            .strip_prefix(&workdir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        Ok(GitWorkspace { repo, prefix })
    }

    /// The commit a revision names, with a clear error when it is missing (as in a shallow
    /// clone that did not fetch it).
    pub fn resolve(&self, rev: &str) -> Result<Oid> {
        validate_revision(rev)?;
        let object = self.repo.revparse_single(rev).map_err(|error| {
            let shallow = if self.repo.is_shallow() {
                " This is a shallow clone: fetch more history (for example `git fetch --unshallow`, or `fetch-depth: 0` in GitHub Actions)."
            } else {
                ""
            };
            anyhow!("revision `{rev}` not found in this repository: {}.{shallow}", error.message())
        })?;
        let commit = object
            .peel_to_commit()
            .map_err(|_| anyhow!("revision `{rev}` does not name a commit"))?;
        Ok(commit.id())
    }

    /// Every file of the workspace at a commit, as a `Source`.
    pub fn source_at(&self, commit: Oid, label: &str) -> Result<RevisionSource> {
        let commit = self.repo.find_commit(commit)?;
        let mut tree = commit.tree()?;
        if !self.prefix.is_empty() {
            let entry = tree
                .get_path(Path::new(&self.prefix))
                .with_context(|| format!("{} does not exist at {label}", self.prefix))?;
            tree = self.repo.find_tree(entry.id())?;
        }
        let mut files = MemorySource::default();
        let mut failure = None;
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(ObjectType::Blob) || entry.filemode() == 0o120000 {
                // Folders are walked into; symbolic links are not followed at a revision.
                return TreeWalkResult::Ok;
            }
            let path = format!("{dir}{}", entry.name().unwrap_or_default());
            match self.repo.find_blob(entry.id()) {
                Ok(blob) => files.insert(&path, blob.content()),
                Err(error) => {
                    failure = Some(anyhow!("cannot read {path} at {label}: {error}"));
                    return TreeWalkResult::Abort;
                }
            }
            TreeWalkResult::Ok
        })?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(RevisionSource {
            files,
            label: format!("revision {label} ({})", &commit.id().to_string()[..10]),
        })
    }
}

/// A workspace's files at one git revision, read into memory.
pub struct RevisionSource {
    files: MemorySource,
    label: String,
}

impl Source for RevisionSource {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        self.files.list(dir)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.files.read(path)
    }

    fn list_tree(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        self.files.list_tree(dir)
    }
}

/// Opens the revision `rev` of the workspace at `root` as a source.
pub fn open_revision(root: &Path, rev: &str) -> Result<RevisionSource> {
    let workspace = GitWorkspace::discover(root)?;
    let commit = workspace.resolve(rev)?;
    workspace.source_at(commit, rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_revision_names() {
        for rev in [
            "main",
            "origin/main",
            "HEAD~2",
            "v1.2.0",
            "a1b2c3d",
            "feature/cpr-optional",
            "main^",
        ] {
            assert!(validate_revision(rev).is_ok(), "{rev}");
        }
    }

    #[test]
    fn refuses_options_ranges_and_odd_characters() {
        for rev in [
            "--output=/tmp/x",
            "-n",
            "main..feature",
            "main...feature",
            "a b",
            "x;rm",
            "",
        ] {
            assert!(validate_revision(rev).is_err(), "{rev}");
        }
    }
}
