//! `careplans synth`: run the seeded model and publish its monthly metrics.

use std::path::Path;

use anyhow::{Context, Result, anyhow};

use crate::cli::SynthArgs;
use crate::model::Month;
use crate::snapshot::Snapshot;
use crate::snapshot::source::WorkTree;
use crate::synth::{self, model, write_model_metrics, writer};

use super::EXIT_OK;

pub fn run(root: &Path, args: &SynthArgs) -> Result<u8> {
    let snapshot = Snapshot::load(&WorkTree::new(root))?;
    let first: Month = args
        .from
        .parse()
        .map_err(|e: String| anyhow!("--from: {e}"))?;
    let mut scale = args.scale;
    if let Some(plans) = args.plans {
        let at_one = model::expected_plans(&synth::inputs_from_snapshot(
            &snapshot,
            args.seed,
            first,
            args.months,
            1.0,
        )?);
        scale = plans as f64 / at_one.max(1.0);
    }
    let here = std::env::current_dir()?;
    if let Some(out) = &args.out {
        let dir = here.join(out);
        let mut inputs =
            synth::inputs_from_snapshot(&snapshot, args.seed, first, args.months, scale)?;
        if let Some(events) = args.events {
            inputs.view_scale = synth::view_scale_for(&inputs, events);
        }
        let layout = if args.partitioned {
            crate::extract::Layout::Partitioned
        } else {
            crate::extract::Layout::Flat(args.format)
        };
        let (plans, events) = writer::write_extract(&inputs, &dir, layout)?;
        eprintln!(
            "wrote an extract of {plans} plans and {events} events to {}",
            dir.display()
        );
    }
    if let Some(metrics) = &args.metrics {
        let dir = here.join(metrics);
        let written = write_model_metrics(&snapshot, args.seed, first, args.months, scale, &dir)
            .with_context(|| format!("cannot write metrics into {}", dir.display()))?;
        eprintln!("wrote {written} monthly metrics files to {}", dir.display());
    }
    Ok(EXIT_OK)
}
