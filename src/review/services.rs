//! What a template change means for each service that reads plans: the fields it newly sees,
//! the fields it no longer sees, and the changes to the fields it sees on both sides, in the
//! words of the diff's own change descriptions. It reads the two templates and the diff's
//! changes; it classifies nothing (that is `diff::classify`).

use std::collections::BTreeSet;

use serde::Serialize;

use super::diff::{Change, ChangeKind};
use crate::model::{Service, Template};

/// Why a service newly sees, or no longer sees, a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeenBecause {
    /// The field is new (or its template is).
    NewField,
    /// The field was there but hidden from the service.
    NowShown,
    /// The field (or its template) is removed.
    Removed,
    /// The field is still there but hidden from the service.
    NowHidden,
}

impl SeenBecause {
    pub fn words(self) -> &'static str {
        match self {
            SeenBecause::NewField => "new field",
            SeenBecause::NowShown => "now shown to it",
            SeenBecause::Removed => "removed from the template",
            SeenBecause::NowHidden => "now hidden from it",
        }
    }
}

/// A field a service newly sees or no longer sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenField {
    pub field: String,
    pub label: String,
    /// The title of its section (in the head, or in the base for a field no longer there).
    pub section: String,
    pub safety_critical: bool,
    pub because: SeenBecause,
}

impl SeenField {
    /// "\"Key safe access\" in Preferences (now hidden from it)"
    pub fn describe(&self) -> String {
        format!(
            "\"{}\" in {} ({}{})",
            self.label,
            self.section,
            self.because.words(),
            if self.safety_critical {
                "; safety-critical"
            } else {
                ""
            }
        )
    }
}

/// What changes for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceChange {
    /// The service's id in records (`111`, `las`, ...).
    pub service: Service,
    pub name: String,
    /// Whether it responds in an emergency (`Service::URGENT`).
    pub urgent: bool,
    pub newly_sees: Vec<SeenField>,
    pub no_longer_sees: Vec<SeenField>,
    /// The changes to what it sees both before and after, as the diff describes them.
    pub changes: Vec<String>,
    pub unchanged: bool,
}

impl ServiceChange {
    /// Safety-critical fields hidden from an urgent service by the change (still in the
    /// template, no longer shown to it): the case a reviewer must not miss.
    pub fn hidden_safety_critical(&self) -> impl Iterator<Item = &SeenField> {
        self.no_longer_sees.iter().filter(move |f| {
            self.urgent && f.safety_critical && f.because == SeenBecause::NowHidden
        })
    }
}

/// What a change is about, for deciding which services it concerns.
enum Subject<'a> {
    /// The whole template (its wording, status, section order).
    Template,
    Section(&'a str),
    Field(&'a str),
    /// Who sees what, or a field or section coming or going: told as newly / no longer sees.
    Seeing,
}

fn subject(kind: &ChangeKind) -> Subject<'_> {
    use ChangeKind::*;
    match kind {
        TemplateAdded
        | TemplateRemoved
        | TemplateVisibilityChanged { .. }
        | SectionAdded { .. }
        | SectionRemoved { .. }
        | SectionVisibilityChanged { .. }
        | FieldAdded { .. }
        | FieldRemoved { .. }
        | VisibilityChanged { .. } => Subject::Seeing,
        TemplateRetired
        | TemplateStatusChanged { .. }
        | TemplateWording { .. }
        | SectionsReordered => Subject::Template,
        SectionWording { section, .. } | FieldsReordered { section } => Subject::Section(section),
        FieldMoved { field, .. }
        | FieldRetyped { field, .. }
        | OptionAdded { field, .. }
        | OptionRemoved { field, .. }
        | OptionsReordered { field }
        | RequiredChanged { field, .. }
        | RequirementChanged { field, .. }
        | CodingChanged { field, .. }
        | SafetyCriticalChanged { field, .. }
        | LabelChanged { field, .. }
        | GuidanceChanged { field }
        | UnitChanged { field, .. } => Subject::Field(field),
    }
}

/// The fields a service sees in a template, in the template's order, and the sections they
/// are in.
struct Sight<'a> {
    fields: Vec<(&'a str, &'a crate::model::Field)>,
    ids: BTreeSet<&'a str>,
    sections: BTreeSet<&'a str>,
}

impl Sight<'_> {
    fn sees(&self, field: &str) -> bool {
        self.ids.contains(field)
    }
}

fn sight(template: Option<&Template>, service: Service) -> Sight<'_> {
    let mut out = Sight {
        fields: Vec::new(),
        ids: BTreeSet::new(),
        sections: BTreeSet::new(),
    };
    if let Some(template) = template {
        for (section, field) in template.fields() {
            if template.services_for(section, field).contains(&service) {
                out.fields.push((section.title.as_str(), field));
                out.ids.insert(field.id.as_str());
                out.sections.insert(section.id.as_str());
            }
        }
    }
    out
}

/// Each service in `Service::ALL` order, with what the changes between `old` and `new` (either
/// may be absent: a template added or removed) mean for it.
pub fn changes_for_each_service(
    old: Option<&Template>,
    new: Option<&Template>,
    changes: &[Change],
) -> Vec<ServiceChange> {
    let in_template =
        |template: Option<&Template>, id: &str| template.is_some_and(|t| t.field(id).is_some());
    Service::ALL
        .into_iter()
        .map(|service| {
            let before = sight(old, service);
            let after = sight(new, service);
            let seen = |(section, field): &(&str, &crate::model::Field), because| SeenField {
                field: field.id.clone(),
                label: field.label.clone(),
                section: (*section).to_owned(),
                safety_critical: field.safety_critical,
                because,
            };
            let newly_sees: Vec<SeenField> = after
                .fields
                .iter()
                .filter(|(_, field)| !before.sees(&field.id))
                .map(|entry| {
                    let because = if in_template(old, &entry.1.id) {
                        SeenBecause::NowShown
                    } else {
                        SeenBecause::NewField
                    };
                    seen(entry, because)
                })
                .collect();
            let no_longer_sees: Vec<SeenField> = before
                .fields
                .iter()
                .filter(|(_, field)| !after.sees(&field.id))
                .map(|entry| {
                    let because = if in_template(new, &entry.1.id) {
                        SeenBecause::NowHidden
                    } else {
                        SeenBecause::Removed
                    };
                    seen(entry, because)
                })
                .collect();
            let sees_anything = !before.fields.is_empty() && !after.fields.is_empty();
            let changes: Vec<String> = changes
                .iter()
                .filter(|change| match subject(&change.kind) {
                    Subject::Seeing => false,
                    Subject::Template => sees_anything,
                    Subject::Section(id) => {
                        before.sections.contains(id) && after.sections.contains(id)
                    }
                    Subject::Field(id) => before.sees(id) && after.sees(id),
                })
                .map(|change| change.description.clone())
                .collect();
            ServiceChange {
                service,
                name: service.name().to_owned(),
                urgent: Service::URGENT.contains(&service),
                unchanged: newly_sees.is_empty() && no_longer_sees.is_empty() && changes.is_empty(),
                newly_sees,
                no_longer_sees,
                changes,
            }
        })
        .collect()
}
