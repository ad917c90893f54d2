//! The pipeline's layering (ARCHITECTURE.md): `cmd` turns arguments into one pipeline call,
//! so nothing below it, and no bench, may reach up into `cmd`.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn render_serve_pipeline_and_the_benches_use_nothing_from_cmd() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src/render",
        "src/serve",
        "src/pipeline",
        "src/review",
        "benches",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "too few files found: {files:?}");
    let upward: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap();
            [
                "crate::cmd",
                "careplans::cmd",
                "super::cmd",
                "super::super::cmd",
            ]
            .iter()
            .any(|pattern| text.contains(pattern))
        })
        .map(|path| path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(upward.is_empty(), "these reach up into cmd: {upward:?}");
}
