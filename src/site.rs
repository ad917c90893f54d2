//! The rendered site in memory (path -> bytes) and the one function that writes it to disk.
//!
//! `build` renders everything before writing anything, then writes a sibling temporary folder
//! and renames it into place: a failure at any point leaves the previous site exactly as it was.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Every file of a site, by `/`-separated relative path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Site {
    pub fn insert(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), bytes.into());
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// The number of HTML pages.
    pub fn page_count(&self) -> usize {
        self.files.keys().filter(|p| p.ends_with(".html")).count()
    }

    /// Writes the site to `out` atomically: into a sibling temporary folder first, then renamed
    /// over the old one. The old site is removed only after the new one is in place.
    pub fn write_atomically(&self, out: &Path) -> Result<()> {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let name = out
            .file_name()
            .and_then(|n| n.to_str())
            .context("the output folder needs a name")?;
        let staging = parent.join(format!(".{name}.new-{}", std::process::id()));
        let retired = parent.join(format!(".{name}.old-{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        let result = self.write_into(&staging);
        if let Err(error) = result {
            let _ = fs::remove_dir_all(&staging);
            return Err(error);
        }
        if out.exists() {
            if !out.is_dir() {
                let _ = fs::remove_dir_all(&staging);
                bail!("{} exists and is not a folder", out.display());
            }
            fs::rename(out, &retired)
                .with_context(|| format!("cannot move the old site {} aside", out.display()))?;
        }
        if let Err(error) = fs::rename(&staging, out) {
            // Put the old site back before reporting.
            if retired.exists() {
                let _ = fs::rename(&retired, out);
            }
            let _ = fs::remove_dir_all(&staging);
            return Err(error)
                .with_context(|| format!("cannot move the new site into {}", out.display()));
        }
        let _ = fs::remove_dir_all(&retired);
        Ok(())
    }

    fn write_into(&self, dir: &Path) -> Result<()> {
        for (path, bytes) in &self.files {
            if path.split('/').any(|part| part == ".." || part.is_empty()) {
                bail!("refusing to write a file outside the site: {path}");
            }
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            fs::write(&target, bytes)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_a_site() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let mut site = Site::default();
        site.insert("index.html", "one");
        site.insert("areas/nwl/index.html", "two");
        site.write_atomically(&out).unwrap();
        assert_eq!(
            fs::read_to_string(out.join("areas/nwl/index.html")).unwrap(),
            "two"
        );
        let mut next = Site::default();
        next.insert("index.html", "three");
        next.write_atomically(&out).unwrap();
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "three");
        assert!(
            !out.join("areas").exists(),
            "files of the old site are gone"
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary folders left"
        );
    }

    #[test]
    fn refuses_paths_outside_the_site() {
        let dir = tempfile::tempdir().unwrap();
        let mut site = Site::default();
        site.insert("../escape.html", "x");
        assert!(site.write_atomically(&dir.path().join("public")).is_err());
        assert!(!dir.path().join("escape.html").exists());
    }
}
