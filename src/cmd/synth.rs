//! `careplans synth`: run the seeded model and publish its monthly metrics.

use std::path::Path;

use anyhow::{Context, Result, anyhow};

use crate::cli::SynthArgs;
use crate::import::{aggregate, write};
use crate::model::Month;
use crate::snapshot::Snapshot;
use crate::snapshot::source::WorkTree;
use crate::synth::{self, model};

use super::EXIT_OK;

pub fn run(root: &Path, args: &SynthArgs) -> Result<u8> {
    let snapshot = Snapshot::load(&WorkTree::new(root))?;
    let first: Month = args
        .from
        .parse()
        .map_err(|e: String| anyhow!("--from: {e}"))?;
    let written = write_model_metrics(
        &snapshot,
        args.seed,
        first,
        args.months,
        args.scale,
        &root
            .join(&args.metrics)
            .canonicalize()
            .or_else(|_| {
                std::fs::create_dir_all(root.join(&args.metrics))?;
                root.join(&args.metrics).canonicalize()
            })
            .with_context(|| format!("cannot use {}", args.metrics.display()))?,
    )?;
    eprintln!(
        "wrote {written} monthly metrics files to {}",
        args.metrics.display()
    );
    Ok(EXIT_OK)
}

/// Runs the model over the snapshot's areas, templates and programmes and writes its published
/// monthly metrics into `dir`. Returns the number of files written.
pub fn write_model_metrics(
    snapshot: &Snapshot,
    seed: u64,
    first: Month,
    months: u32,
    scale: f64,
    dir: &Path,
) -> Result<usize> {
    let Some(areas) = &snapshot.areas else {
        return Err(anyhow!(
            "the records have no valid areas file; run `careplans check`"
        ));
    };
    let inputs = synth::inputs_from_snapshot(snapshot, seed, first, months, scale)?;
    let mut aggregator = aggregate::Aggregator::new(&inputs);
    model::run(&inputs, &mut aggregator);
    let published = aggregate::publish(
        &aggregator,
        &inputs,
        &areas.value,
        &snapshot.config.disclosure,
    );
    write::write_metrics(dir, &published)
}
