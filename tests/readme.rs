//! Every `careplans` command the README shows parses with the real command-line parser, and
//! the cheap ones (check, build, review of two local commits) run as written in a fixture
//! repository: a README example that stopped working fails here.

mod common;

use careplans::cli::Cli;
use clap::Parser;
use common::Repo;
use common::git::Git;

/// Splits a shell line into words: single and double quotes group, `#` starts a comment, and
/// a redirection (`>`, `>>`, `|`) ends the command.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, '>' | '|' | ';') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// The argument lists (after the program name) of every `careplans ...` and
/// `cargo run --release -- ...` line in the README's shell blocks.
fn readme_commands() -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(common::project_root().join("README.md")).unwrap();
    let mut in_shell = false;
    let mut out = Vec::new();
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_shell = !in_shell && (trimmed == "```sh" || trimmed == "```bash");
            continue;
        }
        if !in_shell {
            continue;
        }
        let words = words(trimmed);
        let args: Vec<String> = match words.first().map(String::as_str) {
            Some("careplans") => words[1..].to_vec(),
            Some("cargo") if words.get(1).map(String::as_str) == Some("run") => {
                match words.iter().position(|w| w == "--") {
                    Some(at) => words[at + 1..].to_vec(),
                    None => Vec::new(),
                }
            }
            _ => continue,
        };
        out.push((trimmed.to_owned(), args));
    }
    out
}

#[test]
fn the_shell_word_splitter_handles_quotes_comments_and_redirections() {
    assert_eq!(
        words(r#"careplans review origin/main HEAD --format markdown >> "$GITHUB_STEP_SUMMARY""#),
        [
            "careplans",
            "review",
            "origin/main",
            "HEAD",
            "--format",
            "markdown"
        ]
    );
    assert_eq!(
        words("careplans check   # human output"),
        ["careplans", "check"]
    );
    assert_eq!(words("echo 'a b' c"), ["echo", "a b", "c"]);
}

#[test]
fn every_careplans_command_in_the_readme_parses() {
    let commands = readme_commands();
    assert!(
        commands.len() >= 15,
        "the README shows more commands than {}",
        commands.len()
    );
    for (line, args) in &commands {
        let argv = std::iter::once("careplans".to_owned()).chain(args.iter().cloned());
        if let Err(error) = Cli::try_parse_from(argv) {
            panic!("README line `{line}` no longer parses:\n{error}");
        }
    }
}

#[test]
fn the_readme_says_how_to_put_careplans_on_the_path_before_using_it() {
    let readme = std::fs::read_to_string(common::project_root().join("README.md")).unwrap();
    let install = readme
        .find("cargo install --path .")
        .expect("the README says how to install careplans");
    let (first_line, _) = readme_commands()
        .into_iter()
        .find(|(line, _)| line.starts_with("careplans "))
        .expect("the README uses careplans");
    let first_use = readme.find(&first_line).unwrap();
    assert!(
        install < first_use,
        "`cargo install --path .` comes after the first `careplans` command"
    );
}

/// A fixture repository with two commits on `main` (the second a template change) and the
/// project's reports and theme, so `build` has pages to make.
fn fixture() -> (Repo, Git) {
    let repo = Repo::valid();
    common::copy_dir(
        &common::project_root().join("reports"),
        &repo.path("reports"),
    );
    common::copy_dir(&common::project_root().join("site"), &repo.path("site"));
    let mut git = Git::init(repo.root());
    git.commit("Ana Analyst <ana@example.nhs.uk>", "Records");
    repo.edit(
        "records/templates/urgent-care-plan.yaml",
        "version: \"1.2.0\"",
        "version: \"1.2.1\"",
    );
    repo.edit(
        "records/templates/urgent-care-plan.yaml",
        "label: Preferred place of death",
        "label: Preferred place of death (first choice)",
    );
    git.commit(
        "Ana Analyst <ana@example.nhs.uk>",
        "Reword the preferred place",
    );
    (repo, git)
}

#[test]
fn the_cheap_readme_commands_run_as_written_in_a_fixture_repository() {
    let (repo, _git) = fixture();
    let scratch = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for (line, args) in readme_commands() {
        let Some(command) = args.first().map(String::as_str) else {
            continue;
        };
        if !matches!(command, "check" | "build" | "review") {
            continue;
        }
        // Paths the README writes to go into a scratch folder; remote branch names are the
        // fixture's local ones.
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if let Some(rest) = a.strip_prefix("/tmp/") {
                    scratch.path().join(rest).to_string_lossy().into_owned()
                } else {
                    a.replace("origin/", "")
                }
            })
            .collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = repo.run(&argv);
        assert_eq!(
            run.code, 0,
            "README line `{line}` failed with exit {}:\n{}\n{}",
            run.code, run.stdout, run.stderr
        );
        ran += 1;
    }
    assert!(ran >= 8, "only {ran} README commands ran");
}
