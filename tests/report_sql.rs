//! Report SQL reads the registered tables and nothing else: every table function, every
//! statement that is not one SELECT, and every disguise (case, quoting, comments, subqueries,
//! CTEs, joins, unions) is refused by `check` and `build` at the query's line, before polars
//! runs anything.

mod common;

use common::Repo;

fn site_repo() -> Repo {
    let repo = Repo::valid();
    common::copy_dir(
        &common::project_root().join("reports"),
        &repo.path("reports"),
    );
    common::copy_dir(&common::project_root().join("site"), &repo.path("site"));
    repo
}

const TREND: &str = "      SELECT month, active_plans, new_plans FROM metrics\n      WHERE area_level = 'london' AND template = 'all' ORDER BY month";

/// The line of the query's `sql:` key in the overview report.
fn sql_line(repo: &Repo) -> usize {
    let text = repo.read("reports/overview.yaml");
    let at = text.find(TREND).expect("the trend query");
    text[..at].lines().count()
}

/// Whether `check`'s output puts a problem at the query (its `sql:` key's line or the next).
fn at_query_line(stdout: &str, line: usize) -> bool {
    [line, line + 1]
        .iter()
        .any(|l| stdout.contains(&format!("reports/overview.yaml:{l}:")))
}

/// Puts `sql` in place of the overview's trend query and asserts check and build refuse it
/// at that query's line, naming `found`.
fn assert_refused(sql: &str, found: &str) {
    let repo = site_repo();
    let line = sql_line(&repo);
    // A literal block keeps the SQL's line breaks (a folded one would join a `--` comment
    // to the rest of the query).
    repo.edit(
        "reports/overview.yaml",
        &format!("sql: >-\n{TREND}"),
        &format!("sql: |-\n      {}", sql.replace('\n', "\n      ")),
    );
    let run = repo.check();
    assert_eq!(run.code, 1, "{sql}\n{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("[report/forbidden-source]") && at_query_line(&run.stdout, line),
        "{sql}: expected report/forbidden-source at line {line}\n{}",
        run.stdout
    );
    assert!(
        run.stdout.to_lowercase().contains(&found.to_lowercase()),
        "{sql}: the message should name `{found}`\n{}",
        run.stdout
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let build = repo.run(&["build"]);
    assert_eq!(build.code, 1, "{sql}: build must refuse too");
    assert!(!repo.path("public").exists(), "nothing is published");
}

#[test]
fn each_table_function_is_refused() {
    for function in ["read_csv", "read_parquet", "read_ipc", "read_json"] {
        assert_refused(
            &format!("SELECT * FROM {function}('/etc/passwd')"),
            function,
        );
    }
}

#[test]
fn a_real_file_is_never_read() {
    // A record-level file next to the records: refused, not published.
    let repo = site_repo();
    let secret = repo.path("plans.csv");
    std::fs::write(&secret, "plan_id,created\nabc,2021-01\n").unwrap();
    repo.edit(
        "reports/overview.yaml",
        TREND,
        &format!(
            "      SELECT created AS month, 1 AS active_plans, 1 AS new_plans FROM read_csv('{}')",
            secret.display()
        ),
    );
    let run = repo.check();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("[report/forbidden-source]"));
    assert_eq!(repo.run(&["build"]).code, 1);
    assert!(!repo.path("public").exists());
}

#[test]
fn disguised_table_functions_are_refused() {
    for (sql, found) in [
        ("SELECT * FROM READ_CSV('/etc/passwd')", "read_csv"),
        ("SELECT * FROM \"read_csv\"('/etc/passwd')", "read_csv"),
        (
            "SELECT * FROM read_csv /* a comment */ ('/etc/passwd')",
            "read_csv",
        ),
        (
            "SELECT * FROM -- a comment\nread_parquet('/x.parquet')",
            "read_parquet",
        ),
        (
            "SELECT * FROM (SELECT * FROM read_csv('/etc/passwd')) AS t",
            "read_csv",
        ),
        (
            "SELECT month, active_plans, new_plans FROM metrics WHERE month IN (SELECT * FROM read_csv('/etc/passwd'))",
            "read_csv",
        ),
        (
            "WITH t AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM t",
            "read_csv",
        ),
        (
            "WITH metrics AS (SELECT * FROM read_parquet('/x.parquet')) SELECT * FROM metrics",
            "read_parquet",
        ),
        (
            "SELECT m.month, m.active_plans, m.new_plans FROM metrics m JOIN read_csv('/etc/passwd') p ON true",
            "read_csv",
        ),
        (
            "SELECT month, active_plans, new_plans FROM metrics UNION ALL SELECT * FROM read_json('/x.json')",
            "read_json",
        ),
        ("SELECT * FROM '/etc/passwd'", "/etc/passwd"),
        ("SELECT * FROM secrets", "secrets"),
    ] {
        assert_refused(sql, found);
    }
}

#[test]
fn anything_but_one_select_is_refused() {
    for (sql, found) in [
        ("CREATE TABLE copy AS SELECT * FROM metrics", "create"),
        ("DROP TABLE metrics", "drop"),
        ("DELETE FROM metrics", "delete"),
        ("TRUNCATE metrics", "truncate"),
        ("SHOW TABLES", "show"),
        ("EXPLAIN SELECT * FROM metrics", "explain"),
        (
            "SELECT month, active_plans, new_plans FROM metrics; DROP TABLE metrics",
            "statements",
        ),
    ] {
        assert_refused(sql, found);
    }
}

#[test]
fn the_bundled_reports_read_only_registered_tables() {
    let run = common::run_in(&common::project_root(), &["check"]);
    assert!(
        !run.stdout.contains("report/forbidden-source"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_misspelt_column_is_reported_with_every_column_of_the_table() {
    // Queries run over only the columns they name; a failing one is run again over whole
    // tables, so the message lists every column (and polars' suggestion), not just those.
    let repo = site_repo();
    let line = sql_line(&repo);
    repo.edit(
        "reports/overview.yaml",
        TREND,
        &TREND.replace("active_plans,", "active_planz,"),
    );
    let run = repo.check();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("[report/query]") && at_query_line(&run.stdout, line),
        "{}",
        run.stdout
    );
    for named in [
        "unable to find column \"active_planz\"",
        // Columns the query does not name, in the list of valid ones.
        "\"pct_change_active_vs_year_ago\"",
        "\"month_index\"",
        "Did you mean \"active_plans\"?",
    ] {
        assert!(
            run.stdout.contains(named),
            "expected {named}:\n{}",
            run.stdout
        );
    }
}
