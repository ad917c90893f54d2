//! The pipeline every command runs: load -> check -> analyse -> render (-> write), each stage
//! timed, and the incremental policy `serve` uses. A [`Build`] holds what each stage made;
//! [`Build::full`] runs them all, [`Build::rebuild`] reads again only the files that changed
//! and redoes only the work whose inputs changed, down to the page families whose inputs
//! changed. Whatever path a rebuild takes, its site is the one a full build of the same files
//! gives, byte for byte. Nothing here prints (but debug lines) or exits; `cmd` does that.

pub mod check;
pub mod log;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::analyse::query::{CacheCounts, Queries, QueryCache};
use crate::analyse::{self, Tables};
use crate::diagnostic::Diagnostic;
use crate::history::{self, History};
use crate::model::{Month, TemplateStatus};
use crate::render::datapackage::{Resource, datapackage};
use crate::render::site::{
    self as render_site, BlockCache, BlockCounts, FamilyOutput, PageFamily, RenderScope, SiteInputs,
};
use crate::site::Site;
use crate::snapshot::git::open_revision;
use crate::snapshot::source::{Source, WorkTree};
use crate::snapshot::{Changes, Snapshot};

use check::{CheckReport, RuleCache};

/// How long each stage took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// Reading files (and the git history walk).
    pub load: Duration,
    pub check: Duration,
    pub analyse: Duration,
    pub render: Duration,
    /// Handing the result to whoever shows it (the preview's pages and its reload event).
    pub publish: Duration,
}

impl StageTimes {
    pub fn total(&self) -> Duration {
        self.load + self.check + self.analyse + self.render + self.publish
    }

    pub fn describe(&self) -> String {
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        format!(
            "load {}, check {}, analyse {}, render {}, publish {}",
            ms(self.load),
            ms(self.check),
            ms(self.analyse),
            ms(self.render),
            ms(self.publish)
        )
    }
}

/// Which files of the site a rebuild replaced or removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteChange {
    pub replaced: BTreeSet<String>,
    pub removed: BTreeSet<String>,
}

/// How a build or rebuild ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The site is up to date: `families` were rendered again (none when nothing a page shows
    /// changed), `pages_rendered` of the site's `pages_total` pages.
    Rendered {
        families: Vec<PageFamily>,
        pages_rendered: usize,
        pages_total: usize,
        site: SiteChange,
        /// Report and page queries run, and results kept from an earlier build (the check's
        /// and the pages' together).
        queries: CacheCounts,
        /// Report page blocks (charts, SPC tables) made, and kept from the last render.
        blocks: BlockCounts,
    },
    /// The records have errors (or could not be read); the last good site is kept.
    Failed { problems: usize },
}

/// What one build or rebuild did, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// What changed (`Changes::everything()` for a full build).
    pub changes: Changes,
    pub outcome: Outcome,
    pub stages: StageTimes,
}

impl Rebuilt {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Rendered { .. })
    }

    /// One line: `records/templates/frailty.yaml changed: rendered 4 of 57 pages in 23 ms`.
    pub fn log_line(&self) -> String {
        let millis = self.stages.total().as_millis();
        let what = self.changes.describe();
        match &self.outcome {
            Outcome::Rendered {
                pages_rendered,
                pages_total,
                site,
                ..
            } if *pages_rendered == 0 && !site.replaced.is_empty() => format!(
                "{what} changed: copied {} files, rendered 0 of {pages_total} pages in {millis} ms",
                site.replaced.len()
            ),
            Outcome::Rendered {
                pages_rendered,
                pages_total,
                ..
            } => format!(
                "{what} changed: rendered {pages_rendered} of {pages_total} pages in {millis} ms"
            ),
            Outcome::Failed { problems } => format!(
                "{what} changed: {problems} problem{} in {millis} ms; serving the last good site",
                if *problems == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The analysis tables and what they were built from.
struct KeptTables {
    inputs: TablesInputs,
    tables: Tables,
}

/// Everything the analysis tables are built from: the counts (the costly part) and the
/// templates (their table and the metrics' template titles, cheap to set again).
#[derive(Debug, Clone, PartialEq)]
struct TablesInputs {
    counts: CountsInputs,
    /// What the templates table holds of each template (not its fields' wording).
    templates: Vec<(String, String, String, TemplateStatus, usize, usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
struct CountsInputs {
    metrics: Vec<(String, u64)>,
    areas: u64,
    /// The programmes' evidence is rebased at the London-wide change points.
    change_points: u64,
    programmes: Vec<(String, u64)>,
}

impl TablesInputs {
    fn of(snapshot: &Snapshot) -> TablesInputs {
        let versions = |paths: Vec<&String>| {
            paths
                .into_iter()
                .map(|p| (p.clone(), snapshot.version(p)))
                .collect()
        };
        TablesInputs {
            counts: CountsInputs {
                metrics: versions(snapshot.metrics.iter().map(|m| &m.path).collect()),
                areas: snapshot.version(&snapshot.config.paths.areas()),
                change_points: snapshot.version(&snapshot.config.paths.change_points()),
                programmes: versions(snapshot.programmes.iter().map(|p| &p.path).collect()),
            },
            templates: snapshot
                .templates
                .iter()
                .map(|t| {
                    let t = &t.value;
                    (
                        t.id.clone(),
                        t.title.clone(),
                        t.version.to_string(),
                        t.status,
                        t.sections.len(),
                        t.fields().count(),
                        t.fields().filter(|(_, f)| f.safety_critical).count(),
                    )
                })
                .collect(),
        }
    }
}

/// Template history and the commit it was read at.
struct KeptHistory {
    head: Option<git2::Oid>,
    history: Option<History>,
    version: u64,
}

/// One family's last rendered files and the fingerprint of what they were made from.
struct RenderedFamily {
    fingerprint: u64,
    files: BTreeSet<String>,
    /// Its downloads, for the data package.
    resources: Vec<Resource>,
}

/// Where the data package describing every download is written.
pub const DATA_PACKAGE: &str = "data/datapackage.json";

/// Everything the stages made from one workspace, kept so a rebuild redoes only what changed.
pub struct Build {
    source: Box<dyn Source>,
    /// The workspace root, for the git history.
    root: PathBuf,
    /// The revision read, when not the work tree.
    rev: Option<String>,
    today: Month,
    snapshot: Snapshot,
    rules: RuleCache,
    report: CheckReport,
    tables: Option<KeptTables>,
    /// Report and page query results, kept while what they read is unchanged.
    queries: QueryCache,
    /// Report page blocks, kept while what they are made from is unchanged.
    blocks: BlockCache,
    history: Option<KeptHistory>,
    rendered: BTreeMap<PageFamily, RenderedFamily>,
    /// The last good site.
    site: Site,
    /// The site title the data package was last made with.
    package_title: Option<String>,
    /// The errors of the last build, when it failed.
    problems: Vec<Diagnostic>,
    next_version: u64,
    /// Changes a failed reload could not take in: read again with the next changes.
    unread: Changes,
    /// Told (pages or families done, planned) while rendering.
    progress: Option<Box<dyn Fn(usize, usize) + Send + Sync>>,
}

impl Build {
    /// The load stage: reads the work tree at `root`, or the revision `rev` of its repository.
    /// Errors only when the workspace itself is unusable (no config, no schemas).
    pub fn open(root: &Path, rev: Option<&str>, today: Month) -> Result<Build> {
        let started = Instant::now();
        let source: Box<dyn Source> = match rev {
            Some(rev) => Box::new(open_revision(root, rev)?),
            None => Box::new(WorkTree::new(root)),
        };
        let snapshot = Snapshot::load(source.as_ref())?;
        log::debug(|| {
            format!(
                "load: {} files in {:.1?}",
                snapshot.file_count(),
                started.elapsed()
            )
        });
        let report = CheckReport::new(&snapshot, Vec::new());
        Ok(Build {
            source,
            root: root.to_path_buf(),
            rev: rev.map(str::to_owned),
            today,
            snapshot,
            rules: RuleCache::default(),
            report,
            tables: None,
            queries: QueryCache::default(),
            blocks: BlockCache::default(),
            history: None,
            rendered: BTreeMap::new(),
            site: Site::default(),
            package_title: None,
            problems: Vec::new(),
            next_version: 0,
            unread: Changes::default(),
            progress: None,
        })
    }

    /// Reports rendering progress (pages or families done, planned), e.g. on a terminal.
    pub fn with_progress(
        mut self,
        progress: impl Fn(usize, usize) + Send + Sync + 'static,
    ) -> Build {
        self.progress = Some(Box::new(progress));
        self
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The check result of the last build or check.
    pub fn report(&self) -> &CheckReport {
        &self.report
    }

    /// The last site that built (empty before the first).
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The errors of the last build when it failed; empty after a good one.
    pub fn problems(&self) -> &[Diagnostic] {
        &self.problems
    }

    fn version(&mut self) -> u64 {
        self.next_version += 1;
        self.next_version
    }

    /// What `check` runs: every rule, then (when the records are sound) the analysis tables
    /// and every report's queries. Returns the report and the time each stage took.
    pub fn check(&mut self) -> (&CheckReport, StageTimes) {
        let mut stages = StageTimes::default();
        self.report = self.checked(&mut stages);
        (&self.report, stages)
    }

    fn checked(&mut self, stages: &mut StageTimes) -> CheckReport {
        let started = Instant::now();
        let diagnostics = self.rules.validate(&self.snapshot, self.today);
        let mut report = CheckReport::new(&self.snapshot, diagnostics);
        stages.check = started.elapsed();
        log::debug(|| {
            format!(
                "check: {} files scanned again, metrics rules {}, in {:.1?}",
                self.rules.last_rescanned,
                if self.rules.last_metrics_rerun {
                    "run"
                } else {
                    "kept"
                },
                stages.check
            )
        });
        if report.tally.errors > 0 {
            return report;
        }
        let started = Instant::now();
        if let Err(problem) = self.analyse() {
            report.extend([*problem]);
            stages.analyse = started.elapsed();
            return report;
        }
        report.extend(self.check_reports());
        stages.analyse = started.elapsed();
        log::debug(|| format!("analyse: {:.1?}", stages.analyse));
        report
    }

    /// Builds the analysis tables again if what they are made from changed: only the
    /// templates' part when the counts are unchanged.
    fn analyse(&mut self) -> Result<(), Box<Diagnostic>> {
        let inputs = TablesInputs::of(&self.snapshot);
        let kept = self.tables.as_ref();
        if kept.is_some_and(|t| t.inputs == inputs) {
            return Ok(());
        }
        let same_counts = kept.filter(|t| t.inputs.counts == inputs.counts);
        // Polars builds the tables from values the records hold; its panics are reported as
        // the records' problem, like its errors.
        let built = crate::panics::catch(|| match same_counts {
            Some(kept) => kept.tables.with_templates(&self.snapshot),
            None => analyse::build_tables(&self.snapshot),
        })
        .unwrap_or_else(|panic| Err(anyhow::anyhow!("polars stopped: {panic}")));
        let tables = built.map_err(|error| {
            Box::new(Diagnostic::error(
                "analysis",
                self.snapshot.config.paths.metrics(),
                format!("cannot analyse the metrics: {error}"),
            ))
        })?;
        log::debug(|| {
            format!(
                "analyse: tables {}",
                if same_counts.is_some() {
                    "kept, templates set again"
                } else {
                    "built"
                }
            )
        });
        // A templates-only change leaves stale only the results that read titles, and those
        // are run again under the same SQL at once, replacing them.
        if same_counts.is_none() {
            self.queries.forget_stale(&tables);
        }
        self.tables = Some(KeptTables { inputs, tables });
        Ok(())
    }

    /// Every report's queries, run for the first area of an expanded report; a query whose
    /// inputs are unchanged gives its kept result.
    fn check_reports(&mut self) -> Vec<Diagnostic> {
        let Some(kept) = &self.tables else {
            return Vec::new();
        };
        let queries = Queries::new(&kept.tables, &self.queries);
        let snapshot = &self.snapshot;
        analyse::pool::install(|| {
            snapshot
                .reports
                .iter()
                .flat_map(|report| analyse::reports::check_report(report, snapshot, &queries))
                .collect()
        })
    }

    /// Walks the git history again if the commit it starts from moved.
    fn read_history(&mut self) -> Result<(), Box<Diagnostic>> {
        let head = history::head_commit(&self.root, self.rev.as_deref());
        if self.history.as_ref().is_some_and(|h| h.head == head) {
            return Ok(());
        }
        let templates = self.snapshot.config.paths.templates();
        let history = history::read(&self.root, head, &templates).map_err(|error| {
            Box::new(Diagnostic::error(
                "history",
                templates.clone(),
                format!("cannot read the templates' history from git: {error:#}"),
            ))
        })?;
        let version = self.version();
        self.history = Some(KeptHistory {
            head,
            history,
            version,
        });
        Ok(())
    }

    /// Checks, analyses and renders every page: what `build` runs, and `serve` first.
    pub fn full(&mut self) -> Rebuilt {
        self.rendered.clear();
        self.site = Site::default();
        self.package_title = None;
        self.run(Changes::everything(), Duration::ZERO)
    }

    /// After `changes` in the work tree: reads again only the changed files, reruns the rules,
    /// analysis and report checks whose inputs changed, and renders again only the page
    /// families whose inputs changed. A rebuild that fails keeps the last good site; the next
    /// one picks up everything that changed since.
    pub fn rebuild(&mut self, changes: &Changes) -> Rebuilt {
        let started = Instant::now();
        let read_before: BTreeSet<String> = changes
            .files()
            .iter()
            .filter(|f| self.snapshot.version(&f.path) > 0)
            .map(|f| f.path.clone())
            .collect();
        let mut to_read = std::mem::take(&mut self.unread);
        to_read.extend(changes);
        if let Err(error) = self.snapshot.reload(self.source.as_ref(), &to_read) {
            self.unread = to_read;
            let problem = Diagnostic::error(
                "serve/build",
                crate::config::CONFIG_FILE,
                format!("{error:#}"),
            );
            self.problems = vec![problem];
            return Rebuilt {
                changes: changes.clone(),
                outcome: Outcome::Failed { problems: 1 },
                stages: StageTimes {
                    load: started.elapsed(),
                    ..StageTimes::default()
                },
            };
        }
        // A file that came and went within the batch (`sed -i`'s temporary copy, say) was
        // never read and is not there now: it changed nothing worth naming in the log line.
        let changes = changes.keeping(|file| {
            read_before.contains(&file.path)
                || self.snapshot.version(&file.path) > 0
                || self.source.read(&file.path).is_ok()
        });
        self.run(changes, started.elapsed())
    }

    fn fail(&mut self, report: CheckReport, changes: Changes, stages: StageTimes) -> Rebuilt {
        self.problems = report.errors();
        self.report = report;
        Rebuilt {
            changes,
            outcome: Outcome::Failed {
                problems: self.problems.len(),
            },
            stages,
        }
    }

    fn run(&mut self, changes: Changes, load: Duration) -> Rebuilt {
        // Counted from here: this build's queries and blocks.
        self.queries.take_counts();
        self.blocks.take_counts();
        let mut stages = StageTimes {
            load,
            ..StageTimes::default()
        };
        let mut report = self.checked(&mut stages);
        if report.tally.errors > 0 {
            return self.fail(report, changes, stages);
        }
        let started = Instant::now();
        if let Err(problem) = self.read_history() {
            report.extend([*problem]);
            return self.fail(report, changes, stages);
        }
        stages.load += started.elapsed();

        let started = Instant::now();
        let Some(kept) = &self.tables else {
            return self.fail(report, changes, stages);
        };
        let history = self.history.as_ref();
        let inputs = SiteInputs {
            snapshot: &self.snapshot,
            queries: Queries::new(&kept.tables, &self.queries),
            blocks: Some(&self.blocks),
            check: &report,
            revision: self.rev.clone(),
            history: history.and_then(|h| h.history.as_ref()),
            history_version: history.map_or(0, |h| h.version),
            progress: self
                .progress
                .as_deref()
                .map(|p| p as &(dyn Fn(usize, usize) + Sync)),
        };
        let families = render_site::families(&self.snapshot);
        let fingerprints = render_site::fingerprints(&families, &inputs);
        let stale: BTreeSet<PageFamily> = fingerprints
            .iter()
            .filter(|(family, fingerprint)| {
                self.rendered
                    .get(*family)
                    .is_none_or(|r| r.fingerprint != **fingerprint)
            })
            .map(|(family, _)| family.clone())
            .collect();
        let scope = if stale.len() == families.len() {
            RenderScope::All
        } else {
            RenderScope::Only(stale.clone())
        };
        let rendered = if stale.is_empty() {
            Ok(BTreeMap::new())
        } else {
            render_site::render(&inputs, &scope)
        };
        let rendered = match rendered {
            Ok(rendered) => rendered,
            Err(problems) => {
                report.extend(problems);
                stages.render = started.elapsed();
                return self.fail(report, changes, stages);
            }
        };
        if let Err(problem) = self.check_one_owner(&rendered) {
            report.extend([*problem]);
            stages.render = started.elapsed();
            return self.fail(report, changes, stages);
        }
        if scope == RenderScope::All {
            self.queries.keep_only_used();
        }
        self.blocks.keep_families(&families);
        let counts = self.queries.take_counts();
        let blocks = self.blocks.take_counts();
        let site = self.merge(rendered, &fingerprints);
        stages.render = started.elapsed();
        log::debug(|| {
            format!(
                "render: {} of {} families ({}) in {:.1?}; {} queries run, {} results kept",
                stale.len(),
                families.len(),
                stale
                    .iter()
                    .map(PageFamily::describe)
                    .collect::<Vec<_>>()
                    .join(", "),
                stages.render,
                counts.run,
                counts.kept
            )
        });
        log::debug(|| format!("stages: {}", stages.describe()));
        let pages_rendered = site
            .replaced
            .iter()
            .filter(|p| p.ends_with(".html"))
            .count();
        self.report = report;
        self.problems.clear();
        Rebuilt {
            changes,
            outcome: Outcome::Rendered {
                families: stale.into_iter().collect(),
                pages_rendered,
                pages_total: self.site.page_count(),
                site,
                queries: counts,
                blocks,
            },
            stages,
        }
    }

    /// Two families may not write the same file: a partial render could not then be exact.
    fn check_one_owner(
        &self,
        rendered: &BTreeMap<PageFamily, FamilyOutput>,
    ) -> Result<(), Box<Diagnostic>> {
        let mut owners: BTreeMap<&str, &PageFamily> = BTreeMap::new();
        for (family, kept) in &self.rendered {
            if !rendered.contains_key(family) {
                for path in &kept.files {
                    owners.insert(path, family);
                }
            }
        }
        for (family, output) in rendered {
            for path in output.site.files.keys() {
                if path == DATA_PACKAGE {
                    return Err(Box::new(Diagnostic::error(
                        "render/duplicate-file",
                        self.snapshot.config.paths.reports.clone(),
                        format!(
                            "{} would write {DATA_PACKAGE}, which describes every download",
                            family.describe()
                        ),
                    )));
                }
                if let Some(other) = owners.insert(path, family)
                    && other != family
                {
                    return Err(Box::new(
                        Diagnostic::error(
                            "render/duplicate-file",
                            self.snapshot.config.paths.reports.clone(),
                            format!(
                                "{} and {} would both write {path}",
                                other.describe(),
                                family.describe()
                            ),
                        )
                        .help("rename the report or template so their pages and downloads differ"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Puts newly rendered families into the site, dropping the files of families that no
    /// longer exist and those a family no longer writes.
    fn merge(
        &mut self,
        rendered: BTreeMap<PageFamily, FamilyOutput>,
        fingerprints: &BTreeMap<PageFamily, u64>,
    ) -> SiteChange {
        let mut change = SiteChange::default();
        let gone: Vec<PageFamily> = self
            .rendered
            .keys()
            .filter(|f| !fingerprints.contains_key(*f))
            .cloned()
            .collect();
        for family in gone {
            if let Some(old) = self.rendered.remove(&family) {
                change.removed.extend(old.files);
            }
        }
        let mut resources_changed = !change.removed.is_empty();
        for (family, FamilyOutput { site, resources }) in rendered {
            let files: BTreeSet<String> = site.files.keys().cloned().collect();
            if let Some(old) = self.rendered.get(&family) {
                change.removed.extend(old.files.difference(&files).cloned());
                resources_changed |= old.resources != resources;
            } else {
                resources_changed = true;
            }
            change.replaced.extend(files.iter().cloned());
            self.rendered.insert(
                family.clone(),
                RenderedFamily {
                    fingerprint: fingerprints.get(&family).copied().unwrap_or_default(),
                    files,
                    resources,
                },
            );
            self.site.files.extend(site.files);
        }
        change.removed.retain(|p| !change.replaced.contains(p));
        for path in &change.removed {
            self.site.files.remove(path);
        }
        // The data package describes every family's downloads, so it is made again from all
        // of them (in family order, as a full build makes it) whenever one changes.
        let title = &self.snapshot.config.site.title;
        if !resources_changed && self.package_title.as_ref() == Some(title) {
            return change;
        }
        self.package_title = Some(title.clone());
        let resources: Vec<&Resource> = self
            .rendered
            .values()
            .flat_map(|family| family.resources.iter())
            .collect();
        let package = datapackage(&self.snapshot.config.site.title, &resources).into_bytes();
        if self.site.get(DATA_PACKAGE) != Some(package.as_slice()) {
            self.site.insert(DATA_PACKAGE, package);
            change.replaced.insert(DATA_PACKAGE.to_owned());
        }
        change
    }

    /// The write stage: the last good site into `out`, atomically.
    pub fn write(&self, out: &Path) -> Result<Duration> {
        let started = Instant::now();
        self.site.write_atomically(out)?;
        let took = started.elapsed();
        log::debug(|| format!("write: {} files in {took:.1?}", self.site.files.len()));
        Ok(took)
    }
}
