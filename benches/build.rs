//! `build` on the bundled records and on records 10x and 100x larger (more months, more
//! templates), in process: load, check, analyse, render, write. Reports the median of several
//! runs for each size and the ratio to the bundled size.
//!
//!     cargo bench --bench build            # all sizes
//!     cargo bench --bench build -- 1x 10x  # some

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use careplans::model::Month;
use careplans::pipeline::Build;
use careplans::snapshot::Snapshot;
use careplans::snapshot::source::WorkTree;
use careplans::synth::write_model_metrics;

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

/// A copy of the project's records with `templates` templates and `months` months of metrics.
fn scaled_repo(dir: &Path, templates: usize, months: u32) -> PathBuf {
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = dir.to_path_buf();
    fs::copy(project.join("careplans.toml"), root.join("careplans.toml")).unwrap();
    for folder in ["records-schema", "reports", "site", "records/programmes"] {
        copy_dir(&project.join(folder), &root.join(folder));
    }
    fs::copy(
        project.join("records/areas.yaml"),
        root.join("records/areas.yaml"),
    )
    .unwrap();
    let sources: Vec<PathBuf> = {
        let mut list: Vec<PathBuf> = fs::read_dir(project.join("records/templates"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        list.sort();
        list
    };
    fs::create_dir_all(root.join("records/templates")).unwrap();
    for index in 0..templates {
        let source = &sources[index % sources.len()];
        let text = fs::read_to_string(source).unwrap();
        let id = source.file_stem().unwrap().to_string_lossy().into_owned();
        let copy = index / sources.len();
        let new_id = if copy == 0 {
            id.clone()
        } else {
            format!("{id}-{copy}")
        };
        let text = text.replacen(&format!("id: {id}\n"), &format!("id: {new_id}\n"), 1);
        let text = text.replace("replaced_by: urgent-care-plan\n", "");
        fs::write(root.join(format!("records/templates/{new_id}.yaml")), text).unwrap();
    }
    let snapshot = Snapshot::load(&WorkTree::new(&root)).unwrap();
    let last = Month::new(2023, 3).unwrap();
    let first = last.plus_months(-(i64::from(months) - 1));
    // Keep the number of people about London's, spread over the longer window.
    let scale = 48.0 / f64::from(months);
    write_model_metrics(
        &snapshot,
        2020,
        first,
        months,
        scale,
        &root.join("records/metrics"),
    )
    .unwrap();
    root
}

fn build_once(root: &Path, out: &Path) -> Duration {
    let started = Instant::now();
    let mut build = Build::open(root, None, Month::new(2026, 11).unwrap()).unwrap();
    let built = build.full();
    assert!(built.ok(), "build refused: {:?}", build.problems().first());
    build.write(out).unwrap();
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let sizes = [("1x", 7, 48, 7), ("10x", 31, 120, 5), ("100x", 79, 480, 3)];
    let mut baseline = None;
    println!("| size | templates | months | metrics rows | pages | median build | ratio to 1x |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, templates, months, runs) in sizes {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = scaled_repo(dir.path(), templates, months);
        let snapshot = Snapshot::load(&WorkTree::new(&root)).unwrap();
        let rows = snapshot.row_count();
        let out = dir.path().join("public");
        build_once(&root, &out); // warm the file cache
        let pages = walk_count(&out);
        let samples: Vec<Duration> = (0..runs).map(|_| build_once(&root, &out)).collect();
        let median = median(samples);
        let base = *baseline.get_or_insert(median);
        println!(
            "| {name} | {templates} | {months} | {rows} | {pages} | {:.3} s | {:.1} |",
            median.as_secs_f64(),
            median.as_secs_f64() / base.as_secs_f64()
        );
    }
}

fn walk_count(dir: &Path) -> usize {
    let mut count = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            count += walk_count(&path);
        } else if path.extension().is_some_and(|e| e == "html") {
            count += 1;
        }
    }
    count
}
