//! Problems found in a user's records, as data, and the formats they are printed in.
//!
//! Every stage returns `Diagnostic` values rather than failing early, so one run reports every
//! problem. Renderers here only format; they never decide what is a problem.

use std::fmt::Write as _;

use serde::Serialize;

use crate::yaml::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem at one place in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable rule code such as `disclosure/small-count`, documented in the README.
    pub code: String,
    /// Repository-relative path with `/` separators.
    pub path: String,
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(
        code: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code: code.into(),
            path: path.into(),
            span: None,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(
        code: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, path, message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn line(&self) -> usize {
        self.span.map_or(0, |s| s.start.line)
    }

    pub fn column(&self) -> usize {
        self.span.map_or(0, |s| s.start.column)
    }

    /// `path:line:column`, or just the path when the problem has no position.
    pub fn location(&self) -> String {
        match self.span {
            Some(span) => format!("{}:{}:{}", self.path, span.start.line, span.start.column),
            None => self.path.clone(),
        }
    }
}

/// Sorts diagnostics by file, then position, then code, so output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (
            a.path.as_str(),
            a.line(),
            a.column(),
            a.code.as_str(),
            a.message.as_str(),
        )
            .cmp(&(
                b.path.as_str(),
                b.line(),
                b.column(),
                b.code.as_str(),
                b.message.as_str(),
            ))
    });
}

/// Counts of errors and warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub errors: usize,
    pub warnings: usize,
}

impl Tally {
    pub fn of(diagnostics: &[Diagnostic]) -> Tally {
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        Tally {
            errors,
            warnings: diagnostics.len() - errors,
        }
    }
}

/// Output format of diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable text with the source line and a caret
    Human,
    /// One JSON document with every diagnostic and the summary
    Json,
    /// GitHub Actions workflow commands, shown as annotations on the pull request
    Github,
}

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// The longest source excerpt shown; longer lines are cut around the column.
const EXCERPT_WIDTH: usize = 100;

/// Renders diagnostics like a compiler: headline, location, the source line with a caret, help.
/// `source_of` returns a file's text when it is available for an excerpt.
pub fn render_human<'a>(
    diagnostics: &[Diagnostic],
    source_of: impl Fn(&str) -> Option<&'a str>,
    style: Style,
) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let (color, label) = match diagnostic.severity {
            Severity::Error => ("1;31", "error"),
            Severity::Warning => ("1;33", "warning"),
        };
        let _ = writeln!(
            out,
            "{}{} {}",
            style.paint(color, &format!("{label}[{}]", diagnostic.code)),
            style.paint("1", ":"),
            style.paint("1", &diagnostic.message)
        );
        let _ = writeln!(
            out,
            "  {} {}",
            style.paint("1;34", "-->"),
            diagnostic.location()
        );
        if let (Some(span), Some(text)) = (diagnostic.span, source_of(&diagnostic.path))
            && let Some(line) = text.lines().nth(span.start.line.saturating_sub(1))
        {
            let (shown, caret_at) = excerpt(line, span.start.column);
            let number = span.start.line.to_string();
            let gutter = " ".repeat(number.len());
            let bar = style.paint("1;34", "|");
            let _ = writeln!(out, "  {gutter} {bar}");
            let _ = writeln!(out, "  {} {bar} {shown}", style.paint("1;34", &number));
            let _ = writeln!(
                out,
                "  {gutter} {bar} {}{}",
                " ".repeat(caret_at),
                style.paint(color, "^")
            );
        }
        if let Some(help) = &diagnostic.help {
            let _ = writeln!(out, "  {} {help}", style.paint("1;36", "= help:"));
        }
        out.push('\n');
    }
    out
}

/// Cuts a long line to a window around the 1-based column; returns the text and the caret offset.
fn excerpt(line: &str, column: usize) -> (String, usize) {
    let line = line.trim_end_matches('\r');
    let chars: Vec<char> = line.chars().collect();
    let index = column.saturating_sub(1).min(chars.len());
    if chars.len() <= EXCERPT_WIDTH {
        return (sanitize(&chars), index);
    }
    let start = index.saturating_sub(EXCERPT_WIDTH / 2);
    let end = (start + EXCERPT_WIDTH).min(chars.len());
    let mut shown = String::new();
    let mut caret = index - start;
    if start > 0 {
        shown.push_str("...");
        caret += 3;
    }
    shown.push_str(&sanitize(&chars[start..end]));
    if end < chars.len() {
        shown.push_str("...");
    }
    (shown, caret)
}

/// Replaces control characters so an excerpt cannot move the terminal's cursor.
fn sanitize(chars: &[char]) -> String {
    chars
        .iter()
        .map(|&c| {
            if c == '\t' {
                ' '
            } else if c.is_control() {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// GitHub Actions workflow commands (`::error file=...,line=...::message`).
pub fn render_github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let mut properties = format!("file={}", escape_property(&diagnostic.path));
        if let Some(span) = diagnostic.span {
            let _ = write!(
                properties,
                ",line={},col={}",
                span.start.line, span.start.column
            );
            if span.end.line > span.start.line {
                let _ = write!(properties, ",endLine={}", span.end.line);
            }
        }
        let _ = write!(properties, ",title={}", escape_property(&diagnostic.code));
        let mut message = diagnostic.message.clone();
        if let Some(help) = &diagnostic.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let _ = writeln!(
            out,
            "::{} {properties}::{}",
            diagnostic.severity.label(),
            escape_data(&message)
        );
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostic {
        Diagnostic::error(
            "disclosure/small-count",
            "records/metrics/2021-04.csv",
            "count 3 must be suppressed",
        )
        .at(Span::point(2, 9))
        .help("publish it as `*`")
    }

    #[test]
    fn human_output_shows_location_source_line_and_caret() {
        let text = "month,area\n2021-04,3,x\n";
        let out = render_human(&[sample()], |_| Some(text), Style { color: false });
        assert!(out.contains("error[disclosure/small-count]: count 3 must be suppressed"));
        assert!(out.contains("--> records/metrics/2021-04.csv:2:9"));
        assert!(out.contains("2 | 2021-04,3,x"));
        assert!(out.contains("  |         ^"), "{out}");
        assert!(out.contains("= help: publish it as `*`"));
    }

    #[test]
    fn human_output_cuts_very_long_lines() {
        let long = format!("key: {}", "x".repeat(10_000_000));
        let diagnostic = Diagnostic::error("schema", "a.yaml", "too long").at(Span::point(1, 6));
        let out = render_human(&[diagnostic], |_| Some(&long), Style { color: false });
        assert!(out.len() < 1000);
    }

    #[test]
    fn github_output_escapes_properties_and_newlines() {
        let out = render_github(&[sample()]);
        assert_eq!(
            out,
            "::error file=records/metrics/2021-04.csv,line=2,col=9,title=disclosure/small-count::count 3 must be suppressed%0Ahelp: publish it as `*`\n"
        );
    }

    #[test]
    fn tally_counts_errors_and_warnings() {
        let warning = Diagnostic::warning("w", "a", "m");
        assert_eq!(
            Tally::of(&[sample(), warning]),
            Tally {
                errors: 1,
                warnings: 1
            }
        );
    }
}
