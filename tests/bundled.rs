//! The bundled London records: clean under `check`, and exactly what the seeded model makes.

mod common;

use common::project_root;

#[test]
fn bundled_records_are_clean() {
    let run = common::run_in(&project_root(), &["check", "--deny", "warnings"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("7 templates"), "{}", run.stdout);
    assert!(
        run.stdout.contains("0 errors, 0 warnings"),
        "{}",
        run.stdout
    );
}

#[test]
fn bundled_metrics_are_what_the_model_makes() {
    // The published files must be reproducible from the model and its seed, byte for byte.
    let out = tempfile::tempdir().unwrap();
    let run = common::run_in(
        &project_root(),
        &["synth", "--metrics", out.path().to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bundled = project_root().join("records/metrics");
    let mut names: Vec<_> = std::fs::read_dir(&bundled)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 48);
    for name in names {
        let expected = std::fs::read(bundled.join(&name)).unwrap();
        let made = std::fs::read(out.path().join(&name)).unwrap();
        assert!(
            expected == made,
            "{} differs from the model's output",
            name.to_string_lossy()
        );
    }
}

#[test]
fn bundled_london_has_about_115000_plans_in_mid_2020() {
    let text = std::fs::read_to_string(project_root().join("records/metrics/2020-06.csv")).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("2020-06,E12000007,all,"))
        .unwrap();
    let active: u64 = row.split(',').nth(3).unwrap().parse().unwrap();
    assert!((105_000..=125_000).contains(&active), "{active}");
}

#[test]
fn bundled_figures_are_secondary_suppressed_and_the_method_page_says_so() {
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("site");
    let run = common::run_in(&project_root(), &["build", "--out", site.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let method = std::fs::read_to_string(site.join("method.html")).unwrap();
    assert!(method.contains("(secondary suppression)"), "{method}");
}
