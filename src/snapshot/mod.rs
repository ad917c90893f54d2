//! Everything loaded from one version of a records repository, as a `Snapshot`.
//!
//! The loader reads through a `Source` (the work tree, or a git revision), decodes, parses,
//! checks each file against its schema and deserialises it. Problems in files become
//! diagnostics and the file is left out; only an unusable repository (no config, no schemas) is
//! an error. Rules that span files live in `validate`, not here.

pub mod changes;
pub mod git;
pub mod metrics;
pub mod source;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, anyhow};
use serde::de::DeserializeOwned;

use crate::config::{CONFIG_FILE, Config};
use crate::diagnostic::Diagnostic;
use crate::model::{Areas, ChangePoints, Programme, Report, Template};
use crate::validate::schema::{DocKind, Schemas};
use crate::yaml::{self, Span, SpannedDoc};
pub use changes::{ChangeKind, ChangedFile, Changes};
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
    /// London-wide change points, when the records list any.
    pub change_points: Option<Loaded<ChangePoints>>,
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
    /// The compiled schemas the records were checked against, kept so a single file can be
    /// reloaded and checked the same way.
    pub schemas: Schemas,
    /// A number per file read, new each time the file is (re)loaded: what caches of per-file
    /// work compare, so work on an unchanged file is never repeated.
    pub versions: BTreeMap<String, u64>,
    next_version: u64,
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

        let mut loader = Loader::new(source, &schemas);
        let paths = config.paths.clone();
        let areas = loader.load_yaml::<Areas>(&paths.areas(), DocKind::Areas, true);
        let change_points =
            loader.load_yaml::<ChangePoints>(&paths.change_points(), DocKind::ChangePoints, false);
        let templates = loader.load_dir::<Template>(&paths.templates(), DocKind::Template);
        let programmes = loader.load_dir::<Programme>(&paths.programmes(), DocKind::Programme);
        let reports = loader.load_dir::<Report>(&paths.reports, DocKind::Report);
        let metrics = loader.load_metrics(&paths.metrics(), &table_schema);
        let theme = Theme::load(source, &paths.site)?;
        let Loader {
            texts,
            diagnostics,
            failed,
            ..
        } = loader;
        let mut snapshot = Snapshot {
            origin: source.describe(),
            config,
            texts,
            areas,
            change_points,
            templates,
            programmes,
            reports,
            metrics,
            table_schema,
            diagnostics,
            failed,
            theme,
            schemas,
            versions: BTreeMap::new(),
            next_version: 0,
        };
        let read: Vec<String> = snapshot.texts.keys().cloned().collect();
        for path in read {
            snapshot.bump_version(&path);
        }
        Ok(snapshot)
    }

    fn bump_version(&mut self, path: &str) {
        self.next_version += 1;
        self.versions.insert(path.to_owned(), self.next_version);
    }

    /// The version of a file (see `versions`); 0 for a file not read.
    pub fn version(&self, path: &str) -> u64 {
        self.versions.get(path).copied().unwrap_or(0)
    }

    /// Reads again what `changes` touched, and nothing else: the named record files (a file
    /// that is gone is dropped; a new one is loaded), every file a changed schema governs, the
    /// theme's templates or static files. A change to `careplans.toml` reloads everything,
    /// since it may move every folder. The result is what `Snapshot::load` would give for the
    /// same files.
    pub fn reload(&mut self, source: &dyn Source, changes: &Changes) -> Result<()> {
        if changes.any(ChangeKind::Config) {
            *self = Snapshot::load(source)?;
            return Ok(());
        }
        let paths = self.config.paths.clone();
        let mut whole: BTreeSet<ChangeKind> = BTreeSet::new();
        if changes.any(ChangeKind::Schemas) {
            let schemas = Schemas::load(source, &self.config)?;
            self.table_schema = TableSchema::from_json(&schemas.metrics_table)
                .map_err(|e| anyhow!("{}: {e}", paths.schema("metrics.table.json")))?;
            self.schemas = schemas;
            for file in changes.of(ChangeKind::Schemas) {
                whole.extend(governed_by(&file.path));
            }
        }
        let folders = [
            (ChangeKind::Templates, paths.templates()),
            (ChangeKind::Programmes, paths.programmes()),
            (ChangeKind::Reports, paths.reports.clone()),
            (ChangeKind::Metrics, paths.metrics()),
        ];
        for (kind, folder) in folders {
            if whole.contains(&kind) {
                let known: Vec<String> = self.files_in(kind);
                self.reconcile(source, kind, &folder, &known)?;
            } else if changes.any(kind) {
                let named: Vec<String> = changes.of(kind).map(|f| f.path.clone()).collect();
                self.reconcile(source, kind, &folder, &named)?;
            }
        }
        if whole.contains(&ChangeKind::Areas) || changes.any(ChangeKind::Areas) {
            let path = paths.areas();
            self.forget(&path);
            let mut loader = Loader::new(source, &self.schemas);
            let areas = loader.load_yaml::<Areas>(&path, DocKind::Areas, true);
            let read = loader.finish();
            self.absorb(read);
            self.areas = areas;
        }
        if whole.contains(&ChangeKind::ChangePoints) || changes.any(ChangeKind::ChangePoints) {
            let path = paths.change_points();
            self.forget(&path);
            let mut loader = Loader::new(source, &self.schemas);
            let change_points =
                loader.load_yaml::<ChangePoints>(&path, DocKind::ChangePoints, false);
            let read = loader.finish();
            self.absorb(read);
            self.change_points = change_points;
        }
        if changes.any(ChangeKind::Theme) {
            self.theme.templates = Theme::load_templates(source, &paths.site)?;
        }
        if changes.any(ChangeKind::Static) {
            self.theme.static_files = Theme::load_static(source, &paths.site)?;
        }
        Ok(())
    }

    /// The files of one kind this snapshot read or failed to read.
    fn files_in(&self, kind: ChangeKind) -> Vec<String> {
        match kind {
            ChangeKind::Templates => self.templates.iter().map(|t| t.path.clone()).collect(),
            ChangeKind::Programmes => self.programmes.iter().map(|p| p.path.clone()).collect(),
            ChangeKind::Reports => self.reports.iter().map(|r| r.path.clone()).collect(),
            ChangeKind::Metrics => self.metrics.iter().map(|m| m.path.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// Brings one records folder up to date: the folder is listed again (files added or
    /// removed since), and `changed` files in it are read again.
    fn reconcile(
        &mut self,
        source: &dyn Source,
        kind: ChangeKind,
        folder: &str,
        changed: &[String],
    ) -> Result<()> {
        let listed: BTreeSet<String> = source
            .list(folder)
            .map_err(|e| anyhow!("cannot list {folder}: {}", e.describe()))?
            .into_iter()
            .collect();
        let prefix = format!("{}/", folder.trim_end_matches('/'));
        let known: BTreeSet<String> = self
            .texts
            .keys()
            .chain(self.failed.iter())
            .chain(self.diagnostics.iter().map(|d| &d.path))
            .filter(|p| {
                p.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .cloned()
            .chain(self.files_in(kind))
            .collect();
        let changed: BTreeSet<&String> = changed.iter().collect();
        for path in known
            .iter()
            .filter(|p| !listed.contains(*p) || changed.contains(p))
        {
            self.forget(path);
        }
        let to_load: Vec<&String> = listed
            .iter()
            .filter(|p| changed.contains(p) || !known.contains(*p))
            .collect();
        for path in to_load {
            let mut loader = Loader::new(source, &self.schemas);
            match kind {
                ChangeKind::Templates => {
                    if let Some(t) = loader.load_dir_entry::<Template>(path, DocKind::Template) {
                        insert_sorted(&mut self.templates, t, |t| &t.path);
                    }
                }
                ChangeKind::Programmes => {
                    if let Some(p) = loader.load_dir_entry::<Programme>(path, DocKind::Programme) {
                        insert_sorted(&mut self.programmes, p, |p| &p.path);
                    }
                }
                ChangeKind::Reports => {
                    if let Some(r) = loader.load_dir_entry::<Report>(path, DocKind::Report) {
                        insert_sorted(&mut self.reports, r, |r| &r.path);
                    }
                }
                ChangeKind::Metrics => {
                    if let Some(m) = loader.load_metrics_entry(path, &self.table_schema) {
                        insert_sorted(&mut self.metrics, m, |m| &m.path);
                    }
                }
                _ => {}
            }
            let read = loader.finish();
            self.absorb(read);
        }
        Ok(())
    }

    /// Drops everything read from `path`: its text, record, problems and version.
    fn forget(&mut self, path: &str) {
        self.texts.remove(path);
        self.failed.remove(path);
        self.versions.remove(path);
        self.diagnostics.retain(|d| d.path != path);
        self.templates.retain(|t| t.path != path);
        self.programmes.retain(|p| p.path != path);
        self.reports.retain(|r| r.path != path);
        self.metrics.retain(|m| m.path != path);
        if self.areas.as_ref().is_some_and(|a| a.path == path) {
            self.areas = None;
        }
        if self.change_points.as_ref().is_some_and(|c| c.path == path) {
            self.change_points = None;
        }
    }

    /// Takes in what a loader read, giving each file read a new version.
    fn absorb(&mut self, read: ReadFiles) {
        let ReadFiles {
            texts,
            diagnostics,
            failed,
        } = read;
        for path in texts.keys() {
            self.bump_version(path);
        }
        self.texts.extend(texts);
        self.failed.extend(failed);
        self.diagnostics.extend(diagnostics);
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
        Ok(Theme {
            templates: Theme::load_templates(source, site_dir)?,
            static_files: Theme::load_static(source, site_dir)?,
        })
    }

    /// Every file under `dir`, by its path below `dir`.
    fn read_tree(source: &dyn Source, dir: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut out = BTreeMap::new();
        for path in source
            .list_tree(dir)
            .map_err(|e| anyhow!("{}", e.describe()))?
        {
            let bytes = source
                .read(&path)
                .map_err(|e| anyhow!("cannot read {path}: {}", e.describe()))?;
            out.insert(path[dir.len() + 1..].to_owned(), bytes);
        }
        Ok(out)
    }

    fn load_templates(source: &dyn Source, site_dir: &str) -> Result<BTreeMap<String, String>> {
        let dir = crate::config::join(site_dir, "templates");
        Theme::read_tree(source, &dir)?
            .into_iter()
            .map(|(name, bytes)| {
                String::from_utf8(bytes)
                    .map(|text| (name.clone(), text))
                    .map_err(|_| anyhow!("{dir}/{name} is not UTF-8"))
            })
            .collect()
    }

    fn load_static(source: &dyn Source, site_dir: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        Theme::read_tree(source, &crate::config::join(site_dir, "static"))
    }
}

/// The kinds of record whose files a changed schema file governs.
fn governed_by(schema_path: &str) -> Vec<ChangeKind> {
    let name = schema_path.rsplit('/').next().unwrap_or(schema_path);
    match name {
        "template.schema.json" => vec![ChangeKind::Templates],
        "areas.schema.json" => vec![ChangeKind::Areas],
        "programme.schema.json" => vec![ChangeKind::Programmes],
        "change-points.schema.json" => vec![ChangeKind::ChangePoints],
        "report.schema.json" => vec![ChangeKind::Reports],
        "metrics.table.json" => vec![ChangeKind::Metrics],
        // A schema another one refers to, or one added: every kind, to be safe.
        _ => vec![
            ChangeKind::Templates,
            ChangeKind::Areas,
            ChangeKind::Programmes,
            ChangeKind::Reports,
            ChangeKind::Metrics,
            ChangeKind::ChangePoints,
        ],
    }
}

/// Inserts a record keeping the list in path order, as a folder listing gives it.
fn insert_sorted<T>(list: &mut Vec<T>, item: T, path: impl Fn(&T) -> &String) {
    let at = list.partition_point(|other| path(other) < path(&item));
    list.insert(at, item);
}

/// What a loader read: the files' texts, their problems, and those that could not be loaded.
struct ReadFiles {
    texts: BTreeMap<String, String>,
    diagnostics: Vec<Diagnostic>,
    failed: BTreeSet<String>,
}

struct Loader<'a> {
    source: &'a dyn Source,
    schemas: &'a Schemas,
    texts: BTreeMap<String, String>,
    diagnostics: Vec<Diagnostic>,
    failed: BTreeSet<String>,
}

impl<'a> Loader<'a> {
    fn new(source: &'a dyn Source, schemas: &'a Schemas) -> Loader<'a> {
        Loader {
            source,
            schemas,
            texts: BTreeMap::new(),
            diagnostics: Vec::new(),
            failed: BTreeSet::new(),
        }
    }

    fn finish(self) -> ReadFiles {
        ReadFiles {
            texts: self.texts,
            diagnostics: self.diagnostics,
            failed: self.failed,
        }
    }

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
        // The YAML parser is a dependency given user input: a panic in it is this file's
        // problem, not the end of the check.
        let parsed = crate::panics::catch(|| yaml::parse(&text)).unwrap_or_else(|panic| {
            Err(yaml::YamlError {
                code: "yaml/syntax",
                message: format!("the YAML parser stopped on this file: {panic}"),
                help: Some(
                    "look for unusual characters or structure near the end of what parses".into(),
                ),
                span: Span::point(1, 1),
            })
        });
        let doc = match parsed {
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
        let paths = self.list(dir);
        paths
            .iter()
            .filter_map(|path| self.load_dir_entry(path, kind))
            .collect()
    }

    /// One file of a records folder: a YAML record, or a warning that it is not one.
    fn load_dir_entry<T: DeserializeOwned>(
        &mut self,
        path: &str,
        kind: DocKind,
    ) -> Option<Loaded<T>> {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            return self.load_yaml(path, kind, true);
        }
        if !is_ignorable(path) {
            self.diagnostics.push(
                Diagnostic::warning("file/unexpected", path, "not a .yaml file; it is ignored")
                    .help("records in this folder are YAML files ending in .yaml"),
            );
        }
        None
    }

    fn load_metrics(&mut self, dir: &str, schema: &TableSchema) -> Vec<MetricsFile> {
        let paths = self.list(dir);
        paths
            .iter()
            .filter_map(|path| self.load_metrics_entry(path, schema))
            .collect()
    }

    /// One file of the metrics folder: a monthly CSV file, or a warning that it is not one.
    fn load_metrics_entry(&mut self, path: &str, schema: &TableSchema) -> Option<MetricsFile> {
        if !path.ends_with(".csv") {
            if !is_ignorable(path) {
                self.diagnostics.push(
                    Diagnostic::warning("file/unexpected", path, "not a .csv file; it is ignored")
                        .help("metrics files are named YYYY-MM.csv"),
                );
            }
            return None;
        }
        let text = self.read_text(path, true)?;
        let (file, problems) = metrics::parse_metrics(&text, path, schema);
        self.diagnostics.extend(problems);
        Some(file)
    }
}

/// Files that may sit beside records without being records.
fn is_ignorable(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with('.') || name.eq_ignore_ascii_case("README.md")
}
