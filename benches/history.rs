//! Template history and review on a synthetic repository of 10,000 commits touching the
//! templates: the one-walk history used by template pages, and `review` from the first commit
//! to the last. Prints medians of several runs.
//!
//!     cargo bench --bench history            # 10,000 commits
//!     cargo bench --bench history -- 2000    # another size

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use careplans::history::template_history;
use careplans::review::revisions::review;
use careplans::snapshot::git::GitWorkspace;
use git2::{FileMode, Oid, Repository, Signature, Time};

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A repository whose first commit holds the project's records and whose next `commits`
/// commits each change one template (title reworded and patch version bumped), written
/// straight into the object database.
fn synthetic_repository(dir: &Path, commits: usize) -> (PathBuf, Oid, Oid) {
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = dir.to_path_buf();
    fs::copy(project.join("careplans.toml"), root.join("careplans.toml")).unwrap();
    for folder in ["records", "records-schema"] {
        copy_dir(&project.join(folder), &root.join(folder));
    }
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head("main");
    let repo = Repository::init_opts(&root, &options).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    let mut tree_id = index.write_tree().unwrap();
    let signature = |i: i64| {
        Signature::new(
            "Champion",
            "champion@example.nhs.uk",
            &Time::new(1_600_000_000 + i * 600, 0),
        )
        .unwrap()
    };
    let first = repo
        .commit(
            Some("HEAD"),
            &signature(0),
            &signature(0),
            "Initial records",
            &repo.find_tree(tree_id).unwrap(),
            &[],
        )
        .unwrap();
    let mut templates: Vec<(String, String)> = fs::read_dir(root.join("records/templates"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    templates.sort();
    let mut parent = first;
    for i in 0..commits {
        let slot = i % templates.len();
        let (name, text) = &mut templates[slot];
        // The current version line.
        let version_line = text
            .lines()
            .find(|l| l.starts_with("version:"))
            .unwrap()
            .to_owned();
        let version = version_line
            .trim_start_matches("version:")
            .trim()
            .trim_matches('"')
            .to_owned();
        let mut parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
        parts[2] += 1;
        let next = format!("version: \"{}.{}.{}\"", parts[0], parts[1], parts[2]);
        // Reword the title (a patch-level change) and bump the version.
        let title_line = text
            .lines()
            .find(|l| l.starts_with("title:"))
            .unwrap()
            .to_owned();
        let base_title = title_line
            .trim_start_matches("title:")
            .split(" (revision")
            .next()
            .unwrap()
            .trim()
            .to_owned();
        *text = text.replacen(&version_line, &next, 1).replacen(
            &title_line,
            &format!("title: {base_title} (revision {i})"),
            1,
        );
        let blob = repo.blob(text.as_bytes()).unwrap();
        let root_tree = repo.find_tree(tree_id).unwrap();
        let records = repo
            .find_tree(root_tree.get_name("records").unwrap().id())
            .unwrap();
        let folder = repo
            .find_tree(records.get_name("templates").unwrap().id())
            .unwrap();
        let mut builder = repo.treebuilder(Some(&folder)).unwrap();
        builder
            .insert(name.as_str(), blob, FileMode::Blob.into())
            .unwrap();
        let folder_id = builder.write().unwrap();
        let mut builder = repo.treebuilder(Some(&records)).unwrap();
        builder
            .insert("templates", folder_id, FileMode::Tree.into())
            .unwrap();
        let records_id = builder.write().unwrap();
        let mut builder = repo.treebuilder(Some(&root_tree)).unwrap();
        builder
            .insert("records", records_id, FileMode::Tree.into())
            .unwrap();
        tree_id = builder.write().unwrap();
        let message =
            format!("Reword {name} ({i})\n\nReviewed-by: Reviewer <reviewer@example.nhs.uk>\n");
        let parent_commit = repo.find_commit(parent).unwrap();
        parent = repo
            .commit(
                Some("HEAD"),
                &signature(i as i64 + 1),
                &signature(i as i64 + 1),
                &message,
                &repo.find_tree(tree_id).unwrap(),
                &[&parent_commit],
            )
            .unwrap();
    }
    (root, first, parent)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let commits: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (root, first, last) = synthetic_repository(dir.path(), commits);
    println!(
        "made a repository of {} commits in {:.1} s",
        commits + 1,
        started.elapsed().as_secs_f64()
    );
    let workspace = GitWorkspace::discover(&root).unwrap();
    let runs = 5;
    let mut versions = 0;
    let history: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let history = template_history(&workspace, last, "records/templates").unwrap();
            versions = history.templates.values().map(Vec::len).sum();
            started.elapsed()
        })
        .collect();
    let reviews: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let result = review(&root, &first.to_string(), Some(&last.to_string())).unwrap();
            assert!(!result.templates.is_empty());
            started.elapsed()
        })
        .collect();
    println!("| operation | commits | median of {runs} |");
    println!("| --- | --- | --- |");
    println!(
        "| history walk ({versions} template versions) | {} | {:.3} s |",
        commits + 1,
        median(history).as_secs_f64()
    );
    println!(
        "| review first..last | {} | {:.3} s |",
        commits + 1,
        median(reviews).as_secs_f64()
    );
}
