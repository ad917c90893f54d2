//! A review's result and its output formats: Markdown for a pull request comment or job
//! summary, JSON, and GitHub workflow commands.

use std::fmt::Write as _;

use serde::Serialize;

use super::diff::{Bump, TemplateDiff};
use super::rules::RuleResult;

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub base: String,
    pub head: String,
    pub templates: Vec<TemplateDiff>,
    pub rules: Vec<RuleResult>,
    /// Where template files live, for annotations.
    #[serde(skip)]
    pub templates_dir: String,
}

impl Review {
    pub fn passed(&self) -> bool {
        self.rules.iter().all(|r| r.passed)
    }

    fn failures(&self) -> usize {
        self.rules.iter().filter(|r| !r.passed).count()
    }
}

fn version_text(diff: &TemplateDiff) -> String {
    match (&diff.base_version, &diff.head_version) {
        (Some(a), Some(b)) if a == b => a.clone(),
        (Some(a), Some(b)) => format!("{a} → {b}"),
        (None, Some(b)) => format!("new, {b}"),
        (Some(a), None) => format!("{a}, removed"),
        (None, None) => String::new(),
    }
}

/// Markdown for a pull request comment or a GitHub job summary.
pub fn render_markdown(review: &Review) -> String {
    let mut out = String::new();
    let verdict = if review.passed() {
        "✅ passed".to_owned()
    } else {
        format!(
            "❌ {} rule{} broken",
            review.failures(),
            if review.failures() == 1 { "" } else { "s" }
        )
    };
    let _ = writeln!(out, "## Care-plan template review: {verdict}\n");
    let _ = writeln!(out, "Comparing `{}` with `{}`.\n", review.base, review.head);
    if review.templates.is_empty() {
        let _ = writeln!(out, "No template changed.");
        return out;
    }
    let _ = writeln!(
        out,
        "| Template | Version | Required bump | Safety change | Rules |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
    for diff in &review.templates {
        let rules: Vec<&RuleResult> = review
            .rules
            .iter()
            .filter(|r| r.template == diff.id)
            .collect();
        let status = if rules.is_empty() {
            "–".to_owned()
        } else if rules.iter().all(|r| r.passed) {
            "✅ pass".to_owned()
        } else {
            "❌ fail".to_owned()
        };
        let _ = writeln!(
            out,
            "| {} (`{}`) | {} | {} | {} | {status} |",
            diff.title,
            diff.id,
            version_text(diff),
            diff.required_bump,
            if diff.safety { "⚠️ yes" } else { "no" }
        );
    }
    for diff in &review.templates {
        let _ = writeln!(out, "\n### {} (`{}`)\n", diff.title, diff.id);
        if diff.changes.is_empty() {
            let _ = writeln!(out, "No changes to the template's content.");
        }
        for change in &diff.changes {
            let marker = if change.bump == Bump::None {
                String::new()
            } else {
                format!("**{}**", change.bump)
            };
            let safety = if change.safety { " ⚠️ safety" } else { "" };
            let _ = writeln!(
                out,
                "- {}{safety}: {}",
                if marker.is_empty() {
                    "listed".into()
                } else {
                    marker
                },
                change.description
            );
        }
        write_services(&mut out, diff);
        let rules: Vec<&RuleResult> = review
            .rules
            .iter()
            .filter(|r| r.template == diff.id)
            .collect();
        if !rules.is_empty() {
            let _ = writeln!(out, "\n**Rules**\n");
            for rule in rules {
                let mark = if rule.passed { "✅ pass" } else { "❌ fail" };
                let _ = writeln!(out, "- {mark}, {}: {}", rule.rule.title(), rule.message);
                if let Some(fix) = &rule.fix {
                    let _ = writeln!(out, "  - What to do: {fix}");
                }
            }
        }
    }
    out
}

/// "What changes for each service": every service, "unchanged" or what it newly sees, no
/// longer sees, and the changes to what it sees.
fn write_services(out: &mut String, diff: &TemplateDiff) {
    let _ = writeln!(out, "\n**What changes for each service**\n");
    for service in &diff.services {
        let name = &service.name;
        if service.unchanged {
            let _ = writeln!(out, "- **{name}**: unchanged");
        } else if diff.added {
            let _ = writeln!(
                out,
                "- **{name}**: sees the new template ({} fields)",
                service.newly_sees.len()
            );
        } else if diff.removed {
            let _ = writeln!(
                out,
                "- **{name}**: no longer sees the template, which is removed ({} fields)",
                service.no_longer_sees.len()
            );
        } else {
            let _ = writeln!(out, "- **{name}**");
            for field in &service.no_longer_sees {
                let warn = if service.urgent && field.safety_critical {
                    " ⚠️"
                } else {
                    ""
                };
                let _ = writeln!(out, "  - no longer sees {}{warn}", field.describe());
            }
            for field in &service.newly_sees {
                let _ = writeln!(out, "  - newly sees {}", field.describe());
            }
            for change in &service.changes {
                let _ = writeln!(out, "  - {change}");
            }
        }
    }
}

pub fn render_json(review: &Review) -> String {
    let mut value = serde_json::to_value(review).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("passed".into(), review.passed().into());
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// Workflow commands: an error per broken rule, a notice per safety change, and a warning per
/// safety-critical field a change hides from an urgent service, on the template's file.
pub fn render_github(review: &Review) -> String {
    let templates_dir = review.templates_dir.as_str();
    let escape = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |text: &str| escape(text).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for rule in review.rules.iter().filter(|r| !r.passed) {
        let mut message = rule.message.clone();
        if let Some(fix) = &rule.fix {
            message.push_str("\nWhat to do: ");
            message.push_str(fix);
        }
        let _ = writeln!(
            out,
            "::error file={},title={}::{}",
            property(&format!("{templates_dir}/{}.yaml", rule.template)),
            property(rule.rule.code()),
            escape(&message)
        );
    }
    for diff in review.templates.iter().filter(|d| d.safety) {
        let changes: Vec<&str> = diff
            .changes
            .iter()
            .filter(|c| c.safety)
            .map(|c| c.description.as_str())
            .collect();
        let _ = writeln!(
            out,
            "::notice file={},title=safety change::{}",
            property(&format!("{templates_dir}/{}.yaml", diff.id)),
            escape(&changes.join("\n"))
        );
    }
    for diff in &review.templates {
        for service in &diff.services {
            for field in service.hidden_safety_critical() {
                let _ = writeln!(
                    out,
                    "::warning file={},title={}::{}",
                    property(&format!("{templates_dir}/{}.yaml", diff.id)),
                    property("safety-critical field hidden from an urgent service"),
                    escape(&format!(
                        "Safety-critical field \"{}\" ({}) is hidden from {}, an urgent service, by this change: it will no longer see it in an emergency",
                        field.label, field.section, service.name
                    ))
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "review of {} template(s): {}",
        review.templates.len(),
        if review.passed() {
            "passed".to_owned()
        } else {
            format!("{} rule(s) broken", review.failures())
        }
    );
    out
}
