//! The command line: every subcommand and argument, documented.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::diagnostic::Format;

#[derive(Debug, Parser)]
#[command(
    name = "careplans",
    version,
    about = "Care-plan templates and uptake figures handled like code: checked, reviewed, published",
    long_about = "careplans keeps urgent care plan templates, monthly uptake figures, adoption programmes and \
dashboard definitions in one git repository, checks them, and publishes them.\n\n\
Every command finds its workspace by walking up from the current folder to careplans.toml."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The records repository (the folder holding careplans.toml); default: search upwards from here
    #[arg(long, global = true, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Print each stage's time and what a rebuild reused (also: CAREPLANS_LOG=debug)
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate every record: syntax, schemas, references, logic, disclosure, identifiers
    #[command(
        long_about = "Validate every record: YAML and CSV syntax, schemas, unique ids, references, \
logic across rows and months, disclosure control and patient identifiers.\n\n\
Exit status: 0 clean, 1 problems found, 2 usage error or unreadable repository.\n\n\
Example:\n  careplans check --format github"
    )]
    Check(CheckArgs),
    /// Preview the site with live reload and review pages
    #[command(
        long_about = "Build the site in memory and serve it, rebuilding when records, reports or the theme \
change; open pages reload themselves and show an overlay with the problems of a failed rebuild. \
/review lists branches that change records; /review/BASE...HEAD (HEAD may be `worktree`) shows \
a change old beside new. Binds to 127.0.0.1 unless --host says otherwise.\n\n\
Example:\n  careplans serve --port 8000 --open"
    )]
    Serve(ServeArgs),
    /// Review template changes between two revisions: semantic diff, version bump and sign-off rules
    #[command(
        long_about = "List what changed in each template between BASE and HEAD in clinical words, and \
check the rules: each changed template's version is bumped at least as far as its changes require; \
a safety change carries a clinical-safety sign-off trailer from someone who did not make it; a \
template is removed only after it was retired. HEAD defaults to the work tree, uncommitted edits \
included.\n\nExit status: 0 every rule passes, 1 a rule is broken, 2 usage error or unreadable revision.\n\n\
Examples:\n  careplans review main\n  careplans review origin/main HEAD --format markdown >> \"$GITHUB_STEP_SUMMARY\""
    )]
    Review(ReviewArgs),
    /// Build the static dashboards site
    #[command(
        long_about = "Check the records, analyse the metrics, render every page and write the site \
atomically: into a temporary folder first, then renamed into place. If anything fails, the \
previous site is left exactly as it was.\n\n\
Example:\n  careplans build --out public"
    )]
    Build(BuildArgs),
    /// Turn a record-level extract into published, disclosure-controlled monthly metrics
    #[command(
        long_about = "Read a record-level extract (plans and events as Parquet or CSV, as \
`careplans synth --out` writes them), check every row, aggregate every level (borough, STP area, \
London; each template and all) from unrounded counts with polars, apply the disclosure rule of \
careplans.toml (secondary suppression included when it asks for it), and write one \
records/metrics/YYYY-MM.csv per month, each through a temporary file. Re-importing gives the same \
bytes. A folder holding counts.csv (unrounded per-borough counts aggregated elsewhere) is \
published the same way. A refused extract exits 1 naming file, row and column; nothing is \
written.\n\nExamples:\n  careplans import /secure/extract --all\n  careplans import \
/secure/extract --month 2023-03"
    )]
    Import(ImportArgs),
    /// Realistic synthetic data from the seeded model: a record-level extract, or published metrics
    #[command(
        long_about = "Run the seeded record-level model of London's programme over the areas, \
templates and programmes of the records. --out writes the record-level extract (plans and events, \
CSV or Parquet, streamed: 100 million events fit in well under a gigabyte); --metrics writes the \
disclosure-controlled monthly metrics it produces, one CSV per month. The same seed gives the \
same bytes.\n\nExamples:\n  careplans synth --metrics records/metrics\n  careplans synth --out \
/tmp/extract --format parquet --plans 1000000 --events 10000000"
    )]
    Synth(SynthArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// How to print the problems found
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors: `--deny warnings`
    #[arg(long, value_name = "KIND", value_parser = ["warnings"])]
    pub deny: Option<String>,
    /// Check the records at a git revision (branch, tag, commit) instead of the work tree
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["month", "all"]))]
pub struct ImportArgs {
    /// Folder holding plans and events (.parquet or .csv), or counts.csv
    pub extract: PathBuf,
    /// Publish one month (YYYY-MM)
    #[arg(long)]
    pub month: Option<String>,
    /// Publish every month the extract covers
    #[arg(long)]
    pub all: bool,
    /// Where to write the metrics (default: the workspace's records/metrics)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback exposes the preview, which has no login
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port)
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Open the site in the default browser
    #[arg(long)]
    pub open: bool,
    /// Also answer requests for this host name (repeatable), e.g. when serving on a LAN with
    /// --host 0.0.0.0; other hosts get 403
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The revision to compare against (e.g. origin/main)
    pub base: String,
    /// The revision to review; default: the work tree, uncommitted edits included
    pub head: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ReviewFormat::Markdown)]
    pub format: ReviewFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReviewFormat {
    /// A summary table and per-template details, for a pull request comment or job summary
    Markdown,
    /// Every change and rule result as JSON
    Json,
    /// GitHub Actions workflow commands (annotations)
    Github,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Folder to write the site into (default: public/ in the workspace)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Build from the records at a git revision (branch, tag, commit) instead of the work tree
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("output").required(true).multiple(true).args(["out", "metrics"]))]
pub struct SynthArgs {
    /// Folder to write a record-level extract into (plans and events tables)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// File format of the extract
    #[arg(long, value_enum, default_value_t = crate::extract::ExtractFormat::Csv)]
    pub format: crate::extract::ExtractFormat,
    /// Write the extract partitioned by month, as a cluster holds one (Parquet):
    /// plans/created=YYYY-MM/ and events/month=YYYY-MM/
    #[arg(long, conflicts_with = "format")]
    pub partitioned: bool,
    /// Folder to write the published monthly metrics into (YYYY-MM.csv files there are replaced)
    #[arg(long, value_name = "DIR")]
    pub metrics: Option<PathBuf>,
    /// About how many plans to create (overrides --scale)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub plans: Option<u64>,
    /// About how many audit events to create, by scaling how often services view plans
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=2_000_000_000))]
    pub events: Option<u64>,
    /// Seed of the random model; the same seed gives the same bytes
    #[arg(long, default_value_t = crate::synth::DEFAULT_SEED)]
    pub seed: u64,
    /// First month of the window (YYYY-MM)
    #[arg(long, default_value = "2019-04")]
    pub from: String,
    /// Number of months in the window
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub months: u32,
    /// Multiply the number of people in the model (1.0: London's real scale)
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
