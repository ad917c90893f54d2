//! Everything loaded from one version of a records repository, as a `Snapshot`.
//!
//! The loader reads through a `Source` (the work tree, or a git revision), decodes, parses,
//! checks each file against its schema and deserialises it. Problems in files become
//! diagnostics and the file is left out; only an unusable repository (no config, no schemas) is
//! an error. Rules that span files live in `validate`, not here.

pub mod git;
pub mod metrics;
pub mod source;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, anyhow};
use serde::de::DeserializeOwned;

use crate::config::{CONFIG_FILE, Config};
use crate::diagnostic::Diagnostic;
use crate::model::{Areas, Programme, Report, Template};
use crate::validate::schema::{DocKind, Schemas};
use crate::yaml::{self, Span, SpannedDoc};
use metrics::{MetricsFile, TableSchema};
use source::{Source, SourceError};

/// A YAML record with its source positions.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub path: String,
    pub doc: SpannedDoc,
    pub value: T,
}

impl<T> Loaded<T> {
    /// The span of the value at a JSON pointer in this record's file.
    pub fn span(&self, pointer: &str) -> Span {
        self.doc.span_of(pointer)
    }
}

/// Everything in one version of a records repository.
pub struct Snapshot {
    /// Where it was loaded from, for messages.
    pub origin: String,
    pub config: Config,
    /// The decoded text of every record file read, by path, for excerpts and identifier checks.
    pub texts: BTreeMap<String, String>,
    pub areas: Option<Loaded<Areas>>,
    pub templates: Vec<Loaded<Template>>,
    pub programmes: Vec<Loaded<Programme>>,
    pub reports: Vec<Loaded<Report>>,
    pub metrics: Vec<MetricsFile>,
    pub table_schema: TableSchema,
    /// Problems found while loading: syntax, encoding, schema.
    pub diagnostics: Vec<Diagnostic>,
    /// The site's look: minijinja templates by name and static files by path under `static/`.
    pub theme: Theme,
    /// Paths of record files that could not be loaded (their problems are in `diagnostics`);
    /// rules that refer to them stay quiet rather than repeat the same problem row by row.
    pub failed: BTreeSet<String>,
}

impl Snapshot {
    /// Loads every record from `source`. Errors only when the repository itself is unusable.
    pub fn load(source: &dyn Source) -> Result<Snapshot> {
        let config_bytes = source.read(CONFIG_FILE).map_err(|e| {
            anyhow!(
                "cannot read {CONFIG_FILE} from {}: {}",
                source.describe(),
                e.describe()
            )
        })?;
        let config_text =
            String::from_utf8(config_bytes).map_err(|_| anyhow!("{CONFIG_FILE} is not UTF-8"))?;
        let config = Config::parse(&config_text, CONFIG_FILE)?;
        let schemas = Schemas::load(source, &config)?;
        let table_schema = TableSchema::from_json(&schemas.metrics_table)
            .map_err(|e| anyhow!("{}: {e}", config.paths.schema("metrics.table.json")))?;

        let mut loader = Loader {
            source,
            schemas: &schemas,
            texts: BTreeMap::new(),
            diagnostics: Vec::new(),
            failed: BTreeSet::new(),
        };
        let paths = config.paths.clone();
        let areas = loader.load_yaml::<Areas>(&paths.areas(), DocKind::Areas, true);
        let templates = loader.load_dir::<Template>(&paths.templates(), DocKind::Template);
        let programmes = loader.load_dir::<Programme>(&paths.programmes(), DocKind::Programme);
        let reports = loader.load_dir::<Report>(&paths.reports, DocKind::Report);
        let metrics = loader.load_metrics(&paths.metrics(), &table_schema);
        let theme = Theme::load(source, &paths.site)?;
        Ok(Snapshot {
            origin: source.describe(),
            config,
            texts: loader.texts,
            areas,
            templates,
            programmes,
            reports,
            metrics,
            table_schema,
            diagnostics: loader.diagnostics,
            failed: loader.failed,
            theme,
        })
    }

    /// Number of record files read.
    pub fn file_count(&self) -> usize {
        self.texts.len()
    }

    /// Number of metrics rows read.
    pub fn row_count(&self) -> usize {
        self.metrics.iter().map(|m| m.rows.len()).sum()
    }

    pub fn template(&self, id: &str) -> Option<&Loaded<Template>> {
        self.templates.iter().find(|t| t.value.id == id)
    }

    /// Whether a template file named `id` exists but could not be loaded.
    pub fn template_failed(&self, id: &str) -> bool {
        let dir = self.config.paths.templates();
        self.failed.contains(&format!("{dir}/{id}.yaml"))
            || self.failed.contains(&format!("{dir}/{id}.yml"))
    }
}

/// The site's templates and static assets, read from the repository (so a revision builds with
/// the look it had).
#[derive(Debug, Clone, Default)]
pub struct Theme {
    /// Template name (path under `templates/`) -> source.
    pub templates: BTreeMap<String, String>,
    /// Path under `static/` -> bytes.
    pub static_files: BTreeMap<String, Vec<u8>>,
}

impl Theme {
    fn load(source: &dyn Source, site_dir: &str) -> Result<Theme> {
        let mut theme = Theme::default();
        let read = |path: &str| {
            source
                .read(path)
                .map_err(|e| anyhow!("cannot read {path}: {}", e.describe()))
        };
        let templates_dir = crate::config::join(site_dir, "templates");
        for path in source
            .list_tree(&templates_dir)
            .map_err(|e| anyhow!("{}", e.describe()))?
        {
            let name = path[templates_dir.len() + 1..].to_owned();
            let text =
                String::from_utf8(read(&path)?).map_err(|_| anyhow!("{path} is not UTF-8"))?;
            theme.templates.insert(name, text);
        }
        let static_dir = crate::config::join(site_dir, "static");
        for path in source
            .list_tree(&static_dir)
            .map_err(|e| anyhow!("{}", e.describe()))?
        {
            let name = path[static_dir.len() + 1..].to_owned();
            theme.static_files.insert(name, read(&path)?);
        }
        Ok(theme)
    }
}

struct Loader<'a> {
    source: &'a dyn Source,
    schemas: &'a Schemas,
    texts: BTreeMap<String, String>,
    diagnostics: Vec<Diagnostic>,
    failed: BTreeSet<String>,
}

impl Loader<'_> {
    /// Reads and decodes a file, recording a diagnostic when that fails.
    fn read_text(&mut self, path: &str, required: bool) -> Option<String> {
        let bytes = match self.source.read(path) {
            Ok(bytes) => bytes,
            Err(SourceError::NotFound) if !required => return None,
            Err(error) => {
                let code = match error {
                    SourceError::OutsideRepository(_) => "file/outside-repository",
                    SourceError::NotFound => "file/missing",
                    SourceError::Unreadable(_) => "file/unreadable",
                };
                self.diagnostics
                    .push(Diagnostic::error(code, path, error.describe()));
                return None;
            }
        };
        match text::decode(&bytes, path) {
            Ok(text) => {
                self.texts.insert(path.to_owned(), text.clone());
                Some(text)
            }
            Err(diagnostic) => {
                self.diagnostics.push(*diagnostic);
                None
            }
        }
    }

    fn load_yaml<T: DeserializeOwned>(
        &mut self,
        path: &str,
        kind: DocKind,
        required: bool,
    ) -> Option<Loaded<T>> {
        let before = self.diagnostics.len();
        let loaded = self.parse_yaml(path, kind, required);
        if loaded.is_none() && self.diagnostics.len() > before {
            self.failed.insert(path.to_owned());
        }
        loaded
    }

    fn parse_yaml<T: DeserializeOwned>(
        &mut self,
        path: &str,
        kind: DocKind,
        required: bool,
    ) -> Option<Loaded<T>> {
        let text = self.read_text(path, required)?;
        let doc = match yaml::parse(&text) {
            Ok(doc) => doc,
            Err(error) => {
                let mut diagnostic =
                    Diagnostic::error(error.code, path, error.message).at(error.span);
                diagnostic.help = error.help;
                self.diagnostics.push(diagnostic);
                return None;
            }
        };
        if doc.value.is_null() {
            self.diagnostics.push(
                Diagnostic::error("yaml/empty", path, "file is empty")
                    .at(Span::point(1, 1))
                    .help(format!(
                        "see records-schema/{} for what it must hold",
                        kind.schema_file()
                    )),
            );
            return None;
        }
        let schema_problems = self.schemas.check(kind, &doc, path);
        if !schema_problems.is_empty() {
            self.diagnostics.extend(schema_problems);
            return None;
        }
        match serde_json::from_value::<T>(doc.value.clone()) {
            Ok(value) => Some(Loaded {
                path: path.to_owned(),
                doc,
                value,
            }),
            Err(error) => {
                // The schema and the model disagree, or a value passed the schema but not the
                // model's own parsing (e.g. month 2021-13 written to pass a loose pattern).
                self.diagnostics.push(
                    Diagnostic::error("schema", path, format!("cannot read the file: {error}"))
                        .at(Span::point(1, 1)),
                );
                None
            }
        }
    }

    fn list(&mut self, dir: &str) -> Vec<String> {
        match self.source.list(dir) {
            Ok(files) => files,
            Err(error) => {
                self.diagnostics
                    .push(Diagnostic::error("file/unreadable", dir, error.describe()));
                Vec::new()
            }
        }
    }

    fn load_dir<T: DeserializeOwned>(&mut self, dir: &str, kind: DocKind) -> Vec<Loaded<T>> {
        let mut out = Vec::new();
        for path in self.list(dir) {
            if path.ends_with(".yaml") || path.ends_with(".yml") {
                if let Some(loaded) = self.load_yaml(&path, kind, true) {
                    out.push(loaded);
                }
            } else if !is_ignorable(&path) {
                self.diagnostics.push(
                    Diagnostic::warning(
                        "file/unexpected",
                        &path,
                        "not a .yaml file; it is ignored",
                    )
                    .help("records in this folder are YAML files ending in .yaml"),
                );
            }
        }
        out
    }

    fn load_metrics(&mut self, dir: &str, schema: &TableSchema) -> Vec<MetricsFile> {
        let mut out = Vec::new();
        for path in self.list(dir) {
            if !path.ends_with(".csv") {
                if !is_ignorable(&path) {
                    self.diagnostics.push(
                        Diagnostic::warning(
                            "file/unexpected",
                            &path,
                            "not a .csv file; it is ignored",
                        )
                        .help("metrics files are named YYYY-MM.csv"),
                    );
                }
                continue;
            }
            let Some(text) = self.read_text(&path, true) else {
                continue;
            };
            let (file, problems) = metrics::parse_metrics(&text, &path, schema);
            self.diagnostics.extend(problems);
            out.push(file);
        }
        out
    }
}

/// Files that may sit beside records without being records.
fn is_ignorable(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with('.') || name.eq_ignore_ascii_case("README.md")
}
