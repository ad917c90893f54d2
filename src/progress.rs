//! Progress on a terminal for the long commands (`synth`, `import`): a bar with counts, rate
//! and time left where the amount of work is known, a spinner where it is not (polars reports
//! nothing from inside a query, so a query is one step). Hidden when stderr is not a terminal
//! or under CI, so logs and tests see only the summary lines.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn: on a terminal, and not under CI.
pub fn shown() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// One phase of a command: a bar (known length) or a spinner, and how long it took.
pub struct Phase {
    bar: ProgressBar,
    name: &'static str,
    started: Instant,
}

impl Phase {
    /// A phase of `total` steps of `unit` (rows, plans, months, bytes), or a spinner.
    pub fn new(name: &'static str, total: Option<u64>, unit: &str) -> Phase {
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(&format!(
                    "{{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{rate}} {unit}/s, {{eta}} left)"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                // A whole number with thousands separators: "12,345 plans/s".
                .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(
                        w,
                        "{}",
                        crate::render::format::format_number(state.per_sec(), 0)
                    );
                })
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_draw_target(if shown() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        bar.set_message(name);
        if total.is_none() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Phase {
            bar,
            name,
            started: Instant::now(),
        }
    }

    pub fn inc(&self, steps: u64) {
        self.bar.inc(steps);
    }

    pub fn set(&self, position: u64) {
        self.bar.set_position(position);
    }

    /// Ends the phase, clearing its line; returns its name and time.
    pub fn finish(self) -> (&'static str, Duration) {
        self.bar.finish_and_clear();
        (self.name, self.started.elapsed())
    }
}

/// The phases a command went through, for its summary line.
#[derive(Default)]
pub struct Phases {
    current: Option<Phase>,
    took: Vec<(&'static str, Duration)>,
}

impl Phases {
    pub fn new() -> Phases {
        Phases::default()
    }

    /// Starts a phase (ending the one before).
    pub fn start(&mut self, name: &'static str, total: Option<u64>, unit: &str) -> &Phase {
        self.done();
        self.current.insert(Phase::new(name, total, unit))
    }

    /// The running phase, to report progress on.
    pub fn current(&self) -> Option<&Phase> {
        self.current.as_ref()
    }

    pub fn done(&mut self) {
        if let Some(phase) = self.current.take() {
            self.took.push(phase.finish());
        }
    }

    /// "checking the extract 1.20s, aggregating 3.41s, ..."
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .took
            .iter()
            .map(|(name, took)| format!("{name} {took:.2?}"))
            .collect();
        parts.join(", ")
    }
}
