//! Small HTML checks for generated pages: links, headings, and the accessibility rules the
//! site promises. The pages are our own, well-formed output, so regular expressions suffice.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

pub fn pages(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every `href` and `src` of a page.
pub fn links(html: &str) -> Vec<String> {
    let attribute = Regex::new(r#"(?:href|src)="([^"]*)""#).unwrap();
    attribute
        .captures_iter(html)
        .map(|c| decode(&c[1]))
        .collect()
}

/// Decodes the entities the template engine writes in attributes.
pub fn decode(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

pub fn ids(html: &str) -> BTreeSet<String> {
    let id = Regex::new(r#"\sid="([^"]*)""#).unwrap();
    id.captures_iter(html).map(|c| c[1].to_string()).collect()
}

/// Problems with one page's internal links: targets that do not exist, fragments with no
/// element, absolute or remote URLs (the site must work from file:// with no network).
pub fn link_problems(root: &Path, page: &Path) -> Vec<String> {
    let html = std::fs::read_to_string(page).unwrap();
    let mut problems = Vec::new();
    for link in links(&html) {
        if link.starts_with("http://") || link.starts_with("https://") || link.starts_with("//") {
            problems.push(format!("remote URL {link}"));
            continue;
        }
        if link.starts_with('/') {
            problems.push(format!("absolute path {link} fails from file://"));
            continue;
        }
        let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
        let target = if path.is_empty() {
            page.to_path_buf()
        } else {
            page.parent().unwrap().join(path)
        };
        if !target.is_file() {
            problems.push(format!(
                "{link} does not resolve (directories need index.html for file://)"
            ));
            continue;
        }
        if !fragment.is_empty() && target.extension().is_some_and(|e| e == "html") {
            let target_html = std::fs::read_to_string(&target).unwrap();
            if !ids(&target_html).contains(fragment) {
                problems.push(format!("{link}: no element with id {fragment}"));
            }
        }
        let _ = root;
    }
    problems
}

/// The accessibility rules every page must meet.
pub fn accessibility_problems(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !Regex::new(r#"<html lang="[a-z]{2}(-[A-Z]{2})?""#)
        .unwrap()
        .is_match(html)
    {
        problems.push("no lang on <html>".into());
    }
    let headings = Regex::new(r"<h([1-6])[\s>]").unwrap();
    let levels: Vec<u32> = headings
        .captures_iter(html)
        .map(|c| c[1].parse().unwrap())
        .collect();
    if levels.iter().filter(|l| **l == 1).count() != 1 {
        problems.push(format!(
            "expected exactly one h1, found {}",
            levels.iter().filter(|l| **l == 1).count()
        ));
    }
    if levels.first() != Some(&1) {
        // The footer's visually hidden h2 comes after main, so the first heading must be the h1.
        problems.push("the first heading is not the h1".into());
    }
    for pair in levels.windows(2) {
        if pair[1] > pair[0] + 1 {
            problems.push(format!(
                "heading level jumps from h{} to h{}",
                pair[0], pair[1]
            ));
        }
    }
    let svg = Regex::new(r"(?s)<svg\b.*?</svg>").unwrap();
    for found in svg.find_iter(html) {
        let text = found.as_str();
        let opening = &text[..text.find('>').unwrap_or(text.len())];
        if opening.contains(r#"aria-hidden="true""#) {
            // Decorative (an SPC icon beside its words): the words must follow it.
            let after = &html[found.end()..];
            let words = after
                .trim_start()
                .trim_start_matches("</span>")
                .trim_start();
            if words.starts_with('<') && !words.starts_with("<span>") {
                problems.push("a hidden icon without words beside it".into());
            }
            continue;
        }
        if !text.contains("<title") || !text.contains("<desc") {
            problems.push("an svg without title and desc".into());
        }
        if !text.contains(r#"role="img""#) {
            problems.push("an svg without role=img".into());
        }
    }
    let table = Regex::new(r"(?s)<table\b.*?</table>").unwrap();
    for found in table.find_iter(html) {
        let text = found.as_str();
        if !text.contains("<caption") {
            problems.push("a table without a caption".into());
        }
        if !text.contains("<th") {
            problems.push("a table without header cells".into());
        }
    }
    let control = Regex::new(r#"<(input|select|textarea)\b[^>]*\bid="([^"]*)""#).unwrap();
    for found in control.captures_iter(html) {
        if !html.contains(&format!(r#"for="{}""#, &found[2])) {
            problems.push(format!("{} #{} has no label", &found[1], &found[2]));
        }
    }
    if Regex::new(r"<(input|select|textarea)\b")
        .unwrap()
        .find_iter(html)
        .count()
        > control.find_iter(html).count()
    {
        problems.push("a form control without an id cannot be labelled".into());
    }
    let image = Regex::new(r"<img\b[^>]*>").unwrap();
    for found in image.find_iter(html) {
        if !found.as_str().contains("alt=") {
            problems.push("an img without alt".into());
        }
    }
    problems
}
