//! `careplans serve`: pages from memory with the right headers, no traversal, live reload on
//! edit, the error overlay's status, review pages, and escaping.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use careplans::serve::{AppState, app};
use common::Repo;
use common::git::Git;
use tower::ServiceExt;

const TEMPLATE: &str = "records/templates/urgent-care-plan.yaml";

fn site_repo() -> Repo {
    let repo = Repo::valid();
    common::copy_dir(
        &common::project_root().join("reports"),
        &repo.path("reports"),
    );
    common::copy_dir(&common::project_root().join("site"), &repo.path("site"));
    repo
}

fn state(repo: &Repo) -> Arc<AppState> {
    let state = AppState::new(repo.root().to_path_buf());
    let done = state.build_all();
    assert!(done.ok(), "{:?}", state.preview.read().unwrap().problems);
    state
}

/// Runs a request on its own runtime: the site is built outside any async runtime, as the
/// server does (polars must not block inside one).
fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

async fn get(
    state: &Arc<AppState>,
    method: Method,
    uri: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    get_with(state, method, uri, &[("host", "127.0.0.1:8000")]).await
}

/// A request with exactly these headers.
async fn get_with(
    state: &Arc<AppState>,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::empty()).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn pages_and_assets_have_content_types_and_protective_headers() {
    let repo = site_repo();
    let state = state(&repo);
    for (uri, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/areas/nel/index.html", "text/html; charset=utf-8"),
        (
            "/static/nhsuk/nhsuk-frontend.min.css",
            "text/css; charset=utf-8",
        ),
        ("/data/index.json", "application/json"),
        ("/__careplans/reload.js", "text/javascript; charset=utf-8"),
    ] {
        let (status, headers, _) = block(get(&state, Method::GET, uri));
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers["content-type"], content_type, "{uri}");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
    let (status, _, body) = block(get(&state, Method::HEAD, "/"));
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    let (status, headers, _) = block(get(&state, Method::POST, "/"));
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, HEAD");
}

#[test]
fn served_pages_are_the_built_bytes_plus_the_reload_script() {
    let repo = site_repo();
    let state = state(&repo);
    let (_, _, served) = block(get(&state, Method::GET, "/index.html"));
    let built = String::from_utf8(
        state
            .preview
            .read()
            .unwrap()
            .site
            .get("index.html")
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        !built.contains("reload.js"),
        "the static build never has the script"
    );
    assert_eq!(
        served.replace("<script src=\"/__careplans/reload.js\" defer></script>", ""),
        built
    );
    assert!(!served.contains("<script>"), "no inline script");
}

#[test]
fn traversal_attempts_are_not_found() {
    let repo = site_repo();
    let state = state(&repo);
    for uri in [
        "/../careplans.toml",
        "/static/../../careplans.toml",
        "/%2e%2e/careplans.toml",
        "/%2e%2e%2fcareplans.toml",
        "/%252e%252e/careplans.toml",
        "/static%5c..%5c..%5ccareplans.toml",
        "//etc/passwd",
        "/records/templates/urgent-care-plan.yaml",
        "/index.html%00",
    ] {
        let (status, _, body) = block(get(&state, Method::GET, uri));
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
}

#[test]
fn record_text_is_escaped() {
    let repo = site_repo();
    repo.edit(
        TEMPLATE,
        "label: CPR decision",
        "label: \"<script>alert(1)</script>\"",
    );
    let state = state(&repo);
    let (_, _, body) = block(get(
        &state,
        Method::GET,
        "/templates/urgent-care-plan/index.html",
    ));
    assert!(body.contains("&lt;script&gt;alert(1)&lt;"));
    assert!(!body.contains("<script>alert(1)"));
}

#[test]
fn review_page_shows_a_branch_side_by_side() {
    let repo = site_repo();
    let mut git = Git::init(repo.root());
    git.commit("Ann Champion <ann@example.nhs.uk>", "Initial records");
    git.branch("feature");
    repo.edit(
        TEMPLATE,
        "        required: true\n        safety_critical: true\n",
        "        required: false\n        safety_critical: true\n",
    );
    repo.edit(TEMPLATE, "version: \"1.2.0\"", "version: \"1.3.0\"");
    git.commit(
        "Ann Champion <ann@example.nhs.uk>",
        "Make CPR decision optional",
    );
    let state = state(&repo);
    let (status, _, body) = block(get(&state, Method::GET, "/review/main...feature"));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("CPR decision: required -&gt; optional"),
        "{body}"
    );
    assert!(body.contains("Clinical safety sign-off"));
    assert!(
        body.contains(">Changed</strong>"),
        "changed fields are marked in words, not colour alone"
    );
    // What changes for each service comes first, before the changes and the forms.
    let services = body
        .find(">What changes for each service</h3>")
        .expect("a per-service section");
    assert!(services < body.find(">Changes</h3>").unwrap());
    assert!(services < body.find(">Old and new, side by side</h3>").unwrap());
    let las = &body[body
        .find("<dt class=\"nhsuk-summary-list__key\">London Ambulance Service</dt>")
        .unwrap()..];
    let las = &las[..las.find("</dd>").unwrap()];
    assert!(
        las.contains("<li>CPR decision: required -&gt; optional</li>"),
        "{las}"
    );
    // Sections with changes are open, unchanged ones folded; no script needed.
    let sections: Vec<&str> = body
        .split("<details class=\"nhsuk-details cp-review-section\"")
        .skip(1)
        .collect();
    assert_eq!(sections.len(), 2, "{body}");
    assert!(sections[0].starts_with(" open>"), "{}", sections[0]);
    assert!(
        sections[0].contains("Cardiopulmonary resuscitation: 1 of 1 field changed"),
        "{}",
        sections[0]
    );
    assert!(sections[1].starts_with('>'), "{}", sections[1]);
    assert!(
        sections[1].contains("Preferences: unchanged, 1 field"),
        "{}",
        sections[1]
    );
    // An unchanged field is one line; a changed one says what it is now.
    assert!(
        sections[1]
            .contains("Preferred place of death</span> <span class=\"nhsuk-body-s\">(unchanged)")
    );
    assert!(sections[0].contains("One of a list; optional; safety-critical; options: For CPR"));
    // Whole words: the columns are plain blocks, and no CSS breaks words anywhere.
    assert!(!sections[0].contains("nhsuk-summary-list"));
    let css = repo.read("site/static/careplans.css");
    assert!(!css.contains("break-all"), "{css}");
    assert!(css.contains(".cp-side { min-width: 0; overflow-wrap: normal; word-break: normal;"));
    let (status, _, body) = block(get(&state, Method::GET, "/review"));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        common::html::decode(&body).contains("/review/main...feature"),
        "{body}"
    );
    assert!(body.contains("rules broken"), "{body}");
    // An uncommitted edit, reviewed against main from the work tree.
    repo.edit(
        TEMPLATE,
        "label: Preferred place of death",
        "label: Preferred place of death (first choice)",
    );
    let (status, _, body) = block(get(&state, Method::GET, "/review/main...worktree"));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("Preferred place of death (first choice)"),
        "{body}"
    );
    assert!(
        body.contains("Before (main)") && body.contains("After (work tree)"),
        "{body}"
    );
    for bad in ["/review/main..feature", "/review/--output=x...main"] {
        let (status, _, _) = block(get(&state, Method::GET, bad));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[test]
fn only_requests_addressed_to_the_preview_are_answered() {
    let repo = site_repo();
    let state = state(&repo);
    for host in ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"] {
        let (status, _, _) = block(get_with(
            &state,
            Method::GET,
            "/index.html",
            &[("host", host)],
        ));
        assert_eq!(status, StatusCode::OK, "{host}");
    }
    // DNS rebinding: another site's name pointed at 127.0.0.1.
    for host in ["evil.example", "evil.example:8000", "localhost:9999"] {
        let (status, headers, body) = block(get_with(
            &state,
            Method::GET,
            "/index.html",
            &[("host", host)],
        ));
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}");
        assert!(body.contains("--allow-host"), "{body}");
        assert!(!body.contains("<html"), "no page for {host}");
        assert!(headers.contains_key("content-security-policy"));
    }
    // HTTP/1.1 requires a Host.
    let (status, _, _) = block(get_with(&state, Method::GET, "/index.html", &[]));
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An absolute URI naming another host is refused whatever the Host header says.
    let (status, _, _) = block(get_with(
        &state,
        Method::GET,
        "http://evil.example/index.html",
        &[("host", "127.0.0.1:8000")],
    ));
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[test]
fn requests_from_other_origins_are_refused_event_stream_included() {
    let repo = site_repo();
    let state = state(&repo);
    for path in [
        "/index.html",
        "/__careplans/status",
        "/__careplans/events",
        "/review",
    ] {
        let (status, _, _) = block(get_with(
            &state,
            Method::GET,
            path,
            &[
                ("host", "127.0.0.1:8000"),
                ("origin", "http://evil.example"),
            ],
        ));
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _, _) = block(get_with(
        &state,
        Method::GET,
        "/__careplans/status",
        &[
            ("host", "127.0.0.1:8000"),
            ("origin", "http://127.0.0.1:8000"),
        ],
    ));
    assert_eq!(status, StatusCode::OK, "the preview's own pages may ask");
}

// --- the real server -------------------------------------------------------------------------

struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(repo: &Repo) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_careplans"))
        .args(["serve", "--port", "0"])
        .current_dir(repo.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    Server { child, address }
}

fn http_get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// Opens the event stream and returns a reader of its lines.
fn events(address: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET /__careplans/events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
        line.clear();
    }
    reader
}

fn next_event(reader: &mut BufReader<TcpStream>, deadline: Instant) -> Option<String> {
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            continue;
        }
        if let Some(name) = line
            .trim()
            .strip_prefix("event: ")
            .or_else(|| line.trim().strip_prefix("event:"))
        {
            return Some(name.trim().to_owned());
        }
    }
    None
}

#[test]
fn editing_a_template_reloads_pages_and_a_broken_edit_shows_the_overlay_until_fixed() {
    let repo = site_repo();
    let server = start(&repo);
    let mut stream = events(&server.address);
    // Give the watcher a moment to start after the server prints its address.
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    repo.edit(
        TEMPLATE,
        "title: Urgent care plan",
        "title: Urgent care plan (London)",
    );
    assert_eq!(
        next_event(&mut stream, started + Duration::from_secs(2)).as_deref(),
        Some("reload"),
        "no reload within 2 s"
    );
    let page = http_get(&server.address, "/templates/urgent-care-plan/index.html");
    assert!(page.contains("Urgent care plan (London)"), "{page}");

    repo.edit(TEMPLATE, "required: true", "required: sometimes");
    assert_eq!(
        next_event(&mut stream, Instant::now() + Duration::from_secs(5)).as_deref(),
        Some("failed")
    );
    let status = http_get(&server.address, "/__careplans/status");
    assert!(status.contains("\"ok\":false"), "{status}");
    assert!(
        status.contains("records/templates/urgent-care-plan.yaml:14:19"),
        "{status}"
    );
    let page = http_get(&server.address, "/templates/urgent-care-plan/index.html");
    assert!(
        page.contains("Urgent care plan (London)"),
        "the last good page stays reachable"
    );

    repo.edit(TEMPLATE, "required: sometimes", "required: true");
    assert_eq!(
        next_event(&mut stream, Instant::now() + Duration::from_secs(5)).as_deref(),
        Some("reload")
    );
    let status = http_get(&server.address, "/__careplans/status");
    assert!(status.contains("\"ok\":true"), "{status}");
}

/// A raw HTTP/1.1 exchange: the response's status line and body.
fn raw_request(address: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn the_running_server_gives_no_page_to_another_host() {
    let repo = site_repo();
    let server = start(&repo);
    let answer = raw_request(
        &server.address,
        "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(!answer.contains("<html"), "{answer}");
    let answer = raw_request(
        &server.address,
        &format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.address
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let repo = site_repo();
    let server = start(&repo);
    let mut idle = TcpStream::connect(&server.address).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 64];
    // The server closes the connection: the read ends (0 bytes, or a reset).
    let _ = idle.read(&mut buffer);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(25),
        "closed after {waited:?}"
    );
}

#[test]
fn port_in_use_is_a_clear_error_exiting_2() {
    let repo = site_repo();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let run = repo.run(&["serve", "--port", &port]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("already in use"), "{}", run.stderr);
    assert!(run.stderr.contains("--port"), "{}", run.stderr);
}

#[test]
fn a_template_edit_re_renders_only_the_pages_that_depend_on_it() {
    use careplans::config::Paths;
    use careplans::pipeline::Outcome;
    use careplans::snapshot::Changes;
    let repo = site_repo();
    let state = state(&repo);
    let overview = state
        .preview
        .read()
        .unwrap()
        .site
        .get("index.html")
        .unwrap()
        .to_vec();
    let paths = Paths::default();
    repo.edit(
        TEMPLATE,
        "label: Preferred place of death",
        "label: Preferred place of death (first choice)",
    );
    let done = state.rebuild(&Changes::of_paths(&paths, [TEMPLATE]));
    let Outcome::Rendered {
        pages_rendered,
        pages_total,
        ..
    } = done.outcome
    else {
        panic!("the rebuild failed: {:?}", done.outcome);
    };
    assert!(
        pages_rendered < pages_total,
        "{pages_rendered} of {pages_total}"
    );
    assert_eq!(
        done.log_line(),
        format!(
            "{TEMPLATE} changed: rendered {pages_rendered} of {pages_total} pages in {} ms",
            done.stages.total().as_millis()
        )
    );
    let preview = state.preview.read().unwrap();
    let page = String::from_utf8_lossy(
        preview
            .site
            .get("templates/urgent-care-plan/index.html")
            .unwrap(),
    )
    .into_owned();
    assert!(page.contains("Preferred place of death (first choice)"));
    assert_eq!(
        preview.site.get("index.html").unwrap(),
        overview.as_slice(),
        "other pages are kept as they were"
    );
}

/// A server whose stderr (the rebuild log) is read line by line.
struct LoggedServer {
    server: Server,
    log: std::sync::mpsc::Receiver<String>,
}

fn start_logged(root: &std::path::Path) -> LoggedServer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_careplans"))
        .args(["serve", "--port", "0"])
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    LoggedServer {
        server: Server { child, address },
        log,
    }
}

impl LoggedServer {
    /// The next log line naming `path`, within a few seconds.
    fn line_about(&self, path: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) if line.starts_with(path) => return line,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        panic!("no log line about {path}");
    }
}

/// `records/templates/x.yaml changed: rendered 4 of 57 pages in 23 ms` -> (4, 57).
fn rendered_counts(line: &str, path: &str) -> (usize, usize) {
    let pattern = regex::Regex::new(&format!(
        r"^{} changed: rendered (\d+) of (\d+) pages in \d+ ms$",
        regex::escape(path)
    ))
    .unwrap();
    let found = pattern
        .captures(line)
        .unwrap_or_else(|| panic!("unexpected log line: {line}"));
    (found[1].parse().unwrap(), found[2].parse().unwrap())
}

#[test]
fn a_template_edit_in_the_running_server_logs_a_partial_rebuild_and_reloads_the_page() {
    let repo = site_repo();
    let server = start_logged(repo.root());
    let mut stream = events(&server.server.address);
    std::thread::sleep(Duration::from_millis(300));
    repo.edit(
        TEMPLATE,
        "label: Preferred place of death",
        "label: Preferred place of death (first choice)",
    );
    assert_eq!(
        next_event(&mut stream, Instant::now() + Duration::from_secs(5)).as_deref(),
        Some("reload")
    );
    let (rendered, total) = rendered_counts(&server.line_about(TEMPLATE), TEMPLATE);
    assert!(rendered > 0 && rendered < total, "{rendered} of {total}");
    let page = http_get(
        &server.server.address,
        "/templates/urgent-care-plan/index.html",
    );
    assert!(page.contains("Preferred place of death (first choice)"));

    // A title reaches the analysis tables and the pages that show it, not every page.
    repo.edit(
        TEMPLATE,
        "title: Urgent care plan",
        "title: Urgent care plan (London)",
    );
    assert_eq!(
        next_event(&mut stream, Instant::now() + Duration::from_secs(5)).as_deref(),
        Some("reload")
    );
    let (rendered, total) = rendered_counts(&server.line_about(TEMPLATE), TEMPLATE);
    assert!(rendered < total, "{rendered} of {total}");

    // A broken edit says so in one line.
    repo.edit(TEMPLATE, "required: true", "required: sometimes");
    assert_eq!(
        next_event(&mut stream, Instant::now() + Duration::from_secs(5)).as_deref(),
        Some("failed")
    );
    let line = server.line_about(TEMPLATE);
    assert!(
        line.contains("changed: 1 problem in") && line.ends_with("serving the last good site"),
        "{line}"
    );
}

#[test]
fn a_workspace_with_its_own_folder_names_is_watched_where_its_config_says() {
    let repo = site_repo();
    let root = repo.root();
    for (from, to) in [
        ("records", "data"),
        ("records-schema", "schemas"),
        ("reports", "dashboards"),
        ("site", "theme"),
    ] {
        std::fs::rename(root.join(from), root.join(to)).unwrap();
    }
    let config = repo.read("careplans.toml");
    let config = config
        .replace("records = \"records\"", "records = \"data\"")
        .replace("schemas = \"records-schema\"", "schemas = \"schemas\"")
        .replace("reports = \"reports\"", "reports = \"dashboards\"")
        .replace("site = \"site\"", "site = \"theme\"");
    repo.write("careplans.toml", config);
    let server = start_logged(root);
    let mut stream = events(&server.server.address);
    std::thread::sleep(Duration::from_millis(300));
    let template = "data/templates/urgent-care-plan.yaml";
    repo.edit(
        template,
        "label: Preferred place of death",
        "label: Where I would like to die",
    );
    assert_eq!(
        next_event(&mut stream, Instant::now() + Duration::from_secs(5)).as_deref(),
        Some("reload")
    );
    let (rendered, total) = rendered_counts(&server.line_about(template), template);
    assert!(rendered < total);
    let page = http_get(
        &server.server.address,
        "/templates/urgent-care-plan/index.html",
    );
    assert!(page.contains("Where I would like to die"), "{page}");
    // A theme edit under the configured site folder is seen too.
    repo.edit(
        "theme/templates/template.html",
        "<h1 class=\"nhsuk-heading-xl\">{{ t.title }}</h1>",
        "<h1 class=\"nhsuk-heading-xl\">{{ t.title }} (preview)</h1>",
    );
    assert_eq!(
        next_event(&mut stream, Instant::now() + Duration::from_secs(5)).as_deref(),
        Some("reload")
    );
    server.line_about("theme/templates/template.html");
    let page = http_get(
        &server.server.address,
        "/templates/urgent-care-plan/index.html",
    );
    assert!(page.contains("(preview)</h1>"), "{page}");
}
