//! One thin function per subcommand: arguments in, stage calls, exit status out.

pub mod build;
pub mod check;
pub mod import;
pub mod review;
pub mod serve;
pub mod synth;

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::config;

/// Exit status when the command ran and found nothing wrong.
pub const EXIT_OK: u8 = 0;
/// Exit status when problems were found in the records.
pub const EXIT_PROBLEMS: u8 = 1;
/// Exit status for a usage error or an unreadable repository.
pub const EXIT_USAGE: u8 = 2;

pub fn run(cli: Cli) -> Result<u8> {
    crate::pipeline::log::set_verbose(cli.global.verbose);
    match cli.command {
        Command::Build(args) => build::run(&workspace(cli.global.repo)?, &args),
        Command::Import(args) => import::run(&workspace(cli.global.repo)?, &args),
        Command::Serve(args) => serve::run(&workspace(cli.global.repo)?, &args),
        Command::Review(args) => review::run(&workspace(cli.global.repo)?, &args),
        Command::Check(args) => check::run(&workspace(cli.global.repo)?, &args),
        Command::Synth(args) => synth::run(&workspace(cli.global.repo)?, &args),
    }
}

fn workspace(explicit: Option<PathBuf>) -> Result<PathBuf> {
    let here = std::env::current_dir()?;
    config::find_workspace(explicit.as_deref(), &here)
}

/// Whether to colour output on this stream: a terminal, and `NO_COLOR` unset or empty.
pub fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
