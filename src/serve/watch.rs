//! File watching for `serve`: native events under the folders `[paths]` names, debounced into
//! one batch per save, classified (`snapshot::Changes`) and handed to the pipeline's rebuild.
//! Reads (our own rebuild opening files) are not changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::AppState;
use crate::config::Paths;
use crate::snapshot::{ChangeKind, Changes};

/// Events closer together than this are one save: one rebuild per batch. Editors write a
/// temporary file and rename it, or write in place and touch metadata, within a millisecond or
/// two (vim 9: five events within 0.6 ms); a longer window only delays every reload. A save
/// split over two batches costs one extra rebuild, never a wrong page.
pub const DEBOUNCE: Duration = Duration::from_millis(30);

/// The folders to watch recursively: the records, schemas, reports and theme of `[paths]`
/// (the workspace root itself is watched alone, for `careplans.toml`).
pub fn watched_folders(paths: &Paths) -> Vec<String> {
    let mut folders = vec![
        paths.records.clone(),
        paths.schemas.clone(),
        paths.reports.clone(),
        paths.site.clone(),
    ];
    folders.sort();
    folders.dedup();
    // A folder inside another is watched through it.
    let all = folders.clone();
    folders.retain(|f| {
        !all.iter()
            .any(|other| other != f && f.starts_with(&format!("{other}/")))
    });
    folders
}

/// Watches what `paths` names under `root`, replacing the watches of `before`.
fn watch_folders(
    watcher: &mut RecommendedWatcher,
    root: &Path,
    before: &[String],
    paths: &Paths,
) -> Vec<String> {
    for folder in before {
        let _ = watcher.unwatch(&root.join(folder));
    }
    let folders = watched_folders(paths);
    for folder in &folders {
        let path = root.join(folder);
        if path.is_dir() {
            let _ = watcher.watch(&path, RecursiveMode::Recursive);
        }
    }
    folders
}

/// Starts the watcher thread: each debounced batch of changes is one rebuild and one log line.
pub fn watch(state: Arc<AppState>) -> Result<()> {
    let root = state.root.clone();
    let (sender, receiver) = std::sync::mpsc::channel::<Vec<PathBuf>>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, EventKind::Access(_) | EventKind::Other)
        {
            crate::pipeline::log::debug(|| {
                let at = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() % 100_000_000);
                format!("event at {at} us: {:?} {:?}", event.kind, event.paths)
            });
            let _ = sender.send(event.paths);
        }
    })
    .context("cannot watch files")?;
    watcher.watch(&root, RecursiveMode::NonRecursive)?;
    let mut paths = state.watched_paths();
    let mut folders = watch_folders(&mut watcher, &root, &[], &paths);
    std::thread::spawn(move || {
        while let Ok(first) = receiver.recv() {
            let mut events = first;
            let opened = std::time::Instant::now();
            while let Ok(more) = receiver.recv_timeout(DEBOUNCE) {
                events.extend(more);
            }
            crate::pipeline::log::debug(|| {
                format!(
                    "{} events in a batch that stayed open {:.1?}",
                    events.len(),
                    opened.elapsed()
                )
            });
            let changes = Changes::from_events(&paths, &root, &events);
            if changes.is_empty() {
                continue;
            }
            let done = state.rebuild(&changes);
            eprintln!("{}", done.log_line());
            if changes.any(ChangeKind::Config) {
                // The folders may have moved.
                let now = state.watched_paths();
                if now != paths {
                    folders = watch_folders(&mut watcher, &root, &folders, &now);
                    paths = now;
                }
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_the_folders_the_config_names_once_each() {
        assert_eq!(
            watched_folders(&Paths::default()),
            ["records", "records-schema", "reports", "site"]
        );
        let nested = Paths {
            records: "data".into(),
            schemas: "data/schemas".into(),
            reports: "data/reports".into(),
            site: "theme".into(),
        };
        assert_eq!(watched_folders(&nested), ["data", "theme"]);
    }
}
