//! `careplans import`: a record-level extract in, published metrics out. Small extracts with
//! figures worked out by hand, corrupt extracts refused with file, row and column, and the
//! round trip from `synth` through `import` to a clean `check`.

mod common;

use common::{HEADER, Repo};

const PLANS_HEADER: &str = "plan_id,borough_code,template_id,age_band,created,last_updated,status,cpr_decision_made,preference_expressed,died_month,died_in_preferred_place,earlier_template_id,template_changed";
const EVENTS_HEADER: &str = "plan_id,timestamp,service,kind";

const CITY: &str = "E09000001";
const BARKING: &str = "E09000002";

/// A hand-made extract for the fixture's two boroughs, one template, January and February 2021:
///
/// * Barking: 12 plans made in January 2021 (5 with a CPR decision made); 3 older plans from
///   June 2020, one archived in January 2021, one whose person died in February 2021 in their
///   preferred place (the only plan with a preference expressed); 10 ambulance views and a GP
///   update in January. Every live plan was made in the 12 months before, so all count as
///   reviewed.
/// * City: 2 plans made in February 2021, one NHS 111 view in February.
fn hand_made_extract(repo: &Repo) {
    let mut plans = format!("{PLANS_HEADER}\n");
    for i in 0..12 {
        let cpr = if i < 5 { "true" } else { "false" };
        plans.push_str(&format!(
            "P-NEW{i:02},{BARKING},urgent-care-plan,85+,2021-01,2021-01,active,{cpr},false,,false,,\n"
        ));
    }
    plans.push_str(&format!(
        "P-OLDA,{BARKING},urgent-care-plan,75-84,2020-06,2021-01,archived,false,false,,false,,\n"
    ));
    plans.push_str(&format!(
        "P-OLDB,{BARKING},urgent-care-plan,85+,2020-06,2020-06,deceased,false,true,2021-02,true,,\n"
    ));
    plans.push_str(&format!(
        "P-OLDC,{BARKING},urgent-care-plan,65-74,2020-06,2020-06,active,false,false,,false,,\n"
    ));
    for i in 0..2 {
        plans.push_str(&format!(
            "P-CITY{i},{CITY},urgent-care-plan,18-64,2021-02,2021-02,active,false,false,,false,,\n"
        ));
    }
    let mut events = format!("{EVENTS_HEADER}\n");
    for i in 0..10 {
        events.push_str(&format!(
            "P-NEW{i:02},2021-01-1{}T09:00:00Z,las,view\n",
            i % 10
        ));
    }
    events.push_str("P-NEW00,2021-01-20T10:00:00Z,gp,update\n");
    events.push_str("P-CITY0,2021-02-03T23:59:59Z,111,view\n");
    repo.write("extract/plans.csv", plans);
    repo.write("extract/events.csv", events);
}

/// The published files for the hand-made extract, worked out by hand. Counts of 1 to 7 are
/// `*`, others rounded to 5; STP area and London are the sum of the unrounded boroughs.
fn expected(month: &str) -> String {
    // active, new, las, 111, ooh, ed, gp, deaths, deaths with a preference recorded, deaths
    // in the preferred place, CPR decision made, preference expressed, reviewed in 12 months
    let (barking, city, stp) = match month {
        // Barking: 12 new + 3 old - 1 archived = 14 active, all reviewed (made since 2020-02);
        // 5 with a CPR decision; 1 with a preference.
        "2021-01" => (
            "15,10,10,0,0,0,0,0,0,0,*,*,15",
            "0,0,0,0,0,0,0,0,0,0,0,0,0",
            "15,10,10,0,0,0,0,0,0,0,*,*,15",
        ),
        // Barking: 14 - 1 death = 13, its one death with a preference met; City: 2 new, 1
        // view; STP: 15 active, 2 new.
        "2021-02" => (
            "15,0,0,0,0,0,0,*,*,*,*,0,15",
            "*,*,0,*,0,0,0,0,0,0,0,0,*",
            "15,*,0,*,0,0,0,*,*,*,*,0,15",
        ),
        _ => unreachable!(),
    };
    let mut text = format!("{HEADER}\n");
    for (area, counts) in [
        ("E12000007", stp),
        ("E54000029", stp),
        (CITY, city),
        (BARKING, barking),
    ] {
        for template in ["all", "urgent-care-plan"] {
            text.push_str(&format!("{month},{area},{template},{counts}\n"));
        }
    }
    text
}

/// Both months under `published/` are exactly the hand-worked files.
fn assert_published_as_worked_by_hand(repo: &Repo) {
    for month in ["2021-01", "2021-02"] {
        assert_eq!(
            repo.read(&format!("published/{month}.csv")),
            expected(month),
            "{month}"
        );
    }
}

#[test]
fn a_hand_made_extract_publishes_the_hand_worked_figures() {
    let repo = Repo::valid();
    hand_made_extract(&repo);
    let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("published 2 month(s), 2021-01 to 2021-02"),
        "{}",
        run.stderr
    );
    assert_published_as_worked_by_hand(&repo);
}

#[test]
fn one_month_counts_plans_made_before_it() {
    let repo = Repo::valid();
    hand_made_extract(&repo);
    let run = repo.run(&[
        "import",
        "extract",
        "--month",
        "2021-02",
        "--out",
        "published",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(repo.read("published/2021-02.csv"), expected("2021-02"));
    assert!(!repo.path("published/2021-01.csv").exists());
}

#[test]
fn importing_into_the_records_gives_a_clean_check_and_the_same_bytes_twice() {
    let repo = Repo::valid();
    hand_made_extract(&repo);
    let before = repo.read("records/metrics/2021-01.csv");
    let run = repo.run(&["import", "extract", "--all"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let first = repo.read("records/metrics/2021-01.csv");
    assert_ne!(first, before);
    assert_eq!(first, expected("2021-01"));
    let check = repo.check();
    assert_eq!(check.code, 0, "{}", check.stdout);
    let again = repo.run(&["import", "extract", "--all"]);
    assert_eq!(again.code, 0);
    assert_eq!(repo.read("records/metrics/2021-01.csv"), first);
    assert_eq!(
        repo.read("records/metrics/2021-02.csv"),
        expected("2021-02")
    );
}

/// Breaks one cell or line of the hand-made extract and expects a refusal naming the place.
fn assert_refused(file: &str, from: &str, to: &str, code: &str, location: &str) {
    let repo = Repo::valid();
    hand_made_extract(&repo);
    repo.edit(&format!("extract/{file}"), from, to);
    let published = |month: &str| repo.read(&format!("records/metrics/{month}.csv"));
    let before = [published("2021-01"), published("2021-02")];
    let run = repo.run(&["import", "extract", "--all"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    run.assert_reports(code, location);
    assert!(run.stdout.contains("nothing was written"), "{}", run.stdout);
    // A refused import never touches the published files.
    assert_eq!([published("2021-01"), published("2021-02")], before);
}

#[test]
fn a_missing_column_is_refused() {
    assert_refused(
        "plans.csv",
        ",template_changed\n",
        "\n",
        "extract/missing-column",
        "plans.csv:1:1",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_refused() {
    // Row 2 is the first plan; column 8 is cpr_decision_made.
    assert_refused(
        "plans.csv",
        "2021-01,2021-01,active,true,",
        "2021-01,2021-01,active,yes,",
        "extract/value",
        "plans.csv:2:8",
    );
}

#[test]
fn a_malformed_month_is_refused() {
    assert_refused(
        "plans.csv",
        "P-NEW03,E09000002,urgent-care-plan,85+,2021-01",
        "P-NEW03,E09000002,urgent-care-plan,85+,-2021-01",
        "extract/value",
        "plans.csv:5:5",
    );
}

#[test]
fn an_unknown_borough_is_refused() {
    assert_refused(
        "plans.csv",
        "P-NEW01,E09000002",
        "P-NEW01,E09000099",
        "extract/value",
        "plans.csv:3:2",
    );
}

#[test]
fn a_date_in_the_future_is_refused() {
    assert_refused(
        "events.csv",
        "2021-02-03T23:59:59Z",
        "2999-02-03T23:59:59Z",
        "extract/value",
        "events.csv:13:2",
    );
}

#[test]
fn a_row_with_a_missing_field_is_refused() {
    assert_refused(
        "events.csv",
        "P-NEW00,2021-01-20T10:00:00Z,gp,update",
        "P-NEW00,2021-01-20T10:00:00Z,gp",
        "extract/field-count",
        "events.csv:12:1",
    );
}

#[test]
fn an_nhs_number_in_a_plan_id_is_refused() {
    // 943 476 5919 is a valid NHS number (its check digit holds).
    assert_refused(
        "events.csv",
        "P-CITY0,",
        "9434765919,",
        "extract/identifier",
        "events.csv:13:1",
    );
}

#[test]
fn events_for_plans_not_in_the_extract_are_refused() {
    assert_refused(
        "events.csv",
        "P-CITY0,",
        "P-NOBODY,",
        "extract/unknown-plan",
        "events.csv:13:1",
    );
}

#[test]
fn a_plan_listed_twice_is_refused() {
    assert_refused(
        "plans.csv",
        "P-NEW01,",
        "P-NEW00,",
        "extract/duplicate-plan",
        "plans.csv:3:1",
    );
}

#[test]
fn synth_then_import_reproduces_the_models_metrics_and_they_check_clean() {
    for format in ["csv", "parquet"] {
        let repo = Repo::valid();
        let window = ["--plans", "4000", "--from", "2020-01", "--months", "12"];
        let synth = |extra: &[&str]| {
            let mut args = vec!["synth"];
            args.extend_from_slice(&window);
            args.extend_from_slice(extra);
            let run = repo.run(&args);
            assert_eq!(run.code, 0, "{}", run.stderr);
        };
        synth(&["--out", "extract", "--format", format]);
        synth(&["--metrics", "modelled"]);
        assert!(repo.path(&format!("extract/plans.{format}")).is_file());
        let run = repo.run(&["import", "extract", "--all"]);
        assert_eq!(run.code, 0, "{format}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("published 12 month(s), 2020-01 to 2020-12"),
            "{}",
            run.stderr
        );
        for month in 1..=12 {
            let name = format!("2020-{month:02}.csv");
            assert_eq!(
                repo.read(&format!("records/metrics/{name}")),
                repo.read(&format!("modelled/{name}")),
                "{format}: {name}"
            );
        }
        let check = repo.run(&["check", "--deny", "warnings"]);
        assert_eq!(check.code, 0, "{format}: {}", check.stdout);
    }
}

/// synth lists each plan's events together, in the plans' order, where `import` finds each
/// event's plan by looking near the last one; an audit log in time order sends every event to
/// the plans' table instead. Both orders publish the same bytes.
#[test]
fn events_in_time_order_publish_what_events_in_the_plans_order_publish() {
    let repo = Repo::valid();
    let run = repo.run(&[
        "synth", "--out", "extract", "--format", "csv", "--plans", "3000", "--from", "2020-01",
        "--months", "12",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = repo.read("extract/events.csv");
    let mut lines: Vec<&str> = events.lines().collect();
    let header = lines.remove(0);
    assert!(header.starts_with("plan_id,timestamp,"), "{header}");
    let timestamp = |line: &&str| line.split(',').nth(1).unwrap_or("").to_owned();
    let in_plan_order = lines
        .windows(2)
        .filter(|w| w[0].split(',').next() == w[1].split(',').next())
        .count();
    assert!(
        in_plan_order * 2 > lines.len(),
        "synth's events come plan by plan"
    );
    lines.sort_by_key(timestamp);
    repo.write("by-time/plans.csv", repo.read("extract/plans.csv"));
    repo.write(
        "by-time/events.csv",
        format!("{header}\n{}\n", lines.join("\n")),
    );
    for (extract, out) in [("extract", "in-plan-order"), ("by-time", "in-time-order")] {
        let run = repo.run(&["import", extract, "--all", "--out", out]);
        assert_eq!(run.code, 0, "{extract}: {}{}", run.stdout, run.stderr);
    }
    let mut months = 0;
    for entry in std::fs::read_dir(repo.path("in-plan-order")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert_eq!(
            repo.read(&format!("in-time-order/{name}")),
            repo.read(&format!("in-plan-order/{name}")),
            "{name}"
        );
        months += 1;
    }
    assert_eq!(months, 12);
}

#[test]
fn a_folder_without_an_extract_is_a_usage_error() {
    let repo = Repo::valid();
    let run = repo.run(&["import", "records", "--all"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("holds no extract"), "{}", run.stderr);
}

/// Turns the extract's CSV files into Parquet (every column text, as `synth` writes them), or
/// with `typed` lets polars infer types, as a careless export would.
fn to_parquet(repo: &Repo, typed: bool) {
    use polars::prelude::*;
    for table in ["plans", "events"] {
        let csv = repo.path(&format!("extract/{table}.csv"));
        let mut frame = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(if typed { Some(100) } else { Some(0) })
            .try_into_reader_with_file_path(Some(csv.clone()))
            .unwrap()
            .finish()
            .unwrap();
        let file = std::fs::File::create(repo.path(&format!("extract/{table}.parquet"))).unwrap();
        ParquetWriter::new(file).finish(&mut frame).unwrap();
        std::fs::remove_file(csv).unwrap();
    }
}

#[test]
fn a_parquet_extract_publishes_the_same_figures_as_its_csv_form() {
    let repo = Repo::valid();
    hand_made_extract(&repo);
    to_parquet(&repo, false);
    let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_published_as_worked_by_hand(&repo);
}

/// `--verbose` times each step of aggregating an extract (where an import's time goes, on
/// the user's own data); a plain import prints none of it.
#[test]
fn a_verbose_import_times_each_step_of_the_aggregation() {
    let repo = Repo::valid();
    hand_made_extract(&repo);
    to_parquet(&repo, false);
    let plain = repo.run(&["import", "extract", "--all", "--out", "plain"]);
    assert_eq!(plain.code, 0, "{}{}", plain.stdout, plain.stderr);
    assert!(!plain.stderr.contains("debug:"), "{}", plain.stderr);
    let verbose = repo.run(&[
        "--verbose",
        "import",
        "extract",
        "--all",
        "--out",
        "verbose",
    ]);
    assert_eq!(verbose.code, 0, "{}{}", verbose.stdout, verbose.stderr);
    for step in [
        "plans read, checked and held",
        "plan index built",
        "events and episodes counted",
        "reviews walked",
    ] {
        assert!(
            verbose
                .stderr
                .contains(&format!("debug: import: {step} in ")),
            "{step}: {}",
            verbose.stderr
        );
    }
}

#[test]
fn parquet_rows_are_refused_with_their_row_and_column() {
    // Parquet rows count from the first data row: CSV row 5 is Parquet row 4.
    for (file, from, to, code, location) in [
        (
            "plans.csv",
            "P-NEW03,E09000002",
            "P-NEW03,E09000099",
            "extract/value",
            "plans.parquet:4:2",
        ),
        (
            "events.csv",
            "2021-02-03T23:59:59Z",
            "2999-02-03T23:59:59Z",
            "extract/value",
            "events.parquet:12:2",
        ),
        (
            "events.csv",
            "P-CITY0,",
            "P-NOBODY,",
            "extract/unknown-plan",
            "events.parquet:12:1",
        ),
        // A repeated plan is found by the aggregation's own pass (by its id, in `PlanIndex`).
        (
            "plans.csv",
            "P-NEW01,",
            "P-NEW00,",
            "extract/duplicate-plan",
            "plans.parquet:2:1",
        ),
        // Each events rule is also checked in the aggregation's own pass (`EventRules`, in the
        // pass that makes the group keys): an unknown service, an unknown kind, a timestamp
        // that is not UTC. Were one missed there, the extract would be published.
        (
            "events.csv",
            "Z,111,view",
            "Z,999,view",
            "extract/value",
            "events.parquet:12:3",
        ),
        (
            "events.csv",
            ",gp,update",
            ",gp,edit",
            "extract/value",
            "events.parquet:11:4",
        ),
        (
            "events.csv",
            "2021-02-03T23:59:59Z",
            "2021-02-03T23:59:59+01:00",
            "extract/value",
            "events.parquet:12:2",
        ),
        (
            "plans.csv",
            "P-OLDC,",
            "9434765919,",
            "extract/identifier",
            "plans.parquet:15:1",
        ),
        // A template, and an earlier template, that the reference does not list: the
        // aggregation looks each up once, for the plan's cells and for its check.
        (
            "plans.csv",
            "P-OLDC,E09000002,urgent-care-plan,",
            "P-OLDC,E09000002,urgent-care-plam,",
            "extract/value",
            "plans.parquet:15:3",
        ),
        (
            "plans.csv",
            "P-OLDC,E09000002,urgent-care-plan,65-74,2020-06,2020-06,active,false,false,,false,,",
            "P-OLDC,E09000002,urgent-care-plan,65-74,2020-06,2020-06,active,false,false,,false,nonesuch,2020-06",
            "extract/value",
            "plans.parquet:15:12",
        ),
        // A row whose cells contradict each other (a death before the plan was made) is
        // found by the same row rule in the aggregation's pass over the plans.
        (
            "plans.csv",
            "2020-06,2020-06,deceased,false,true,2021-02,true,,",
            "2020-06,2020-06,deceased,false,true,2019-02,true,,",
            "extract/inconsistent",
            "plans.parquet:14:10",
        ),
    ] {
        let repo = Repo::valid();
        hand_made_extract(&repo);
        repo.edit(&format!("extract/{file}"), from, to);
        to_parquet(&repo, false);
        let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
        assert_eq!(run.code, 1, "{location}: {}{}", run.stdout, run.stderr);
        run.assert_reports(code, location);
        assert!(
            !repo.path("published").exists(),
            "{location}: something was written"
        );
    }
}

#[test]
fn a_parquet_column_that_is_not_text_is_refused() {
    let repo = Repo::valid();
    hand_made_extract(&repo);
    to_parquet(&repo, true);
    let run = repo.run(&["import", "extract", "--all"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    run.assert_reports("extract/column-type", "plans.parquet:1:8");
    assert!(
        run.stdout.contains("column `cpr_decision_made` holds bool"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_plan_that_ends_before_it_began_is_refused() {
    assert_refused(
        "plans.csv",
        "2020-06,2020-06,deceased,false,true,2021-02,true,,",
        "2020-06,2020-06,deceased,false,true,2019-02,true,,",
        "extract/inconsistent",
        "plans.csv:15:10",
    );
}

/// The fixture with a second template, `legacy`, retired from February 2021 and replaced by
/// the urgent care plan.
fn repo_with_legacy_template() -> Repo {
    let repo = Repo::valid();
    let legacy = repo
        .read("records/templates/urgent-care-plan.yaml")
        .replace("id: urgent-care-plan", "id: legacy")
        .replace("title: Urgent care plan", "title: Legacy plan")
        .replace(
            "status: active",
            "status: retired\nretired_from: \"2021-02\"\nreplaced_by: urgent-care-plan",
        );
    repo.write("records/templates/legacy.yaml", legacy);
    repo
}

#[test]
fn a_plan_that_moves_template_counts_under_each_in_turn_and_is_not_new_again() {
    // 10 Barking plans made on the legacy template in 2020 migrate to the urgent care plan in
    // February 2021; each is viewed by an ambulance crew in January and in February.
    let repo = repo_with_legacy_template();
    let mut plans = format!("{PLANS_HEADER}\n");
    let mut events = format!("{EVENTS_HEADER}\n");
    for i in 0..10 {
        plans.push_str(&format!(
            "P-MOVE{i},{BARKING},urgent-care-plan,85+,2020-06,2020-06,active,true,true,,false,legacy,2021-02\n"
        ));
        events.push_str(&format!("P-MOVE{i},2021-01-05T10:00:00Z,las,view\n"));
        events.push_str(&format!("P-MOVE{i},2021-02-05T10:00:00Z,las,view\n"));
    }
    repo.write("extract/plans.csv", plans);
    repo.write("extract/events.csv", events);
    let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let row = |month: &str, template: &str| -> String {
        let text = repo.read(&format!("published/{month}.csv"));
        let prefix = format!("{month},{BARKING},{template},");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
            .unwrap()
    };
    // active, new, las, ..., cpr, preference, reviewed (made in June 2020, within 12 months)
    assert_eq!(row("2021-01", "legacy"), "10,0,10,0,0,0,0,0,0,0,10,10,10");
    assert_eq!(
        row("2021-01", "urgent-care-plan"),
        "0,0,0,0,0,0,0,0,0,0,0,0,0"
    );
    assert_eq!(row("2021-02", "legacy"), "0,0,0,0,0,0,0,0,0,0,0,0,0");
    assert_eq!(
        row("2021-02", "urgent-care-plan"),
        "10,0,10,0,0,0,0,0,0,0,10,10,10",
        "moved, not new"
    );
    assert_eq!(row("2021-02", "all"), "10,0,10,0,0,0,0,0,0,0,10,10,10");
    // The published months check clean: the retired template took no new plans.
    for month in ["2021-01", "2021-02"] {
        std::fs::copy(
            repo.path(&format!("published/{month}.csv")),
            repo.path(&format!("records/metrics/{month}.csv")),
        )
        .unwrap();
    }
    let check = repo.check();
    assert_eq!(check.code, 0, "{}", check.stdout);
}

#[test]
fn a_review_keeps_a_plan_current_for_twelve_months() {
    // 10 plans made in January 2020, updated in March 2020 and not again: current until the
    // end of February 2021, then not. The window is dated by views from December 2020.
    let repo = Repo::valid();
    let mut plans = format!("{PLANS_HEADER}\n");
    let mut events = format!("{EVENTS_HEADER}\n");
    for i in 0..10 {
        plans.push_str(&format!(
            "P-REV{i},{BARKING},urgent-care-plan,85+,2020-01,2020-03,active,true,true,,false,,\n"
        ));
        events.push_str(&format!("P-REV{i},2020-03-10T09:00:00Z,gp,update\n"));
        for month in ["2020-12", "2021-01", "2021-02", "2021-03"] {
            events.push_str(&format!("P-REV{i},{month}-15T09:00:00Z,111,view\n"));
        }
    }
    repo.write("extract/plans.csv", plans);
    repo.write("extract/events.csv", events);
    let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("2020-12 to 2021-03"), "{}", run.stderr);
    let reviewed = |month: &str| -> String {
        let text = repo.read(&format!("published/{month}.csv"));
        let prefix = format!("{month},{BARKING},all,");
        let row = text.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap();
        row.rsplit(',').next().unwrap().to_owned()
    };
    assert_eq!(reviewed("2020-12"), "10");
    assert_eq!(reviewed("2021-02"), "10", "March 2020 is within 12 months");
    assert_eq!(reviewed("2021-03"), "0", "more than 12 months since");
}

#[test]
fn template_changes_that_cannot_have_happened_are_refused() {
    for (from, to, location) in [
        // A change needs both columns (row 7 is the first plan without a CPR decision).
        (
            "active,false,false,,false,,\n",
            "active,false,false,,false,legacy,\n",
            "plans.csv:7:13",
        ),
        // A change before the plan was made.
        (
            "active,false,false,,false,,\n",
            "active,false,false,,false,legacy,2020-12\n",
            "plans.csv:7:13",
        ),
    ] {
        let repo = repo_with_legacy_template();
        hand_made_extract(&repo);
        repo.edit("extract/plans.csv", from, to);
        let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
        assert_eq!(run.code, 1, "{to}: {}{}", run.stdout, run.stderr);
        run.assert_reports("extract/inconsistent", location);
        assert!(!repo.path("published").exists());
    }
}

/// The hand-made extract's unrounded counts, as an engine elsewhere would hand them over
/// (measures in the metrics column order; rows of all zeros may be left out).
fn hand_made_counts(repo: &Repo) {
    let header = HEADER.replacen(
        "month,area_code,template",
        "month,borough_code,template_id",
        1,
    );
    repo.write(
        "counts/counts.csv",
        format!(
            "{header}\n\
             2021-01,{BARKING},urgent-care-plan,14,12,10,0,0,0,0,0,0,0,5,1,14\n\
             2021-02,{BARKING},urgent-care-plan,13,0,0,0,0,0,0,1,1,1,5,0,13\n\
             2021-02,{CITY},urgent-care-plan,2,2,0,1,0,0,0,0,0,0,0,0,2\n"
        ),
    );
}

#[test]
fn unrounded_counts_made_elsewhere_publish_the_same_figures() {
    let repo = Repo::valid();
    hand_made_counts(&repo);
    let run = repo.run(&["import", "counts", "--all", "--out", "published"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_published_as_worked_by_hand(&repo);
}

#[test]
fn a_negative_count_is_refused() {
    let repo = Repo::valid();
    hand_made_counts(&repo);
    repo.edit(
        "counts/counts.csv",
        "urgent-care-plan,13,0,",
        "urgent-care-plan,13,-4,",
    );
    let run = repo.run(&["import", "counts", "--all", "--out", "published"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    run.assert_reports("extract/value", "counts.csv:3:5");
    assert!(
        run.stdout.contains("`new_plans` is negative"),
        "{}",
        run.stdout
    );
    assert!(!repo.path("published").exists());
}

#[test]
fn the_same_seed_writes_the_same_extract_bytes() {
    let repo = Repo::valid();
    for format in ["csv", "parquet"] {
        for out in ["first", "second"] {
            let run = repo.run(&[
                "synth", "--out", out, "--format", format, "--plans", "2000", "--events", "15000",
                "--from", "2020-01", "--months", "6",
            ]);
            assert_eq!(run.code, 0, "{}", run.stderr);
        }
        for table in ["plans", "events"] {
            let name = format!("{table}.{format}");
            let first = std::fs::read(repo.path(&format!("first/{name}"))).unwrap();
            let second = std::fs::read(repo.path(&format!("second/{name}"))).unwrap();
            assert!(first == second, "{name} differs between runs");
            assert!(!first.is_empty());
        }
        // --events asks for about that many: within a few percent.
        let events = std::fs::read_to_string(repo.path("first/events.csv"))
            .map(|t| t.lines().count() as f64 - 1.0)
            .unwrap_or(15_000.0);
        assert!((13_500.0..=16_500.0).contains(&events), "{events} events");
    }
}

#[test]
fn progress_is_drawn_on_a_terminal_and_never_in_a_log() {
    let repo = Repo::valid();
    let synth = [
        "synth", "--plans", "20000", "--from", "2020-01", "--months", "12", "--out", "extract",
    ];
    // Not a terminal (as in a log or CI): the summary lines only, no control characters.
    let run = repo.run(&synth);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = repo.run(&["import", "extract", "--all"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains('\x1b'), "{:?}", run.stderr);
    assert!(
        run.stderr.contains("checking the extract"),
        "{}",
        run.stderr
    );

    // On a terminal (a pseudo-terminal from `script`), each phase draws its line.
    let bin = env!("CARGO_BIN_EXE_careplans");
    let output = std::process::Command::new("script")
        .args(["-qec", &format!("{bin} import extract --all"), "/dev/null"])
        .current_dir(repo.path(""))
        .env_remove("CI")
        .output()
        .expect("`script` (util-linux) gives the command a terminal");
    let seen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{seen}");
    // The writing phase's bar, drawn as each month is written.
    assert!(seen.contains("/12 months ("), "{seen:?}");
    // With its rate and the time left.
    assert!(seen.contains(" months/s, "), "{seen:?}");
    assert!(seen.contains(" left)"), "{seen:?}");
    // synth counts the plans it writes against those it expects.
    let output = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{bin} synth --plans 20000 --from 2020-01 --months 12 --out again"),
            "/dev/null",
        ])
        .current_dir(repo.path(""))
        .env_remove("CI")
        .output()
        .expect("`script` (util-linux) gives the command a terminal");
    let seen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{seen}");
    assert!(seen.contains("writing the extract ["), "{seen:?}");
    assert!(seen.contains(" plans/s, "), "{seen:?}");
    assert!(seen.contains("\x1b[2K"), "{seen:?}");
}

/// Lays the extract's CSV files out as a partitioned extract, as a cluster holds one:
/// `plans/created=YYYY-MM/part-0.parquet` without the `created` column and
/// `events/month=YYYY-MM/part-0.parquet` by the month of each timestamp, rows in file order.
fn to_partitioned(repo: &Repo) {
    use polars::prelude::*;
    for (table, key) in [("plans", "created"), ("events", "month")] {
        let csv = repo.path(&format!("extract/{table}.csv"));
        let frame = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(csv.clone()))
            .unwrap()
            .finish()
            .unwrap();
        let months = match table {
            "plans" => frame.column("created").unwrap().str().unwrap().clone(),
            _ => {
                let stamps = frame.column("timestamp").unwrap().str().unwrap().clone();
                stamps
                    .iter()
                    .map(|t| t.map(|t| t[..7].to_owned()))
                    .collect::<StringChunked>()
            }
        };
        let mut distinct: Vec<String> = months.iter().flatten().map(str::to_owned).collect();
        distinct.sort();
        distinct.dedup();
        for month in distinct {
            let mask = months.equal(month.as_str());
            let mut part = frame.filter(&mask).unwrap();
            if table == "plans" {
                part = part.drop("created").unwrap();
            }
            let folder = repo.path(&format!("extract/{table}/{key}={month}"));
            std::fs::create_dir_all(&folder).unwrap();
            let file = std::fs::File::create(folder.join("part-0.parquet")).unwrap();
            ParquetWriter::new(file).finish(&mut part).unwrap();
        }
        std::fs::remove_file(csv).unwrap();
    }
}

#[test]
fn a_partitioned_extract_publishes_the_same_figures_as_its_flat_form() {
    let repo = Repo::valid();
    hand_made_extract(&repo);
    to_partitioned(&repo);
    assert!(
        repo.path("extract/plans/created=2020-06/part-0.parquet")
            .is_file()
    );
    let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_published_as_worked_by_hand(&repo);
    assert!(
        run.stderr.contains(
            "read plans: 3 partitions created=2020-06 to created=2021-02; events: 2 partitions month=2021-01 to month=2021-02"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn synth_writes_a_partitioned_extract_that_imports_to_the_same_bytes_as_the_flat_one() {
    let repo = Repo::valid();
    let synth = |extra: &[&str]| {
        let mut args = vec![
            "synth", "--plans", "3000", "--from", "2020-07", "--months", "12",
        ];
        args.extend_from_slice(extra);
        let run = repo.run(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
    };
    synth(&["--out", "flat", "--format", "parquet"]);
    synth(&["--out", "parted", "--partitioned"]);
    // Hive style: the partition column lives in the path, not in the files.
    let plans_folder = repo.path("parted/plans");
    let partitions: Vec<String> = std::fs::read_dir(&plans_folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        partitions.iter().all(|p| p.starts_with("created=")),
        "{partitions:?}"
    );
    let one = plans_folder.join(&partitions[0]).join("part-0.parquet");
    let bytes = std::fs::read(one).unwrap();
    assert!(
        !bytes.windows(7).any(|w| w == b"created"),
        "a plans file holds `created`"
    );
    assert!(
        repo.path("parted/events/month=2020-07/part-0.parquet")
            .is_file()
    );
    assert!(!repo.path("parted/plans.parquet").exists());

    for window in [&["--all"][..], &["--month", "2021-03"][..]] {
        let import = |from: &str, to: &str| {
            let mut args = vec!["import", from, "--out", to];
            args.extend_from_slice(window);
            let run = repo.run(&args);
            assert_eq!(run.code, 0, "{window:?}: {}{}", run.stdout, run.stderr);
            run
        };
        import("flat", "from-flat");
        let run = import("parted", "from-parted");
        let files = |dir: &str| {
            let mut names: Vec<String> = std::fs::read_dir(repo.path(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(files("from-flat"), files("from-parted"), "{window:?}");
        for name in files("from-flat") {
            assert_eq!(
                repo.read(&format!("from-flat/{name}")),
                repo.read(&format!("from-parted/{name}")),
                "{window:?}: {name}"
            );
        }
        if window[0] == "--month" {
            // March 2021 needs every plan made by then and the events of the 12 months to it
            // (an update in any of them keeps a plan reviewed): nothing later, no older events.
            assert!(
                run.stderr.contains(
                    "to created=2021-03; events: 12 partitions month=2020-04 to month=2021-03"
                ),
                "{}",
                run.stderr
            );
        }
        std::fs::remove_dir_all(repo.path("from-flat")).unwrap();
        std::fs::remove_dir_all(repo.path("from-parted")).unwrap();
    }
}

#[test]
fn a_month_of_a_partitioned_extract_reads_only_the_partitions_it_needs() {
    let repo = Repo::valid();
    let run = repo.run(&[
        "synth",
        "--plans",
        "3000",
        "--from",
        "2020-07",
        "--months",
        "12",
        "--out",
        "parted",
        "--partitioned",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Spoil partitions that January 2021 does not need: events from before February 2020 and
    // plans made after January 2021.
    let spoilt = [
        "parted/events/month=2020-01/part-0.parquet",
        "parted/plans/created=2021-05/part-0.parquet",
    ];
    for path in spoilt {
        assert!(repo.path(path).is_file(), "{path}");
        repo.write(path, "not parquet");
    }
    let run = repo.run(&["import", "parted", "--month", "2021-01", "--out", "one"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(repo.path("one/2021-01.csv").is_file());
    // Every month reads them, and refuses them with their paths.
    let run = repo.run(&["import", "parted", "--all", "--out", "all"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for path in spoilt {
        assert!(run.stdout.contains(path), "{path}: {}", run.stdout);
    }
    assert!(!repo.path("all").exists());
}

#[test]
fn a_partitioned_extract_is_refused_at_its_folders_files_and_rows() {
    // A folder that is not a partition.
    let repo = Repo::valid();
    hand_made_extract(&repo);
    to_partitioned(&repo);
    std::fs::rename(
        repo.path("extract/plans/created=2020-06"),
        repo.path("extract/plans/created=June-2020"),
    )
    .unwrap();
    let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    run.assert_reports("extract/layout", "plans/created=June-2020");

    // An event filed under the wrong month (it would be missed by `--month`).
    let repo = Repo::valid();
    hand_made_extract(&repo);
    to_partitioned(&repo);
    std::fs::create_dir_all(repo.path("extract/events/month=2021-03")).unwrap();
    std::fs::rename(
        repo.path("extract/events/month=2021-02/part-0.parquet"),
        repo.path("extract/events/month=2021-03/part-0.parquet"),
    )
    .unwrap();
    std::fs::remove_dir(repo.path("extract/events/month=2021-02")).unwrap();
    let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    run.assert_reports(
        "extract/inconsistent",
        "events/month=2021-03/part-0.parquet:1:2",
    );
    assert!(
        run.stdout.contains("not in its partition's month"),
        "{}",
        run.stdout
    );

    // A bad value: its partition's file, its row there and its column in that file (which
    // lacks `created`: `status` is column 6).
    let repo = Repo::valid();
    hand_made_extract(&repo);
    repo.edit(
        "extract/plans.csv",
        "P-OLDC,E09000002,urgent-care-plan,65-74,2020-06,2020-06,active",
        "P-OLDC,E09000002,urgent-care-plan,65-74,2020-06,2020-06,lapsed",
    );
    to_partitioned(&repo);
    let run = repo.run(&["import", "extract", "--all", "--out", "published"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    run.assert_reports("extract/value", "plans/created=2020-06/part-0.parquet:3:6");
    assert!(!repo.path("published").exists());
}
