//! No input makes careplans panic: mutated copies of the bundled records (random byte edits,
//! truncations, swapped lines, removed files, odd YAML and CSV values, random report SQL) go
//! through `check` and `build` by the functions the CLI calls. Each case ends with exit 0 or 1
//! (2 only when careplans.toml, a schema or a theme file cannot be read, as the README says),
//! and a failing check names a file for every problem.
//!
//! CI runs a few dozen cases; `bash benches/fuzz-records.sh` runs 10,000 and counts them
//! (`CAREPLANS_FUZZ_CASES` sets the number, `CAREPLANS_FUZZ_SEED` the first seed).

mod common;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use careplans::model::Month;
use careplans::pipeline::Build;

/// SplitMix64: small, seeded, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The bundled records with their last three months of metrics (a gap-free window that keeps
/// each case quick), the reports and the theme.
fn bundled_copy(dir: &Path) {
    let project = common::project_root();
    fs::copy(project.join("careplans.toml"), dir.join("careplans.toml")).unwrap();
    for folder in ["records-schema", "reports", "site"] {
        common::copy_dir(&project.join(folder), &dir.join(folder));
    }
    for folder in ["records/templates", "records/programmes"] {
        common::copy_dir(&project.join(folder), &dir.join(folder));
    }
    fs::copy(
        project.join("records/areas.yaml"),
        dir.join("records/areas.yaml"),
    )
    .unwrap();
    let mut months: Vec<PathBuf> = fs::read_dir(project.join("records/metrics"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    months.sort();
    fs::create_dir_all(dir.join("records/metrics")).unwrap();
    for month in &months[months.len() - 3..] {
        fs::copy(
            month,
            dir.join("records/metrics").join(month.file_name().unwrap()),
        )
        .unwrap();
    }
}

fn files_under(dir: &Path, folder: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.join(folder)];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

const ODD_VALUES: &[&str] = &[
    "-1",
    "1e999",
    "\"\"",
    "[]",
    "{}",
    "null",
    "~",
    "2021-13",
    "\"\\u0000\"",
    "é",
    "*",
    "\t",
    "&anchor x",
    "*alias",
    "!!binary aGk=",
    "'unterminated",
    "18446744073709551616",
    "\"9434765919\"",
    "yes",
    "0x1F",
];

const ODD_CELLS: &[&str] = &[
    "-5",
    "abc",
    "*",
    "",
    "1e10",
    "9434765919",
    "\"",
    "3.5",
    "18446744073709551616",
    "2021-02",
    "E09000099",
    "all",
    "\u{ff11}",
];

/// A random but bounded query: one table, a few columns (real and not), an optional filter,
/// grouping and ordering, a LIMIT; no joins of the large tables, so no case can run out of
/// memory.
fn random_sql(rng: &mut Rng) -> String {
    let tables = [
        "metrics",
        "areas",
        "templates",
        "programmes",
        "missing_table",
    ];
    let columns = [
        "month",
        "area_code",
        "area_level",
        "template",
        "active_plans",
        "new_plans",
        "deaths",
        "plans_per_1000_aged_75_plus",
        "title",
        "name",
        "code",
        "start",
        "no_such_column",
        "*",
        "count(*)",
        "sum(active_plans)",
        "avg(new_plans)",
        "max(month)",
        "cast(month AS INT)",
        "substr(month, 1, 4)",
        "active_plans / 0",
        "NULL",
        "'text'",
        "1",
    ];
    let filters = [
        "",
        " WHERE area_level = 'london'",
        " WHERE month = $latest",
        " WHERE area_code = $area",
        " WHERE template = 'all' AND month >= $first",
        " WHERE active_plans > 'x'",
        " WHERE month IN (SELECT max(month) FROM metrics)",
        " WHERE",
    ];
    let tails = [
        "",
        " ORDER BY 1",
        " GROUP BY 1",
        " ORDER BY month DESC LIMIT 5",
        " LIMIT 0",
        " LIMIT -1",
        " UNION ALL SELECT 1",
        ";",
        "; DROP TABLE metrics",
        " ) ",
    ];
    let count = 1 + rng.below(4);
    let chosen: Vec<&str> = (0..count).map(|_| *rng.pick(&columns)).collect();
    let table = rng.pick(&tables);
    let from = if rng.below(20) == 0 {
        "read_csv('/etc/passwd')".to_owned()
    } else {
        (*table).to_owned()
    };
    format!(
        "SELECT {} FROM {from}{}{}",
        chosen.join(", "),
        rng.pick(&filters),
        rng.pick(&tails)
    )
}

/// Applies one random mutation to the copy; returns what it did, for a failure message.
fn mutate(dir: &Path, rng: &mut Rng) -> String {
    let mut files = files_under(dir, "records");
    files.extend(files_under(dir, "reports"));
    if rng.below(25) == 0 {
        files.push(dir.join("careplans.toml"));
    }
    if rng.below(25) == 0 {
        files.extend(files_under(dir, "records-schema"));
        files.extend(files_under(dir, "site/templates"));
    }
    let file = rng.pick(&files).clone();
    let name = file.strip_prefix(dir).unwrap().display().to_string();
    let bytes = fs::read(&file).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    match rng.below(8) {
        0 => {
            let mut bytes = bytes.clone();
            let edits = 1 + rng.below(5);
            for _ in 0..edits {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len());
                bytes[at] = *rng.pick(&[
                    0u8, 0xff, 0xc3, b'"', b':', b'\n', b'\t', b'-', b'[', b'{', b'*', b'&', b',',
                    b'#', b'9',
                ]);
            }
            fs::write(&file, bytes).unwrap();
            format!("{name}: byte edits")
        }
        1 => {
            let cut = rng.below(bytes.len().max(1));
            fs::write(&file, &bytes[..cut]).unwrap();
            format!("{name}: truncated at {cut}")
        }
        2 if lines.len() > 1 => {
            let a = rng.below(lines.len());
            let b = rng.below(lines.len());
            lines.swap(a, b);
            fs::write(&file, lines.join("\n")).unwrap();
            format!("{name}: swapped lines {a} and {b}")
        }
        3 if name.ends_with(".yaml") => {
            let candidates: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(": ") && !lines[i].trim_start().starts_with('#'))
                .collect();
            if candidates.is_empty() {
                return format!("{name}: unchanged");
            }
            let at = *rng.pick(&candidates);
            let key = lines[at].split(": ").next().unwrap().to_owned();
            let value = rng.pick(ODD_VALUES);
            lines[at] = format!("{key}: {value}");
            fs::write(&file, lines.join("\n")).unwrap();
            format!("{name}: line {} set to {value:?}", at + 1)
        }
        4 if name.ends_with(".csv") && lines.len() > 1 => {
            let row = 1 + rng.below(lines.len() - 1);
            let mut cells: Vec<String> = lines[row].split(',').map(str::to_owned).collect();
            let column = rng.below(cells.len());
            let value = rng.pick(ODD_CELLS);
            cells[column] = (*value).to_owned();
            lines[row] = cells.join(",");
            fs::write(&file, lines.join("\n") + "\n").unwrap();
            format!(
                "{name}: row {} column {} set to {value:?}",
                row + 1,
                column + 1
            )
        }
        5 => {
            let reports = files_under(dir, "reports");
            let report = rng.pick(&reports).clone();
            let text = fs::read_to_string(&report).unwrap_or_default();
            let Some(at) = text.find("    sql: >-\n") else {
                return "no query to change".into();
            };
            let end = text[at + 12..]
                .find("\n  - ")
                .or_else(|| text[at + 12..].find("\n\n"))
                .map_or(text.len(), |e| at + 12 + e);
            let sql = random_sql(rng);
            let changed = format!(
                "{}    sql: {}\n{}",
                &text[..at],
                serde_json::to_string(&sql).unwrap(),
                &text[end..].trim_start_matches('\n')
            );
            fs::write(&report, changed).unwrap();
            format!(
                "{}: query set to {sql:?}",
                report.strip_prefix(dir).unwrap().display()
            )
        }
        6 => {
            fs::remove_file(&file).unwrap();
            format!("{name}: removed")
        }
        _ => {
            let extra = rng.pick(ODD_VALUES);
            fs::write(&file, format!("{text}\n{extra}\n")).unwrap();
            format!("{name}: appended {extra:?}")
        }
    }
}

/// Whether an unreadable workspace (exit 2) is what this mutation may cause.
fn may_be_unreadable(what: &str) -> bool {
    what.split("; ").any(|one| {
        one.starts_with("careplans.toml")
            || one.starts_with("records-schema")
            || one.starts_with("site")
    })
}

/// Runs check, then build, as `careplans check` and `careplans build` do; returns a failure
/// message if anything is wrong.
fn run_case(dir: &Path, what: &str) -> Option<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let today = Month::new(2026, 12).unwrap();
        let mut build = match Build::open(dir, None, today) {
            Ok(build) => build,
            Err(error) if may_be_unreadable(what) => {
                let _ = error;
                return Ok(());
            }
            Err(error) => return Err(format!("exit 2 ({error:#}) for an unreadable workspace")),
        };
        let (report, _) = build.check();
        if let Some(d) = report.diagnostics.iter().find(|d| d.path.is_empty()) {
            return Err(format!("a problem without a file: {d:?}"));
        }
        let built = build.full();
        if !built.ok()
            && let Some(d) = build.problems().iter().find(|d| d.path.is_empty())
        {
            return Err(format!("a build problem without a file: {d:?}"));
        }
        if built.ok() && build.report().tally.errors > 0 {
            return Err("built although the check found errors".into());
        }
        Ok(())
    }));
    match outcome {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(message),
        Err(payload) => Some(format!(
            "panicked: {}",
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        )),
    }
}

#[test]
fn mutated_records_never_panic_and_every_problem_names_a_file() {
    let cases: u64 = std::env::var("CAREPLANS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let first: u64 = std::env::var("CAREPLANS_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let base = tempfile::tempdir().unwrap();
    bundled_copy(base.path());
    let mut failures = Vec::new();
    let mut panics = 0;
    for seed in first..first + cases {
        let dir = tempfile::tempdir().unwrap();
        common::copy_dir(base.path(), dir.path());
        let mut rng = Rng(seed);
        let mutations = 1 + rng.below(3);
        let what: Vec<String> = (0..mutations)
            .map(|_| mutate(dir.path(), &mut rng))
            .collect();
        let what = what.join("; ");
        if let Some(failure) = run_case(dir.path(), &what) {
            panics += usize::from(failure.starts_with("panicked"));
            failures.push(format!("seed {seed} ({what}): {failure}"));
        }
    }
    println!(
        "fuzz: tried {cases} cases from seed {first}: {} failed, {panics} panicked",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_profile_turns_panics_into_aborts() {
    // Caught panics (src/panics.rs) need unwinding in every profile.
    let manifest = fs::read_to_string(common::project_root().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&manifest).unwrap();
    let profiles = manifest
        .get("profile")
        .and_then(|p| p.as_table())
        .expect("profiles are declared");
    for name in ["dev", "release"] {
        assert_eq!(
            profiles
                .get(name)
                .and_then(|p| p.get("panic"))
                .and_then(|p| p.as_str()),
            Some("unwind"),
            "profile {name} must say panic = \"unwind\""
        );
    }
    for (name, profile) in profiles {
        assert_ne!(
            profile.get("panic").and_then(|p| p.as_str()),
            Some("abort"),
            "profile {name} aborts on panic"
        );
    }
}
