//! One helper drives every integration test: a small, valid records repository in a temp dir,
//! which a test breaks in one place before running `careplans`.
#![allow(dead_code)]

pub mod git;
pub mod html;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const HEADER: &str = "month,area_code,template,active_plans,new_plans,views_las,views_111,views_ooh_gp,views_ed,views_gp,deaths,deaths_with_preference_recorded,deaths_in_preferred_place,cpr_decision_made,preference_expressed,plans_reviewed_last_12_months";

pub struct Repo {
    pub dir: tempfile::TempDir,
}

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the output names `code` at `location` (`path:line` or `path:line:column`).
    pub fn assert_reports(&self, code: &str, location: &str) {
        assert!(
            self.stdout.contains(&format!("[{code}]")) && self.stdout.contains(location),
            "expected {code} at {location}; got exit {} and\n{}\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
    }
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const AREAS: &str = "\
london:
  code: E12000007
  name: London
stp_areas:
  - code: E54000029
    short: NEL
    name: East London Health and Care Partnership
boroughs:
  - code: E09000001
    name: City of London
    stp: E54000029
    tile: [4, 3]
    adults: 8000
    aged_75_plus: 600
  - code: E09000002
    name: Barking and Dagenham
    stp: E54000029
    tile: [7, 3]
    adults: 150000
    aged_75_plus: 9000
";

pub const TEMPLATE: &str = "\
id: urgent-care-plan
title: Urgent care plan
version: \"1.2.0\"
status: active
description: The general London urgent care plan.
sections:
  - id: cpr
    title: Cardiopulmonary resuscitation
    fields:
      - id: cpr_decision
        label: CPR decision
        type: choice
        options: [For CPR, Not for CPR, Not yet decided]
        required: true
        safety_critical: true
        snomed:
          code: \"450476008\"
          term: Not for attempted cardiopulmonary resuscitation
  - id: preferences
    title: Preferences
    visible_to: [gp, ooh-gp]
    fields:
      - id: preferred_place_of_death
        label: Preferred place of death
        type: choice
        options: [Home, Care home, Hospice, Hospital, Other]
        required: false
        safety_critical: false
";

const PROGRAMME: &str = "\
id: nel-adoption
area: E54000029
name: North East London adoption project
project: Care home in-reach teams create plans.
start: \"2021-02\"
target:
  metric: new_plans
  monthly: 500
";

/// A metrics row with every count given (in column order after the keys).
pub fn row(month: &str, area: &str, template: &str, counts: &str) -> String {
    format!("{month},{area},{template},{counts}\n")
}

fn metrics_file(month: &str) -> String {
    let mut text = format!("{HEADER}\n");
    for area in ["E12000007", "E54000029", "E09000002", "E09000001"] {
        let counts = if area == "E09000001" {
            "*,0,0,0,0,0,*,0,0,0,*,*,*"
        } else {
            "1250,40,30,45,20,15,80,35,30,25,1150,950,900"
        };
        text.push_str(&row(month, area, "all", counts));
        text.push_str(&row(month, area, "urgent-care-plan", counts));
    }
    text
}

impl Repo {
    /// A valid repository: the project's real config and schemas, small hand-made records.
    pub fn valid() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // The project's own configuration: NHS England's method, no secondary suppression
        // (tests turn it on where they need it).
        let config = fs::read_to_string(project_root().join("careplans.toml")).unwrap();
        assert!(config.contains("secondary_suppression = false"));
        fs::write(root.join("careplans.toml"), config).unwrap();
        copy_dir(
            &project_root().join("records-schema"),
            &root.join("records-schema"),
        );
        let repo = Repo { dir };
        repo.write("records/areas.yaml", AREAS);
        repo.write("records/templates/urgent-care-plan.yaml", TEMPLATE);
        repo.write("records/programmes/nel-adoption.yaml", PROGRAMME);
        repo.write("records/metrics/2021-01.csv", metrics_file("2021-01"));
        repo.write("records/metrics/2021-02.csv", metrics_file("2021-02"));
        repo
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }

    pub fn read(&self, relative: &str) -> String {
        fs::read_to_string(self.path(relative)).unwrap()
    }

    /// Replaces the first occurrence of `from` in a file, failing if it is not there.
    pub fn edit(&self, relative: &str, from: &str, to: &str) {
        let text = self.read(relative);
        assert!(text.contains(from), "{relative} does not contain {from:?}");
        self.write(relative, text.replacen(from, to, 1));
    }

    pub fn remove(&self, relative: &str) {
        fs::remove_file(self.path(relative)).unwrap();
    }

    /// Runs careplans in the repository with colour off.
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.root(), args)
    }

    pub fn check(&self) -> Run {
        self.run(&["check"])
    }
}

pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_careplans"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

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
