//! `careplans serve`: build in memory, serve, watch, rebuild, push reloads.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::cli::ServeArgs;
use crate::serve::watch::{ChangeKind, group};
use crate::serve::{AppState, app};

use super::{EXIT_OK, EXIT_USAGE};

/// Events closer together than this are one save (editors write a temporary file, rename it,
/// touch metadata): one rebuild per batch.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// Watches the records, schemas, reports and theme (not `public/`, `target/` or `.git/`) and
/// rebuilds once per debounced batch of changes. Reads (our own rebuild opening files) are not
/// changes.
fn watch(state: Arc<AppState>) -> Result<()> {
    let root = state.root.clone();
    let (sender, receiver) = std::sync::mpsc::channel::<Vec<PathBuf>>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, EventKind::Access(_) | EventKind::Other)
        {
            let _ = sender.send(event.paths);
        }
    })
    .context("cannot watch files")?;
    watcher.watch(&root, RecursiveMode::NonRecursive)?;
    for folder in ["records", "records-schema", "reports", "site"] {
        let path = root.join(folder);
        if path.is_dir() {
            watcher.watch(&path, RecursiveMode::Recursive)?;
        }
    }
    std::thread::spawn(move || {
        let _keep_alive = watcher;
        while let Ok(first) = receiver.recv() {
            let mut paths = first;
            while let Ok(more) = receiver.recv_timeout(DEBOUNCE) {
                paths.extend(more);
            }
            let kinds = group(&root, &paths);
            if kinds.is_empty() {
                continue;
            }
            let what = kinds
                .iter()
                .map(|k: &ChangeKind| k.name())
                .collect::<Vec<_>>()
                .join(", ");
            let (ok, took, count) = state.rebuild();
            if ok {
                eprintln!(
                    "{what} changed: rebuilt {count} pages in {} ms",
                    took.as_millis()
                );
            } else {
                eprintln!(
                    "{what} changed: rebuild failed with {count} problem(s) in {} ms; serving the last good site",
                    took.as_millis()
                );
            }
        }
    });
    Ok(())
}

pub fn run(root: &Path, args: &ServeArgs) -> Result<u8> {
    let state = AppState::new(root.to_path_buf());
    let (ok, took, count) = state.rebuild();
    if ok {
        eprintln!("built {count} pages in {} ms", took.as_millis());
    } else {
        eprintln!(
            "the records have {count} problem(s); the browser shows them until they are fixed"
        );
    }
    let address: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .map_err(|_| anyhow!("`{}` is not an IP address to listen on", args.host))?;
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
                return Ok(EXIT_USAGE);
            }
            Err(error) => return Err(error).context(format!("cannot listen on {address}")),
        };
        let local = listener.local_addr()?;
        let url = format!("http://{local}/");
        println!("serving {url} (reviews at {url}review); press Ctrl-C to stop");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        watch(state.clone())?;
        if args.open {
            let _ = std::process::Command::new("xdg-open").arg(&url).spawn();
        }
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
                eprintln!("stopping");
            })
            .await?;
        Ok(EXIT_OK)
    })
}
