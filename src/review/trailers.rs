//! Git trailers (`Key: value` lines at the end of a commit message), parsed the way
//! `git interpret-trailers --parse` does with git's default configuration: the last paragraph,
//! never the subject, counts as trailers when every line is one, or when at least a quarter are
//! and one carries a git-generated prefix such as `Signed-off-by: `. Continuation lines (leading
//! whitespace) fold into the value with a single space.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trailer {
    pub key: String,
    pub value: String,
}

/// Prefixes git itself writes, which let a partly prose paragraph count as a trailer block.
const GIT_GENERATED: [&str; 2] = ["Signed-off-by: ", "(cherry picked from commit "];

/// The key of a trailer line: alphanumerics and hyphens, optionally spaces, then `:`.
fn split_trailer(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let key = line[..colon].trim_end();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    Some((key, line[colon + 1..].trim()))
}

/// Every trailer of a commit message, in order.
pub fn parse_trailers(message: &str) -> Vec<Trailer> {
    let text = message.replace("\r\n", "\n");
    let mut lines: Vec<&str> = text.lines().collect();
    // Trailing blank and comment lines are not part of the message proper.
    while lines
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.starts_with('#'))
    {
        lines.pop();
    }
    // The subject paragraph (up to the first blank line) never holds trailers.
    let Some(subject_end) = lines.iter().position(|l| l.trim().is_empty()) else {
        return Vec::new();
    };
    let start = lines
        .iter()
        .rposition(|l| l.trim().is_empty())
        .map_or(lines.len(), |i| i + 1)
        .max(subject_end + 1);
    let block = &lines[start..];
    let (mut trailers, mut prose, mut generated) = (0, 0, false);
    for line in block {
        if line.starts_with([' ', '\t']) {
            continue; // a continuation belongs to the line before
        }
        if GIT_GENERATED.iter().any(|p| line.starts_with(p)) {
            generated = true;
            trailers += 1;
        } else if split_trailer(line).is_some() {
            trailers += 1;
        } else {
            prose += 1;
        }
    }
    let is_block = trailers > 0 && (prose == 0 || (generated && trailers * 3 >= prose));
    if !is_block {
        return Vec::new();
    }
    let mut out: Vec<Trailer> = Vec::new();
    let mut last_was_trailer = false;
    for line in block {
        if line.starts_with([' ', '\t']) {
            if last_was_trailer && let Some(last) = out.last_mut() {
                let more = line.trim();
                if !more.is_empty() {
                    if !last.value.is_empty() {
                        last.value.push(' ');
                    }
                    last.value.push_str(more);
                }
            }
            continue;
        }
        match split_trailer(line) {
            Some((key, value)) => {
                out.push(Trailer {
                    key: key.to_owned(),
                    value: value.to_owned(),
                });
                last_was_trailer = true;
            }
            None => last_was_trailer = false,
        }
    }
    out
}

/// The values of every trailer whose key matches `key` (case-insensitive, as git compares).
pub fn values<'a>(trailers: &'a [Trailer], key: &str) -> impl Iterator<Item = &'a str> {
    trailers
        .iter()
        .filter(move |t| t.key.eq_ignore_ascii_case(key))
        .map(|t| t.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages and what `git interpret-trailers --parse` printed for them (git 2.47).
    const CASES: &[(&str, &str)] = &[
        (
            "Subject\n\nBody line\n\nReviewed-by: A <a@x>\nClinical-safety-approved-by: B\n",
            "Reviewed-by: A <a@x>\nClinical-safety-approved-by: B\n",
        ),
        (
            "Subject\n\nReviewed-by: A\n  continued here\nSigned-off-by: C\n",
            "Reviewed-by: A continued here\nSigned-off-by: C\n",
        ),
        (
            "Subject\n\nSigned-off-by: looks like trailer in body\nmore body text\n\nJust a paragraph\n",
            "",
        ),
        (
            "Subject\r\n\r\nBody\r\n\r\nReviewed-by: A\r\nClinical-safety-approved-by: B\r\n",
            "Reviewed-by: A\nClinical-safety-approved-by: B\n",
        ),
        ("Reviewed-by: only subject\n", ""),
        (
            "Subject\n\nBody\n\nSigned-off-by: X\nnot a trailer line\nanother one\n",
            "Signed-off-by: X\n",
        ),
        ("Subject\n\nBody\n\nFoo: bar\nnot a trailer\n", ""),
        (
            "Subject\n\nKey : spaced\nKey2:nospace\n",
            "Key: spaced\nKey2: nospace\n",
        ),
        (
            "Subject\n\nBody\n\nReviewed-by: A\n\n# a comment\n",
            "Reviewed-by: A\n",
        ),
    ];

    fn render(trailers: &[Trailer]) -> String {
        trailers
            .iter()
            .map(|t| format!("{}: {}\n", t.key, t.value))
            .collect()
    }

    #[test]
    fn agrees_with_recorded_git_output() {
        for (message, expected) in CASES {
            assert_eq!(render(&parse_trailers(message)), *expected, "{message:?}");
        }
    }

    #[test]
    fn agrees_with_git_on_this_machine() {
        // Skipped quietly where git is not installed.
        let Ok(version) = std::process::Command::new("git").arg("--version").output() else {
            return;
        };
        if !version.status.success() {
            return;
        }
        for (message, _) in CASES {
            let mut child = std::process::Command::new("git")
                .args(["interpret-trailers", "--parse"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(message.as_bytes())
                .unwrap();
            let output = child.wait_with_output().unwrap();
            assert_eq!(
                render(&parse_trailers(message)),
                String::from_utf8_lossy(&output.stdout),
                "{message:?}"
            );
        }
    }

    #[test]
    fn keys_match_case_insensitively() {
        let trailers = parse_trailers("S\n\nclinical-safety-approved-by: Dr B\n");
        assert_eq!(
            values(&trailers, "Clinical-safety-approved-by").collect::<Vec<_>>(),
            vec!["Dr B"]
        );
    }
}
