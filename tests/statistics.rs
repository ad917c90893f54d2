//! The statistical charts of a report, through `careplans build`: an XmR chart whose CSV gives
//! the limits and point types NHSRplotthedots gives for the same series (its vignette's
//! outlier-screening example), comparisons with Byar's and Wilson's intervals as OHID
//! Fingertips computes them, a funnel plot, and the words beside every chart and icon.

mod common;

use common::{HEADER, Repo, project_root};

/// `vignettes/deviations.Rmd` of NHSRplotthedots 0.2.2: one outlier in a steady series.
/// Its caption gives "UPL = 4.6, Mean = 1.94, LPL = -0.72" with outlier screening (the
/// default), and only the 10 is special cause.
const VIGNETTE: [u32; 18] = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1];

/// A metrics file for `month` where London's new plans are `new_plans` and Barking's active
/// plans `barking_active` (every other count as in the common fixture).
fn metrics(month: &str, new_plans: u32, barking_active: u32) -> String {
    let mut text = format!("{HEADER}\n");
    for area in ["E12000007", "E54000029", "E09000002", "E09000001"] {
        let counts = match area {
            "E09000001" => "*,0,0,0,0,0,*,0,0,0,*,*,*".to_owned(),
            // NEL: 40 of 45 deaths with a preference recorded were in the preferred place.
            "E54000029" => "20000,40,30,45,20,15,80,50,45,40,1150,950,900".to_owned(),
            "E09000002" => format!(
                "{barking_active},40,30,45,20,15,80,35,30,25,{barking_active},{barking_active},{barking_active}"
            ),
            _ => format!("20000,{new_plans},30,45,20,15,80,1000,950,900,1150,950,900"),
        };
        for template in ["all", "urgent-care-plan"] {
            text.push_str(&common::row(month, area, template, &counts));
        }
    }
    text
}

const REPORT: &str = r#"
id: stats
title: Statistics
description: The statistical charts of a report.
order: 50
queries:
  - id: london_new
    sql: >-
      SELECT month, area_short, new_plans / 1000.0 AS new_thousands FROM metrics
      WHERE area_level = 'london' AND template = 'all' ORDER BY month
  - id: boroughs
    sql: >-
      SELECT area_name, active_plans, aged_75_plus FROM metrics
      WHERE area_level IN ('borough', 'london') AND template = 'all' AND month = $latest
      ORDER BY area_level, area_name
  - id: latest_year
    sql: >-
      SELECT COUNT(*) AS months, MIN(month) AS first FROM metrics
      WHERE area_level = 'london' AND template = 'all' AND month >= $year_from
  - id: deaths
    sql: >-
      SELECT area_short, deaths_in_preferred_place, deaths_with_preference_recorded FROM metrics
      WHERE area_level IN ('stp', 'london') AND template = 'all' AND month = $latest
charts:
  - query: london_new
    type: spc
    title: New plans in London
    x: month
    y: new_thousands
    improvement: increase
    units: thousands of new plans
  - query: boroughs
    type: comparison
    title: Boroughs against London
    x: area_name
    y: active_plans
    numerator: active_plans
    denominator: aged_75_plus
    per: 1000
    method: rate
    comparator: London
    units: plans per 1,000 aged 75+
  - query: deaths
    type: comparison
    title: Died in the preferred place
    x: area_short
    y: deaths_in_preferred_place
    numerator: deaths_in_preferred_place
    denominator: deaths_with_preference_recorded
    per: 100
    method: proportion
    comparator: London
    units: per cent
  - query: boroughs
    type: funnel
    title: Boroughs by size
    x: area_name
    y: active_plans
    numerator: active_plans
    denominator: aged_75_plus
    per: 1000
    method: rate
    comparator: London
    units: plans per 1,000 aged 75+
spc_tables:
  - query: london_new
    caption: London's new plans, the latest month
    x: month
    series: area_short
    measures:
      - y: new_thousands
        label: New plans (thousands)
        improvement: increase
"#;

/// 18 months from January 2021 with the vignette's series as London's new plans (in
/// thousands), Barking with 100 active plans; built.
fn built() -> Repo {
    let repo = Repo::valid();
    common::copy_dir(&project_root().join("site"), &repo.path("site"));
    repo.remove("records/metrics/2021-01.csv");
    repo.remove("records/metrics/2021-02.csv");
    for (i, value) in VIGNETTE.iter().enumerate() {
        let month = format!("{}-{:02}", 2021 + i / 12, i % 12 + 1);
        repo.write(
            &format!("records/metrics/{month}.csv"),
            metrics(&month, value * 1000, 100),
        );
    }
    repo.write("reports/stats.yaml", REPORT);
    let run = repo.run(&["build", "--out", "public"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    repo
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = vec![header];
    rows.extend(
        reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect()),
    );
    rows
}

fn number(text: &str) -> f64 {
    text.parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a number"))
}

#[test]
fn an_spc_chart_publishes_the_limits_and_point_types_nhsrplotthedots_gives() {
    let repo = built();
    let rows = csv_rows(&repo.read("public/data/stats-chart-1.csv"));
    assert_eq!(
        rows[0],
        [
            "month",
            "value",
            "segment",
            "centre",
            "lower_limit",
            "upper_limit",
            "rule",
            "point_type",
            "improvement"
        ]
    );
    assert_eq!(rows.len(), 19);
    for (i, row) in rows[1..].iter().enumerate() {
        assert_eq!(number(&row[1]), f64::from(VIGNETTE[i]));
        // Mean 35/18; the moving ranges of 8 and 9 are screened out, leaving a mean moving
        // range of 1, so the limits are the mean plus and minus 2.66.
        assert!((number(&row[3]) - 1.944444).abs() < 1e-6, "{row:?}");
        assert!((number(&row[4]) - -0.715556).abs() < 1e-6, "{row:?}");
        assert!((number(&row[5]) - 4.604444).abs() < 1e-6, "{row:?}");
        let expected = if i == 4 {
            ("outside_limits", "special_cause_improvement")
        } else {
            ("", "common_cause")
        };
        assert_eq!((row[6].as_str(), row[7].as_str()), expected, "{row:?}");
        assert_eq!(row[8], "increase");
    }

    let page = repo.read("public/stats.html");
    // The chart says in words what it shows and what the latest month's icon means.
    assert!(
        page.contains("Mean 1.9") || page.contains("mean 1.9"),
        "{page}"
    );
    assert!(page.contains("Common cause variation"), "{page}");
    assert!(
        page.contains("1 month above the upper process limit, in May 2021"),
        "{page}"
    );
    assert!(page.contains("Making Data Count"), "{page}");
    // Its data table gives the same limits, month by month.
    assert!(
        page.contains("Data table for New plans in London"),
        "{page}"
    );
    assert!(page.contains("<td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">4.6</td>"));
    assert!(
        page.contains("Special cause: improvement (Above UCL)"),
        "{page}"
    );
    // The icon sits beside its words, hidden from assistive technology.
    assert!(page.contains(r#"aria-hidden="true" focusable="false""#));
    // The summary table names the icon's meaning too.
    let summary = csv_rows(&repo.read("public/data/stats-spc-table-1.csv"));
    assert_eq!(summary[0][0], "series");
    assert_eq!(
        summary[1],
        ["London", "2022-06", "1", "common_cause", "", ""],
        "{summary:?}"
    );
    let problems = common::html::accessibility_problems(&page);
    assert!(problems.is_empty(), "stats.html: {problems:?}");
    // $year_from is the first of the latest 12 months.
    let json: serde_json::Value =
        serde_json::from_str(&repo.read("public/data/stats.json")).unwrap();
    let latest_year = &json["queries"]["latest_year"]["rows"][0];
    assert_eq!(latest_year, &serde_json::json!([12, "2021-07"]), "{json}");
    // The method page explains the rules and cites them.
    let method = repo.read("public/method.html");
    assert!(method.contains(r#"id="spc""#) && method.contains("NHSRplotthedots"));
    assert!(method.contains(r#"id="comparisons""#) && method.contains("Byar"));
}

#[test]
fn comparisons_use_byars_and_wilsons_intervals_as_fingertips_does() {
    let repo = built();
    // Barking: 100 plans over 9,000 people aged 75+. Byar's 95% interval for 100 events is
    // 81.3621 to 121.6279 (PHEindicatormethods' phe_rate), so per 1,000: 9.0402 to 13.5142.
    let rows = csv_rows(&repo.read("public/data/stats-chart-2.csv"));
    let barking = rows
        .iter()
        .find(|r| r[0] == "Barking and Dagenham")
        .expect("Barking's row");
    assert!(
        (number(&barking[1]) - 11.111111).abs() < 1e-6,
        "{barking:?}"
    );
    assert!((number(&barking[2]) - 9.040234).abs() < 1e-6, "{barking:?}");
    assert!(
        (number(&barking[3]) - 13.514215).abs() < 1e-6,
        "{barking:?}"
    );
    // London's 20,000 over 9,600 is far above: Barking is lower at both levels.
    assert_eq!(
        (barking[6].as_str(), barking[7].as_str()),
        ("lower", "lower")
    );
    let london = rows.iter().find(|r| r[0] == "London").unwrap();
    assert_eq!(london[6], "comparator");
    // City of London's count is suppressed: left out, and the page says so.
    assert!(!rows.iter().any(|r| r[0] == "City of London"));
    let page = repo.read("public/stats.html");
    assert!(
        page.contains("Not compared, because a count is suppressed"),
        "{page}"
    );
    assert!(page.contains("Byar&#x27;s method"), "{page}");

    // NEL: 40 of 45 deaths in the preferred place. Wilson's 95% interval is 76.5009% to
    // 95.1595%; London's 900 of 950 (94.7%) lies inside it: similar.
    let rows = csv_rows(&repo.read("public/data/stats-chart-3.csv"));
    let nel = rows.iter().find(|r| r[0] == "NEL").expect("NEL's row");
    assert!((number(&nel[1]) - 88.888889).abs() < 1e-6, "{nel:?}");
    assert!((number(&nel[2]) - 76.500903).abs() < 1e-6, "{nel:?}");
    assert!((number(&nel[3]) - 95.159528).abs() < 1e-6, "{nel:?}");
    assert_eq!(nel[6], "similar");
    assert!(page.contains("Wilson&#x27;s score method"), "{page}");
    // 45 deaths earn no decimal on the page (the HES rule: one from 4,000).
    assert!(page.contains(">89</td>"), "{page}");
}

#[test]
fn a_funnel_plot_places_each_area_against_its_limits() {
    let repo = built();
    let rows = csv_rows(&repo.read("public/data/stats-chart-4.csv"));
    assert_eq!(rows[0], ["area", "value", "denominator", "significance"]);
    let barking = rows
        .iter()
        .find(|r| r[0] == "Barking and Dagenham")
        .unwrap();
    assert_eq!(barking[2], "9000");
    assert_eq!(barking[3], "Low (0.001)");
    let page = repo.read("public/stats.html");
    assert!(page.contains("Below the 99.8% limit"), "{page}");
    assert!(page.contains("Spiegelhalter"), "{page}");
}
