//! Rules over the YAML records: ids that match file names and are unique, references between
//! areas, templates and programmes, and template conventions, including that every template
//! can be published as a FHIR Questionnaire that says what it says (`crate::fhir`).

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::Diagnostic;
use crate::model::{Template, TemplateStatus};
use crate::snapshot::{Loaded, Snapshot};

pub fn check(snapshot: &Snapshot) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_areas(snapshot, &mut out);
    check_templates(snapshot, &mut out);
    check_programmes(snapshot, &mut out);
    check_change_points(snapshot, &mut out);
    check_reports(snapshot, &mut out);
    out
}

/// The published months, first and last, when there are any.
fn published_months(snapshot: &Snapshot) -> Option<(crate::model::Month, crate::model::Month)> {
    let months = snapshot.metrics.iter().filter_map(|m| m.month);
    Some((months.clone().min()?, months.max()?))
}

/// A change point (London-wide or a programme's) must fall within the published months, or
/// no chart could be rebased at it.
fn check_change_point_month<T>(
    loaded: &Loaded<T>,
    pointer: &str,
    month: crate::model::Month,
    window: Option<(crate::model::Month, crate::model::Month)>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some((first, last)) = window
        && (month < first || month > last)
    {
        out.push(
            Diagnostic::error(
                "logic/change-point-month",
                &loaded.path,
                format!("change point {month} is not a published month ({first} to {last})"),
            )
            .at(loaded.span(pointer))
            .help("a chart can only be rebased at a month it shows"),
        );
    }
}

fn check_change_points(snapshot: &Snapshot, out: &mut Vec<Diagnostic>) {
    let window = published_months(snapshot);
    if let Some(loaded) = &snapshot.change_points {
        for (i, point) in loaded.value.change_points.iter().enumerate() {
            check_change_point_month(
                loaded,
                &format!("/change_points/{i}/month"),
                point.month,
                window,
                out,
            );
        }
    }
    for loaded in &snapshot.programmes {
        for (i, point) in loaded.value.rebase.iter().enumerate() {
            check_change_point_month(
                loaded,
                &format!("/rebase/{i}/month"),
                point.month,
                window,
                out,
            );
        }
    }
}

/// The file name without folder and extension.
pub fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
        .unwrap_or(name)
}

fn check_id_matches_file<T>(loaded: &Loaded<T>, id: &str, what: &str, out: &mut Vec<Diagnostic>) {
    let stem = file_stem(&loaded.path);
    if stem != id {
        out.push(
            Diagnostic::error(
                "id/file-name",
                &loaded.path,
                format!("{what} id `{id}` does not match its file name `{stem}`"),
            )
            .at(loaded.span("/id"))
            .help(format!("rename the file to {id}.yaml, or set `id: {stem}`")),
        );
    }
}

/// Reports every repeat of a key after its first occurrence.
fn check_unique<'a>(
    items: impl IntoIterator<Item = (&'a str, &'a str, crate::yaml::Span)>,
    what: &str,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
    for (key, path, span) in items {
        if let Some((first_path, first_line)) = seen.get(key) {
            out.push(
                Diagnostic::error("id/duplicate", path, format!("duplicate {what} `{key}`"))
                    .at(span)
                    .help(format!("it is already used at {first_path}:{first_line}")),
            );
        } else {
            seen.insert(key, (path, span.start.line));
        }
    }
}

fn check_areas(snapshot: &Snapshot, out: &mut Vec<Diagnostic>) {
    let Some(areas) = &snapshot.areas else {
        if !snapshot
            .diagnostics
            .iter()
            .any(|d| d.path == snapshot.config.paths.areas())
        {
            out.push(Diagnostic::error(
                "file/missing",
                snapshot.config.paths.areas(),
                "the repository has no areas file",
            ));
        }
        return;
    };
    let path = areas.path.as_str();
    let value = &areas.value;
    let mut codes = vec![(value.london.code.as_str(), path, areas.span("/london/code"))];
    codes.extend(value.stp_areas.iter().enumerate().map(|(i, s)| {
        (
            s.code.as_str(),
            path,
            areas.span(&format!("/stp_areas/{i}/code")),
        )
    }));
    codes.extend(value.boroughs.iter().enumerate().map(|(i, b)| {
        (
            b.code.as_str(),
            path,
            areas.span(&format!("/boroughs/{i}/code")),
        )
    }));
    check_unique(codes, "area code", out);
    check_unique(
        value.stp_areas.iter().enumerate().map(|(i, s)| {
            (
                s.short.as_str(),
                path,
                areas.span(&format!("/stp_areas/{i}/short")),
            )
        }),
        "STP short name",
        out,
    );
    let stp_codes: BTreeSet<&str> = value.stp_areas.iter().map(|s| s.code.as_str()).collect();
    let mut tiles: BTreeMap<[u32; 2], &str> = BTreeMap::new();
    for (i, borough) in value.boroughs.iter().enumerate() {
        if !stp_codes.contains(borough.stp.as_str()) {
            out.push(
                Diagnostic::error(
                    "ref/unknown-area",
                    path,
                    format!(
                        "{} names STP area `{}`, which is not in stp_areas",
                        borough.name, borough.stp
                    ),
                )
                .at(areas.span(&format!("/boroughs/{i}/stp")))
                .help(format!(
                    "use one of: {}",
                    stp_codes.iter().copied().collect::<Vec<_>>().join(", ")
                )),
            );
        }
        if borough.aged_75_plus > borough.adults {
            out.push(
                Diagnostic::error(
                    "logic/population",
                    path,
                    format!(
                        "{} has more residents aged 75+ ({}) than adults ({})",
                        borough.name, borough.aged_75_plus, borough.adults
                    ),
                )
                .at(areas.span(&format!("/boroughs/{i}/aged_75_plus"))),
            );
        }
        if let Some(other) = tiles.insert(borough.tile, &borough.name) {
            out.push(
                Diagnostic::error(
                    "areas/tile-overlap",
                    path,
                    format!("{} has the same tile as {other}", borough.name),
                )
                .at(areas.span(&format!("/boroughs/{i}/tile")))
                .help("every borough needs its own square on the tile map"),
            );
        }
    }
    for (i, stp) in value.stp_areas.iter().enumerate() {
        if !value.boroughs.iter().any(|b| b.stp == stp.code) {
            out.push(
                Diagnostic::warning(
                    "areas/empty-stp",
                    path,
                    format!("STP area {} has no boroughs", stp.short),
                )
                .at(areas.span(&format!("/stp_areas/{i}"))),
            );
        }
    }
}

fn check_templates(snapshot: &Snapshot, out: &mut Vec<Diagnostic>) {
    check_unique(
        snapshot
            .templates
            .iter()
            .map(|t| (t.value.id.as_str(), t.path.as_str(), t.span("/id"))),
        "template id",
        out,
    );
    for loaded in &snapshot.templates {
        let template = &loaded.value;
        let path = loaded.path.as_str();
        check_id_matches_file(loaded, &template.id, "template", out);
        if template.id == crate::model::ALL_TEMPLATES {
            out.push(
                Diagnostic::error(
                    "id/reserved",
                    path,
                    "`all` is reserved for figures across every template",
                )
                .at(loaded.span("/id")),
            );
        }
        check_unique(
            template.sections.iter().enumerate().map(|(i, s)| {
                (
                    s.id.as_str(),
                    path,
                    loaded.span(&format!("/sections/{i}/id")),
                )
            }),
            "section id",
            out,
        );
        check_unique(
            template.sections.iter().enumerate().flat_map(|(i, s)| {
                s.fields.iter().enumerate().map(move |(j, f)| {
                    (
                        f.id.as_str(),
                        path,
                        loaded.span(&format!("/sections/{i}/fields/{j}/id")),
                    )
                })
            }),
            "field id",
            out,
        );
        for (i, section) in template.sections.iter().enumerate() {
            for (j, field) in section.fields.iter().enumerate() {
                if field.safety_critical && !field.required {
                    out.push(
                        Diagnostic::warning(
                            "template/safety-critical-optional",
                            path,
                            format!("safety-critical field `{}` is optional", field.id),
                        )
                        .at(loaded.span(&format!("/sections/{i}/fields/{j}/required")))
                        .help("urgent services rely on safety-critical fields being filled in; make it required, or explain in its guidance why it may be left blank"),
                    );
                }
            }
        }
        check_expressible(loaded, out);
        if let Some(replacement) = &template.replaced_by {
            match snapshot.template(replacement) {
                None => out.push(
                    Diagnostic::error(
                        "ref/unknown-template",
                        path,
                        format!("replaced_by names template `{replacement}`, which does not exist"),
                    )
                    .at(loaded.span("/replaced_by")),
                ),
                Some(other) if other.value.status == TemplateStatus::Retired => out.push(
                    Diagnostic::warning(
                        "template/replaced-by-retired",
                        path,
                        format!("replaced_by names `{replacement}`, which is itself retired"),
                    )
                    .at(loaded.span("/replaced_by")),
                ),
                Some(_) => {}
            }
        }
    }
}

/// What the FHIR Questionnaire mapping cannot express is an error at its line: `build`
/// publishes every template as a Questionnaire, and one that silently left something out (a
/// condition on an answer that does not exist, say) would tell other systems less than the
/// template does. A problem `id/duplicate` already reports at the same place is not repeated.
fn check_expressible(loaded: &Loaded<Template>, out: &mut Vec<Diagnostic>) {
    let path = loaded.path.as_str();
    for problem in crate::fhir::check_expressible(&loaded.value) {
        let span = loaded.span(&problem.pointer);
        let duplicate = out
            .iter()
            .any(|d| d.code == "id/duplicate" && d.path == path && d.span == Some(span));
        if duplicate {
            continue;
        }
        let (code, help) = if problem.pointer.contains("/required_when") {
            (
                "template/required-when",
                "required_when names another field of this template and answers it can have: its option labels, or Yes and No",
            )
        } else {
            (
                "template/fhir",
                "every template is published as a FHIR R4 Questionnaire; see the mapping in the README",
            )
        };
        out.push(
            Diagnostic::error(code, path, problem.message)
                .at(span)
                .help(help),
        );
    }
}

fn check_programmes(snapshot: &Snapshot, out: &mut Vec<Diagnostic>) {
    check_unique(
        snapshot
            .programmes
            .iter()
            .map(|p| (p.value.id.as_str(), p.path.as_str(), p.span("/id"))),
        "programme id",
        out,
    );
    let stp_codes: BTreeSet<&str> = snapshot
        .areas
        .iter()
        .flat_map(|a| a.value.stp_areas.iter().map(|s| s.code.as_str()))
        .collect();
    for loaded in &snapshot.programmes {
        let programme = &loaded.value;
        let path = loaded.path.as_str();
        check_id_matches_file(loaded, &programme.id, "programme", out);
        if snapshot.areas.is_some() && !stp_codes.contains(programme.area.as_str()) {
            out.push(
                Diagnostic::error(
                    "ref/unknown-area",
                    path,
                    format!(
                        "programme area `{}` is not an STP area in areas.yaml",
                        programme.area
                    ),
                )
                .at(loaded.span("/area"))
                .help(format!(
                    "use one of: {}",
                    stp_codes.iter().copied().collect::<Vec<_>>().join(", ")
                )),
            );
        }
        if let Some(end) = programme.end
            && end < programme.start
        {
            out.push(
                Diagnostic::error(
                    "logic/programme-dates",
                    path,
                    format!(
                        "programme ends ({end}) before it starts ({})",
                        programme.start
                    ),
                )
                .at(loaded.span("/end")),
            );
        }
    }
}

fn check_reports(snapshot: &Snapshot, out: &mut Vec<Diagnostic>) {
    check_unique(
        snapshot
            .reports
            .iter()
            .map(|r| (r.value.id.as_str(), r.path.as_str(), r.span("/id"))),
        "report id",
        out,
    );
    for loaded in &snapshot.reports {
        let report = &loaded.value;
        let path = loaded.path.as_str();
        check_id_matches_file(loaded, &report.id, "report", out);
        check_unique(
            report.queries.iter().enumerate().map(|(i, q)| {
                (
                    q.id.as_str(),
                    path,
                    loaded.span(&format!("/queries/{i}/id")),
                )
            }),
            "query id",
            out,
        );
        let query_ids: BTreeSet<&str> = report.queries.iter().map(|q| q.id.as_str()).collect();
        let uses = report
            .charts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.query.as_str(), format!("/charts/{i}/query")))
            .chain(
                report
                    .tables
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (t.query.as_str(), format!("/tables/{i}/query"))),
            )
            .chain(
                report
                    .figures
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.query.as_str(), format!("/figures/{i}/query"))),
            )
            .chain(
                report
                    .map
                    .iter()
                    .map(|m| (m.query.as_str(), "/map/query".to_owned())),
            )
            .chain(
                report
                    .spc_tables
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (t.query.as_str(), format!("/spc_tables/{i}/query"))),
            );
        for (query, pointer) in uses {
            if !query_ids.contains(query) {
                out.push(
                    Diagnostic::error(
                        "ref/unknown-query",
                        path,
                        format!("no query with id `{query}` in this report"),
                    )
                    .at(loaded.span(&pointer))
                    .help(format!(
                        "queries here: {}",
                        query_ids.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
        }
    }
}
