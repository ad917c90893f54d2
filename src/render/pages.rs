//! Page assembly: which pages the site has, the data each shows, and its downloads.
//!
//! Reports in `reports/` are the dashboards (the `overview` report is the home page, `stp` and
//! `borough` the area pages); templates, data quality and method pages are built in. Every
//! figure comes from a published count or a rate computed from published counts; an empty value
//! is shown as "suppressed" with a footnote, never as zero.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use crate::analyse::reports::{self, PageResults};
use crate::analyse::{Cell, QueryResult, Tables, run_query};
use crate::cmd::check::CheckReport;
use crate::diagnostic::{Diagnostic, Severity};
use crate::history::{History, TemplateVersion};
use crate::model::{
    AreaLevel, AreaSummary, Chart, ColumnFormat, Report, Service, Template, TemplateStatus,
};
use crate::site::Site;
use crate::snapshot::{Loaded, Snapshot};

use super::chart::{self, ChartModel, Marker, Series};
use super::format::{format_cell, slug};
use super::tilemap::{self, Tile, TileMapModel};
use super::{describe_template_error, environment};

/// What the site is rendered from.
pub struct SiteInputs<'a> {
    pub snapshot: &'a Snapshot,
    pub tables: &'a Tables,
    pub check: &'a CheckReport,
    /// Text for the footer and quality page: where the records came from.
    pub revision: Option<String>,
    /// Every template's versions from git, when the records are in a repository.
    pub history: Option<&'a History>,
    /// Which pages to render: all, or (for a preview after template edits) only those of some
    /// templates.
    pub scope: RenderScope,
    /// Told (pages done, pages planned) as report pages render, for a progress display.
    pub progress: Option<&'a dyn Fn(usize, usize)>,
}

/// A serialisable value as a template value.
fn ser<T: Serialize>(value: T) -> Value {
    Value::from(Serde(value))
}

/// Which pages a render produces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RenderScope {
    #[default]
    All,
    /// Only what depends on these templates alone: their pages, their version pages, the
    /// templates index and the data quality page.
    Templates(std::collections::BTreeSet<String>),
}

/// One link in navigation, breadcrumbs or lists.
#[derive(Debug, Clone, Serialize)]
struct Link {
    label: String,
    href: String,
}

/// A table ready to print: header texts and cell texts; `None` cells are empty values.
#[derive(Debug, Clone, Serialize)]
struct TableView {
    caption: String,
    headers: Vec<String>,
    numeric: Vec<bool>,
    rows: Vec<Vec<CellView>>,
}

#[derive(Debug, Clone, Serialize)]
struct CellView {
    text: String,
    missing: bool,
}

#[derive(Debug, Clone, Serialize)]
struct FigureView {
    label: String,
    value: String,
    missing: bool,
    note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct ChartView {
    anchor: String,
    title: String,
    description: String,
    svg: String,
    table: TableView,
    csv: String,
}

#[derive(Debug, Clone, Serialize)]
struct TableBlock {
    anchor: String,
    table: TableView,
    csv: String,
}

/// Where a page sits and what surrounds it.
struct PagePlace {
    path: String,
    title: String,
    breadcrumbs: Vec<(String, String)>,
}

struct Renderer<'a> {
    inputs: &'a SiteInputs<'a>,
    env: Environment<'static>,
    site: Site,
    problems: Vec<Diagnostic>,
    areas: Vec<AreaSummary>,
    nav: Vec<(String, String)>,
}

/// Renders every page, asset and download, or returns every problem found.
pub fn render_site(inputs: &SiteInputs<'_>) -> Result<Site, Vec<Diagnostic>> {
    let snapshot = inputs.snapshot;
    let env = environment(&snapshot.theme)
        .map_err(|error| vec![template_problem(&snapshot.config.paths.site, &error)])?;
    let mut nav = vec![("Overview".to_owned(), "index.html".to_owned())];
    nav.push(("Templates".into(), "templates/index.html".into()));
    if snapshot.reports.iter().any(|r| r.value.id == "programmes") {
        nav.push(("Programmes".into(), "programmes.html".into()));
    }
    nav.push(("Data quality".into(), "quality.html".into()));
    nav.push(("Method".into(), "method.html".into()));
    let mut renderer = Renderer {
        inputs,
        env,
        site: Site::default(),
        problems: Vec::new(),
        areas: snapshot
            .areas
            .iter()
            .flat_map(|a| a.value.summaries())
            .collect(),
        nav,
    };
    if inputs.scope != RenderScope::All {
        renderer.template_pages();
        renderer.quality_page();
        return if renderer.problems.is_empty() {
            Ok(renderer.site)
        } else {
            Err(renderer.problems)
        };
    }
    for (path, bytes) in &snapshot.theme.static_files {
        renderer
            .site
            .insert(format!("static/{path}"), bytes.clone());
    }
    let mut reports: Vec<&Loaded<Report>> = snapshot.reports.iter().collect();
    reports.sort_by_key(|r| (r.value.order.unwrap_or(100), r.value.id.clone()));
    let planned: Vec<(&Loaded<Report>, Option<AreaSummary>)> = reports
        .into_iter()
        .flat_map(|report| {
            reports::expansion_areas(&report.value, snapshot)
                .into_iter()
                .map(move |area| (report, area))
        })
        .collect();
    for (done, (report, area)) in planned.iter().enumerate() {
        renderer.report_page(report, area.as_ref());
        if let Some(progress) = inputs.progress {
            progress(done + 1, planned.len());
        }
    }
    renderer.template_pages();
    renderer.quality_page();
    renderer.method_page();
    if renderer.problems.is_empty() {
        Ok(renderer.site)
    } else {
        Err(renderer.problems)
    }
}

fn template_problem(site_dir: &str, error: &minijinja::Error) -> Diagnostic {
    let path = error
        .name()
        .map(|name| format!("{site_dir}/templates/{name}"))
        .unwrap_or_else(|| format!("{site_dir}/templates"));
    let mut diagnostic = Diagnostic::error("site/template", path, describe_template_error(error));
    if let Some(line) = error.line() {
        diagnostic = diagnostic.at(crate::yaml::Span::point(line, 1));
    }
    diagnostic
}

/// The relative path from the folder of page `from` to `to`, so the site works from `file://`.
pub fn relative(from: &str, to: &str) -> String {
    let depth = from.matches('/').count();
    format!("{}{to}", "../".repeat(depth))
}

fn stp_folder(area: &AreaSummary) -> String {
    format!("areas/{}", slug(&area.short))
}

impl Renderer<'_> {
    fn area(&self, code: &str) -> Option<&AreaSummary> {
        self.areas.iter().find(|a| a.code == code)
    }

    /// The page path of a report for an area (see the module docs for the naming).
    fn report_path(&self, report: &Report, area: Option<&AreaSummary>) -> String {
        match area {
            None if report.id == "overview" => "index.html".into(),
            None => format!("{}.html", report.id),
            Some(area) if area.level == AreaLevel::Stp => {
                let folder = stp_folder(area);
                if report.id == "stp" {
                    format!("{folder}/index.html")
                } else {
                    format!("{folder}/{}.html", report.id)
                }
            }
            Some(area) => {
                let stp = area.parent.as_deref().and_then(|p| self.area(p));
                let folder = stp.map(stp_folder).unwrap_or_else(|| "areas".into());
                let name = slug(&area.name);
                if report.id == "borough" {
                    format!("{folder}/{name}.html")
                } else {
                    format!("{folder}/{name}-{}.html", report.id)
                }
            }
        }
    }

    fn stp_page(&self, stp: &AreaSummary) -> String {
        format!("{}/index.html", stp_folder(stp))
    }

    fn borough_page(&self, borough: &AreaSummary) -> String {
        let stp = borough.parent.as_deref().and_then(|p| self.area(p));
        let folder = stp.map(stp_folder).unwrap_or_else(|| "areas".into());
        format!("{folder}/{}.html", slug(&borough.name))
    }

    fn breadcrumbs_for(&self, area: Option<&AreaSummary>, is_home: bool) -> Vec<(String, String)> {
        let mut crumbs = Vec::new();
        if is_home {
            return crumbs;
        }
        crumbs.push(("London".to_owned(), "index.html".to_owned()));
        if let Some(area) = area
            && area.level == AreaLevel::Borough
            && let Some(stp) = area.parent.as_deref().and_then(|p| self.area(p))
        {
            crumbs.push((stp.short.clone(), self.stp_page(stp)));
        }
        crumbs
    }

    fn links(&self, from: &str, items: &[(String, String)]) -> Vec<Link> {
        items
            .iter()
            .map(|(label, href)| Link {
                label: label.clone(),
                href: relative(from, href),
            })
            .collect()
    }

    /// Renders a page template with the shared context (navigation, breadcrumbs, root).
    fn render(&mut self, template: &str, place: &PagePlace, page: Value) {
        let snapshot = self.inputs.snapshot;
        let result = self.env.get_template(template).and_then(|t| {
            t.render(context! {
                site_title => snapshot.config.site.title.clone(),
                title => place.title.clone(),
                root => relative(&place.path, ""),
                path => place.path.clone(),
                nav => ser(self.links(&place.path, &self.nav)),
                breadcrumbs => ser(self.links(&place.path, &place.breadcrumbs)),
                revision => self.inputs.revision.clone(),
                latest_month => self.inputs.tables.latest_month.map(|m| m.long_name()),
                page => page,
            })
        });
        match result {
            Ok(html) => self.site.insert(place.path.clone(), html),
            Err(error) => self
                .problems
                .push(template_problem(&snapshot.config.paths.site, &error)),
        }
    }

    fn report_page(&mut self, report: &Loaded<Report>, area: Option<&AreaSummary>) {
        let tables = self.inputs.tables;
        let results = match reports::evaluate(report, tables, area.map(|a| a.code.as_str())) {
            Ok(results) => results,
            Err(problems) => {
                self.problems.extend(problems);
                return;
            }
        };
        let value = &report.value;
        let path = self.report_path(value, area);
        let title = match area {
            Some(area) => format!("{}: {}", value.title, area.name),
            None => value.title.clone(),
        };
        let data_stem = path.trim_end_matches(".html").replace('/', "-");
        let markers = self.markers_for(value, area);
        let mut charts = Vec::new();
        for (index, chart) in value.charts.iter().enumerate() {
            let Some(result) = results.get(&chart.query) else {
                continue;
            };
            let csv_path = format!("data/{data_stem}-chart-{}.csv", index + 1);
            let model = chart_model(chart, result, format!("chart-{}", index + 1), &markers);
            self.site.insert(csv_path.clone(), chart_csv(&model));
            charts.push(ChartView {
                anchor: format!("chart-{}", index + 1),
                title: model.title.clone(),
                description: model.description.clone(),
                svg: chart::render_svg(&model),
                table: chart_table(&model),
                csv: relative(&path, &csv_path),
            });
        }
        let mut table_views = Vec::new();
        for (index, table) in value.tables.iter().enumerate() {
            let Some(result) = results.get(&table.query) else {
                continue;
            };
            let view = report_table(table, result);
            let csv_path = format!("data/{data_stem}-table-{}.csv", index + 1);
            self.site.insert(csv_path.clone(), table_csv(&view));
            table_views.push(TableBlock {
                anchor: format!("table-{}", index + 1),
                csv: relative(&path, &csv_path),
                table: view,
            });
        }
        let figures: Vec<FigureView> = value
            .figures
            .iter()
            .filter_map(|figure| {
                let result = results.get(&figure.query)?;
                let row = result.rows.first();
                let cell = row.and_then(|r| result.column_index(&figure.column).map(|i| &r[i]));
                let text = cell.and_then(|c| format_cell(c, figure.format));
                let note = figure.note.as_ref().map(|note| fill_note(note, result));
                Some(FigureView {
                    label: figure.label.clone(),
                    missing: text.is_none(),
                    value: text.unwrap_or_else(|| "suppressed".into()),
                    note,
                })
            })
            .collect();
        let map = value.map.as_ref().and_then(|map| {
            let result = results.get(&map.query)?;
            let highlight = area.and_then(|a| match a.level {
                AreaLevel::Stp => Some(a.code.clone()),
                AreaLevel::Borough => a.parent.clone(),
                AreaLevel::London => None,
            });
            let model = self.tile_map(map, result, highlight);
            let table = map_table(&model);
            let csv_path = format!("data/{data_stem}-map.csv");
            self.site.insert(csv_path.clone(), table_csv(&table));
            Some(context! {
                title => model.title.clone(),
                description => model.description.clone(),
                svg => tilemap::render_svg(&model),
                table => ser(&table),
                csv => relative(&path, &csv_path),
            })
        });
        let children = self.children_of(&path, area, value);
        let json_path = format!("data/{data_stem}.json");
        self.site
            .insert(json_path.clone(), page_json(&path, &title, area, &results));
        let any_missing = figures.iter().any(|f| f.missing)
            || charts.iter().any(|c| has_missing(&c.table))
            || table_views.iter().any(|t| has_missing(&t.table));
        let mut contents: Vec<(String, String)> = Vec::new();
        if !figures.is_empty() {
            contents.push(("headline-figures".into(), "Headline figures".into()));
        }
        if let Some(map) = &value.map {
            contents.push(("tile-map".into(), map.title.clone()));
        }
        contents.extend(charts.iter().map(|c| (c.anchor.clone(), c.title.clone())));
        contents.extend(
            table_views
                .iter()
                .map(|t| (t.anchor.clone(), t.table.caption.clone())),
        );
        if let Some(children) = &children {
            let heading = children
                .get_attr("heading")
                .map(|h| h.to_string())
                .unwrap_or_default();
            contents.push(("areas".into(), heading));
        }
        let place = PagePlace {
            breadcrumbs: self.breadcrumbs_for(area, path == "index.html"),
            path: path.clone(),
            title,
        };
        self.render(
            "report.html",
            &place,
            context! {
                description => value.description.clone(),
                area => area.map(|a| context! { name => a.name.clone(), level => a.level.name() }),
                figures => ser(&figures),
                map => map,
                charts => ser(&charts),
                tables => ser(&table_views),
                children => children,
                contents => contents,
                json => relative(&path, &json_path),
                suppressed_note => any_missing,
            },
        );
    }

    /// Programme start markers for charts over months on this page.
    fn markers_for(&self, report: &Report, area: Option<&AreaSummary>) -> Vec<Marker> {
        let snapshot = self.inputs.snapshot;
        let stp = area.and_then(|a| match a.level {
            AreaLevel::Stp => Some(a.code.clone()),
            AreaLevel::Borough => a.parent.clone(),
            AreaLevel::London => None,
        });
        snapshot
            .programmes
            .iter()
            .filter(|p| match &stp {
                Some(code) => &p.value.area == code,
                None => report.id == "programmes",
            })
            .map(|p| Marker {
                category: p.value.start.to_string(),
                label: format!(
                    "{} programme starts",
                    self.area(&p.value.area)
                        .map_or(p.value.area.as_str(), |a| a.short.as_str())
                ),
            })
            .collect()
    }

    /// Links to the pages one level down: STP areas from the overview, boroughs from an STP page.
    fn children_of(
        &self,
        path: &str,
        area: Option<&AreaSummary>,
        report: &Report,
    ) -> Option<Value> {
        let (heading, items): (String, Vec<(String, String)>) = match (area, report.id.as_str()) {
            (None, "overview") => (
                "STP areas".into(),
                self.areas
                    .iter()
                    .filter(|a| a.level == AreaLevel::Stp)
                    .map(|a| (a.name.clone(), self.stp_page(a)))
                    .collect(),
            ),
            (Some(stp), "stp") if stp.level == AreaLevel::Stp => (
                format!("Boroughs in {}", stp.short),
                self.areas
                    .iter()
                    .filter(|a| a.parent.as_deref() == Some(stp.code.as_str()))
                    .map(|a| (a.name.clone(), self.borough_page(a)))
                    .collect(),
            ),
            _ => return None,
        };
        Some(context! { heading => heading, links => ser(self.links(path, &items)) })
    }

    fn tile_map(
        &self,
        map: &crate::model::TileMap,
        result: &QueryResult,
        highlight: Option<String>,
    ) -> TileMapModel {
        let values: BTreeMap<String, Option<f64>> = result
            .column("area_code")
            .unwrap_or_default()
            .into_iter()
            .zip(result.column(&map.value).unwrap_or_default())
            .map(|(code, value)| (code.as_text(), value.as_f64()))
            .collect();
        let tiles = self
            .inputs
            .snapshot
            .areas
            .iter()
            .flat_map(|a| a.value.boroughs.iter())
            .map(|b| Tile {
                code: b.code.clone(),
                name: b.name.clone(),
                short: self
                    .area(&b.code)
                    .map_or_else(|| b.name.clone(), |a| a.short.clone()),
                stp: b.stp.clone(),
                column: b.tile[0],
                row: b.tile[1],
                value: values.get(&b.code).copied().flatten(),
            })
            .collect();
        TileMapModel {
            id: "tile-map".into(),
            title: map.title.clone(),
            description: map
                .description
                .clone()
                .unwrap_or_else(|| format!("Each square is a London borough in its approximate position, outlined by STP area, shaded by {}.", map.units)),
            units: map.units.clone(),
            tiles,
            highlight_stp: highlight,
        }
    }

    fn template_pages(&mut self) {
        let snapshot = self.inputs.snapshot;
        let tables = self.inputs.tables;
        let mut rows = Vec::new();
        let latest = tables.latest_month.map(|m| m.to_string());
        for loaded in &snapshot.templates {
            let template = &loaded.value;
            let path = format!("templates/{}/index.html", template.id);
            let sql = format!(
                "SELECT month, active_plans, new_plans FROM metrics WHERE template = '{}' AND area_level = 'london' ORDER BY month",
                template.id
            );
            let uptake = run_query(tables, &sql, None).unwrap_or_default();
            let latest_active = uptake
                .rows
                .iter()
                .rev()
                .find(|r| Some(r[0].as_text()) == latest)
                .map(|r| r[1].clone())
                .unwrap_or(Cell::Null);
            rows.push(vec![
                CellView {
                    text: template.title.clone(),
                    missing: false,
                },
                CellView {
                    text: template.version.to_string(),
                    missing: false,
                },
                CellView {
                    text: status_name(template.status).into(),
                    missing: false,
                },
                CellView {
                    text: template.sections.len().to_string(),
                    missing: false,
                },
                CellView {
                    text: template.fields().count().to_string(),
                    missing: false,
                },
                CellView {
                    text: template
                        .fields()
                        .filter(|(_, f)| f.safety_critical)
                        .count()
                        .to_string(),
                    missing: false,
                },
                match format_cell(&latest_active, Some(ColumnFormat::Integer)) {
                    Some(text) => CellView {
                        text,
                        missing: false,
                    },
                    None => CellView {
                        text: "suppressed".into(),
                        missing: true,
                    },
                },
            ]);
            if let RenderScope::Templates(ids) = &self.inputs.scope
                && !ids.contains(&template.id)
            {
                continue;
            }
            let model = ChartModel {
                id: "uptake".into(),
                kind: crate::model::ChartType::Line,
                title: format!("People in London with an active {} plan", template.title),
                description: format!(
                    "Active plans using the {} template at the end of each month, London.",
                    template.title
                ),
                x_label: "Month".into(),
                units: "active plans".into(),
                categories: uptake.rows.iter().map(|r| r[0].as_text()).collect(),
                series: vec![Series {
                    name: "Active plans".into(),
                    values: uptake.rows.iter().map(|r| r[1].as_f64()).collect(),
                }],
                markers: Vec::new(),
            };
            let csv_path = format!("data/templates-{}-uptake.csv", template.id);
            self.site.insert(csv_path.clone(), chart_csv(&model));
            let chart = ChartView {
                anchor: "uptake".into(),
                title: model.title.clone(),
                description: model.description.clone(),
                svg: chart::render_svg(&model),
                table: chart_table(&model),
                csv: relative(&path, &csv_path),
            };
            let json_path = format!("data/templates-{}.json", template.id);
            self.site.insert(
                json_path.clone(),
                serde_json::to_vec_pretty(
                    &serde_json::json!({ "template": template, "uptake": uptake }),
                )
                .unwrap_or_default(),
            );
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
            contents.push(("template-uptake".into(), "Uptake".into()));
            let versions = self.version_pages(template, &path);
            if versions.is_some() {
                contents.push(("history".into(), "Version history".into()));
            }
            self.render(
                "template.html",
                &place,
                context! {
                    versions => versions,
                    contents => contents,
                    template => template_view(template),
                    chart => ser(&chart),
                    json => relative(&path, &json_path),
                    source_path => loaded.path.clone(),
                },
            );
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

    fn quality_page(&mut self) {
        let check = self.inputs.check;
        let snapshot = self.inputs.snapshot;
        let tables = self.inputs.tables;
        let diagnostics: Vec<Value> = check
            .diagnostics
            .iter()
            .map(|d| {
                context! {
                    severity => match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                    code => d.code.clone(),
                    location => d.location(),
                    message => d.message.clone(),
                    help => d.help.clone(),
                }
            })
            .collect();
        let months = snapshot
            .metrics
            .iter()
            .filter(|f| f.month.is_some())
            .count();
        let place = PagePlace {
            path: "quality.html".into(),
            title: "Data quality".into(),
            breadcrumbs: vec![("London".into(), "index.html".into())],
        };
        self.render(
            "quality.html",
            &place,
            context! {
                summary => check.summary(),
                errors => check.tally.errors,
                warnings => check.tally.warnings,
                files => check.files,
                templates => check.templates,
                rows => check.rows,
                diagnostics => diagnostics,
                first_month => tables.first_month.map(|m| m.long_name()),
                latest_month_long => tables.latest_month.map(|m| m.long_name()),
                months => months,
                origin => snapshot.origin.clone(),
            },
        );
    }

    fn method_page(&mut self) {
        let snapshot = self.inputs.snapshot;
        let measures: Vec<Value> = snapshot
            .table_schema
            .fields
            .iter()
            .map(|f| context! { name => f.name.clone(), description => f.description.clone() })
            .collect();
        let rule = snapshot.config.disclosure;
        let place = PagePlace {
            path: "method.html".into(),
            title: "Method and definitions".into(),
            breadcrumbs: vec![("London".into(), "index.html".into())],
        };
        self.render(
            "method.html",
            &place,
            context! {
                measures => measures,
                threshold => rule.threshold,
                rounding_base => rule.rounding_base,
                secondary_suppression => rule.secondary_suppression,
                services => Service::ALL.iter().map(|s| context! { id => s.id(), name => s.name() }).collect::<Vec<_>>(),
            },
        );
    }
}

fn status_name(status: TemplateStatus) -> &'static str {
    match status {
        TemplateStatus::Draft => "Draft",
        TemplateStatus::Active => "Active",
        TemplateStatus::Retired => "Retired",
    }
}

/// The template as the read-only form shows it.
fn template_view(template: &Template) -> Value {
    let sections: Vec<Value> = template
        .sections
        .iter()
        .map(|section| {
            let fields: Vec<Value> = section
                .fields
                .iter()
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

/// Replaces `{column}` in a figure's note with the first row's value of that column.
fn fill_note(note: &str, result: &QueryResult) -> String {
    let mut out = note.to_owned();
    if let Some(row) = result.rows.first() {
        for (index, column) in result.columns.iter().enumerate() {
            let needle = format!("{{{column}}}");
            if out.contains(&needle) {
                let format = (column == "month").then_some(ColumnFormat::Month);
                let text = format_cell(&row[index], format).unwrap_or_else(|| "suppressed".into());
                out = out.replace(&needle, &text);
            }
        }
    }
    out
}

/// Builds a chart model from a query: categories from `x` in order of appearance, one series
/// per distinct `series` value (or one series).
fn chart_model(chart: &Chart, result: &QueryResult, id: String, markers: &[Marker]) -> ChartModel {
    let x = result.column_index(&chart.x);
    let y = result.column_index(&chart.y);
    let s = chart
        .series
        .as_ref()
        .and_then(|name| result.column_index(name));
    let mut categories: Vec<String> = Vec::new();
    let mut series_names: Vec<String> = Vec::new();
    let mut values: BTreeMap<(usize, usize), Option<f64>> = BTreeMap::new();
    if let (Some(x), Some(y)) = (x, y) {
        for row in &result.rows {
            let category = row[x].as_text();
            let name = s.map_or_else(|| chart.y.clone(), |s| row[s].as_text());
            let ci = categories
                .iter()
                .position(|c| c == &category)
                .unwrap_or_else(|| {
                    categories.push(category.clone());
                    categories.len() - 1
                });
            let si = series_names
                .iter()
                .position(|n| n == &name)
                .unwrap_or_else(|| {
                    series_names.push(name.clone());
                    series_names.len() - 1
                });
            values.insert((si, ci), row[y].as_f64());
        }
    }
    let single_name = chart.units.clone();
    let series = series_names
        .iter()
        .enumerate()
        .map(|(si, name)| Series {
            name: if s.is_some() {
                name.clone()
            } else {
                single_name.clone()
            },
            values: (0..categories.len())
                .map(|ci| values.get(&(si, ci)).copied().flatten())
                .collect(),
        })
        .collect();
    let months = categories
        .iter()
        .all(|c| c.len() == 7 && c.as_bytes().get(4) == Some(&b'-'));
    ChartModel {
        id,
        kind: chart.chart_type,
        title: chart.title.clone(),
        description: chart
            .description
            .clone()
            .unwrap_or_else(|| chart.title.clone()),
        x_label: if months {
            "Month".into()
        } else {
            humanise(&chart.x)
        },
        units: chart.units.clone(),
        categories,
        series,
        markers: if months { markers.to_vec() } else { Vec::new() },
    }
}

fn humanise(column: &str) -> String {
    let text = column.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

fn number_text(value: Option<f64>) -> CellView {
    match value {
        Some(v) => CellView {
            text: super::format::format_number(v, if v.fract() == 0.0 { 0 } else { 1 }),
            missing: false,
        },
        None => CellView {
            text: "suppressed".into(),
            missing: true,
        },
    }
}

/// The data table under a chart: one row per category, one column per series.
fn chart_table(model: &ChartModel) -> TableView {
    let months = model.x_label == "Month";
    let mut headers = vec![model.x_label.clone()];
    headers.extend(model.series.iter().map(|s| s.name.clone()));
    let rows = model
        .categories
        .iter()
        .enumerate()
        .map(|(ci, category)| {
            let label = if months {
                category
                    .parse::<crate::model::Month>()
                    .map(|m| m.long_name())
                    .unwrap_or_else(|_| category.clone())
            } else {
                category.clone()
            };
            let mut row = vec![CellView {
                text: label,
                missing: false,
            }];
            row.extend(model.series.iter().map(|s| number_text(s.values[ci])));
            row
        })
        .collect();
    let mut numeric = vec![false];
    numeric.extend(model.series.iter().map(|_| true));
    TableView {
        caption: format!("Data for the chart: {} ({})", model.title, model.units),
        headers,
        numeric,
        rows,
    }
}

/// The CSV behind a chart; suppressed values are `*`, as in the published metrics.
fn chart_csv(model: &ChartModel) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![model.x_label.clone()];
    header.extend(model.series.iter().map(|s| s.name.clone()));
    let _ = writer.write_record(&header);
    for (ci, category) in model.categories.iter().enumerate() {
        let mut record = vec![category.clone()];
        record.extend(
            model
                .series
                .iter()
                .map(|s| s.values[ci].map_or_else(|| "*".to_owned(), |v| v.to_string())),
        );
        let _ = writer.write_record(&record);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn report_table(table: &crate::model::Table, result: &QueryResult) -> TableView {
    let indexes: Vec<Option<usize>> = table
        .columns
        .iter()
        .map(|c| result.column_index(&c.column))
        .collect();
    let rows = result
        .rows
        .iter()
        .map(|row| {
            table
                .columns
                .iter()
                .zip(&indexes)
                .map(|(column, index)| {
                    let cell = index.map_or(&Cell::Null, |i| &row[i]);
                    match format_cell(cell, column.format) {
                        Some(text) => CellView {
                            text,
                            missing: false,
                        },
                        None => CellView {
                            text: column
                                .missing
                                .clone()
                                .unwrap_or_else(|| "suppressed".into()),
                            missing: column.missing.is_none(),
                        },
                    }
                })
                .collect()
        })
        .collect();
    TableView {
        caption: table.caption.clone(),
        headers: table.columns.iter().map(|c| c.label.clone()).collect(),
        numeric: table
            .columns
            .iter()
            .map(|c| {
                matches!(
                    c.format,
                    Some(ColumnFormat::Integer | ColumnFormat::Decimal | ColumnFormat::Percent)
                )
            })
            .collect(),
        rows,
    }
}

fn map_table(model: &TileMapModel) -> TableView {
    let mut tiles: Vec<&Tile> = model.tiles.iter().collect();
    tiles.sort_by(|a, b| a.name.cmp(&b.name));
    TableView {
        caption: format!("Data for the map: {} ({})", model.title, model.units),
        headers: vec!["Borough".into(), model.units.clone()],
        numeric: vec![false, true],
        rows: tiles
            .iter()
            .map(|t| {
                vec![
                    CellView {
                        text: t.name.clone(),
                        missing: false,
                    },
                    number_text(t.value),
                ]
            })
            .collect(),
    }
}

fn table_csv(view: &TableView) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&view.headers);
    for row in &view.rows {
        let _ = writer.write_record(
            row.iter()
                .map(|c| if c.missing { "*" } else { c.text.as_str() }),
        );
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn has_missing(table: &TableView) -> bool {
    table.rows.iter().flatten().any(|c| c.missing)
}

fn page_json(path: &str, title: &str, area: Option<&AreaSummary>, results: &PageResults) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "page": path,
        "title": title,
        "area": area.map(|a| serde_json::json!({ "code": a.code, "name": a.name, "level": a.level })),
        "note": "null is a suppressed count (1 to the threshold) or a figure withheld because a count it needs is suppressed",
        "queries": results,
    }))
    .unwrap_or_default()
}
