//! How long a preview takes to show an edit: `careplans serve` on copies of the bundled records
//! (1x, and 10x: more templates and months), 20 saves of each kind of edit. For each save, the
//! rebuild itself (its log line: from the end of the debounce to the reload event being sent)
//! and save to reload end to end (from the file's rename, as editors save, to the event
//! reaching a client). Prints medians and 95th percentiles.
//!
//!     cargo bench --bench serve_latency            # 1x and 10x
//!     cargo bench --bench serve_latency -- 1x      # one size

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

mod common;
use common::scaled_repo;

const SAVES: usize = 20;

struct Server {
    child: Child,
    address: String,
    log: Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(root: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_careplans"))
        .args(["serve", "--port", "0"])
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("careplans serve starts");
    let stderr = child.stderr.take().unwrap();
    let (sender, log) = channel();
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
        .and_then(|rest| rest.split('/').next())
        .expect("the server prints its address")
        .to_owned();
    Server {
        child,
        address,
        log,
    }
}

/// Opens the event stream, past its response headers.
fn events(address: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
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

/// Waits for the next named event (keep-alive comments are skipped).
fn next_event(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("an event arrives");
        if let Some(name) = line.trim().strip_prefix("event:") {
            return name.trim().to_owned();
        }
    }
}

/// Saves `text` into `path` the way editors do: a temporary file renamed over the old one.
/// Returns the moment of the rename.
fn save(path: &Path, text: &str) -> Instant {
    let name = path.file_name().unwrap().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.tmp-save"));
    std::fs::write(&temporary, text).unwrap();
    let at = Instant::now();
    std::fs::rename(&temporary, path).unwrap();
    at
}

/// The `in N ms` of a rebuild's log line about `path`.
fn rebuild_millis(server: &Server, path: &str) -> f64 {
    loop {
        let line = server
            .log
            .recv_timeout(Duration::from_secs(30))
            .expect("a log line");
        if line.starts_with(path) {
            assert!(!line.contains("problem"), "the edit failed: {line}");
            let millis = line
                .rsplit(" in ")
                .next()
                .and_then(|rest| rest.strip_suffix(" ms"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected log line: {line}"));
            return millis;
        }
    }
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank]
}

/// One kind of edit: the file, and two versions of it to alternate between.
struct Edit {
    name: &'static str,
    path: String,
    texts: [String; 2],
}

fn edits(root: &Path) -> Vec<Edit> {
    let template = "records/templates/frailty.yaml";
    let text = std::fs::read_to_string(root.join(template)).unwrap();
    let mut metrics: Vec<PathBuf> = std::fs::read_dir(root.join("records/metrics"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    metrics.sort();
    let latest = metrics.last().unwrap();
    let month_text = std::fs::read_to_string(latest).unwrap();
    // London, all templates, a large count: one unit of rounding up stays publishable.
    let line = month_text
        .lines()
        .find(|l| l.split(',').nth(2) == Some("all") && l.split(',').nth(1) == Some("E12000007"))
        .expect("London's row")
        .to_owned();
    let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
    let views: u64 = cells[5].parse().expect("a published count");
    cells[5] = (views + 5).to_string();
    let edited = month_text.replacen(&line, &cells.join(","), 1);
    let relative = |p: &Path| p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
    vec![
        Edit {
            name: "template title",
            path: template.into(),
            texts: [
                text.replacen(
                    "title: Frailty urgent care plan",
                    "title: Frailty care plan",
                    1,
                ),
                text.clone(),
            ],
        },
        Edit {
            name: "template field",
            path: template.into(),
            texts: [
                text.replacen(
                    "label: Falls in the last 12 months",
                    "label: Falls in the past 12 months",
                    1,
                ),
                text.clone(),
            ],
        },
        Edit {
            name: "metrics month",
            path: relative(latest),
            texts: [edited, month_text.clone()],
        },
    ]
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!(
        "| size | edit | rebuild median | rebuild p95 | save to reload median | save to reload p95 |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (size, templates, months) in [("1x", 7, 60), ("10x", 31, 120)] {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == size) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = scaled_repo(dir.path(), templates, months);
        let server = start(&root);
        let mut stream = events(&server.address);
        std::thread::sleep(Duration::from_millis(500));
        for edit in edits(&root) {
            let mut rebuilds = Vec::new();
            let mut round_trips = Vec::new();
            for save_index in 0..SAVES {
                let saved = save(&root.join(&edit.path), &edit.texts[save_index % 2]);
                let event = next_event(&mut stream);
                let arrived = saved.elapsed();
                assert_eq!(event, "reload", "{}: the rebuild failed", edit.name);
                rebuilds.push(rebuild_millis(&server, &edit.path));
                round_trips.push(arrived.as_secs_f64() * 1000.0);
                // Let the watcher settle so saves stay separate batches.
                std::thread::sleep(Duration::from_millis(150));
            }
            println!(
                "| {size} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
                edit.name,
                percentile(&mut rebuilds, 0.5),
                percentile(&mut rebuilds, 0.95),
                percentile(&mut round_trips, 0.5),
                percentile(&mut round_trips, 0.95)
            );
        }
    }
}
