//! Debug lines on stderr, for `--verbose` or `CAREPLANS_LOG=debug`: each stage's time, what a
//! rebuild reused. Off by default, so normal output stays one summary line.

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turns debug lines on (from `--verbose`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether debug lines are printed: `--verbose`, or `CAREPLANS_LOG=debug` in the environment.
pub fn enabled() -> bool {
    VERBOSE.load(Ordering::Relaxed)
        || std::env::var("CAREPLANS_LOG").is_ok_and(|v| v.eq_ignore_ascii_case("debug"))
}

/// Prints a debug line when enabled; the message is only made then.
pub fn debug(message: impl FnOnce() -> String) {
    if enabled() {
        eprintln!("debug: {}", message());
    }
}
