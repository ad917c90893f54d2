//! Where a snapshot's files come from: the work tree on disk, or (later) a git revision.
//!
//! Loading code only sees this trait, so the same loader reads either. Implementations only
//! read; they never interpret file contents.

use std::fs;
use std::path::{Path, PathBuf};

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    NotFound,
    /// A symbolic link that resolves outside the repository.
    OutsideRepository(String),
    Unreadable(String),
}

impl SourceError {
    pub fn describe(&self) -> String {
        match self {
            SourceError::NotFound => "file not found".into(),
            SourceError::OutsideRepository(target) => {
                format!("symbolic link points outside the repository (to {target})")
            }
            SourceError::Unreadable(message) => message.clone(),
        }
    }
}

/// Read access to the files of one version of a records repository. Paths are
/// repository-relative with `/` separators.
pub trait Source: Send + Sync {
    /// For messages: "work tree /path/to/repo" or "revision abc1234".
    fn describe(&self) -> String;

    /// The files directly inside `dir`, sorted by path; an empty list when `dir` does not exist.
    fn list(&self, dir: &str) -> Result<Vec<String>, SourceError>;

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError>;

    /// Every file under `dir`, in sub-folders too, sorted by path.
    fn list_tree(&self, dir: &str) -> Result<Vec<String>, SourceError>;
}

/// The files on disk under a workspace root.
#[derive(Debug, Clone)]
pub struct WorkTree {
    root: PathBuf,
}

impl WorkTree {
    /// `root` should be canonical (as `config::find_workspace` returns it).
    pub fn new(root: impl Into<PathBuf>) -> WorkTree {
        let root = root.into();
        let root = root.canonicalize().unwrap_or(root);
        WorkTree { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }
}

impl Source for WorkTree {
    fn describe(&self) -> String {
        format!("work tree {}", self.root.display())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let full = self.full(dir);
        let entries = match fs::read_dir(&full) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(SourceError::Unreadable(format!(
                    "cannot list {}: {error}",
                    full.display()
                )));
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| SourceError::Unreadable(format!("cannot list {dir}: {e}")))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // names that are not UTF-8 cannot be records files
            };
            // A symlink is listed whatever it points at; `read` decides whether it may be followed.
            let is_file_like = entry
                .file_type()
                .map(|t| t.is_file() || t.is_symlink())
                .unwrap_or(false);
            if is_file_like {
                files.push(crate::config::join(dir, &name));
            }
        }
        files.sort();
        Ok(files)
    }

    fn list_tree(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let mut out = Vec::new();
        let mut pending = vec![dir.to_owned()];
        while let Some(current) = pending.pop() {
            let full = self.full(&current);
            let entries = match fs::read_dir(&full) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => {
                    return Err(SourceError::Unreadable(format!(
                        "cannot list {current}: {error}"
                    )));
                }
            };
            for entry in entries.flatten() {
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let path = crate::config::join(&current, &name);
                match entry.file_type() {
                    // Folders are walked; symlinked folders are not followed.
                    Ok(t) if t.is_dir() => pending.push(path),
                    Ok(t) if t.is_file() || t.is_symlink() => out.push(path),
                    _ => {}
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let full = self.full(path);
        let metadata = match fs::symlink_metadata(&full) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(SourceError::NotFound);
            }
            Err(error) => {
                return Err(SourceError::Unreadable(format!(
                    "cannot read {path}: {error}"
                )));
            }
        };
        if metadata.file_type().is_symlink() {
            let target = fs::canonicalize(&full).map_err(|e| {
                SourceError::Unreadable(format!("broken symbolic link {path}: {e}"))
            })?;
            if !target.starts_with(&self.root) {
                return Err(SourceError::OutsideRepository(target.display().to_string()));
            }
        }
        fs::read(&full)
            .map_err(|error| SourceError::Unreadable(format!("cannot read {path}: {error}")))
    }
}

/// Files held in memory: for tests, and for sources assembled from other places.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl MemorySource {
    pub fn insert(&mut self, path: &str, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path.to_owned(), bytes.into());
    }
}

impl Source for MemorySource {
    fn describe(&self) -> String {
        "files in memory".into()
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        Ok(self
            .files
            .keys()
            .filter(|path| {
                path.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .cloned()
            .collect())
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.files.get(path).cloned().ok_or(SourceError::NotFound)
    }

    fn list_tree(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        Ok(self
            .files
            .keys()
            .filter(|path| path.starts_with(&prefix))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_tree_lists_files_sorted_and_skips_folders() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("records/templates/nested")).unwrap();
        fs::write(dir.path().join("records/templates/b.yaml"), "").unwrap();
        fs::write(dir.path().join("records/templates/a.yaml"), "").unwrap();
        let tree = WorkTree::new(dir.path());
        assert_eq!(
            tree.list("records/templates").unwrap(),
            vec!["records/templates/a.yaml", "records/templates/b.yaml"]
        );
        assert!(tree.list("records/missing").unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn work_tree_refuses_symlink_outside_repository() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.yaml"), "x: 1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.yaml"),
            dir.path().join("link.yaml"),
        )
        .unwrap();
        let tree = WorkTree::new(dir.path());
        assert!(matches!(
            tree.read("link.yaml"),
            Err(SourceError::OutsideRepository(_))
        ));
    }

    #[test]
    fn memory_source_lists_direct_children_only() {
        let mut source = MemorySource::default();
        source.insert("a/b.yaml", "");
        source.insert("a/c/d.yaml", "");
        assert_eq!(source.list("a").unwrap(), vec!["a/b.yaml"]);
    }
}
