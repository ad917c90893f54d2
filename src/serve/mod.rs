//! `careplans serve`: the site from memory with live reload, an error overlay that keeps the
//! last good pages underneath, and review pages. GET and HEAD only; nothing outside the
//! rendered site is ever served.

pub mod hosts;
pub mod review_pages;
pub mod watch;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

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

use crate::diagnostic::Diagnostic;
use crate::model::Month;
use crate::pipeline::{Build, Outcome, Rebuilt, StageTimes};
use crate::site::Site;
use crate::snapshot::Changes;
use hosts::HostPolicy;

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
    /// The pipeline's state: `None` until the workspace could be read.
    build: Mutex<Option<Build>>,
    pub preview: RwLock<Preview>,
    pub events: broadcast::Sender<String>,
    /// Rendered review pages by the commits they compare (and the build generation for the
    /// work tree): a review of the same commits never changes.
    pub reviews: Mutex<std::collections::HashMap<String, Vec<u8>>>,
    /// Held while a review is computed, so concurrent requests for a new review wait for the
    /// first one's result instead of all computing it.
    pub review_lock: Mutex<()>,
    /// The hosts the preview answers (see `hosts`).
    hosts: RwLock<HostPolicy>,
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

impl AppState {
    pub fn new(root: PathBuf) -> Arc<AppState> {
        let (events, _) = broadcast::channel(64);
        Arc::new(AppState {
            root,
            build: Mutex::new(None),
            preview: RwLock::new(Preview::default()),
            events,
            reviews: Mutex::new(std::collections::HashMap::new()),
            review_lock: Mutex::new(()),
            hosts: RwLock::new(HostPolicy::new(DEFAULT_ADDRESS, &[])),
        })
    }

    /// Answers requests for `policy`'s hosts only (the default: loopback, port 8000).
    pub fn set_hosts(&self, policy: HostPolicy) {
        *self.hosts.write().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    /// The folders `[paths]` names, for the watcher; the defaults until the workspace loads.
    pub fn watched_paths(&self) -> crate::config::Paths {
        let build = self.build.lock().unwrap_or_else(|e| e.into_inner());
        build
            .as_ref()
            .map(|b| b.snapshot().config.paths.clone())
            .unwrap_or_default()
    }

    /// Builds everything (the first build, or after the workspace could not be read).
    pub fn build_all(&self) -> Rebuilt {
        let mut build = self.build.lock().unwrap_or_else(|e| e.into_inner());
        let done = match Build::open(&self.root, None, Month::current()) {
            Ok(mut fresh) => {
                let done = fresh.full();
                *build = Some(fresh);
                done
            }
            Err(error) => self.unreadable(&error),
        };
        self.publish(build.as_ref(), done)
    }

    /// Rebuilds after `changes`, as little as they need (see `pipeline::Build::rebuild`), and
    /// tells every page: `reload` after a good build, `failed` after a bad one (the last good
    /// site stays).
    pub fn rebuild(&self, changes: &Changes) -> Rebuilt {
        let mut guard = self.build.lock().unwrap_or_else(|e| e.into_inner());
        let Some(build) = guard.as_mut() else {
            drop(guard);
            return self.build_all();
        };
        let done = build.rebuild(changes);
        self.publish(guard.as_ref(), done)
    }

    fn unreadable(&self, error: &anyhow::Error) -> Rebuilt {
        let mut preview = self.preview.write().unwrap_or_else(|e| e.into_inner());
        preview.problems = vec![Diagnostic::error(
            "serve/build",
            crate::config::CONFIG_FILE,
            format!("{error:#}"),
        )];
        Rebuilt {
            changes: Changes::everything(),
            outcome: Outcome::Failed { problems: 1 },
            stages: StageTimes::default(),
        }
    }

    /// Shows the outcome of a build: the files it replaced, or its problems over the last
    /// good pages; then tells every open page. Returns the outcome with the time it took.
    fn publish(&self, build: Option<&Build>, mut done: Rebuilt) -> Rebuilt {
        let started = std::time::Instant::now();
        let mut preview = self.preview.write().unwrap_or_else(|e| e.into_inner());
        preview.generation += 1;
        if let (Some(build), Outcome::Rendered { site: change, .. }) = (build, &done.outcome) {
            for path in &change.removed {
                preview.site.files.remove(path);
            }
            for path in &change.replaced {
                if let Some(bytes) = build.site().get(path) {
                    preview.site.insert(path.clone(), bytes.to_vec());
                }
            }
            preview.theme = build.snapshot().theme.clone();
            preview.site_title = build.snapshot().config.site.title.clone();
            preview.problems.clear();
        } else if let Some(build) = build {
            preview.problems = build.problems().to_vec();
        }
        drop(preview);
        // Cached review pages may show the old theme or work tree.
        self.reviews
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let _ = self.events.send(if done.ok() {
            "reload".into()
        } else {
            "failed".into()
        });
        done.stages.publish = started.elapsed();
        done
    }
}

/// The address `serve` binds unless told otherwise.
pub const DEFAULT_ADDRESS: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8000);

/// A connection that has not sent a complete request head this long after opening (or after
/// its last response) is closed: idle connections would otherwise hold a file descriptor each
/// forever. Event streams are responses, so they are not cut.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on.
    pub host: String,
    /// 0: any free port.
    pub port: u16,
    /// Open the site in the default browser.
    pub open: bool,
    /// Further host names to answer (for serving on a LAN).
    pub allow_hosts: Vec<String>,
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Stopped with Ctrl-C.
    Stopped,
    /// The port was taken; the message says so.
    PortInUse,
}

/// Builds the site, serves it and watches the workspace until Ctrl-C.
pub fn run(root: &std::path::Path, options: &ServeOptions) -> anyhow::Result<Ended> {
    use anyhow::{Context as _, anyhow};
    let state = AppState::new(root.to_path_buf());
    let done = state.build_all();
    if done.ok() {
        eprintln!(
            "built {} pages in {} ms",
            state
                .preview
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .site
                .page_count(),
            done.stages.total().as_millis()
        );
    } else {
        eprintln!(
            "the records have {} problem(s); the browser shows them until they are fixed",
            state
                .preview
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .problems
                .len()
        );
    }
    let address: std::net::SocketAddr = format!("{}:{}", options.host, options.port)
        .parse()
        .map_err(|_| anyhow!("`{}` is not an IP address to listen on", options.host))?;
    if !address.ip().is_loopback() {
        eprintln!(
            "warning: serving on {} makes the preview reachable from other machines; it has no login",
            address.ip()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
                eprintln!(
                    "error: port {} on {} is already in use; stop the other server or pick another port, e.g. --port {}",
                    address.port(),
                    address.ip(),
                    address.port().saturating_add(1)
                );
                return Ok(Ended::PortInUse);
            }
            Err(error) => return Err(error).context(format!("cannot listen on {address}")),
        };
        let local = listener.local_addr()?;
        state.set_hosts(HostPolicy::new(local, &options.allow_hosts));
        let url = format!("http://{local}/");
        println!("serving {url} (reviews at {url}review); press Ctrl-C to stop");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        watch::watch(state.clone())?;
        if options.open {
            let _ = std::process::Command::new("xdg-open").arg(&url).spawn();
        }
        serve_connections(listener, app(state)).await;
        eprintln!("stopping");
        Ok(Ended::Stopped)
    })
}

/// Accepts connections until Ctrl-C, each served by hyper with a timer, so the header read
/// timeout applies (`axum::serve` gives hyper no timer, and no tower layer sees a connection
/// that never sends a request).
async fn serve_connections(listener: tokio::net::TcpListener, router: Router) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, say: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            // A connection that ends badly (a client gone, a timeout) ends only itself.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            only_own_hosts,
        ))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Refuses a request not addressed to the preview (see `hosts`): 403 with one line saying why.
async fn only_own_hosts(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("(not text)").to_owned());
    let verdict = {
        let policy = state.hosts.read().unwrap_or_else(|e| e.into_inner());
        policy
            .check(host.as_deref(), origin.as_deref())
            .map_err(|refused| policy.explain(&refused))
    };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(explanation) => (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{explanation}\n"),
        )
            .into_response(),
    }
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
