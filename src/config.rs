//! The workspace configuration, `careplans.toml`, and finding it from the current folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const CONFIG_FILE: &str = "careplans.toml";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub paths: Paths,
    #[serde(default)]
    pub disclosure: DisclosureRule,
    #[serde(default)]
    pub review: ReviewConfig,
    #[serde(default)]
    pub site: SiteConfig,
}

/// Where each kind of file lives, relative to the workspace root.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    pub records: String,
    pub schemas: String,
    pub reports: String,
    pub site: String,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            records: "records".into(),
            schemas: "records-schema".into(),
            reports: "reports".into(),
            site: "site".into(),
        }
    }
}

impl Paths {
    pub fn templates(&self) -> String {
        join(&self.records, "templates")
    }
    pub fn programmes(&self) -> String {
        join(&self.records, "programmes")
    }
    pub fn metrics(&self) -> String {
        join(&self.records, "metrics")
    }
    pub fn areas(&self) -> String {
        join(&self.records, "areas.yaml")
    }
    /// London-wide change points (optional).
    pub fn change_points(&self) -> String {
        join(&self.records, "change-points.yaml")
    }
    pub fn schema(&self, file: &str) -> String {
        join(&self.schemas, file)
    }
}

/// Joins repository-relative paths with `/` (the form git trees and diagnostics use).
pub fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Small-number suppression and rounding for published counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisclosureRule {
    /// Counts from 1 up to and including this are suppressed.
    pub threshold: u64,
    /// Every published count is rounded to the nearest multiple of this.
    pub rounding_base: u64,
    /// Hide further counts where a suppressed one could otherwise be worked out from the
    /// published totals of its area hierarchy or its templates (see `disclosure::secondary`).
    pub secondary_suppression: bool,
}

impl Default for DisclosureRule {
    fn default() -> Self {
        DisclosureRule {
            threshold: 7,
            rounding_base: 5,
            secondary_suppression: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    pub signoff_trailer: String,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            signoff_trailer: "Clinical-safety-approved-by".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    pub title: String,
    /// Where the published FHIR Questionnaires are canonical: each is
    /// `{canonical_base}/Questionnaire/{template id}`. `crate::fhir::DEFAULT_CANONICAL_BASE`
    /// when absent; set it to the address the site is published at.
    pub canonical_base: Option<String>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            title: "Urgent care plans".into(),
            canonical_base: None,
        }
    }
}

impl SiteConfig {
    /// The canonical base of the published Questionnaires, without a trailing `/`.
    pub fn canonical_base(&self) -> &str {
        self.canonical_base
            .as_deref()
            .unwrap_or(crate::fhir::DEFAULT_CANONICAL_BASE)
            .trim_end_matches('/')
    }
}

impl Config {
    /// Parses `careplans.toml` text; the error names the file, line and column.
    pub fn parse(text: &str, path: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|error| {
            let position = error
                .span()
                .map(|span| line_column(text, span.start))
                .map(|(line, column)| format!(":{line}:{column}"))
                .unwrap_or_default();
            anyhow::anyhow!("{path}{position}: {}", error.message())
        })?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &str) -> Result<()> {
        let rule = self.disclosure;
        if rule.rounding_base == 0 {
            bail!("{path}: disclosure.rounding_base must be at least 1");
        }
        if let Some(base) = &self.site.canonical_base {
            let absolute = ["https://", "http://"]
                .iter()
                .any(|scheme| base.len() > scheme.len() && base.starts_with(scheme));
            if !absolute
                || base
                    .chars()
                    .any(|c| c.is_whitespace() || c == '#' || c == '?')
            {
                bail!(
                    "{path}: site.canonical_base `{base}` is not an absolute http(s) URL without spaces, query or fragment"
                );
            }
        }
        if !is_trailer_name(&self.review.signoff_trailer) {
            bail!(
                "{path}: review.signoff_trailer `{}` is not a valid trailer name (letters, digits and hyphens)",
                self.review.signoff_trailer
            );
        }
        Ok(())
    }
}

/// Whether `name` can be a git trailer key (letters, digits and hyphens).
pub fn is_trailer_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Finds the workspace root: `explicit` if given, else the nearest folder at or above `start`
/// that holds `careplans.toml`.
pub fn find_workspace(explicit: Option<&Path>, start: &Path) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot open repository folder {}", dir.display()))?;
        if !dir.join(CONFIG_FILE).is_file() {
            bail!("{} has no {CONFIG_FILE}", dir.display());
        }
        return Ok(dir);
    }
    let start = start
        .canonicalize()
        .with_context(|| format!("cannot open {}", start.display()))?;
    for dir in start.ancestors() {
        if dir.join(CONFIG_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "no {CONFIG_FILE} found in {} or any folder above it; run inside a careplans repository or pass --repo DIR",
        start.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_nhs_england_disclosure_method() {
        let config = Config::parse("", "careplans.toml").unwrap();
        assert_eq!(config.disclosure.threshold, 7);
        assert_eq!(config.disclosure.rounding_base, 5);
        assert_eq!(config.review.signoff_trailer, "Clinical-safety-approved-by");
    }

    #[test]
    fn unknown_key_error_names_line_and_column() {
        let error = Config::parse("[disclosure]\nthreshhold = 7\n", "careplans.toml").unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("careplans.toml:2:1:"), "{text}");
        assert!(text.contains("threshhold"));
    }

    #[test]
    fn canonical_base_defaults_and_must_be_an_absolute_url() {
        let config = Config::parse("", "careplans.toml").unwrap();
        assert_eq!(
            config.site.canonical_base(),
            crate::fhir::DEFAULT_CANONICAL_BASE
        );
        let config = Config::parse(
            "[site]\ncanonical_base = \"https://plans.example.nhs.uk/fhir/\"\n",
            "careplans.toml",
        )
        .unwrap();
        assert_eq!(
            config.site.canonical_base(),
            "https://plans.example.nhs.uk/fhir"
        );
        for bad in [
            "plans.example",
            "https://",
            "https://a b",
            "ftp://x",
            "https://x/#y",
        ] {
            let text = format!("[site]\ncanonical_base = \"{bad}\"\n");
            assert!(Config::parse(&text, "careplans.toml").is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_zero_rounding_base() {
        assert!(Config::parse("[disclosure]\nrounding_base = 0\n", "c").is_err());
    }

    #[test]
    fn finds_workspace_by_walking_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "").unwrap();
        let nested = dir.path().join("records/templates");
        std::fs::create_dir_all(&nested).unwrap();
        let found = find_workspace(None, &nested).unwrap();
        assert_eq!(found, dir.path().canonicalize().unwrap());
    }

    #[test]
    fn explicit_repo_without_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find_workspace(Some(dir.path()), dir.path()).is_err());
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
    }
}
