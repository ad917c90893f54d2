//! The review rules over a semantic diff: version bumps, clinical-safety sign-off, and removal
//! only after retirement. Pure: commits and statuses come in as values.

use serde::Serialize;

use super::diff::{Bump, TemplateDiff};
use super::trailers::{Trailer, values};
use crate::model::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    VersionBump,
    SafetySignoff,
    RemoveAfterRetired,
}

impl RuleId {
    pub fn title(self) -> &'static str {
        match self {
            RuleId::VersionBump => "Version bump",
            RuleId::SafetySignoff => "Clinical safety sign-off",
            RuleId::RemoveAfterRetired => "Removed only after retirement",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            RuleId::VersionBump => "review/version-bump",
            RuleId::SafetySignoff => "review/safety-signoff",
            RuleId::RemoveAfterRetired => "review/remove-after-retired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleResult {
    pub rule: RuleId,
    pub template: String,
    pub passed: bool,
    pub message: String,
    /// What to do to make it pass.
    pub fix: Option<String>,
}

/// A commit in BASE..HEAD, as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    pub id: String,
    pub author_name: String,
    pub author_email: String,
    pub subject: String,
    pub trailers: Vec<Trailer>,
    /// Ids of the templates whose files the commit changed.
    pub touched_templates: Vec<String>,
}

/// Everything besides the diff that the rules read.
pub struct RuleInputs<'a> {
    pub commits: &'a [CommitInfo],
    /// Author of uncommitted changes (the work tree as HEAD), with the templates they touch.
    pub uncommitted: Option<(String, String, Vec<String>)>,
    pub signoff_trailer: &'a str,
    /// Templates that were `retired` at BASE.
    pub retired_at_base: &'a [String],
}

fn same_person(signer: &str, name: &str, email: &str) -> bool {
    let signer = signer.to_lowercase();
    (!email.is_empty() && signer.contains(&email.to_lowercase()))
        || (!name.is_empty()
            && signer.split('<').next().unwrap_or("").trim() == name.to_lowercase())
}

pub fn evaluate(diffs: &[TemplateDiff], inputs: &RuleInputs<'_>) -> Vec<RuleResult> {
    let mut out = Vec::new();
    for diff in diffs {
        if diff.removed {
            let retired = inputs.retired_at_base.contains(&diff.id);
            out.push(RuleResult {
                rule: RuleId::RemoveAfterRetired,
                template: diff.id.clone(),
                passed: retired,
                message: if retired {
                    format!("`{}` was retired at the base revision, so it may be removed", diff.id)
                } else {
                    format!("`{}` is removed but was not retired at the base revision", diff.id)
                },
                fix: (!retired).then(|| {
                    "keep the template and set `status: retired` with `retired_from`; remove it in a later change once that has merged".to_owned()
                }),
            });
        } else if !diff.added {
            out.push(version_rule(diff));
        }
        if diff.safety && !diff.added {
            out.push(signoff_rule(diff, inputs));
        }
    }
    out
}

fn version_rule(diff: &TemplateDiff) -> RuleResult {
    let parse = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<Version>().ok());
    let (Some(base), Some(head)) = (parse(&diff.base_version), parse(&diff.head_version)) else {
        return RuleResult {
            rule: RuleId::VersionBump,
            template: diff.id.clone(),
            passed: false,
            message: "the version cannot be read".into(),
            fix: Some("write the version as MAJOR.MINOR.PATCH".into()),
        };
    };
    let required = diff.required_bump;
    let made = Bump::between(base, head);
    let result = |passed: bool, message: String, fix: Option<String>| RuleResult {
        rule: RuleId::VersionBump,
        template: diff.id.clone(),
        passed,
        message,
        fix,
    };
    if head < base {
        return result(
            false,
            format!("version went down from {base} to {head}"),
            Some(format!(
                "set the version to {} or higher",
                required.max(Bump::Patch).apply(base)
            )),
        );
    }
    if required == Bump::None {
        return if head == base {
            result(
                true,
                format!("no changes and the version stays {base}"),
                None,
            )
        } else {
            result(
                false,
                format!(
                    "version changed from {base} to {head} but nothing in the template changed"
                ),
                Some(format!("set the version back to {base}")),
            )
        };
    }
    if made >= required {
        result(
            true,
            format!("{base} -> {head} is a {made} bump; the changes need {required}"),
            None,
        )
    } else {
        let target = required.apply(base);
        let message = if head == base {
            format!("the changes need a {required} bump but the version is still {base}")
        } else {
            format!("{base} -> {head} is a {made} bump; the changes need a {required} bump")
        };
        result(
            false,
            message,
            Some(format!(
                "set `version: \"{target}\"` (a {required} bump) or higher"
            )),
        )
    }
}

fn signoff_rule(diff: &TemplateDiff, inputs: &RuleInputs<'_>) -> RuleResult {
    let key = inputs.signoff_trailer;
    let mut authors: Vec<(String, String)> = inputs
        .commits
        .iter()
        .filter(|c| c.touched_templates.contains(&diff.id))
        .map(|c| (c.author_name.clone(), c.author_email.clone()))
        .collect();
    if let Some((name, email, touched)) = &inputs.uncommitted
        && touched.contains(&diff.id)
    {
        authors.push((name.clone(), email.clone()));
    }
    let signers: Vec<&str> = inputs
        .commits
        .iter()
        .flat_map(|c| values(&c.trailers, key))
        .collect();
    let independent: Vec<&str> = signers
        .iter()
        .copied()
        .filter(|s| !s.trim().is_empty() && !authors.iter().any(|(n, e)| same_person(s, n, e)))
        .collect();
    let fix = format!(
        "add a commit with the trailer `{key}: Name <email>` from a clinical safety officer who did not make the change"
    );
    match (independent.first(), signers.is_empty()) {
        (Some(signer), _) => RuleResult {
            rule: RuleId::SafetySignoff,
            template: diff.id.clone(),
            passed: true,
            message: format!("safety change signed off by {signer}"),
            fix: None,
        },
        (None, true) => RuleResult {
            rule: RuleId::SafetySignoff,
            template: diff.id.clone(),
            passed: false,
            message: format!("safety change with no `{key}` trailer on any commit"),
            fix: Some(fix),
        },
        (None, false) => RuleResult {
            rule: RuleId::SafetySignoff,
            template: diff.id.clone(),
            passed: false,
            message: format!(
                "the only `{key}` sign-off is by an author of the change ({})",
                signers.join(", ")
            ),
            fix: Some(fix),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::diff::diff_templates;
    use crate::review::diff::tests::{BASE, template};

    fn commit(author: &str, touched: &[&str], trailers: &[(&str, &str)]) -> CommitInfo {
        CommitInfo {
            id: "abc".into(),
            author_name: author.into(),
            author_email: format!("{}@example.nhs.uk", author.to_lowercase()),
            subject: "change".into(),
            trailers: trailers
                .iter()
                .map(|(k, v)| Trailer {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            touched_templates: touched.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn run(head: &str, commits: &[CommitInfo]) -> Vec<RuleResult> {
        let diffs = diff_templates(&[template(BASE)], &[template(head)]);
        evaluate(
            &diffs,
            &RuleInputs {
                commits,
                uncommitted: None,
                signoff_trailer: "Clinical-safety-approved-by",
                retired_at_base: &[],
            },
        )
    }

    const OPTIONAL_CPR: (&str, &str) = (
        "        required: true\n        safety_critical: true\n",
        "        required: false\n        safety_critical: true\n",
    );

    #[test]
    fn minor_bump_for_required_field_fails_with_the_version_to_use() {
        let head = BASE.replace("version: \"1.2.0\"", "version: \"1.3.0\"").replace(
            "      - id: wishes\n",
            "      - id: key_safe\n        label: Key safe\n        type: yes_no\n        required: true\n        safety_critical: false\n      - id: wishes\n",
        );
        let results = run(&head, &[]);
        assert_eq!(results.len(), 1);
        assert!(!results[0].passed);
        assert!(
            results[0].message.contains("need a major bump"),
            "{}",
            results[0].message
        );
        assert_eq!(
            results[0].fix.as_deref(),
            Some("set `version: \"2.0.0\"` (a major bump) or higher")
        );
    }

    #[test]
    fn enough_bump_passes() {
        let head = BASE
            .replace("version: \"1.2.0\"", "version: \"1.2.1\"")
            .replace("label: What matters to me", "label: What matters most");
        assert!(run(&head, &[]).iter().all(|r| r.passed));
    }

    #[test]
    fn no_change_no_bump_allowed() {
        let head = BASE.replace("version: \"1.2.0\"", "version: \"1.3.0\"");
        let results = run(&head, &[]);
        assert!(!results[0].passed);
        assert_eq!(
            results[0].fix.as_deref(),
            Some("set the version back to 1.2.0")
        );
    }

    #[test]
    fn safety_change_without_signoff_fails() {
        let head = BASE
            .replacen(OPTIONAL_CPR.0, OPTIONAL_CPR.1, 1)
            .replace("1.2.0", "1.3.0");
        let results = run(&head, &[commit("Ann", &["ucp"], &[])]);
        let signoff = results
            .iter()
            .find(|r| r.rule == RuleId::SafetySignoff)
            .unwrap();
        assert!(!signoff.passed);
    }

    #[test]
    fn signoff_by_the_author_does_not_count() {
        let head = BASE
            .replacen(OPTIONAL_CPR.0, OPTIONAL_CPR.1, 1)
            .replace("1.2.0", "1.3.0");
        let commits = [commit(
            "Ann",
            &["ucp"],
            &[("Clinical-safety-approved-by", "Ann <ann@example.nhs.uk>")],
        )];
        let signoff = run(&head, &commits)
            .into_iter()
            .find(|r| r.rule == RuleId::SafetySignoff)
            .unwrap();
        assert!(!signoff.passed);
        assert!(signoff.message.contains("author of the change"));
    }

    #[test]
    fn signoff_by_a_second_person_passes() {
        let head = BASE
            .replacen(OPTIONAL_CPR.0, OPTIONAL_CPR.1, 1)
            .replace("1.2.0", "1.3.0");
        let commits = [
            commit("Ann", &["ucp"], &[]),
            commit(
                "Ann",
                &[],
                &[(
                    "clinical-safety-approved-by",
                    "Dr Bola Ade <bola@example.nhs.uk>",
                )],
            ),
        ];
        assert!(run(&head, &commits).iter().all(|r| r.passed));
    }

    #[test]
    fn removal_needs_retirement_at_base() {
        let diffs = diff_templates(&[template(BASE)], &[]);
        let inputs = |retired: &'static [String]| RuleInputs {
            commits: &[],
            uncommitted: None,
            signoff_trailer: "X",
            retired_at_base: retired,
        };
        let results = evaluate(&diffs, &inputs(&[]));
        assert!(
            results
                .iter()
                .any(|r| r.rule == RuleId::RemoveAfterRetired && !r.passed)
        );
    }
}
