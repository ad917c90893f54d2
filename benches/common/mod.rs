//! What the benchmarks share: copies of the project's records at several sizes.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use careplans::model::Month;
use careplans::snapshot::Snapshot;
use careplans::snapshot::source::WorkTree;
use careplans::synth::write_model_metrics;

pub fn copy_dir(from: &Path, to: &Path) {
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
pub fn scaled_repo(dir: &Path, templates: usize, months: u32) -> PathBuf {
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
    let last = Month::new(2024, 3).unwrap();
    let first = last.plus_months(-(i64::from(months) - 1));
    // Keep the number of people about London's, spread over the longer window.
    let scale = 60.0 / f64::from(months);
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
