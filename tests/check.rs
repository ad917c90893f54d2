//! `careplans check`: every rule has a passing fixture (the valid repository) and a failing
//! one, and bad input of every kind gives a located diagnostic and exit 1, never a panic.

mod common;

use common::{HEADER, Repo, row};

const TEMPLATE_PATH: &str = "records/templates/urgent-care-plan.yaml";
const METRICS: &str = "records/metrics/2021-02.csv";

#[test]
fn valid_repository_is_clean() {
    let run = Repo::valid().check();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("checked 5 files, 1 templates, 16 metrics rows: 0 errors, 0 warnings"),
        "{}",
        run.stdout
    );
}

#[test]
fn finds_workspace_from_a_subfolder_and_with_repo_flag() {
    let repo = Repo::valid();
    let run = common::run_in(&repo.path("records/templates"), &["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let elsewhere = tempfile::tempdir().unwrap();
    let run = common::run_in(
        elsewhere.path(),
        &["check", "--repo", repo.root().to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn missing_workspace_exits_2() {
    let empty = tempfile::tempdir().unwrap();
    let run = common::run_in(empty.path(), &["check"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no careplans.toml"), "{}", run.stderr);
}

#[test]
fn usage_error_exits_2() {
    let run = Repo::valid().run(&["check", "--format", "xml"]);
    assert_eq!(run.code, 2);
}

// --- corrupt input corpus -------------------------------------------------------------------

#[test]
fn truncated_yaml_is_a_syntax_error() {
    let repo = Repo::valid();
    let text = repo.read(TEMPLATE_PATH);
    repo.write(
        TEMPLATE_PATH,
        &text[..text.find("options: [For CPR").unwrap() + 20],
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("yaml/syntax", TEMPLATE_PATH);
}

#[test]
fn tab_indentation_is_reported_at_its_line() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "    title: Cardiopulmonary",
        "\ttitle: Cardiopulmonary",
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("yaml/syntax", &format!("{TEMPLATE_PATH}:8"));
    assert!(run.stdout.contains("tabs"), "{}", run.stdout);
}

#[test]
fn duplicate_key_is_reported_at_the_repeat() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "status: active\n",
        "status: active\nstatus: draft\n",
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("yaml/duplicate-key", &format!("{TEMPLATE_PATH}:5:1"));
}

#[test]
fn empty_file_is_reported() {
    let repo = Repo::valid();
    repo.write(TEMPLATE_PATH, "");
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("yaml/empty", TEMPLATE_PATH);
}

#[test]
fn binary_file_is_reported() {
    let repo = Repo::valid();
    repo.write(
        TEMPLATE_PATH,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".as_slice(),
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("file/binary", TEMPLATE_PATH);
}

#[test]
fn file_that_is_not_utf8_is_reported_at_the_bad_byte() {
    let repo = Repo::valid();
    let mut bytes = repo.read(TEMPLATE_PATH).into_bytes();
    let at = bytes.windows(3).position(|w| w == b"The").unwrap();
    bytes[at] = 0xE9;
    repo.write(TEMPLATE_PATH, bytes);
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("file/encoding", &format!("{TEMPLATE_PATH}:5:14"));
}

#[test]
fn ten_megabyte_line_is_reported_not_fatal() {
    let repo = Repo::valid();
    let long = "x".repeat(10 * 1024 * 1024);
    repo.edit(
        TEMPLATE_PATH,
        "description: The general London urgent care plan.",
        &format!("description: {long}"),
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("schema", &format!("{TEMPLATE_PATH}:5:14"));
    assert!(run.stdout.len() < 20_000, "output should cut the long line");
}

#[test]
fn ten_megabyte_csv_line_is_reported_not_fatal() {
    let repo = Repo::valid();
    let mut text = repo.read(METRICS);
    text.push_str(&"9".repeat(10 * 1024 * 1024));
    text.push('\n');
    repo.write(METRICS, text);
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("csv/field-count", &format!("{METRICS}:10:1"));
}

#[test]
fn wrong_type_points_at_the_value() {
    let repo = Repo::valid();
    repo.edit(TEMPLATE_PATH, "required: true", "required: yes please");
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("schema", &format!("{TEMPLATE_PATH}:14:19"));
    assert!(run.stdout.contains("expected boolean"), "{}", run.stdout);
}

#[cfg(unix)]
#[test]
fn symlink_pointing_outside_the_repository_is_refused() {
    let repo = Repo::valid();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("other.yaml"), common::TEMPLATE).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("other.yaml"),
        repo.path("records/templates/other.yaml"),
    )
    .unwrap();
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("file/outside-repository", "records/templates/other.yaml");
}

#[test]
fn byte_order_mark_and_crlf_are_read_as_content_with_correct_lines() {
    let repo = Repo::valid();
    let text = repo
        .read(TEMPLATE_PATH)
        .replace("required: true", "required: maybe")
        .replace('\n', "\r\n");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(text.as_bytes());
    repo.write(TEMPLATE_PATH, bytes);
    let run = repo.check();
    run.assert_reports("schema", &format!("{TEMPLATE_PATH}:14:19"));
    assert_eq!(run.stdout.matches("error[").count(), 1, "{}", run.stdout);
}

#[test]
fn clean_file_with_bom_and_crlf_passes() {
    let repo = Repo::valid();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(repo.read(TEMPLATE_PATH).replace('\n', "\r\n").as_bytes());
    repo.write(TEMPLATE_PATH, bytes);
    let csv = repo.read(METRICS).replace('\n', "\r\n");
    repo.write(METRICS, csv);
    let run = repo.check();
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn aliases_are_refused() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "title: Urgent care plan",
        "title: &t Urgent care plan\naudience: *t",
    );
    let run = repo.check();
    run.assert_reports("yaml/alias", &format!("{TEMPLATE_PATH}:2"));
}

// --- schema -----------------------------------------------------------------------------------

#[test]
fn unknown_key_points_at_the_key() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "        safety_critical: true\n",
        "        safety_critical: true\n        saftey: high\n",
    );
    let run = repo.check();
    run.assert_reports("schema/unknown-key", &format!("{TEMPLATE_PATH}:16:9"));
}

#[test]
fn missing_key_points_at_the_object() {
    let repo = Repo::valid();
    repo.edit(TEMPLATE_PATH, "        safety_critical: false\n", "");
    let run = repo.check();
    run.assert_reports("schema/missing-key", &format!("{TEMPLATE_PATH}:23:9"));
    assert!(run.stdout.contains("`safety_critical`"), "{}", run.stdout);
}

#[test]
fn bad_enum_value_is_reported() {
    let repo = Repo::valid();
    repo.edit(TEMPLATE_PATH, "status: active", "status: live");
    let run = repo.check();
    run.assert_reports("schema", &format!("{TEMPLATE_PATH}:4:9"));
}

#[test]
fn unquoted_service_number_is_a_type_error() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "visible_to: [gp, ooh-gp]",
        "visible_to: [gp, 111]",
    );
    let run = repo.check();
    run.assert_reports("schema", &format!("{TEMPLATE_PATH}:21:22"));
}

#[test]
fn bad_programme_and_areas_are_checked_against_their_schemas() {
    let repo = Repo::valid();
    repo.edit(
        "records/programmes/nel-adoption.yaml",
        "monthly: 500",
        "monthly: -1",
    );
    repo.edit("records/areas.yaml", "code: E09000002", "code: X09000002");
    let run = repo.check();
    run.assert_reports("schema", "records/programmes/nel-adoption.yaml:8:12");
    run.assert_reports("schema", "records/areas.yaml:15:11");
}

// --- ids and references -----------------------------------------------------------------------

#[test]
fn template_id_must_match_file_name() {
    let repo = Repo::valid();
    repo.edit(TEMPLATE_PATH, "id: urgent-care-plan", "id: ucp");
    let run = repo.check();
    run.assert_reports("id/file-name", &format!("{TEMPLATE_PATH}:1:5"));
}

#[test]
fn duplicate_field_ids_are_reported() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "id: preferred_place_of_death",
        "id: cpr_decision",
    );
    let run = repo.check();
    run.assert_reports("id/duplicate", &format!("{TEMPLATE_PATH}:23:13"));
}

#[test]
fn duplicate_area_codes_are_reported() {
    let repo = Repo::valid();
    repo.edit("records/areas.yaml", "code: E09000002", "code: E09000001");
    let run = repo.check();
    run.assert_reports("id/duplicate", "records/areas.yaml:15");
}

#[test]
fn duplicate_metrics_rows_are_reported() {
    let repo = Repo::valid();
    let mut text = repo.read(METRICS);
    text.push_str(&row(
        "2021-02",
        "E09000002",
        "all",
        "1250,40,30,45,20,15,80,35,30,25,1150,950,900",
    ));
    repo.write(METRICS, text);
    let run = repo.check();
    run.assert_reports("id/duplicate", &format!("{METRICS}:10"));
}

#[test]
fn unknown_areas_are_reported_wherever_they_are_named() {
    let repo = Repo::valid();
    repo.edit(
        "records/programmes/nel-adoption.yaml",
        "area: E54000029",
        "area: E54000099",
    );
    repo.edit(
        "records/areas.yaml",
        "stp: E54000029\n    tile: [7, 3]",
        "stp: E54000031\n    tile: [7, 3]",
    );
    repo.edit(METRICS, "2021-02,E09000001,all", "2021-02,E09000099,all");
    let run = repo.check();
    run.assert_reports(
        "ref/unknown-area",
        "records/programmes/nel-adoption.yaml:2:7",
    );
    run.assert_reports("ref/unknown-area", "records/areas.yaml:17:10");
    run.assert_reports("ref/unknown-area", &format!("{METRICS}:8:9"));
}

#[test]
fn unknown_template_in_metrics_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000002,urgent-care-plan",
        "2021-02,E09000002,dementia",
    );
    let run = repo.check();
    run.assert_reports("ref/unknown-template", &format!("{METRICS}:7:19"));
}

#[test]
fn report_chart_must_name_one_of_its_queries() {
    let repo = Repo::valid();
    repo.write(
        "reports/overview.yaml",
        "id: overview\ntitle: Overview\ndescription: London\nqueries:\n  - id: trend\n    sql: SELECT 1\ncharts:\n  - query: trnd\n    type: line\n    title: Trend\n    x: month\n    y: active_plans\n    units: plans\n",
    );
    let run = repo.check();
    run.assert_reports("ref/unknown-query", "reports/overview.yaml:8:12");
}

// --- logic ------------------------------------------------------------------------------------

#[test]
fn more_people_aged_75_than_adults_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        "records/areas.yaml",
        "aged_75_plus: 600",
        "aged_75_plus: 9000",
    );
    let run = repo.check();
    run.assert_reports("logic/population", "records/areas.yaml:14:19");
}

#[test]
fn overlapping_tiles_are_reported() {
    let repo = Repo::valid();
    repo.edit("records/areas.yaml", "tile: [7, 3]", "tile: [4, 3]");
    let run = repo.check();
    run.assert_reports("areas/tile-overlap", "records/areas.yaml:18:11");
}

#[test]
fn programme_ending_before_it_starts_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        "records/programmes/nel-adoption.yaml",
        "start: \"2021-02\"",
        "start: \"2021-02\"\nend: \"2020-01\"",
    );
    let run = repo.check();
    run.assert_reports(
        "logic/programme-dates",
        "records/programmes/nel-adoption.yaml:6:6",
    );
}

#[test]
fn more_active_plans_than_adults_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000002,all,1250",
        "2021-02,E09000002,all,150010",
    );
    let run = repo.check();
    run.assert_reports("logic/active-over-population", &format!("{METRICS}:6:23"));
}

#[test]
fn more_deaths_in_preferred_place_than_deaths_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000002,all,1250,40,30,45,20,15,80,35,30,25",
        "2021-02,E09000002,all,1250,40,30,45,20,15,80,35,30,85",
    );
    let run = repo.check();
    run.assert_reports("logic/part-exceeds-whole", &format!("{METRICS}:6:"));
    assert!(
        run.stdout.contains(
            "`deaths_in_preferred_place` (85) is more than `deaths_with_preference_recorded` (30)"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn retired_template_with_new_plans_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "status: active",
        "status: retired\nretired_from: \"2021-02\"",
    );
    let run = repo.check();
    run.assert_reports("logic/retired-template-new-plans", &format!("{METRICS}:3:"));
    // The month before retirement may still have new plans.
    assert!(
        !run.stdout.contains("records/metrics/2021-01.csv:3:"),
        "{}",
        run.stdout
    );
}

#[test]
fn gap_in_months_is_reported() {
    let repo = Repo::valid();
    let text = repo.read(METRICS).replace("2021-02", "2021-04");
    repo.write("records/metrics/2021-04.csv", text);
    repo.remove(METRICS);
    let run = repo.check();
    run.assert_reports("metrics/gap", "records/metrics/2021-04.csv");
    assert!(run.stdout.contains("2 month(s) missing"), "{}", run.stdout);
}

#[test]
fn future_month_is_reported() {
    let repo = Repo::valid();
    let mut text = repo.read(METRICS).replace("2021-02", "2999-12");
    text.truncate(text.len());
    repo.write("records/metrics/2999-12.csv", text);
    let run = repo.check();
    run.assert_reports("metrics/future-month", "records/metrics/2999-12.csv");
}

#[test]
fn metrics_file_name_and_row_month_must_agree() {
    let repo = Repo::valid();
    repo.edit(METRICS, "2021-02,E09000001,all", "2021-03,E09000001,all");
    repo.write("records/metrics/latest.csv", repo.read(METRICS));
    let run = repo.check();
    run.assert_reports("metrics/month-mismatch", &format!("{METRICS}:8:1"));
    run.assert_reports("metrics/file-name", "records/metrics/latest.csv");
}

#[test]
fn every_area_needs_an_all_templates_row() {
    let repo = Repo::valid();
    let text: String = repo
        .read(METRICS)
        .lines()
        .filter(|l| !l.contains("E09000001,all"))
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write(METRICS, text);
    let run = repo.check();
    run.assert_reports("metrics/missing-area", METRICS);
    assert!(run.stdout.contains("City of London"), "{}", run.stdout);
}

// --- CSV --------------------------------------------------------------------------------------

#[test]
fn csv_problems_name_row_and_column() {
    let repo = Repo::valid();
    let mut text = repo.read(METRICS);
    text.push_str(&row(
        "2021-02",
        "E09000002",
        "urgent-care-plan",
        "1250,forty,30,45,20,15,80,35,30,25,1150,950,900",
    ));
    text.push_str(&row(
        "2021-02",
        "E54000029",
        "urgent-care-plan",
        "1250,-5,30,45,20,15,80,35,30,25,1150,950,900",
    ));
    text.push_str("2021-02,E09000001\n");
    text.push_str(&row(
        "2021-02",
        "E09000002",
        "urgent-care-plan",
        "1250,,30,45,20,15,80,35,30,25,1150,950,900",
    ));
    repo.write(METRICS, text);
    let run = repo.check();
    run.assert_reports("csv/type", &format!("{METRICS}:10:41"));
    run.assert_reports("csv/value", &format!("{METRICS}:11:41"));
    run.assert_reports("csv/field-count", &format!("{METRICS}:12:1"));
    run.assert_reports("csv/value", &format!("{METRICS}:13:41"));
}

#[test]
fn wrong_header_is_reported() {
    let repo = Repo::valid();
    repo.edit(METRICS, "views_las", "views_ambulance");
    let run = repo.check();
    run.assert_reports("csv/header", &format!("{METRICS}:1:49"));
}

#[test]
fn empty_metrics_file_is_reported() {
    let repo = Repo::valid();
    repo.write(METRICS, "");
    let run = repo.check();
    run.assert_reports("csv/empty", METRICS);
}

#[test]
fn suppressed_marker_must_be_the_one_in_the_table_schema() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000001,all,*",
        "2021-02,E09000001,all,<5",
    );
    let run = repo.check();
    run.assert_reports("csv/type", &format!("{METRICS}:8:23"));
}

// --- disclosure -------------------------------------------------------------------------------

#[test]
fn small_counts_must_be_suppressed() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000001,all,*",
        "2021-02,E09000001,all,3",
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("disclosure/small-count", &format!("{METRICS}:8:23"));
}

#[test]
fn counts_must_be_rounded_to_the_base() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000002,all,1250",
        "2021-02,E09000002,all,1252",
    );
    let run = repo.check();
    run.assert_reports("disclosure/unrounded", &format!("{METRICS}:6:23"));
}

#[test]
fn disclosure_threshold_comes_from_the_config() {
    let repo = Repo::valid();
    repo.edit("careplans.toml", "threshold = 7", "threshold = 10");
    repo.edit(
        METRICS,
        "2021-02,E09000001,all,*",
        "2021-02,E09000001,all,10",
    );
    let run = repo.check();
    run.assert_reports("disclosure/small-count", &format!("{METRICS}:8:23"));
}

// --- identifiers ------------------------------------------------------------------------------

#[test]
fn nhs_number_in_a_template_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "description: The general",
        "description: Example 943 476 5919. The general",
    );
    let run = repo.check();
    run.assert_reports("identifier/nhs-number", &format!("{TEMPLATE_PATH}:5:22"));
}

#[test]
fn postcode_email_and_phone_in_comments_are_reported() {
    let repo = Repo::valid();
    repo.edit(
        "records/programmes/nel-adoption.yaml",
        "id: nel-adoption",
        "# contact jane.doe@example.org, 020 7946 0958, E1 6AN\nid: nel-adoption",
    );
    let path = "records/programmes/nel-adoption.yaml";
    let run = repo.check();
    run.assert_reports("identifier/email", &format!("{path}:1:11"));
    run.assert_reports("identifier/phone-number", &format!("{path}:1:33"));
    run.assert_reports("identifier/postcode", &format!("{path}:1:48"));
}

#[test]
fn date_of_birth_field_in_a_template_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "id: preferred_place_of_death",
        "id: date_of_birth",
    );
    let run = repo.check();
    run.assert_reports(
        "identifier/date-of-birth",
        &format!("{TEMPLATE_PATH}:23:13"),
    );
}

#[test]
fn date_of_birth_column_in_metrics_is_reported() {
    let repo = Repo::valid();
    repo.edit(METRICS, "preference_expressed", "date_of_birth");
    let run = repo.check();
    run.assert_reports("identifier/date-of-birth", &format!("{METRICS}:1:"));
}

#[test]
fn nhs_number_in_a_metrics_cell_is_reported() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000002,all,1250",
        "2021-02,E09000002,all,9434765919",
    );
    let run = repo.check();
    run.assert_reports("identifier/nhs-number", &format!("{METRICS}:6:23"));
}

#[test]
fn disguised_identifiers_are_reported_at_their_place_in_the_original_text() {
    // Each is pasted into a template's description; the column counts characters of the
    // original line, as an editor shows it.
    for (text, code) in [
        ("943.476.5919", "nhs-number"),
        ("943\u{200b}476\u{200b}5919", "nhs-number"),
        (
            "\u{ff19}\u{ff14}\u{ff13}\u{ff14}\u{ff17}\u{ff16}\u{ff15}\u{ff19}\u{ff11}\u{ff19}",
            "nhs-number",
        ),
        ("943\u{2013}476\u{2013}5919", "nhs-number"),
        ("943\u{a0}476\u{a0}5919", "nhs-number"),
        ("DOB 01/02/1940", "date-of-birth"),
        ("date of birth: 1 February 1940", "date-of-birth"),
        ("020\u{2011}7946\u{2011}0958", "phone-number"),
    ] {
        let repo = Repo::valid();
        repo.edit(
            TEMPLATE_PATH,
            "description: The general",
            &format!("description: Example {text}. The general"),
        );
        let run = repo.check();
        assert_eq!(run.code, 1, "{text:?} passed:\n{}", run.stdout);
        let column = if code == "date-of-birth" && text.starts_with("DOB") {
            26
        } else if code == "date-of-birth" {
            37
        } else {
            22
        };
        run.assert_reports(
            &format!("identifier/{code}"),
            &format!("{TEMPLATE_PATH}:5:{column}"),
        );
    }
}

#[test]
fn dates_codes_and_figures_that_are_not_identifiers_stay_clean() {
    for text in [
        "review date 01/02/2024",
        "SNOMED CT 1108131000000107",
        "version 1.2.0",
        "population 1,234,567",
        "from 2021-04 to 2022-03",
        "area E09000001",
    ] {
        let repo = Repo::valid();
        repo.edit(
            TEMPLATE_PATH,
            "description: The general",
            &format!("description: {text}. The general"),
        );
        let run = repo.check();
        assert_eq!(run.code, 0, "{text:?} was reported:\n{}", run.stdout);
    }
}

// --- warnings and formats ----------------------------------------------------------------------

#[test]
fn warnings_fail_only_when_denied() {
    let repo = Repo::valid();
    repo.edit(TEMPLATE_PATH, "required: true", "required: false");
    let run = repo.check();
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.assert_reports(
        "template/safety-critical-optional",
        &format!("{TEMPLATE_PATH}:14:19"),
    );
    assert!(run.stdout.contains("0 errors, 1 warnings"));
    let run = repo.run(&["check", "--deny", "warnings"]);
    assert_eq!(run.code, 1);
}

#[test]
fn stray_files_are_warned_about() {
    let repo = Repo::valid();
    repo.write("records/templates/notes.txt", "draft ideas");
    let run = repo.check();
    assert_eq!(run.code, 0);
    run.assert_reports("file/unexpected", "records/templates/notes.txt");
}

#[test]
fn human_output_shows_source_line_and_caret() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000001,all,*",
        "2021-02,E09000001,all,3",
    );
    let run = repo.check();
    assert!(
        run.stdout.contains("8 | 2021-02,E09000001,all,3,"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  |                       ^"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("= help: write `*` instead"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('\x1b'),
        "NO_COLOR must turn colour off"
    );
}

#[test]
fn json_output_lists_diagnostics_and_counts() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000001,all,*",
        "2021-02,E09000001,all,3",
    );
    let run = repo.run(&["check", "--format", "json"]);
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["tally"]["errors"], 1);
    assert_eq!(json["templates"], 1);
    let first = &json["diagnostics"][0];
    assert_eq!(first["code"], "disclosure/small-count");
    assert_eq!(first["path"], METRICS);
    assert_eq!(first["span"]["start"]["line"], 8);
}

#[test]
fn github_output_is_workflow_commands() {
    let repo = Repo::valid();
    repo.edit(
        METRICS,
        "2021-02,E09000001,all,*",
        "2021-02,E09000001,all,3",
    );
    let run = repo.run(&["check", "--format", "github"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with(&format!(
            "::error file={METRICS},line=8,col=23,title=disclosure/small-count::"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn header_only_rows_constant_is_the_schema_header() {
    // Guards the fixture itself: the header the tests write is the table schema's.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::project_root().join("records-schema/metrics.table.json"))
            .unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.join(","), HEADER);
}

// --- the remaining rules ------------------------------------------------------------------------

#[test]
fn oversized_file_is_refused_not_parsed() {
    let repo = Repo::valid();
    let mut text = repo.read(TEMPLATE_PATH);
    text.push_str(&format!("# {}\n", "x".repeat(33 * 1024 * 1024)));
    repo.write(TEMPLATE_PATH, text);
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("file/too-large", TEMPLATE_PATH);
}

#[test]
fn several_documents_in_one_file_are_refused() {
    let repo = Repo::valid();
    let text = repo.read(TEMPLATE_PATH);
    repo.write(TEMPLATE_PATH, format!("{text}---\n{text}"));
    let run = repo.check();
    run.assert_reports("yaml/multiple-documents", &format!("{TEMPLATE_PATH}:29"));
}

#[test]
fn missing_areas_file_is_reported() {
    let repo = Repo::valid();
    repo.remove("records/areas.yaml");
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("file/missing", "records/areas.yaml");
}

#[test]
fn stp_area_without_boroughs_is_a_warning() {
    let repo = Repo::valid();
    repo.edit(
        "records/areas.yaml",
        "boroughs:\n",
        "  - code: E54000031\n    short: SWL\n    name: South West London\nboroughs:\n",
    );
    let run = repo.check();
    run.assert_reports("areas/empty-stp", "records/areas.yaml:8");
    assert!(
        run.stdout.contains("warning[areas/empty-stp]"),
        "{}",
        run.stdout
    );
}

#[test]
fn template_id_all_is_reserved() {
    let repo = Repo::valid();
    let text = repo
        .read(TEMPLATE_PATH)
        .replace("id: urgent-care-plan", "id: all");
    repo.write("records/templates/all.yaml", text);
    let run = repo.check();
    run.assert_reports("id/reserved", "records/templates/all.yaml:1:5");
}

#[test]
fn replaced_by_must_name_a_live_template() {
    let repo = Repo::valid();
    repo.edit(
        TEMPLATE_PATH,
        "status: active",
        "status: active\nreplaced_by: nonexistent-plan",
    );
    let run = repo.check();
    run.assert_reports("ref/unknown-template", &format!("{TEMPLATE_PATH}:5:14"));
    let old = repo
        .read(TEMPLATE_PATH)
        .replace("id: urgent-care-plan", "id: old-plan")
        .replace(
            "replaced_by: nonexistent-plan",
            "replaced_by: urgent-care-plan",
        );
    repo.edit(
        TEMPLATE_PATH,
        "status: active\nreplaced_by: nonexistent-plan",
        "status: retired\nretired_from: \"2021-03\"",
    );
    repo.write("records/templates/old-plan.yaml", old);
    let run = repo.check();
    run.assert_reports(
        "template/replaced-by-retired",
        "records/templates/old-plan.yaml:5:14",
    );
}

#[test]
fn with_secondary_suppression_a_suppressed_count_recoverable_from_totals_is_an_error() {
    let repo = Repo::valid();
    // Without it, the fixture's lone suppressed counts in the City rows are only rounded
    // away from their totals: allowed.
    assert_eq!(repo.check().code, 0);
    repo.edit(
        "careplans.toml",
        "secondary_suppression = false",
        "secondary_suppression = true",
    );
    // City's active plans: the STP area publishes 1250 and so does Barking, its only other
    // borough, so City's `*` is exactly the difference: nothing else in its column is hidden.
    let run = repo.check();
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_reports("disclosure/recoverable", "records/metrics/2021-01.csv:8:");
    assert!(
        run.stdout
            .contains("`active_plans` of City of London (all)"),
        "{}",
        run.stdout
    );
    // Hiding Barking's counts where City's are hidden closes each cycle: City and Barking
    // could trade a unit between them without changing any published total.
    for month in ["2021-01", "2021-02"] {
        let path = format!("records/metrics/{month}.csv");
        let text = repo
            .read(&path)
            .replace(
                &format!("{month},E09000002,all,1250,40,30,45,20,15,80,35,30,25,1150,950,900"),
                &format!("{month},E09000002,all,*,40,30,45,20,15,*,35,30,25,*,*,*"),
            )
            .replace(
                &format!(
                    "{month},E09000002,urgent-care-plan,1250,40,30,45,20,15,80,35,30,25,1150,950,900"
                ),
                &format!("{month},E09000002,urgent-care-plan,*,40,30,45,20,15,*,35,30,25,*,*,*"),
            );
        repo.write(&path, text);
    }
    let run = repo.check();
    assert!(
        !run.stdout.contains("disclosure/recoverable"),
        "{}",
        run.stdout
    );
}

// --- required_when and the FHIR Questionnaire mapping ------------------------------------------

/// Adds to the fixture's Preferences a free-text field and a field that applies only when
/// `decider` has one of `answers` (lines 29 to 41; the condition's `field` is line 40 and its
/// `answers` line 41).
fn add_conditional_field(repo: &Repo, decider: &str, answers: &str, required: bool) {
    let text = repo.read(TEMPLATE_PATH);
    repo.write(
        TEMPLATE_PATH,
        format!(
            "{text}      - id: place_notes
        label: Notes on the place
        type: long_text
        required: false
        safety_critical: false
      - id: place_details
        label: Where exactly
        type: text
        required: {required}
        safety_critical: false
        required_when:
          field: {decider}
          answers: {answers}
"
        ),
    );
}

#[test]
fn a_condition_on_an_answer_of_another_field_is_clean() {
    let repo = Repo::valid();
    add_conditional_field(&repo, "preferred_place_of_death", "[Other, Hospice]", true);
    let run = repo.check();
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn required_when_naming_a_missing_field_is_an_error_at_the_name() {
    let repo = Repo::valid();
    add_conditional_field(&repo, "place_of_death", "[Other]", true);
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("template/required-when", &format!("{TEMPLATE_PATH}:40:18"));
    assert!(
        run.stdout
            .contains("`place_of_death`, which is no field of this template"),
        "{}",
        run.stdout
    );
}

#[test]
fn required_when_naming_its_own_field_is_an_error() {
    let repo = Repo::valid();
    add_conditional_field(&repo, "place_details", "[Other]", true);
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("template/required-when", &format!("{TEMPLATE_PATH}:40:18"));
    assert!(
        run.stdout.contains("names the field itself"),
        "{}",
        run.stdout
    );
}

#[test]
fn required_when_with_an_answer_the_field_cannot_have_is_an_error_at_that_answer() {
    let repo = Repo::valid();
    add_conditional_field(&repo, "preferred_place_of_death", "[Other, Abroad]", true);
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("template/required-when", &format!("{TEMPLATE_PATH}:41:28"));
    assert!(
        run.stdout
            .contains("`Abroad` is not an answer of `preferred_place_of_death`"),
        "{}",
        run.stdout
    );
    // A near miss in case is named.
    let repo = Repo::valid();
    add_conditional_field(&repo, "preferred_place_of_death", "[care home]", true);
    let run = repo.check();
    assert!(
        run.stdout.contains("did you mean `Care home`?"),
        "{}",
        run.stdout
    );
}

#[test]
fn required_when_on_a_field_type_without_answers_is_an_error() {
    let repo = Repo::valid();
    add_conditional_field(&repo, "place_notes", "[Anything]", true);
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("template/required-when", &format!("{TEMPLATE_PATH}:40:18"));
    assert!(
        run.stdout.contains(
            "a long_text field: only yes_no, choice and multi_choice fields have answers"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn required_when_on_an_optional_field_is_clean_and_it_stays_optional() {
    // The field then applies, and may be answered, only when the condition holds.
    let repo = Repo::valid();
    add_conditional_field(&repo, "preferred_place_of_death", "[Other]", false);
    let run = repo.check();
    assert_eq!(run.code, 0, "{}", run.stdout);
    // Its condition is still checked.
    let repo = Repo::valid();
    add_conditional_field(&repo, "preferred_place_of_death", "[Abroad]", false);
    let run = repo.check();
    run.assert_reports("template/required-when", &format!("{TEMPLATE_PATH}:41:21"));
}

#[test]
fn what_a_questionnaire_cannot_express_is_a_fhir_error() {
    // A coded field whose value set names no concept would offer every SNOMED CT concept.
    let repo = Repo::valid();
    let text = repo.read(TEMPLATE_PATH);
    repo.write(
        TEMPLATE_PATH,
        format!(
            "{text}      - id: diagnosis
        label: Main diagnosis
        type: coded
        value_set: Dementia diagnoses
        required: false
        safety_critical: false
"
        ),
    );
    let run = repo.check();
    assert_eq!(run.code, 1);
    run.assert_reports("template/fhir", &format!("{TEMPLATE_PATH}:32:20"));
    // Duplicate section ids are one problem, not also a FHIR linkId clash.
    let repo = Repo::valid();
    repo.edit(TEMPLATE_PATH, "  - id: preferences", "  - id: cpr");
    let run = repo.check();
    run.assert_reports("id/duplicate", &format!("{TEMPLATE_PATH}:19:9"));
    assert!(!run.stdout.contains("[template/fhir]"), "{}", run.stdout);
}

#[test]
fn an_spc_chart_without_its_improvement_direction_is_refused_at_the_chart() {
    let repo = Repo::valid();
    repo.write(
        "reports/overview.yaml",
        "id: overview\ntitle: Overview\ndescription: London\nqueries:\n  - id: trend\n    sql: SELECT month, new_plans FROM metrics WHERE area_code = 'E12000007' AND template = 'all'\ncharts:\n  - query: trend\n    type: spc\n    title: New plans\n    x: month\n    y: new_plans\n    units: plans\n",
    );
    let run = repo.check();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("reports/overview.yaml:8:") && run.stdout.contains("improvement"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_spc_chart_of_a_column_its_query_lacks_is_an_error_at_that_key() {
    let repo = Repo::valid();
    repo.write(
        "reports/overview.yaml",
        "id: overview\ntitle: Overview\ndescription: London\nqueries:\n  - id: trend\n    sql: SELECT month, new_plans FROM metrics WHERE area_code = 'E12000007' AND template = 'all'\ncharts:\n  - query: trend\n    type: spc\n    title: New plans\n    x: month\n    y: new_plan\n    improvement: increase\n    units: plans\n",
    );
    let run = repo.check();
    run.assert_reports("report/unknown-column", "reports/overview.yaml:12:8");
}
