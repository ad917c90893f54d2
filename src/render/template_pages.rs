//! Template pages: the list of templates, each template as a read-only form with its uptake,
//! the form as each service sees it, a page per version from git with its changes against the
//! version before, and every template (and version) as a FHIR R4 Questionnaire beside them.

use minijinja::{Value, context};

use crate::analyse::{Cell, QueryResult};
use crate::diagnostic::Diagnostic;
use crate::history::TemplateVersion;
use crate::model::{ColumnFormat, Section, Service, Template, TemplateStatus};
use crate::snapshot::Loaded;

use super::chart::{self, ChartModel, Series, XAxis};
use super::datapackage::{chart_resource, json_resource};
use super::format::format_cell;
use super::site::{PagePlace, Renderer, relative, ser};
use super::views::{CellView, ChartView, TableView, chart_csv, chart_table, has_missing};

/// Active and new plans per month in London for one template.
pub(super) fn uptake_sql(template_id: &str) -> String {
    format!(
        "SELECT month, active_plans, new_plans FROM metrics WHERE template = '{}' AND area_level = 'london' ORDER BY month",
        template_id.replace('\'', "''")
    )
}

fn text_cell(text: impl Into<String>) -> CellView {
    CellView {
        text: text.into(),
        missing: false,
    }
}

impl Renderer<'_> {
    /// Runs a query of careplans' own, or records why it failed at `path`.
    fn own_query(&mut self, sql: &str, path: &str) -> Option<std::sync::Arc<QueryResult>> {
        match self.inputs.queries.run(sql, None) {
            Ok(result) => Some(result),
            Err(error) => {
                self.problems.push(Diagnostic::error(
                    "analysis",
                    path,
                    format!("cannot compute the figures for this page: {error}"),
                ));
                None
            }
        }
    }

    pub(super) fn templates_index(&mut self) {
        let snapshot = self.inputs.snapshot;
        let tables = self.inputs.queries.tables;
        let latest = tables.latest_month.map(|m| m.to_string());
        let mut rows = Vec::new();
        for loaded in &snapshot.templates {
            let template = &loaded.value;
            let Some(uptake) = self.own_query(&uptake_sql(&template.id), &loaded.path) else {
                continue;
            };
            let latest_active = uptake
                .rows
                .iter()
                .rev()
                .find(|r| Some(r[0].as_text()) == latest)
                .map(|r| r[1].clone())
                .unwrap_or(Cell::Null);
            let safety_critical = template.fields().filter(|(_, f)| f.safety_critical).count();
            rows.push(vec![
                text_cell(template.title.clone()),
                text_cell(template.version.to_string()),
                text_cell(status_name(template.status)),
                text_cell(template.sections.len().to_string()),
                text_cell(template.fields().count().to_string()),
                text_cell(safety_critical.to_string()),
                match format_cell(&latest_active, Some(ColumnFormat::Integer)) {
                    Some(text) => text_cell(text),
                    None => CellView {
                        text: "suppressed".into(),
                        missing: true,
                    },
                },
            ]);
        }
        let table = TableView {
            caption: format!(
                "Care-plan templates{}",
                tables
                    .latest_month
                    .map(|m| format!(", with active plans in {}", m.long_name()))
                    .unwrap_or_default()
            ),
            headers: [
                "Template",
                "Version",
                "Status",
                "Sections",
                "Fields",
                "Safety-critical fields",
                "Active plans",
            ]
            .map(String::from)
            .to_vec(),
            numeric: vec![false, false, false, true, true, true, true],
            rows,
        };
        let links: Vec<(String, String)> = snapshot
            .templates
            .iter()
            .map(|t| {
                (
                    t.value.title.clone(),
                    format!("templates/{}/index.html", t.value.id),
                )
            })
            .collect();
        let place = PagePlace {
            path: "templates/index.html".into(),
            title: "Care-plan templates".into(),
            breadcrumbs: vec![("London".into(), "index.html".into())],
        };
        let missing = has_missing(&table);
        self.render(
            "templates.html",
            &place,
            context! { table => ser(&table), links => ser(self.links(&place.path, &links)), suppressed_note => missing },
        );
    }

    pub(super) fn template_page(&mut self, loaded: &Loaded<Template>) {
        let template = &loaded.value;
        let path = format!("templates/{}/index.html", template.id);
        let Some(uptake) = self.own_query(&uptake_sql(&template.id), &loaded.path) else {
            return;
        };
        let categories: Vec<String> = uptake.rows.iter().map(|r| r[0].as_text()).collect();
        let model = ChartModel {
            id: "uptake".into(),
            kind: crate::model::ChartType::Line,
            title: format!("People in London with an active {} plan", template.title),
            description: format!(
                "Active plans using the {} template at the end of each month, London.",
                template.title
            ),
            x_label: "Month".into(),
            x_axis: XAxis::of(&categories),
            units: "active plans".into(),
            categories,
            series: vec![Series {
                name: "Active plans".into(),
                values: uptake.rows.iter().map(|r| r[1].as_f64()).collect(),
                decimals: Vec::new(),
            }],
            markers: Vec::new(),
        };
        let csv_path = format!("data/templates-{}-uptake.csv", template.id);
        self.download(chart_resource(&csv_path, &model), chart_csv(&model));
        let chart = ChartView {
            anchor: "uptake".into(),
            title: model.title.clone(),
            description: model.description.clone(),
            svg: chart::render_svg(&model),
            table: chart_table(&model),
            csv: relative(&path, &csv_path),
        };
        let json_path = format!("data/templates-{}.json", template.id);
        match serde_json::to_vec_pretty(
            &serde_json::json!({ "template": template, "uptake": uptake }),
        ) {
            Ok(json) => self.download(
                json_resource(
                    &json_path,
                    &format!("{} template and uptake", template.title),
                    "The template as published, and its London uptake by month",
                ),
                json,
            ),
            Err(error) => self.problems.push(Diagnostic::error(
                "render",
                &loaded.path,
                format!("cannot write the template's data as JSON: {error}"),
            )),
        }
        let place = PagePlace {
            path: path.clone(),
            title: template.title.clone(),
            breadcrumbs: vec![
                ("London".into(), "index.html".into()),
                ("Templates".into(), "templates/index.html".into()),
            ],
        };
        let mut contents: Vec<(String, String)> = template
            .sections
            .iter()
            .map(|s| (format!("section-{}", s.id), s.title.clone()))
            .collect();
        contents.push(("services".into(), "What each service sees".into()));
        contents.push(("template-uptake".into(), "Uptake".into()));
        let questionnaire_path = format!("templates/{}/questionnaire.json", template.id);
        self.questionnaire(&loaded.path, template, &questionnaire_path);
        let versions = self.version_pages(template, &path);
        if versions.is_some() {
            contents.push(("history".into(), "Version history".into()));
        }
        let services = self.service_pages(template, &path);
        self.render(
            "template.html",
            &place,
            context! {
                versions => versions,
                contents => contents,
                template => template_view(template, None),
                services => services,
                visibility => visibility_table(template),
                chart => ser(&chart),
                json => relative(&path, &json_path),
                questionnaire => relative(&path, &questionnaire_path),
                source_path => loaded.path.clone(),
            },
        );
    }

    /// Writes a template's FHIR R4 Questionnaire (see `crate::fhir`) at `path`, canonical under
    /// the site's `canonical_base`.
    fn questionnaire(&mut self, source: &str, template: &Template, path: &str) {
        let base = self.inputs.snapshot.config.site.canonical_base();
        let resource = crate::fhir::questionnaire(template, base);
        match serde_json::to_string_pretty(&resource) {
            Ok(json) => self.site.insert(path.to_owned(), json + "\n"),
            Err(error) => self.problems.push(Diagnostic::error(
                "render",
                source,
                format!("cannot write the template's Questionnaire as JSON: {error}"),
            )),
        }
    }

    /// One page per service with the form as that service sees it; returns the links for the
    /// template's page, in `Service::ALL` order.
    fn service_pages(&mut self, template: &Template, template_path: &str) -> Vec<Value> {
        let mut links = Vec::new();
        for service in Service::ALL {
            let path = service_page_path(template, service);
            let seen = Seen::of(template, service);
            let place = PagePlace {
                path: path.clone(),
                title: format!("{}: what {} sees", template.title, service.name()),
                breadcrumbs: vec![
                    ("London".into(), "index.html".into()),
                    ("Templates".into(), "templates/index.html".into()),
                    (template.title.clone(), template_path.to_owned()),
                ],
            };
            self.render(
                "template_service.html",
                &place,
                context! {
                    service => service.name(),
                    template => template_view(template, Some(service)),
                    summary => seen.summary(service),
                    hidden_safety_critical => (Service::URGENT.contains(&service) && !seen.hidden_safety_critical.is_empty())
                        .then(|| seen.hidden_safety_critical.clone()),
                    template_link => relative(&path, template_path),
                },
            );
            links.push(context! {
                service => service.name(),
                href => relative(template_path, &path),
                summary => seen.short(),
            });
        }
        links
    }

    /// One page per version of a template with its semantic diff against the previous
    /// version; returns the version list for the template's page (newest first).
    fn version_pages(&mut self, template: &Template, template_path: &str) -> Option<Value> {
        let history = self.inputs.history?;
        let versions: &Vec<TemplateVersion> = history.templates.get(&template.id)?;
        let mut rows = Vec::new();
        for (index, version) in versions.iter().enumerate() {
            let path = format!("templates/{}/v{}.html", template.id, version.version);
            let previous = index.checked_sub(1).map(|i| &versions[i]);
            let changes: Vec<Value> = match (previous.and_then(|p| p.template.as_ref()), version.template.as_ref()) {
                (Some(before), Some(after)) => crate::review::diff_templates(std::slice::from_ref(before), std::slice::from_ref(after))
                    .into_iter()
                    .flat_map(|d| d.changes)
                    .map(|c| context! { description => c.description, bump => c.bump.to_string(), safety => c.safety })
                    .collect(),
                // The first version, or a version whose file cannot be read: nothing to compare.
                _ => Vec::new(),
            };
            let questionnaire = match &version.template {
                Some(at_version) => {
                    let file = format!(
                        "templates/{}/v{}.questionnaire.json",
                        template.id, version.version
                    );
                    self.questionnaire(&format!("templates/{}", template.id), at_version, &file);
                    Some(relative(&path, &file))
                }
                // A version whose file cannot be read has no Questionnaire to publish.
                None => None,
            };
            let trailers: Vec<String> = version
                .trailers
                .iter()
                .map(|t| format!("{}: {}", t.key, t.value))
                .collect();
            let place = PagePlace {
                path: path.clone(),
                title: format!("{} {}", template.title, version.version),
                breadcrumbs: vec![
                    ("London".into(), "index.html".into()),
                    ("Templates".into(), "templates/index.html".into()),
                    (template.title.clone(), template_path.to_owned()),
                ],
            };
            self.render(
                "version.html",
                &place,
                context! {
                    version => version.version.clone(),
                    previous => previous.map(|p| p.version.clone()),
                    commit => version.commit.clone(),
                    date => version.date.clone(),
                    author => version.author.clone(),
                    subject => version.subject.clone(),
                    trailers => trailers.clone(),
                    changes => changes,
                    questionnaire => questionnaire,
                    template_link => relative(&path, template_path),
                },
            );
            rows.push(context! {
                version => version.version.clone(),
                href => relative(template_path, &path),
                date => version.date.clone(),
                author => version.author.clone(),
                subject => version.subject.clone(),
                commit => version.commit[..10.min(version.commit.len())].to_owned(),
                trailers => trailers,
            });
        }
        rows.reverse();
        Some(Value::from(rows))
    }
}

fn status_name(status: TemplateStatus) -> &'static str {
    match status {
        TemplateStatus::Draft => "Draft",
        TemplateStatus::Active => "Active",
        TemplateStatus::Retired => "Retired",
    }
}

/// The page of a template as one service sees it.
fn service_page_path(template: &Template, service: Service) -> String {
    format!("templates/{}/for-{}.html", template.id, service.id())
}

/// What one service sees of a template, counted.
struct Seen {
    sections: usize,
    sections_total: usize,
    fields: usize,
    fields_total: usize,
    /// Labels of the safety-critical fields hidden from the service.
    hidden_safety_critical: Vec<String>,
}

impl Seen {
    fn of(template: &Template, service: Service) -> Seen {
        let mut seen = Seen {
            sections: 0,
            sections_total: template.sections.len(),
            fields: 0,
            fields_total: 0,
            hidden_safety_critical: Vec::new(),
        };
        for section in &template.sections {
            if sees_section(template, section, service) {
                seen.sections += 1;
            }
            for field in &section.fields {
                seen.fields_total += 1;
                if template.services_for(section, field).contains(&service) {
                    seen.fields += 1;
                } else if field.safety_critical {
                    seen.hidden_safety_critical.push(field.label.clone());
                }
            }
        }
        seen
    }

    /// The line at the top of the service's page.
    fn summary(&self, service: Service) -> String {
        let (hidden_sections, hidden_fields) = (
            self.sections_total - self.sections,
            self.fields_total - self.fields,
        );
        if hidden_sections == 0 && hidden_fields == 0 {
            return format!(
                "Nothing is hidden from {}: it sees all {} and all {}.",
                service.name(),
                plural(self.sections_total, "section"),
                plural(self.fields_total, "field")
            );
        }
        format!(
            "{} sees {} of {} and {} of {}. Hidden from it, and left out below: {} and {}.",
            service.name(),
            self.sections,
            plural(self.sections_total, "section"),
            self.fields,
            plural(self.fields_total, "field"),
            plural(hidden_sections, "section"),
            plural(hidden_fields, "field"),
        )
    }

    /// The line beside the link to the service's page.
    fn short(&self) -> String {
        if self.fields == self.fields_total && self.sections == self.sections_total {
            "sees everything".into()
        } else {
            format!(
                "sees {} of {} and {} of {}",
                self.sections,
                plural(self.sections_total, "section"),
                self.fields,
                plural(self.fields_total, "field")
            )
        }
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Whether a service sees anything of a section: one of its fields, or the section itself when
/// it has none.
fn sees_section(template: &Template, section: &Section, service: Service) -> bool {
    if section.fields.is_empty() {
        template.section_services(section).contains(&service)
    } else {
        section
            .fields
            .iter()
            .any(|field| template.services_for(section, field).contains(&service))
    }
}

/// Which services see each section, in words: a header row of services, a row per section.
fn visibility_table(template: &Template) -> Value {
    let rows: Vec<Value> = template
        .sections
        .iter()
        .map(|section| {
            let cells: Vec<String> = Service::ALL
                .iter()
                .map(|&service| {
                    let total = section.fields.len();
                    let seen = section
                        .fields
                        .iter()
                        .filter(|field| template.services_for(section, field).contains(&service))
                        .count();
                    if !sees_section(template, section, service) {
                        "Hidden".to_owned()
                    } else if seen == total {
                        "Sees".to_owned()
                    } else {
                        format!("Sees {seen} of {}", plural(total, "field"))
                    }
                })
                .collect();
            context! { section => section.title.clone(), cells => cells }
        })
        .collect();
    context! {
        services => Service::ALL.iter().map(|s| s.name()).collect::<Vec<_>>(),
        rows => rows,
    }
}

/// The template as the read-only form shows it: every section and field, or with `only`, just
/// what that service sees.
fn template_view(template: &Template, only: Option<Service>) -> Value {
    let sees = |section: &Section, field: &crate::model::Field| {
        only.is_none_or(|service| template.services_for(section, field).contains(&service))
    };
    let sections: Vec<Value> = template
        .sections
        .iter()
        .filter(|section| only.is_none_or(|service| sees_section(template, section, service)))
        .map(|section| {
            let fields: Vec<Value> = section
                .fields
                .iter()
                .filter(|field| sees(section, field))
                .map(|field| {
                    let services = template.services_for(section, field);
                    let differs = services != template.section_services(section);
                    context! {
                        id => field.id.clone(),
                        label => field.label.clone(),
                        kind => field.field_type.describe(),
                        options => field.options.iter().map(|o| o.label().to_owned()).collect::<Vec<_>>(),
                        value_set => field.value_set.clone(),
                        unit => field.unit.clone(),
                        required => field.required,
                        requirement => template.requirement_text(field),
                        conditional => field.required_when.is_some(),
                        safety_critical => field.safety_critical,
                        guidance => field.guidance.clone(),
                        snomed => field.snomed.as_ref().map(|s| format!("{} {}", s.code, s.term)),
                        services => differs.then(|| services.iter().map(|s| s.name()).collect::<Vec<_>>()),
                    }
                })
                .collect();
            context! {
                id => section.id.clone(),
                title => section.title.clone(),
                guidance => section.guidance.clone(),
                services => template.section_services(section).iter().map(|s| s.name()).collect::<Vec<_>>(),
                fields => fields,
            }
        })
        .collect();
    context! {
        id => template.id.clone(),
        title => template.title.clone(),
        version => template.version.to_string(),
        status => status_name(template.status),
        retired_from => template.retired_from.map(|m| m.long_name()),
        replaced_by => template.replaced_by.clone(),
        description => template.description.clone(),
        audience => template.audience.clone(),
        snomed => template.snomed.as_ref().map(|s| format!("{} {}", s.code, s.term)),
        sections => sections,
    }
}
