//! `careplans serve`: the site from memory with live reload, an error overlay that keeps the
//! last good pages underneath, and review pages. GET and HEAD only; nothing outside the
//! rendered site is ever served.

pub mod review_pages;
pub mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::cmd::build::{Built, build_site, history_of};
use crate::diagnostic::Diagnostic;
use crate::history::History;
use crate::model::{Month, Template, TemplateStatus};
use crate::site::Site;
use crate::snapshot::Snapshot;
use crate::snapshot::source::WorkTree;

/// The script every served page loads: listens for rebuilds, reloads keeping the scroll
/// position, and shows an overlay while the records have errors.
pub const RELOAD_SCRIPT: &str = include_str!("reload.js");
const RELOAD_PATH: &str = "/__careplans/reload.js";
const RELOAD_TAG: &str = "<script src=\"/__careplans/reload.js\" defer></script>";

/// Sent to every page's Content-Security-Policy: only our own files, no inline script.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the preview shows now.
#[derive(Debug, Default)]
pub struct Preview {
    /// The last site that built.
    pub site: Site,
    /// Problems of the latest rebuild; empty when it succeeded.
    pub problems: Vec<Diagnostic>,
    pub generation: u64,
    /// The theme and site title of the last good build, for the review pages.
    pub theme: crate::snapshot::Theme,
    pub site_title: String,
}

pub struct AppState {
    pub root: PathBuf,
    pub preview: RwLock<Preview>,
    pub events: broadcast::Sender<String>,
    /// Rendered review pages by the commits they compare (and the build generation for the
    /// work tree): a review of the same commits never changes.
    pub reviews: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
    /// Held while a review is computed, so concurrent requests for a new review wait for the
    /// first one's result instead of all computing it.
    pub review_lock: std::sync::Mutex<()>,
    /// Analysis tables, history and templates of the last full build.
    reusable: std::sync::Mutex<Option<Reusable>>,
}

/// The status a page's script reads to draw (or clear) the overlay.
#[derive(Debug, Serialize)]
struct Status {
    ok: bool,
    generation: u64,
    problems: Vec<ProblemView>,
}

#[derive(Debug, Serialize)]
struct ProblemView {
    location: String,
    code: String,
    message: String,
    help: Option<String>,
}

/// What a rebuild did, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub ok: bool,
    /// Pages rendered (or problems found, when not ok).
    pub count: usize,
    pub took: Duration,
    /// "every page", or which pages.
    pub scope: String,
}

/// What the last full build computed that a smaller rebuild can reuse.
struct Reusable {
    tables: crate::analyse::Tables,
    history: Option<History>,
    /// The commit the history was read at.
    head: Option<git2::Oid>,
    templates: BTreeMap<String, Template>,
}

/// The template attributes the analysis tables hold; while they stay the same, an edit to a
/// template changes only that template's own pages.
fn table_key(template: &Template) -> (String, String, TemplateStatus, usize, usize, usize) {
    (
        template.title.clone(),
        template.version.to_string(),
        template.status,
        template.sections.len(),
        template.fields().count(),
        template.fields().filter(|(_, f)| f.safety_critical).count(),
    )
}

fn head_commit(root: &std::path::Path) -> Option<git2::Oid> {
    let workspace = crate::snapshot::git::GitWorkspace::discover(root).ok()?;
    workspace
        .repo
        .head()
        .ok()?
        .peel_to_commit()
        .ok()
        .map(|c| c.id())
}

fn errors_only(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .filter(|d| d.severity == crate::diagnostic::Severity::Error)
        .collect()
}

impl AppState {
    pub fn new(root: PathBuf) -> Arc<AppState> {
        let (events, _) = broadcast::channel(64);
        Arc::new(AppState {
            root,
            preview: RwLock::new(Preview::default()),
            events,
            reviews: std::sync::Mutex::new(std::collections::HashMap::new()),
            review_lock: std::sync::Mutex::new(()),
            reusable: std::sync::Mutex::new(None),
        })
    }

    /// Rebuilds everything.
    pub fn rebuild(&self) -> (bool, Duration, usize) {
        let done = self.rebuild_for(&[]);
        (done.ok, done.took, done.count)
    }

    /// Rebuilds after changes of the given kinds, as little as they need: an edit to templates
    /// that leaves the analysis tables alone re-renders only those templates' pages (with the
    /// index and data quality pages); anything else re-runs the analysis and renders every page,
    /// reusing the git history while HEAD has not moved. Tells every page: `reload` after a good
    /// build, `failed` after a bad one (the last good site stays).
    pub fn rebuild_for(&self, kinds: &[watch::ChangeKind]) -> Rebuilt {
        let started = Instant::now();
        let outcome = match Snapshot::load(&WorkTree::new(&self.root)) {
            Err(error) => Err(vec![Diagnostic::error(
                "serve/build",
                "careplans.toml",
                format!("{error:#}"),
            )]),
            Ok(snapshot) => {
                let only_templates =
                    !kinds.is_empty() && kinds.iter().all(|k| *k == watch::ChangeKind::Templates);
                let partial = if only_templates {
                    self.templates_only(&snapshot)
                } else {
                    None
                };
                match partial {
                    Some(result) => result,
                    None => self.full(&snapshot),
                }
            }
        };
        let mut preview = self.preview.write().unwrap_or_else(|e| e.into_inner());
        preview.generation += 1;
        let done = match outcome {
            Ok((site, scope, theme, title)) => {
                let count = site.page_count();
                if scope == "every page" {
                    preview.site = site;
                } else {
                    preview.site.files.extend(site.files);
                }
                preview.theme = theme;
                preview.site_title = title;
                preview.problems.clear();
                Rebuilt {
                    ok: true,
                    count,
                    took: started.elapsed(),
                    scope,
                }
            }
            Err(problems) => {
                let count = problems.len();
                preview.problems = problems;
                Rebuilt {
                    ok: false,
                    count,
                    took: started.elapsed(),
                    scope: String::new(),
                }
            }
        };
        drop(preview);
        // Cached review pages may show the old theme or work tree.
        self.reviews
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let _ = self.events.send(if done.ok {
            "reload".into()
        } else {
            "failed".into()
        });
        done
    }

    /// Re-renders only the edited templates' pages, or `None` when the edit reaches further.
    #[allow(clippy::type_complexity)]
    fn templates_only(
        &self,
        snapshot: &Snapshot,
    ) -> Option<Result<(Site, String, crate::snapshot::Theme, String), Vec<Diagnostic>>> {
        let mut reusable = self.reusable.lock().unwrap_or_else(|e| e.into_inner());
        let cache = reusable.as_mut()?;
        let now: BTreeMap<String, Template> = snapshot
            .templates
            .iter()
            .map(|t| (t.value.id.clone(), t.value.clone()))
            .collect();
        let same_tables = now.len() == cache.templates.len()
            && now.iter().all(|(id, t)| {
                cache
                    .templates
                    .get(id)
                    .is_some_and(|old| table_key(old) == table_key(t))
            });
        if !same_tables || !snapshot.failed.is_empty() {
            return None;
        }
        let diagnostics = crate::validate::validate(snapshot, Month::current());
        let report = crate::cmd::check::CheckReport::new(snapshot, diagnostics);
        if report.tally.errors > 0 {
            return Some(Err(errors_only(report.diagnostics)));
        }
        let changed: std::collections::BTreeSet<String> = now
            .iter()
            .filter(|(id, t)| cache.templates.get(*id) != Some(*t))
            .map(|(id, _)| id.clone())
            .collect();
        let inputs = crate::render::pages::SiteInputs {
            snapshot,
            tables: &cache.tables,
            check: &report,
            revision: None,
            history: cache.history.as_ref(),
            scope: crate::render::pages::RenderScope::Templates(changed.clone()),
            progress: None,
        };
        let result = crate::render::pages::render_site(&inputs);
        Some(match result {
            Ok(site) => {
                cache.templates = now;
                let scope = if changed.is_empty() {
                    "no page (nothing a page shows changed)".to_owned()
                } else {
                    format!(
                        "the pages of {}",
                        changed.into_iter().collect::<Vec<_>>().join(", ")
                    )
                };
                Ok((
                    site,
                    scope,
                    snapshot.theme.clone(),
                    snapshot.config.site.title.clone(),
                ))
            }
            Err(problems) => Err(problems),
        })
    }

    #[allow(clippy::type_complexity)]
    fn full(
        &self,
        snapshot: &Snapshot,
    ) -> Result<(Site, String, crate::snapshot::Theme, String), Vec<Diagnostic>> {
        let as_problem = |error: anyhow::Error| {
            vec![Diagnostic::error(
                "serve/build",
                "careplans.toml",
                format!("{error:#}"),
            )]
        };
        let mut reusable = self.reusable.lock().unwrap_or_else(|e| e.into_inner());
        let head = head_commit(&self.root);
        let history = match reusable.as_mut() {
            Some(cache) if cache.head == head && head.is_some() => cache.history.take(),
            _ => history_of(&self.root, None, snapshot).map_err(as_problem)?,
        };
        match build_site(snapshot, Month::current(), None, history.as_ref(), None)
            .map_err(as_problem)?
        {
            Built::Site(site, _, tables) => {
                *reusable = Some(Reusable {
                    tables: *tables,
                    history,
                    head,
                    templates: snapshot
                        .templates
                        .iter()
                        .map(|t| (t.value.id.clone(), t.value.clone()))
                        .collect(),
                });
                Ok((
                    *site,
                    "every page".to_owned(),
                    snapshot.theme.clone(),
                    snapshot.config.site.title.clone(),
                ))
            }
            Built::Refused(report) => {
                if let Some(cache) = reusable.as_mut() {
                    cache.history = history;
                }
                Err(errors_only(report.diagnostics))
            }
        }
    }
}

/// The router: static site from memory, live reload endpoints, review pages.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route(RELOAD_PATH, get(reload_script))
        .route("/__careplans/events", get(events))
        .route("/__careplans/status", get(status))
        .route("/review", get(review_pages::list))
        .route("/review/{spec}", get(review_pages::show))
        .fallback(site_file)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// GET and HEAD only, and the same protective headers on every response.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::GET || request.method() == Method::HEAD {
        next.run(request).await
    } else {
        let mut response = (
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are allowed",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn reload_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        RELOAD_SCRIPT,
    )
        .into_response()
}

async fn status(State(state): State<Arc<AppState>>) -> Response {
    let preview = state.preview.read().unwrap_or_else(|e| e.into_inner());
    let body = Status {
        ok: preview.problems.is_empty(),
        generation: preview.generation,
        problems: preview
            .problems
            .iter()
            .map(|d| ProblemView {
                location: d.location(),
                code: d.code.clone(),
                message: d.message.clone(),
                help: d.help.clone(),
            })
            .collect(),
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&body).unwrap_or_default(),
    )
        .into_response()
}

async fn events(State(state): State<Arc<AppState>>) -> Response {
    let stream = BroadcastStream::new(state.events.subscribe())
        .filter_map(|message| message.ok())
        .map(|name| Ok::<_, std::convert::Infallible>(Event::default().event(name).data("")));
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Maps a request path to a site file, or `None` for anything that is not plainly inside the
/// site: `..`, encoded or double-encoded traversal, backslashes, NUL, absolute paths.
pub fn site_path(raw: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    // A `%` left after decoding is double encoding: nothing in the site needs it.
    if decoded.contains(['%', '\\', '\0']) {
        return None;
    }
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    if trimmed.starts_with('/') {
        return None;
    }
    let mut parts = Vec::new();
    for part in trimmed.split('/') {
        match part {
            "" | "." => continue,
            ".." => return None,
            part if part.contains(':') => return None,
            part => parts.push(part),
        }
    }
    let mut path = parts.join("/");
    if path.is_empty() || decoded.ends_with('/') {
        path = if path.is_empty() {
            "index.html".into()
        } else {
            format!("{path}/index.html")
        };
    }
    Some(path)
}

pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "md" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Adds the reload script to a page: the only difference from what `build` writes.
pub fn with_reload_script(html: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(html);
    match text.find("</head>") {
        Some(at) => format!("{}{RELOAD_TAG}{}", &text[..at], &text[at..]).into_bytes(),
        None => html.to_vec(),
    }
}

async fn site_file(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(path) = site_path(request.uri().path()) else {
        return not_found();
    };
    let preview = state.preview.read().unwrap_or_else(|e| e.into_inner());
    let Some(bytes) = preview.site.get(&path) else {
        return not_found();
    };
    let body = if path.ends_with(".html") {
        with_reload_script(bytes)
    } else {
        bytes.to_vec()
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type(&path))
        .body(Body::from(body))
        .unwrap_or_else(|_| not_found())
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_inside_the_site() {
        assert_eq!(site_path("/").as_deref(), Some("index.html"));
        assert_eq!(
            site_path("/areas/nwl/").as_deref(),
            Some("areas/nwl/index.html")
        );
        assert_eq!(
            site_path("/areas/nwl/brent.html").as_deref(),
            Some("areas/nwl/brent.html")
        );
        assert_eq!(
            site_path("/static/careplans.css").as_deref(),
            Some("static/careplans.css")
        );
    }

    #[test]
    fn refuses_traversal_in_every_disguise() {
        for path in [
            "/../Cargo.toml",
            "/static/../../etc/passwd",
            "/%2e%2e/Cargo.toml",
            "/%2E%2E%2FCargo.toml",
            "/%252e%252e/Cargo.toml",
            "/static\\..\\Cargo.toml",
            "/static%5c..%5cCargo.toml",
            "//etc/passwd",
            "/C:/Windows/win.ini",
            "/index.html%00.css",
        ] {
            assert_eq!(site_path(path), None, "{path}");
        }
    }

    #[test]
    fn reload_script_goes_before_head_end() {
        let page = with_reload_script(b"<html><head><title>x</title></head><body></body></html>");
        assert_eq!(
            String::from_utf8(page).unwrap(),
            format!("<html><head><title>x</title>{RELOAD_TAG}</head><body></body></html>")
        );
    }
}
