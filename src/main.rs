use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system's allocator: polars allocates and frees a buffer for every
/// column of every morsel it reads, and glibc's malloc gives the large ones back to the kernel
/// and asks again (at 100M events, import spent 2-9 s of system time in page faults).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
