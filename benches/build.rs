//! `build` on the bundled records and on records 10x and 100x larger (more months, more
//! templates), in process: load, check, analyse, render, write. Reports the median of several
//! runs for each size and the ratio to the bundled size.
//!
//!     cargo bench --bench build            # all sizes
//!     cargo bench --bench build -- 1x 10x  # some

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use careplans::model::Month;
use careplans::pipeline::Build;
use careplans::snapshot::Snapshot;
use careplans::snapshot::source::WorkTree;

mod common;
use common::scaled_repo;

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
    let sizes = [("1x", 7, 60, 7), ("10x", 31, 120, 5), ("100x", 79, 480, 3)];
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
