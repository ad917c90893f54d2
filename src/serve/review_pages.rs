//! Review pages: `/review` lists local branches that change records against the default
//! branch with their rule status; `/review/BASE...HEAD` (HEAD may be `worktree`) shows each
//! changed template's semantic changes, what they mean for each service and the rule results,
//! as `careplans review` computes them, and the old and new forms side by side, section by
//! section: sections with changes open, unchanged ones folded (`<details>`, no script needed).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Serialize;

use super::AppState;
use crate::model::{Field, Section, Template};
use crate::render::base::{self, BasePage, Link};
use crate::render::environment;
use crate::review::revisions::{ReviewedTemplates, review_with_templates};
use crate::snapshot::git::{GitWorkspace, validate_revision};

/// Splits `BASE...HEAD`, refusing anything else (no other ranges, no option-like names).
pub fn parse_spec(spec: &str) -> Result<(String, Option<String>), String> {
    let (base, head) = spec.split_once("...").ok_or("use /review/BASE...HEAD")?;
    if head.contains("...") {
        return Err("use exactly one `...`".into());
    }
    validate_revision(base).map_err(|e| e.to_string())?;
    if head == "worktree" {
        return Ok((base.to_owned(), None));
    }
    validate_revision(head).map_err(|e| e.to_string())?;
    Ok((base.to_owned(), Some(head.to_owned())))
}

#[derive(Debug, Serialize)]
struct FieldRow {
    label: String,
    /// Type, requirement, options: shown for fields that changed, left out for the others.
    detail: Option<String>,
    mark: Option<&'static str>,
}

/// One section on both sides: open when anything in it changed, folded otherwise.
#[derive(Debug, Serialize)]
struct SectionPair {
    title: String,
    /// "2 of 5 fields changed", "unchanged, 5 fields", "new section", "removed".
    status: String,
    changed: bool,
    /// `None` where the section is not in that version.
    before: Option<Vec<FieldRow>>,
    after: Option<Vec<FieldRow>>,
}

fn field_detail(template: &Template, field: &Field) -> String {
    let mut parts = vec![
        field.field_type.describe().to_owned(),
        lowercase_first(&template.requirement_text(field)),
    ];
    if field.safety_critical {
        parts.push("safety-critical".into());
    }
    if !field.options.is_empty() {
        parts.push(format!(
            "options: {}",
            field
                .options
                .iter()
                .map(|o| o.label())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(services) = &field.visible_to {
        parts.push(format!(
            "seen by {}",
            services
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    parts.join("; ")
}

/// "Required when ..." as the middle of a sentence: "required when ...".
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().collect::<String>() + chars.as_str()
    })
}

/// The fields of one section on one side, each marked against the other side: added,
/// removed, changed (or moved here from another section), or unchanged (then without
/// detail, since it reads the same on both sides).
fn field_rows(
    template: &Template,
    section: &Section,
    other: Option<&Template>,
    is_head: bool,
) -> Vec<FieldRow> {
    let others: BTreeMap<&str, (&str, &Field)> = other
        .map(|t| {
            t.fields()
                .map(|(s, f)| (f.id.as_str(), (s.id.as_str(), f)))
                .collect()
        })
        .unwrap_or_default();
    section
        .fields
        .iter()
        .map(|field| {
            let mark = match others.get(field.id.as_str()) {
                None if is_head => Some("Added"),
                None => Some("Removed"),
                Some((other_section, other)) if *other != field || *other_section != section.id => {
                    Some("Changed")
                }
                Some(_) => None,
            };
            FieldRow {
                label: field.label.clone(),
                detail: mark.map(|_| field_detail(template, field)),
                mark,
            }
        })
        .collect()
}

fn fields_text(count: usize) -> String {
    if count == 1 {
        "1 field".into()
    } else {
        format!("{count} fields")
    }
}

/// Every section of either side, in the head's order and then those only the base has, with
/// both sides' fields.
fn section_pairs(base: Option<&Template>, head: Option<&Template>) -> Vec<SectionPair> {
    fn find<'t>(template: Option<&'t Template>, id: &str) -> Option<(&'t Template, &'t Section)> {
        template.and_then(|t| t.sections.iter().find(|s| s.id == id).map(|s| (t, s)))
    }
    let mut ids: Vec<&str> = head
        .iter()
        .chain(base.iter())
        .flat_map(|t| t.sections.iter().map(|s| s.id.as_str()))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|id| seen.insert(*id));
    ids.into_iter()
        .map(|id| {
            let old = find(base, id);
            let new = find(head, id);
            let before = old.map(|(t, s)| field_rows(t, s, head, false));
            let after = new.map(|(t, s)| field_rows(t, s, base, true));
            let marked = |rows: &Option<Vec<FieldRow>>| {
                rows.iter().flatten().filter(|r| r.mark.is_some()).count()
            };
            let own_change = match (old, new) {
                (Some((bt, bs)), Some((ht, hs))) => {
                    bs.title != hs.title
                        || bs.guidance != hs.guidance
                        || bt.section_services(bs) != ht.section_services(hs)
                }
                _ => true,
            };
            let fields = new.or(old).map_or(0, |(_, s)| s.fields.len());
            let changed_fields = marked(&after).max(marked(&before));
            let status = match (old, new) {
                (None, Some(_)) if base.is_some() => "new section".to_owned(),
                (Some(_), None) if head.is_some() => "removed".to_owned(),
                _ if changed_fields > 0 => {
                    format!("{changed_fields} of {} changed", fields_text(fields))
                }
                _ if own_change => "its title, guidance or who sees it changed".to_owned(),
                _ => format!("unchanged, {}", fields_text(fields)),
            };
            SectionPair {
                title: new
                    .or(old)
                    .map(|(_, s)| s.title.clone())
                    .unwrap_or_default(),
                changed: own_change || changed_fields > 0,
                status,
                before,
                after,
            }
        })
        .collect()
}

/// "What changes for each service", ready to print: a line per thing that changes.
fn service_lines(diff: &crate::review::TemplateDiff) -> Vec<Value> {
    diff.services
        .iter()
        .map(|service| {
            let mut lines: Vec<String> = Vec::new();
            if diff.added {
                lines.push(format!(
                    "Sees the new template ({} fields)",
                    service.newly_sees.len()
                ));
            } else if diff.removed {
                lines.push("No longer sees the template, which is removed".into());
            } else {
                lines.extend(
                    service
                        .no_longer_sees
                        .iter()
                        .map(|f| format!("No longer sees {}", f.describe())),
                );
                lines.extend(
                    service
                        .newly_sees
                        .iter()
                        .map(|f| format!("Newly sees {}", f.describe())),
                );
                lines.extend(service.changes.iter().cloned());
            }
            let hidden: Vec<String> = service
                .hidden_safety_critical()
                .map(|f| f.label.clone())
                .collect();
            context! {
                name => service.name.clone(),
                unchanged => service.unchanged,
                lines => if service.unchanged { Vec::new() } else { lines },
                hidden_safety_critical => hidden,
            }
        })
        .collect()
}

/// Renders a review page with the theme of the last good build.
fn render_page(state: &AppState, title: &str, path: &str, body: Value) -> Result<Vec<u8>, String> {
    let preview = state.preview.read().unwrap_or_else(|e| e.into_inner());
    let env = environment(&preview.theme).map_err(|e| e.to_string())?;
    let base = BasePage {
        site_title: preview.site_title.clone(),
        title: title.to_owned(),
        root: "/".into(),
        path: path.to_owned(),
        nav: vec![
            Link::new("Overview", "/index.html"),
            Link::new("Review", "/review"),
        ],
        breadcrumbs: vec![Link::new("Reviews", "/review")],
        revision: None,
        latest_month: None,
    };
    let html = base::render_page(&env, "review.html", &base, body)
        .map_err(|e| crate::render::describe_template_error(&e))?;
    Ok(super::with_reload_script(html.as_bytes()))
}

fn html(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response()
}

fn page(state: &AppState, title: &str, path: &str, body: Value) -> Response {
    match render_page(state, title, path, body) {
        Ok(bytes) => html(bytes),
        Err(message) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render the review page: {message}"),
        )
            .into_response(),
    }
}

fn review_body(reviewed: &ReviewedTemplates) -> Value {
    let review = &reviewed.review;
    let templates: Vec<Value> = review
        .templates
        .iter()
        .map(|diff| {
            let base = reviewed.base.iter().find(|t| t.id == diff.id);
            let head = reviewed.head.iter().find(|t| t.id == diff.id);
            let rules: Vec<Value> = review
                .rules
                .iter()
                .filter(|r| r.template == diff.id)
                .map(|r| context! { title => r.rule.title(), passed => r.passed, message => r.message.clone(), fix => r.fix.clone() })
                .collect();
            context! {
                id => diff.id.clone(),
                title => diff.title.clone(),
                base_version => diff.base_version.clone(),
                head_version => diff.head_version.clone(),
                required_bump => diff.required_bump.to_string(),
                safety => diff.safety,
                changes => Value::from(Serde(&diff.changes)),
                rules => rules,
                services => service_lines(diff),
                sections => Value::from(Serde(section_pairs(base, head))),
            }
        })
        .collect();
    context! {
        listing => false,
        base => review.base.clone(),
        head => review.head.clone(),
        passed => review.passed(),
        templates => templates,
    }
}

pub async fn show(State(state): State<Arc<AppState>>, Path(spec): Path<String>) -> Response {
    let (base, head) = match parse_spec(&spec) {
        Ok(parts) => parts,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let shared = state.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, (StatusCode, String)> {
        let state = shared;
        let not_found = |error: anyhow::Error| {
            (
                StatusCode::NOT_FOUND,
                format!("cannot review {base}...: {error:#}"),
            )
        };
        // Key the cache by the commits compared; the work tree by the build generation.
        let workspace = GitWorkspace::discover(&state.root).map_err(not_found)?;
        let base_oid = workspace.resolve(&base).map_err(not_found)?;
        let head_key = match &head {
            Some(rev) => workspace.resolve(rev).map_err(not_found)?.to_string(),
            None => format!(
                "worktree@{}",
                state
                    .preview
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .generation
            ),
        };
        let key = format!("{base_oid}...{head_key}");
        let cached = |state: &AppState| {
            state
                .reviews
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned()
        };
        if let Some(bytes) = cached(&state) {
            return Ok(bytes);
        }
        let _computing = state.review_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bytes) = cached(&state) {
            return Ok(bytes);
        }
        let reviewed =
            review_with_templates(&state.root, &base, head.as_deref()).map_err(not_found)?;
        let title = format!(
            "Review: {} against {}",
            reviewed.review.head, reviewed.review.base
        );
        let bytes = render_page(
            &state,
            &title,
            &format!("review/{base}"),
            review_body(&reviewed),
        )
        .map_err(|m| (StatusCode::INTERNAL_SERVER_ERROR, m))?;
        state
            .reviews
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, bytes.clone());
        Ok(bytes)
    })
    .await;
    match result {
        Ok(Ok(bytes)) => html(bytes),
        Ok(Err((status, message))) => (status, message).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "review failed").into_response(),
    }
}

/// The default branch: `main`, else `master`, else whatever HEAD names.
fn default_branch(workspace: &GitWorkspace) -> Option<String> {
    for name in ["main", "master"] {
        if workspace
            .repo
            .find_branch(name, git2::BranchType::Local)
            .is_ok()
        {
            return Some(name.to_owned());
        }
    }
    workspace
        .repo
        .head()
        .ok()?
        .shorthand()
        .ok()
        .map(str::to_owned)
}

pub async fn list(State(state): State<Arc<AppState>>) -> Response {
    let root = state.root.clone();
    let rows = tokio::task::spawn_blocking(move || -> Result<(String, Vec<Value>), String> {
        let workspace = GitWorkspace::discover(&root).map_err(|e| e.to_string())?;
        let default = default_branch(&workspace).ok_or("the repository has no branches")?;
        let records = |name: &str| -> Option<git2::Oid> {
            let commit = workspace.repo.revparse_single(&format!("refs/heads/{name}")).ok()?.peel_to_commit().ok()?;
            let tree = commit.tree().ok()?;
            let prefix = crate::config::join(&workspace.prefix, "records");
            tree.get_path(std::path::Path::new(&prefix)).ok().map(|e| e.id())
        };
        let default_records = records(&default);
        let mut rows = Vec::new();
        for branch in workspace.repo.branches(Some(git2::BranchType::Local)).map_err(|e| e.to_string())? {
            let Ok((branch, _)) = branch else { continue };
            let Some(name) = branch.name().ok().flatten().map(str::to_owned) else { continue };
            if name == default || records(&name) == default_records || validate_revision(&name).is_err() {
                continue;
            }
            let status = match review_with_templates(&root, &default, Some(&name)) {
                Ok(reviewed) => {
                    let templates = reviewed.review.templates.len();
                    if reviewed.review.passed() { format!("passes ({templates} template(s) changed)") } else { format!("rules broken ({templates} template(s) changed)") }
                }
                Err(error) => format!("cannot review: {error}"),
            };
            rows.push(context! { name => name.clone(), href => format!("/review/{default}...{name}"), status => status });
        }
        Ok((default, rows))
    })
    .await;
    match rows {
        Ok(Ok((default, rows))) => page(
            &state,
            "Branches to review",
            "review",
            context! { listing => true, default => default.clone(), branches => rows, worktree => format!("/review/{default}...worktree") },
        ),
        Ok(Err(message)) => (StatusCode::NOT_FOUND, message).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "listing failed").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_base_three_dots_head() {
        assert_eq!(
            parse_spec("main...feature").unwrap(),
            ("main".into(), Some("feature".into()))
        );
        assert_eq!(
            parse_spec("main...worktree").unwrap(),
            ("main".into(), None)
        );
    }

    #[test]
    fn refuses_other_ranges_and_options() {
        for spec in [
            "main..feature",
            "main",
            "--upload-pack=x...main",
            "main...-n",
            "a...b...c",
            "main...fe ature",
        ] {
            assert!(parse_spec(spec).is_err(), "{spec}");
        }
    }
}
