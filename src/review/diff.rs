//! The semantic difference between two sets of templates, in clinical words, with every change
//! classified by `classify`: the one place the bump rules live. It compares values only; it
//! never reads git and never decides whether a review passes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::model::{
    Condition, Field, FieldType, Section, Service, Template, TemplateStatus, Version,
};

pub use super::services::{SeenBecause, SeenField, ServiceChange};

/// How far a template's version must move for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

impl fmt::Display for Bump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        })
    }
}

impl Bump {
    /// The smallest version after `base` that this bump allows.
    pub fn apply(self, base: Version) -> Version {
        match self {
            Bump::None => base,
            Bump::Patch => Version {
                patch: base.patch + 1,
                ..base
            },
            Bump::Minor => Version {
                major: base.major,
                minor: base.minor + 1,
                patch: 0,
            },
            Bump::Major => Version {
                major: base.major + 1,
                minor: 0,
                patch: 0,
            },
        }
    }

    /// The bump from `base` to `head` (`None` when equal or lower).
    pub fn between(base: Version, head: Version) -> Bump {
        if head <= base {
            Bump::None
        } else if head.major > base.major {
            Bump::Major
        } else if head.minor > base.minor {
            Bump::Minor
        } else {
            Bump::Patch
        }
    }
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeKind {
    TemplateAdded,
    TemplateRemoved,
    TemplateRetired,
    TemplateStatusChanged {
        from: String,
        to: String,
    },
    TemplateWording {
        what: String,
    },
    TemplateVisibilityChanged {
        added: Vec<String>,
        removed: Vec<String>,
    },
    SectionAdded {
        section: String,
    },
    SectionRemoved {
        section: String,
    },
    SectionWording {
        section: String,
        what: String,
    },
    SectionsReordered,
    SectionVisibilityChanged {
        section: String,
        added: Vec<String>,
        removed: Vec<String>,
    },
    FieldAdded {
        field: String,
        section: String,
        required: bool,
    },
    FieldRemoved {
        field: String,
        section: String,
    },
    FieldMoved {
        field: String,
        from: String,
        to: String,
    },
    FieldsReordered {
        section: String,
    },
    FieldRetyped {
        field: String,
        from: String,
        to: String,
    },
    OptionAdded {
        field: String,
        option: String,
    },
    OptionRemoved {
        field: String,
        option: String,
    },
    OptionsReordered {
        field: String,
    },
    RequiredChanged {
        field: String,
        required: bool,
    },
    /// When a field must be answered changed, and a `required_when` is involved on either
    /// side (without one, it is `RequiredChanged`).
    RequirementChanged {
        field: String,
        from: Requirement,
        to: Requirement,
    },
    CodingChanged {
        field: String,
        from: String,
        to: String,
    },
    VisibilityChanged {
        field: String,
        added: Vec<String>,
        removed: Vec<String>,
    },
    SafetyCriticalChanged {
        field: String,
        safety_critical: bool,
    },
    LabelChanged {
        field: String,
        from: String,
        to: String,
    },
    GuidanceChanged {
        field: String,
    },
    UnitChanged {
        field: String,
        from: String,
        to: String,
    },
}

/// When a field must be answered: always or never, or only when another field has one of
/// some answers (`required_when`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub required: bool,
    pub when: Option<Condition>,
}

impl Requirement {
    fn of(field: &Field) -> Requirement {
        Requirement {
            required: field.required,
            when: field.required_when.clone(),
        }
    }

    /// The same requirement, answers compared as a set (their order means nothing).
    fn same_as(&self, other: &Requirement) -> bool {
        fn answers(c: &Condition) -> BTreeSet<&String> {
            c.answers.iter().collect()
        }
        self.required == other.required
            && match (&self.when, &other.when) {
                (None, None) => true,
                (Some(a), Some(b)) => a.field == b.field && answers(a) == answers(b),
                _ => false,
            }
    }

    /// Whether a plan could need an answer under `self` where it needed none under `old`:
    /// then existing plans can be incomplete.
    fn requires_more_than(&self, old: &Requirement) -> bool {
        if !self.required {
            return false;
        }
        match (&old.when, &self.when) {
            _ if !old.required => true,
            // Required always before: a condition only narrows it.
            (None, _) => false,
            // Required only when, now always.
            (Some(_), None) => true,
            (Some(before), Some(after)) => {
                after.field != before.field
                    || !after.answers.iter().all(|a| before.answers.contains(a))
            }
        }
    }
}

/// One change to one template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(flatten)]
    pub kind: ChangeKind,
    pub bump: Bump,
    /// Touches a safety-critical field, or makes a field safety-critical or not.
    pub safety: bool,
    pub description: String,
}

/// The changes to one template between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateDiff {
    pub id: String,
    pub title: String,
    pub base_version: Option<String>,
    pub head_version: Option<String>,
    pub changes: Vec<Change>,
    /// The largest bump any change needs.
    pub required_bump: Bump,
    pub safety: bool,
    pub added: bool,
    pub removed: bool,
    /// What the changes mean for each service, in `Service::ALL` order.
    pub services: Vec<ServiceChange>,
}

/// The bump rules, in one place, judged by what existing plans and the services reading them can
/// bear:
/// - **major**: removing a template, section, field or option (existing plans hold data in it);
///   retyping a field; making a field required or adding a required field (existing plans lack
///   it); changing or removing a code (existing data was coded with it); hiding a field or
///   section from a service (a service loses information it relied on);
///   a `required_when` that makes a field required where it was not (on an optional field,
///   removed so the field is always required, or naming other answers or another field);
/// - **minor**: adding an optional field, a section or an option; making a field optional;
///   any other change to a `required_when` (added to an always-required field, fewer answers);
///   retiring a template; adding a code where there was none; showing a field to another
///   service; making a field safety-critical or not;
/// - **patch**: wording (titles, labels, guidance, units, descriptions) and order.
///
/// Separately, any change that touches a safety-critical field (in the base or the head), or
/// makes a field safety-critical or not, is a **safety** change needing a clinical safety
/// sign-off. Adding a template needs no bump (it starts at any version).
pub fn classify(kind: &ChangeKind) -> Bump {
    use ChangeKind::*;
    match kind {
        TemplateRemoved
        | SectionRemoved { .. }
        | FieldRemoved { .. }
        | OptionRemoved { .. }
        | FieldRetyped { .. } => Bump::Major,
        FieldAdded { required: true, .. } | RequiredChanged { required: true, .. } => Bump::Major,
        RequirementChanged { from, to, .. } if to.requires_more_than(from) => Bump::Major,
        CodingChanged { from, .. } if !from.is_empty() => Bump::Major,
        VisibilityChanged { removed, .. }
        | SectionVisibilityChanged { removed, .. }
        | TemplateVisibilityChanged { removed, .. }
            if !removed.is_empty() =>
        {
            Bump::Major
        }
        FieldAdded { .. }
        | RequiredChanged { .. }
        | RequirementChanged { .. }
        | SectionAdded { .. }
        | OptionAdded { .. }
        | TemplateRetired => Bump::Minor,
        CodingChanged { .. }
        | VisibilityChanged { .. }
        | SectionVisibilityChanged { .. }
        | TemplateVisibilityChanged { .. } => Bump::Minor,
        SafetyCriticalChanged { .. } | TemplateStatusChanged { .. } => Bump::Minor,
        FieldMoved { .. } => Bump::Minor,
        TemplateWording { .. }
        | SectionWording { .. }
        | SectionsReordered
        | FieldsReordered { .. }
        | OptionsReordered { .. }
        | LabelChanged { .. }
        | GuidanceChanged { .. }
        | UnitChanged { .. } => Bump::Patch,
        TemplateAdded => Bump::None,
    }
}

fn service_names(services: &[Service]) -> Vec<String> {
    services.iter().map(|s| s.name().to_owned()).collect()
}

fn join_names(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        _ => format!(
            "{} and {}",
            names[..names.len() - 1].join(", "),
            names[names.len() - 1]
        ),
    }
}

/// What descriptions name things by: field labels and section titles by id, and which fields
/// hold several answers (for conditions in words).
#[derive(Default)]
struct Names {
    labels: BTreeMap<String, String>,
    sections: BTreeMap<String, String>,
    multi: BTreeSet<String>,
}

impl Names {
    fn requirement(&self, requirement: &Requirement) -> String {
        let condition = |c: &Condition| {
            let label = self.labels.get(&c.field).unwrap_or(&c.field);
            c.describe(label, self.multi.contains(&c.field))
        };
        match (&requirement.when, requirement.required) {
            (None, true) => "always required".into(),
            (None, false) => "always optional".into(),
            (Some(c), true) => format!("required only when {}", condition(c)),
            (Some(c), false) => format!("optional and applicable only when {}", condition(c)),
        }
    }
}

fn describe(kind: &ChangeKind, names: &Names) -> String {
    use ChangeKind::*;
    let label = |id: &String| names.labels.get(id).cloned().unwrap_or_else(|| id.clone());
    let section = |id: &String| {
        names
            .sections
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.clone())
    };
    let visibility = |added: &[String], removed: &[String]| {
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("now seen by {}", join_names(added)));
        }
        if !removed.is_empty() {
            parts.push(format!("no longer seen by {}", join_names(removed)));
        }
        parts.join("; ")
    };
    match kind {
        TemplateAdded => "New template".into(),
        TemplateRemoved => "Template removed".into(),
        TemplateRetired => "Template retired: no new plans may use it".into(),
        TemplateStatusChanged { from, to } => format!("Status: {from} -> {to}"),
        TemplateWording { what } => format!("Template {what} reworded"),
        TemplateVisibilityChanged { added, removed } => {
            format!("Whole template: {}", visibility(added, removed))
        }
        SectionAdded { section: s } => format!("New section \"{}\"", section(s)),
        SectionRemoved { section: s } => format!("Section \"{}\" removed", section(s)),
        SectionWording { section: s, what } => {
            format!("Section \"{}\": {what} reworded", section(s))
        }
        SectionsReordered => "Sections reordered".into(),
        SectionVisibilityChanged {
            section: s,
            added,
            removed,
        } => format!("Section \"{}\": {}", section(s), visibility(added, removed)),
        FieldAdded {
            field,
            section: s,
            required,
        } => format!(
            "New {} field \"{}\" in {}",
            if *required { "required" } else { "optional" },
            label(field),
            section(s)
        ),
        FieldRemoved { field, section: s } => {
            format!("Field \"{}\" removed from {}", label(field), section(s))
        }
        FieldMoved { field, from, to } => format!(
            "{}: moved from {} to {}",
            label(field),
            section(from),
            section(to)
        ),
        FieldsReordered { section: s } => format!("Fields reordered in {}", section(s)),
        FieldRetyped { field, from, to } => format!("{}: type {from} -> {to}", label(field)),
        OptionAdded { field, option } => format!("{}: new option \"{option}\"", label(field)),
        OptionRemoved { field, option } => format!("{}: option \"{option}\" removed", label(field)),
        OptionsReordered { field } => format!("{}: options reordered", label(field)),
        RequiredChanged { field, required } => format!(
            "{}: {}",
            label(field),
            if *required {
                "optional -> required"
            } else {
                "required -> optional"
            }
        ),
        RequirementChanged { field, from, to } => format!(
            "{}: now {} (was {})",
            label(field),
            names.requirement(to),
            names.requirement(from)
        ),
        CodingChanged { field, from, to } => {
            let show = |code: &String| {
                if code.is_empty() {
                    "none".to_owned()
                } else {
                    code.clone()
                }
            };
            format!("{}: coding {} -> {}", label(field), show(from), show(to))
        }
        VisibilityChanged {
            field,
            added,
            removed,
        } => format!("{}: {}", label(field), visibility(added, removed)),
        SafetyCriticalChanged {
            field,
            safety_critical,
        } => format!(
            "{}: {}",
            label(field),
            if *safety_critical {
                "now safety-critical"
            } else {
                "no longer safety-critical"
            }
        ),
        LabelChanged { from, to, .. } => format!("Label \"{from}\" -> \"{to}\""),
        GuidanceChanged { field } => format!("{}: guidance reworded", label(field)),
        UnitChanged { field, from, to } => format!("{}: unit \"{from}\" -> \"{to}\"", label(field)),
    }
}

fn coding(field: &Field) -> String {
    let mut parts = Vec::new();
    if let Some(snomed) = &field.snomed {
        parts.push(format!("SNOMED {}", snomed.code));
    }
    if let Some(value_set) = &field.value_set {
        parts.push(format!("value set {value_set}"));
    }
    for option in &field.options {
        if let Some(snomed) = option.snomed() {
            parts.push(format!("{} = {}", option.label(), snomed.code));
        }
    }
    parts.join("; ")
}

fn type_name(field: &Field) -> String {
    serde_json::to_value(field.field_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Compares two templates with the same id.
fn diff_template(base: &Template, head: &Template) -> Vec<(ChangeKind, bool)> {
    use ChangeKind::*;
    let mut out: Vec<(ChangeKind, bool)> = Vec::new();
    let mut push = |kind: ChangeKind, safety: bool| out.push((kind, safety));
    if base.status != head.status {
        if head.status == TemplateStatus::Retired {
            push(TemplateRetired, false);
        } else {
            push(
                TemplateStatusChanged {
                    from: format!("{:?}", base.status).to_lowercase(),
                    to: format!("{:?}", head.status).to_lowercase(),
                },
                false,
            );
        }
    }
    for (what, a, b) in [
        ("title", Some(&base.title), Some(&head.title)),
        (
            "description",
            Some(&base.description),
            Some(&head.description),
        ),
        ("audience", base.audience.as_ref(), head.audience.as_ref()),
    ] {
        if a != b {
            push(TemplateWording { what: what.into() }, false);
        }
    }
    let base_fields: BTreeMap<&str, (&Section, &Field)> = base
        .fields()
        .map(|(s, f)| (f.id.as_str(), (s, f)))
        .collect();
    let head_fields: BTreeMap<&str, (&Section, &Field)> = head
        .fields()
        .map(|(s, f)| (f.id.as_str(), (s, f)))
        .collect();
    let base_sections: BTreeMap<&str, &Section> =
        base.sections.iter().map(|s| (s.id.as_str(), s)).collect();
    let head_sections: BTreeMap<&str, &Section> =
        head.sections.iter().map(|s| (s.id.as_str(), s)).collect();

    // Template-wide visibility, when every section changes the same way.
    for section in &base.sections {
        if !head_sections.contains_key(section.id.as_str()) {
            let safety = section.fields.iter().any(|f| f.safety_critical);
            push(
                SectionRemoved {
                    section: section.id.clone(),
                },
                safety,
            );
        }
    }
    for section in &head.sections {
        match base_sections.get(section.id.as_str()) {
            None => push(
                SectionAdded {
                    section: section.id.clone(),
                },
                section.fields.iter().any(|f| f.safety_critical),
            ),
            Some(old) => {
                if old.title != section.title {
                    push(
                        SectionWording {
                            section: section.id.clone(),
                            what: "title".into(),
                        },
                        false,
                    );
                }
                if old.guidance != section.guidance {
                    push(
                        SectionWording {
                            section: section.id.clone(),
                            what: "guidance".into(),
                        },
                        false,
                    );
                }
                let before: BTreeSet<Service> = base.section_services(old).into_iter().collect();
                let after: BTreeSet<Service> = head.section_services(section).into_iter().collect();
                if before != after {
                    let added: Vec<Service> = after.difference(&before).copied().collect();
                    let removed: Vec<Service> = before.difference(&after).copied().collect();
                    let safety = section
                        .fields
                        .iter()
                        .chain(&old.fields)
                        .any(|f| f.safety_critical);
                    push(
                        SectionVisibilityChanged {
                            section: section.id.clone(),
                            added: service_names(&added),
                            removed: service_names(&removed),
                        },
                        safety,
                    );
                }
            }
        }
    }
    let common_sections = |list: &[Section]| -> Vec<String> {
        list.iter()
            .filter(|s| {
                base_sections.contains_key(s.id.as_str())
                    && head_sections.contains_key(s.id.as_str())
            })
            .map(|s| s.id.clone())
            .collect()
    };
    if common_sections(&base.sections) != common_sections(&head.sections) {
        push(SectionsReordered, false);
    }

    for (id, (section, field)) in &base_fields {
        if !head_fields.contains_key(id) {
            push(
                FieldRemoved {
                    field: id.to_string(),
                    section: section.id.clone(),
                },
                field.safety_critical,
            );
        }
    }
    for section in &head.sections {
        for field in &section.fields {
            let Some((old_section, old)) = base_fields.get(field.id.as_str()) else {
                push(
                    FieldAdded {
                        field: field.id.clone(),
                        section: section.id.clone(),
                        required: field.required,
                    },
                    field.safety_critical,
                );
                continue;
            };
            let safety = field.safety_critical || old.safety_critical;
            let id = field.id.clone();
            if old_section.id != section.id {
                push(
                    FieldMoved {
                        field: id.clone(),
                        from: old_section.id.clone(),
                        to: section.id.clone(),
                    },
                    safety,
                );
            }
            if old.field_type != field.field_type {
                push(
                    FieldRetyped {
                        field: id.clone(),
                        from: type_name(old),
                        to: type_name(field),
                    },
                    safety,
                );
            }
            let old_options: Vec<&str> = old.options.iter().map(|o| o.label()).collect();
            let new_options: Vec<&str> = field.options.iter().map(|o| o.label()).collect();
            for option in &old_options {
                if !new_options.contains(option) {
                    push(
                        OptionRemoved {
                            field: id.clone(),
                            option: option.to_string(),
                        },
                        safety,
                    );
                }
            }
            for option in &new_options {
                if !old_options.contains(option) {
                    push(
                        OptionAdded {
                            field: id.clone(),
                            option: option.to_string(),
                        },
                        safety,
                    );
                }
            }
            let kept_old: Vec<&&str> = old_options
                .iter()
                .filter(|o| new_options.contains(o))
                .collect();
            let kept_new: Vec<&&str> = new_options
                .iter()
                .filter(|o| old_options.contains(o))
                .collect();
            if kept_old != kept_new {
                push(OptionsReordered { field: id.clone() }, safety);
            }
            let (before, after) = (Requirement::of(old), Requirement::of(field));
            if before.when.is_none() && after.when.is_none() {
                if old.required != field.required {
                    push(
                        RequiredChanged {
                            field: id.clone(),
                            required: field.required,
                        },
                        safety,
                    );
                }
            } else if !before.same_as(&after) {
                push(
                    RequirementChanged {
                        field: id.clone(),
                        from: before,
                        to: after,
                    },
                    safety,
                );
            }
            let (old_coding, new_coding) = (coding(old), coding(field));
            if old_coding != new_coding {
                push(
                    CodingChanged {
                        field: id.clone(),
                        from: old_coding,
                        to: new_coding,
                    },
                    safety,
                );
            }
            // Visibility changes that come from the section are reported once, for the section.
            let section_before: BTreeSet<Service> = base_sections
                .get(section.id.as_str())
                .map(|s| base.section_services(s).into_iter().collect())
                .unwrap_or_default();
            let section_after: BTreeSet<Service> =
                head.section_services(section).into_iter().collect();
            let before: BTreeSet<Service> =
                base.services_for(old_section, old).into_iter().collect();
            let after: BTreeSet<Service> = head.services_for(section, field).into_iter().collect();
            let own_change =
                before != after && !(before == section_before && after == section_after);
            if own_change {
                let added: Vec<Service> = after.difference(&before).copied().collect();
                let removed: Vec<Service> = before.difference(&after).copied().collect();
                push(
                    VisibilityChanged {
                        field: id.clone(),
                        added: service_names(&added),
                        removed: service_names(&removed),
                    },
                    safety,
                );
            }
            if old.safety_critical != field.safety_critical {
                push(
                    SafetyCriticalChanged {
                        field: id.clone(),
                        safety_critical: field.safety_critical,
                    },
                    true,
                );
            }
            if old.label != field.label {
                push(
                    LabelChanged {
                        field: id.clone(),
                        from: old.label.clone(),
                        to: field.label.clone(),
                    },
                    safety,
                );
            }
            if old.guidance != field.guidance {
                push(GuidanceChanged { field: id.clone() }, safety);
            }
            if old.unit != field.unit {
                push(
                    UnitChanged {
                        field: id.clone(),
                        from: old.unit.clone().unwrap_or_default(),
                        to: field.unit.clone().unwrap_or_default(),
                    },
                    safety,
                );
            }
        }
    }
    // Field order within sections that exist on both sides.
    for section in &head.sections {
        let Some(old) = base_sections.get(section.id.as_str()) else {
            continue;
        };
        let common = |fields: &[Field]| -> Vec<String> {
            fields
                .iter()
                .filter(|f| {
                    old.fields.iter().any(|o| o.id == f.id)
                        && section.fields.iter().any(|n| n.id == f.id)
                })
                .map(|f| f.id.clone())
                .collect()
        };
        if common(&old.fields) != common(&section.fields) {
            push(
                FieldsReordered {
                    section: section.id.clone(),
                },
                false,
            );
        }
    }
    out
}

/// The changes to every template that differs between `base` and `head` (by id).
pub fn diff_templates(base: &[Template], head: &[Template]) -> Vec<TemplateDiff> {
    let base_by_id: BTreeMap<&str, &Template> = base.iter().map(|t| (t.id.as_str(), t)).collect();
    let head_by_id: BTreeMap<&str, &Template> = head.iter().map(|t| (t.id.as_str(), t)).collect();
    let ids: BTreeSet<&str> = base_by_id
        .keys()
        .chain(head_by_id.keys())
        .copied()
        .collect();
    let mut out = Vec::new();
    for id in ids {
        let (old, new) = (base_by_id.get(id).copied(), head_by_id.get(id).copied());
        let kinds: Vec<(ChangeKind, bool)> = match (old, new) {
            (None, Some(t)) => vec![(
                ChangeKind::TemplateAdded,
                t.fields().any(|(_, f)| f.safety_critical),
            )],
            (Some(t), None) => vec![(
                ChangeKind::TemplateRemoved,
                t.fields().any(|(_, f)| f.safety_critical),
            )],
            (Some(a), Some(b)) => diff_template(a, b),
            (None, None) => continue,
        };
        let versions_differ = old.map(|t| t.version) != new.map(|t| t.version);
        if kinds.is_empty() && !versions_differ {
            continue;
        }
        // Labels and section titles for descriptions: the head's, or the base's for removals.
        let mut names = Names::default();
        for template in [old, new].into_iter().flatten() {
            for section in &template.sections {
                names
                    .sections
                    .insert(section.id.clone(), section.title.clone());
                for field in &section.fields {
                    names.labels.insert(field.id.clone(), field.label.clone());
                    if field.field_type == FieldType::MultiChoice {
                        names.multi.insert(field.id.clone());
                    } else {
                        names.multi.remove(&field.id);
                    }
                }
            }
        }
        let mut changes: Vec<Change> = kinds
            .into_iter()
            .map(|(kind, safety)| Change {
                bump: classify(&kind),
                safety,
                description: describe(&kind, &names),
                kind,
            })
            .collect();
        // Most consequential first: a reviewer reads the top of the list.
        changes.sort_by_key(|c| (std::cmp::Reverse(c.bump), !c.safety));
        let template = new.or(old).expect("one side exists");
        out.push(TemplateDiff {
            id: id.to_owned(),
            title: template.title.clone(),
            base_version: old.map(|t| t.version.to_string()),
            head_version: new.map(|t| t.version.to_string()),
            required_bump: changes.iter().map(|c| c.bump).max().unwrap_or(Bump::None),
            safety: changes.iter().any(|c| c.safety),
            added: old.is_none(),
            removed: new.is_none(),
            services: super::services::changes_for_each_service(old, new, &changes),
            changes,
        });
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const BASE: &str = "\
id: ucp
title: Urgent care plan
version: \"1.2.0\"
status: active
description: The plan.
sections:
  - id: cpr
    title: CPR
    fields:
      - id: cpr_decision
        label: CPR decision
        type: choice
        options: [For CPR, Not for CPR, Not yet decided]
        required: true
        safety_critical: true
      - id: cpr_date
        label: Date of decision
        type: date
        required: true
        safety_critical: true
  - id: preferences
    title: Preferences
    fields:
      - id: preferred_place
        label: Preferred place of death
        type: choice
        options: [Home, Hospice, Hospital]
        required: false
        safety_critical: false
      - id: wishes
        label: What matters to me
        type: long_text
        required: false
        safety_critical: false
";

    pub(crate) fn template(text: &str) -> Template {
        let doc = crate::yaml::parse(text).unwrap();
        serde_json::from_value(doc.value).unwrap()
    }

    fn diff(head: &str) -> TemplateDiff {
        let mut all = diff_templates(&[template(BASE)], &[template(head)]);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    fn one_change(head: &str) -> Change {
        let d = diff(head);
        assert_eq!(d.changes.len(), 1, "{:?}", d.changes);
        d.changes[0].clone()
    }

    #[test]
    fn identical_templates_have_no_diff() {
        assert!(diff_templates(&[template(BASE)], &[template(BASE)]).is_empty());
    }

    #[test]
    fn required_field_added_needs_major_bump() {
        let head = BASE.replace(
            "      - id: wishes\n",
            "      - id: key_safe\n        label: Key safe\n        type: yes_no\n        required: true\n        safety_critical: false\n      - id: wishes\n",
        );
        let change = one_change(&head);
        assert_eq!(change.bump, Bump::Major);
        assert_eq!(
            change.description,
            "New required field \"Key safe\" in Preferences"
        );
    }

    #[test]
    fn optional_field_added_is_minor() {
        let head = BASE.replace(
            "      - id: wishes\n",
            "      - id: faith\n        label: Faith\n        type: text\n        required: false\n        safety_critical: false\n      - id: wishes\n",
        );
        assert_eq!(one_change(&head).bump, Bump::Minor);
    }

    #[test]
    fn making_cpr_decision_optional_is_a_safety_change() {
        let head = BASE.replacen(
            "        required: true\n        safety_critical: true\n",
            "        required: false\n        safety_critical: true\n",
            1,
        );
        let change = one_change(&head);
        assert_eq!(change.description, "CPR decision: required -> optional");
        assert_eq!(change.bump, Bump::Minor);
        assert!(change.safety);
    }

    #[test]
    fn removing_an_option_is_major() {
        let change = one_change(&BASE.replace(
            "[For CPR, Not for CPR, Not yet decided]",
            "[For CPR, Not for CPR]",
        ));
        assert_eq!(change.bump, Bump::Major);
        assert_eq!(
            change.description,
            "CPR decision: option \"Not yet decided\" removed"
        );
        assert!(change.safety);
    }

    #[test]
    fn adding_an_option_is_minor() {
        let change = one_change(&BASE.replace(
            "[Home, Hospice, Hospital]",
            "[Home, Hospice, Hospital, Care home]",
        ));
        assert_eq!(change.bump, Bump::Minor);
        assert!(!change.safety);
    }

    #[test]
    fn retyping_a_field_is_major() {
        let change = one_change(&BASE.replace("type: long_text", "type: text"));
        assert_eq!(change.bump, Bump::Major);
    }

    #[test]
    fn wording_change_is_patch() {
        let change = one_change(&BASE.replace(
            "label: What matters to me",
            "label: What matters most to me",
        ));
        assert_eq!(change.bump, Bump::Patch);
        assert_eq!(
            change.description,
            "Label \"What matters to me\" -> \"What matters most to me\""
        );
    }

    #[test]
    fn reordering_fields_is_patch() {
        let head = BASE.replace(
            "      - id: preferred_place\n        label: Preferred place of death\n        type: choice\n        options: [Home, Hospice, Hospital]\n        required: false\n        safety_critical: false\n      - id: wishes\n        label: What matters to me\n        type: long_text\n        required: false\n        safety_critical: false\n",
            "      - id: wishes\n        label: What matters to me\n        type: long_text\n        required: false\n        safety_critical: false\n      - id: preferred_place\n        label: Preferred place of death\n        type: choice\n        options: [Home, Hospice, Hospital]\n        required: false\n        safety_critical: false\n",
        );
        let change = one_change(&head);
        assert_eq!(
            change.kind,
            ChangeKind::FieldsReordered {
                section: "preferences".into()
            }
        );
        assert_eq!(change.bump, Bump::Patch);
    }

    #[test]
    fn removing_a_section_is_major_and_safety_only_when_it_held_safety_fields() {
        // Without the preferences section: major, and not a safety change.
        let cut = BASE.find("  - id: preferences").unwrap();
        let d = diff(&BASE[..cut]);
        assert_eq!(d.required_bump, Bump::Major);
        assert!(!d.safety);
        // Without the CPR section: major and a safety change.
        let start = BASE.find("  - id: cpr\n").unwrap();
        let end = BASE.find("  - id: preferences").unwrap();
        let head = format!("{}{}", &BASE[..start], &BASE[end..]);
        let d = diff(&head);
        assert_eq!(d.required_bump, Bump::Major);
        assert!(d.safety);
    }

    #[test]
    fn hiding_a_section_from_a_service_is_major_and_reported_once() {
        let head = BASE.replace(
            "    title: Preferences\n",
            "    title: Preferences\n    visible_to: [gp, ooh-gp, ed, las, community, hospice, care-home]\n",
        );
        let change = one_change(&head);
        assert_eq!(change.bump, Bump::Major);
        assert_eq!(
            change.description,
            "Section \"Preferences\": no longer seen by NHS 111"
        );
    }

    #[test]
    fn field_moved_between_sections_is_reported_as_a_move() {
        let head = BASE
            .replace("      - id: wishes\n        label: What matters to me\n        type: long_text\n        required: false\n        safety_critical: false\n", "")
            .replace(
                "    fields:\n      - id: cpr_decision",
                "    fields:\n      - id: wishes\n        label: What matters to me\n        type: long_text\n        required: false\n        safety_critical: false\n      - id: cpr_decision",
            );
        let d = diff(&head);
        assert!(
            d.changes
                .iter()
                .any(|c| c.description == "What matters to me: moved from Preferences to CPR"),
            "{:?}",
            d.changes
        );
    }

    #[test]
    fn making_a_field_safety_critical_is_a_safety_change() {
        let head = BASE.replace(
            "        options: [Home, Hospice, Hospital]\n        required: false\n        safety_critical: false",
            "        options: [Home, Hospice, Hospital]\n        required: false\n        safety_critical: true",
        );
        let change = one_change(&head);
        assert!(change.safety);
        assert_eq!(
            change.description,
            "Preferred place of death: now safety-critical"
        );
    }

    #[test]
    fn added_and_removed_templates_are_listed() {
        let diffs = diff_templates(&[template(BASE)], &[]);
        assert!(diffs[0].removed);
        assert_eq!(diffs[0].required_bump, Bump::Major);
        let diffs = diff_templates(&[], &[template(BASE)]);
        assert!(diffs[0].added);
        assert_eq!(diffs[0].required_bump, Bump::None);
    }

    /// A template with an access question and a key safe field, the key safe field's
    /// requirement written as `requirement` (YAML lines at the field's indentation).
    fn access(requirement: &str) -> String {
        format!(
            "\
id: ucp
title: Urgent care plan
version: \"1.2.0\"
status: active
description: The plan.
sections:
  - id: home
    title: Home
    fields:
      - id: access
        label: Access
        type: choice
        options: [Key safe, Door code, Family lets crews in]
        required: false
        safety_critical: false
      - id: devices
        label: Devices
        type: multi_choice
        options: [Home oxygen, Hoist]
        required: false
        safety_critical: false
      - id: key_safe
        label: Key safe access
        type: text
        safety_critical: false
{requirement}"
        )
    }

    fn requirement_change(before: &str, after: &str) -> Change {
        let mut all = diff_templates(&[template(&access(before))], &[template(&access(after))]);
        assert_eq!(all.len(), 1, "{all:?}");
        let changes = all.remove(0).changes;
        assert_eq!(changes.len(), 1, "{changes:?}");
        changes[0].clone()
    }

    const OPTIONAL: &str = "        required: false\n";
    const REQUIRED: &str = "        required: true\n";
    const WHEN_KEY_SAFE: &str = "        required: true\n        required_when:\n          field: access\n          answers: [Key safe]\n";
    const WHEN_KEY_SAFE_OR_CODE: &str = "        required: true\n        required_when:\n          field: access\n          answers: [Key safe, Door code]\n";

    #[test]
    fn a_condition_that_makes_an_optional_field_required_is_major_and_said_in_words() {
        let change = requirement_change(OPTIONAL, WHEN_KEY_SAFE);
        assert_eq!(change.bump, Bump::Major);
        assert_eq!(
            change.description,
            "Key safe access: now required only when Access is Key safe (was always optional)"
        );
        assert!(!change.safety);
    }

    #[test]
    fn removing_a_condition_so_a_field_is_always_required_is_major() {
        let change = requirement_change(WHEN_KEY_SAFE, REQUIRED);
        assert_eq!(change.bump, Bump::Major);
        assert_eq!(
            change.description,
            "Key safe access: now always required (was required only when Access is Key safe)"
        );
    }

    #[test]
    fn a_condition_that_applies_to_more_plans_is_major() {
        // More answers, or another deciding field: plans that needed no answer now may.
        assert_eq!(
            requirement_change(WHEN_KEY_SAFE, WHEN_KEY_SAFE_OR_CODE).bump,
            Bump::Major
        );
        let on_devices = "        required: true\n        required_when:\n          field: devices\n          answers: [Hoist]\n";
        let change = requirement_change(WHEN_KEY_SAFE, on_devices);
        assert_eq!(change.bump, Bump::Major);
        assert_eq!(
            change.description,
            "Key safe access: now required only when Devices includes Hoist (was required only when Access is Key safe)"
        );
    }

    #[test]
    fn a_condition_that_asks_for_less_is_minor() {
        // Fewer answers; a condition on an always-required field; a condition dropped with
        // the requirement.
        assert_eq!(
            requirement_change(WHEN_KEY_SAFE_OR_CODE, WHEN_KEY_SAFE).bump,
            Bump::Minor
        );
        assert_eq!(
            requirement_change(REQUIRED, WHEN_KEY_SAFE).bump,
            Bump::Minor
        );
        let change = requirement_change(WHEN_KEY_SAFE, OPTIONAL);
        assert_eq!(change.bump, Bump::Minor);
        assert_eq!(
            change.description,
            "Key safe access: now always optional (was required only when Access is Key safe)"
        );
    }

    #[test]
    fn a_condition_on_a_field_that_stays_optional_is_minor() {
        let when = "        required: false\n        required_when:\n          field: access\n          answers: [Key safe]\n";
        let change = requirement_change(OPTIONAL, when);
        assert_eq!(change.bump, Bump::Minor);
        assert_eq!(
            change.description,
            "Key safe access: now optional and applicable only when Access is Key safe (was always optional)"
        );
        // Becoming required where it applies asks for answers existing plans may lack.
        assert_eq!(requirement_change(when, WHEN_KEY_SAFE).bump, Bump::Major);
    }

    #[test]
    fn the_order_of_a_conditions_answers_is_no_change() {
        let reordered = "        required: true\n        required_when:\n          field: access\n          answers: [Door code, Key safe]\n";
        assert!(
            diff_templates(
                &[template(&access(WHEN_KEY_SAFE_OR_CODE))],
                &[template(&access(reordered))]
            )
            .is_empty()
        );
    }

    #[test]
    fn without_conditions_a_required_change_reads_as_before() {
        let change = requirement_change(OPTIONAL, REQUIRED);
        assert_eq!(change.description, "Key safe access: optional -> required");
        assert_eq!(change.bump, Bump::Major);
    }

    #[test]
    fn bump_arithmetic() {
        let v = Version {
            major: 1,
            minor: 2,
            patch: 3,
        };
        assert_eq!(Bump::Major.apply(v).to_string(), "2.0.0");
        assert_eq!(Bump::Minor.apply(v).to_string(), "1.3.0");
        assert_eq!(Bump::Patch.apply(v).to_string(), "1.2.4");
        assert_eq!(
            Bump::between(
                v,
                Version {
                    major: 1,
                    minor: 3,
                    patch: 0
                }
            ),
            Bump::Minor
        );
    }
}
