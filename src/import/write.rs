//! Writes published metrics as `YYYY-MM.csv` files in the table schema's column order. Each
//! file is written to a temporary name and renamed, so a reader never sees half a file.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::model::{KEY_COLUMNS, Measure, MetricRow, Month};

/// The CSV text of one month's rows.
pub fn metrics_csv(rows: &[MetricRow]) -> String {
    let mut out = String::with_capacity(rows.len() * 80);
    let header: Vec<&str> = KEY_COLUMNS
        .iter()
        .copied()
        .chain(Measure::ALL.iter().map(|m| m.column()))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in rows {
        let _ = write!(out, "{},{},{}", row.month, row.area_code, row.template);
        for count in row.counts {
            let _ = write!(out, ",{count}");
        }
        out.push('\n');
    }
    out
}

/// Writes one file per month into `dir`, atomically per file.
pub fn write_metrics(
    dir: &Path,
    months: &[(Month, Vec<MetricRow>)],
    progress: Option<&crate::progress::Phase>,
) -> Result<usize> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (month, rows) in months {
        let path = dir.join(format!("{month}.csv"));
        write_atomically(&path, metrics_csv(rows).as_bytes())?;
        if let Some(phase) = progress {
            phase.inc(1);
        }
    }
    Ok(months.len())
}

/// Writes `bytes` to a sibling temporary file, then renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    fs::write(&temporary, bytes)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    fs::rename(&temporary, path).with_context(|| format!("cannot replace {}", path.display()))
}
