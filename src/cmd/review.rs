//! `careplans review BASE [HEAD]`: the semantic diff of templates between two revisions (HEAD
//! defaults to the work tree, uncommitted edits included) and the review rules.

use std::path::Path;

use anyhow::Result;

use crate::cli::{ReviewArgs, ReviewFormat};
use crate::review::report;
use crate::review::revisions::review;

use super::{EXIT_OK, EXIT_PROBLEMS};

pub fn run(root: &Path, args: &ReviewArgs) -> Result<u8> {
    let review = review(root, &args.base, args.head.as_deref())?;
    let text = match args.format {
        ReviewFormat::Markdown => report::render_markdown(&review),
        ReviewFormat::Json => report::render_json(&review),
        ReviewFormat::Github => report::render_github(&review),
    };
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(if review.passed() {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    })
}
