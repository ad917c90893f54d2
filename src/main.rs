use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = careplans::cli::Cli::parse();
    match careplans::cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(careplans::cmd::EXIT_USAGE)
        }
    }
}
