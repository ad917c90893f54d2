//! Site assembly: which pages the site has, grouped into families rendered together from the
//! same inputs, and what each family reads, so a preview can render again only the families
//! whose inputs changed.
//!
//! Reports in `reports/` are the dashboards (the `overview` report is the home page, `stp` and
//! `borough` the area pages); templates, data quality and method pages are built in. Every
//! figure comes from a published count or a rate computed from published counts; an empty value
//! is shown as "suppressed" with a footnote, never as zero. Pure: values in, files out.

use std::any::Any;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};

use minijinja::value::Serde;
use minijinja::{Environment, Value};
use regex::Regex;
use serde::Serialize;

use crate::analyse::Tables;
use crate::analyse::query::Queries;
use crate::analyse::reads::reads;
use crate::diagnostic::Diagnostic;
use crate::history::History;
use crate::model::{AreaLevel, AreaSummary, Report, Template};
use crate::pipeline::check::CheckReport;
use crate::site::Site;
use crate::snapshot::{Loaded, Snapshot};

use super::base::{BasePage, Link, render_page};
use super::datapackage::Resource;
use super::format::slug;
use super::template_pages::uptake_sql;
use super::{describe_template_error, environment};

/// What the site is rendered from.
pub struct SiteInputs<'a> {
    pub snapshot: &'a Snapshot,
    /// The analysis tables, and the queries over them (through the preview's cache).
    pub queries: Queries<'a>,
    pub check: &'a CheckReport,
    /// Text for the footer and quality page: where the records came from.
    pub revision: Option<String>,
    /// Every template's versions from git, when the records are in a repository.
    pub history: Option<&'a History>,
    /// Changes whenever the history is walked again.
    pub history_version: u64,
    /// Report page blocks kept from the last render, when rendering again for a preview.
    pub blocks: Option<&'a BlockCache>,
    /// Told (pages or families done, planned) as they render, for a progress display.
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

/// A group of pages and downloads rendered together from the same inputs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum PageFamily {
    /// The theme's static files, copied as they are.
    Static,
    /// Every page of one report (one per area for an expanded report) and its downloads.
    Report(String),
    /// One template's page, its page per service, its version pages, its downloads and its
    /// FHIR Questionnaires (the template's and each version's).
    Template(String),
    /// The list of templates.
    TemplatesIndex,
    /// The data quality page: the check result.
    Quality,
    /// Method and definitions.
    Method,
}

impl PageFamily {
    /// The theme templates a family's pages are rendered with (before the ones they include).
    fn theme_roots(&self) -> &'static [&'static str] {
        match self {
            PageFamily::Static => &[],
            PageFamily::Report(_) => &["report.html"],
            PageFamily::Template(_) => &["template.html", "template_service.html", "version.html"],
            PageFamily::TemplatesIndex => &["templates.html"],
            PageFamily::Quality => &["quality.html"],
            PageFamily::Method => &["method.html"],
        }
    }

    /// For log lines: "the overview report", "template frailty".
    pub fn describe(&self) -> String {
        match self {
            PageFamily::Static => "static files".into(),
            PageFamily::Report(id) => format!("report {id}"),
            PageFamily::Template(id) => format!("template {id}"),
            PageFamily::TemplatesIndex => "templates index".into(),
            PageFamily::Quality => "data quality".into(),
            PageFamily::Method => "method".into(),
        }
    }
}

/// The blocks of report pages (a chart, an SPC table or a tile map, with its download) from
/// the last render of each family, by a fingerprint of what each was made from: the family's
/// inputs but its figures, the page, the block and its query's result. A preview that renders
/// a report again because one query's result changed makes only the blocks of that query
/// again. Each render of a family keeps only the blocks it used.
#[derive(Default)]
pub struct BlockCache {
    families: Mutex<HashMap<PageFamily, Blocks>>,
    /// Blocks made and kept since the last [`BlockCache::take_counts`].
    counts: Mutex<BlockCounts>,
}

/// How many report page blocks a render made, and how many it took as they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockCounts {
    pub made: usize,
    pub kept: usize,
}

type Block = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
struct Blocks {
    last: HashMap<u64, Block>,
    this: HashMap<u64, Block>,
}

impl BlockCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PageFamily, Blocks>> {
        self.families.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A family starts rendering: what its last render made may be taken.
    fn begin(&self, family: &PageFamily) {
        let mut families = self.lock();
        let blocks = families.entry(family.clone()).or_default();
        blocks.last = std::mem::take(&mut blocks.this);
    }

    /// A family is rendered: what it did not take again is dropped.
    fn end(&self, family: &PageFamily) {
        if let Some(blocks) = self.lock().get_mut(family) {
            blocks.last.clear();
        }
    }

    fn take(&self, family: &PageFamily, key: u64) -> Option<Block> {
        let mut families = self.lock();
        let blocks = families.get_mut(family)?;
        let block = blocks.last.remove(&key)?;
        blocks.this.insert(key, block.clone());
        Some(block)
    }

    fn put(&self, family: &PageFamily, key: u64, block: Block) {
        self.lock()
            .entry(family.clone())
            .or_default()
            .this
            .insert(key, block);
    }

    /// The blocks made and kept since the last call.
    pub fn take_counts(&self) -> BlockCounts {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn count(&self, kept: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if kept {
            counts.kept += 1;
        } else {
            counts.made += 1;
        }
    }

    /// Drops the blocks of families the site no longer has.
    pub fn keep_families(&self, families: &[PageFamily]) {
        self.lock().retain(|family, _| families.contains(family));
    }
}

/// Which families a render produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderScope {
    All,
    Only(BTreeSet<PageFamily>),
}

/// One piece of rendering: a report's page for one area, or the whole of another family.
struct Job<'s> {
    /// The index of its family among the planned ones.
    family: usize,
    work: Work<'s>,
}

enum Work<'s> {
    ReportPage(&'s Loaded<Report>, Option<AreaSummary>),
    /// A template's page, its service pages, version pages and Questionnaires.
    Template(&'s Loaded<Template>),
    Static,
    TemplatesIndex,
    Quality,
    Method,
}

/// What one job made.
#[derive(Default)]
struct JobOutput {
    site: Site,
    resources: Vec<Resource>,
    problems: Vec<Diagnostic>,
    query_time: std::time::Duration,
    took: std::time::Duration,
}

/// The jobs of one family: a report is one job per page (a borough report is 33 pages of
/// queries and charts), anything else one job.
fn family_jobs<'s>(
    snapshot: &'s Snapshot,
    family: usize,
    of: &PageFamily,
    jobs: &mut Vec<Job<'s>>,
) {
    let mut push = |work| jobs.push(Job { family, work });
    match of {
        PageFamily::Report(id) => {
            if let Some(report) = snapshot.reports.iter().find(|r| &r.value.id == id) {
                for area in crate::analyse::reports::expansion_areas(&report.value, snapshot) {
                    push(Work::ReportPage(report, area));
                }
            }
        }
        PageFamily::Template(id) => {
            if let Some(template) = snapshot.templates.iter().find(|t| &t.value.id == id) {
                push(Work::Template(template));
            }
        }
        PageFamily::Static => push(Work::Static),
        PageFamily::TemplatesIndex => push(Work::TemplatesIndex),
        PageFamily::Quality => push(Work::Quality),
        PageFamily::Method => push(Work::Method),
    }
}

/// Runs the jobs side by side on polars' thread pool (one thread per core unless
/// `POLARS_MAX_THREADS` says otherwise), each thread taking the
/// next job not yet taken, and returns what each made in the jobs' order: the same result
/// as one thread running them in order.
fn run_jobs(
    renderer: &Renderer<'_>,
    jobs: &[Job<'_>],
    bases: &[(PageFamily, u64)],
) -> Vec<JobOutput> {
    let pool = &crate::analyse::pool::POOL;
    let threads = pool.current_num_threads().min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let finished = Mutex::new(0usize);
    let work = |mut part: Renderer<'_>| {
        let mut made = Vec::new();
        loop {
            let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(job) = jobs.get(index) else {
                return made;
            };
            let started = std::time::Instant::now();
            part.current_family = Some(bases[job.family].clone());
            part.work(&job.work);
            made.push((
                index,
                JobOutput {
                    site: std::mem::take(&mut part.site),
                    resources: std::mem::take(&mut part.resources),
                    problems: std::mem::take(&mut part.problems),
                    query_time: std::mem::take(&mut part.query_time),
                    took: started.elapsed(),
                },
            ));
            // Counted and told under one lock, so the display never goes backwards.
            let mut done = finished.lock().unwrap_or_else(|e| e.into_inner());
            *done += 1;
            if let Some(progress) = renderer.inputs.progress {
                progress(*done, jobs.len());
            }
        }
    };
    // On polars' pool (see `analyse::pool`): the pages' queries run where their job runs.
    let made: Vec<(usize, JobOutput)> = if threads < 2 {
        let part = renderer.part();
        pool.install(|| work(part))
    } else {
        let made = Mutex::new(Vec::new());
        pool.scope(|scope| {
            for _ in 0..threads {
                let part = renderer.part();
                let (work, made) = (&work, &made);
                scope.spawn(move |_| {
                    let output = work(part);
                    made.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(output);
                });
            }
        });
        made.into_inner().unwrap_or_else(|e| e.into_inner())
    };
    let mut ordered: Vec<Option<JobOutput>> = (0..jobs.len()).map(|_| None).collect();
    for (index, output) in made {
        ordered[index] = Some(output);
    }
    ordered.into_iter().map(Option::unwrap_or_default).collect()
}

/// Every family of the site these records make, in the order a full build renders them.
pub fn families(snapshot: &Snapshot) -> Vec<PageFamily> {
    let mut out = vec![PageFamily::Static];
    out.extend(
        sorted_reports(snapshot)
            .into_iter()
            .map(|r| PageFamily::Report(r.value.id.clone())),
    );
    out.extend(
        snapshot
            .templates
            .iter()
            .map(|t| PageFamily::Template(t.value.id.clone())),
    );
    out.extend([
        PageFamily::TemplatesIndex,
        PageFamily::Quality,
        PageFamily::Method,
    ]);
    out
}

fn sorted_reports(snapshot: &Snapshot) -> Vec<&Loaded<Report>> {
    let mut reports: Vec<&Loaded<Report>> = snapshot.reports.iter().collect();
    reports.sort_by_key(|r| (r.value.order.unwrap_or(100), r.value.id.clone()));
    reports
}

/// What one family rendered: its files, and a description of each download among them.
#[derive(Debug, Default)]
pub struct FamilyOutput {
    pub site: Site,
    pub resources: Vec<Resource>,
}

/// Renders the families in `scope`, each into its own set of files, or returns every problem
/// found.
pub fn render(
    inputs: &SiteInputs<'_>,
    scope: &RenderScope,
) -> Result<BTreeMap<PageFamily, FamilyOutput>, Vec<Diagnostic>> {
    let snapshot = inputs.snapshot;
    let env = environment(&snapshot.theme)
        .map_err(|error| vec![template_problem(&snapshot.config.paths.site, &error)])?;
    let mut renderer = Renderer {
        inputs,
        env,
        site: Site::default(),
        resources: Vec::new(),
        problems: Vec::new(),
        areas: snapshot
            .areas
            .iter()
            .flat_map(|a| a.value.summaries())
            .collect(),
        nav: navigation(snapshot),
        query_time: std::time::Duration::ZERO,
        current_family: None,
    };
    let planned: Vec<PageFamily> = families(snapshot)
        .into_iter()
        .filter(|f| match scope {
            RenderScope::All => true,
            RenderScope::Only(only) => only.contains(f),
        })
        .collect();
    let mut jobs = Vec::new();
    for (index, family) in planned.iter().enumerate() {
        family_jobs(snapshot, index, family, &mut jobs);
    }
    let fingerprinter = Fingerprinter::new(inputs);
    let bases: Vec<(PageFamily, u64)> = planned
        .iter()
        .map(|f| (f.clone(), fingerprinter.of(f, Figures::Left)))
        .collect();
    if let Some(blocks) = inputs.blocks {
        planned.iter().for_each(|f| blocks.begin(f));
    }
    let done = run_jobs(&renderer, &jobs, &bases);
    if let Some(blocks) = inputs.blocks {
        planned.iter().for_each(|f| blocks.end(f));
    }
    let mut out: BTreeMap<PageFamily, FamilyOutput> = BTreeMap::new();
    let mut took: BTreeMap<&PageFamily, std::time::Duration> = BTreeMap::new();
    for (job, output) in jobs.iter().zip(done) {
        let family = &planned[job.family];
        let kept = out.entry(family.clone()).or_default();
        kept.site.files.extend(output.site.files);
        kept.resources.extend(output.resources);
        renderer.problems.extend(output.problems);
        renderer.query_time += output.query_time;
        *took.entry(family).or_default() += output.took;
    }
    for (family, took) in took {
        crate::pipeline::log::debug(|| format!("render: {} in {took:.1?}", family.describe()));
    }
    crate::pipeline::log::debug(|| {
        format!(
            "render: report queries took {:.1?} of it",
            renderer.query_time
        )
    });
    if renderer.problems.is_empty() {
        Ok(out)
    } else {
        Err(renderer.problems)
    }
}

/// The site's navigation: every page links the same places.
fn navigation(snapshot: &Snapshot) -> Vec<(String, String)> {
    let mut nav = vec![
        ("Overview".to_owned(), "index.html".to_owned()),
        ("Templates".into(), "templates/index.html".into()),
    ];
    if snapshot.reports.iter().any(|r| r.value.id == "programmes") {
        nav.push(("Programmes".into(), "programmes.html".into()));
    }
    nav.push(("Data quality".into(), "quality.html".into()));
    nav.push(("Method".into(), "method.html".into()));
    nav
}

/// Every family's fingerprint: a number that changes whenever anything a family's files are
/// made from changes (the records it shows, the columns its queries read, the theme templates
/// it is rendered with, and what every page shows: site title, navigation, revision, latest
/// month). Two equal fingerprints mean the family would render the same bytes. Each value
/// several families read is hashed once.
pub fn fingerprints(families: &[PageFamily], inputs: &SiteInputs<'_>) -> BTreeMap<PageFamily, u64> {
    let fingerprinter = Fingerprinter::new(inputs);
    families
        .iter()
        .map(|f| (f.clone(), fingerprinter.of(f, Figures::Included)))
        .collect()
}

/// Whether a fingerprint covers what the queries read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Figures {
    Included,
    /// Everything but the figures: with a block's query result, what the block is made from.
    Left,
}

/// Hashes of the values several families read, each made once.
struct Fingerprinter<'i, 'a> {
    inputs: &'i SiteInputs<'a>,
    /// Site title, navigation, revision and latest month: what every page shows.
    common: OnceCell<u64>,
    /// The theme templates of each set of roots.
    theme: RefCell<HashMap<&'static [&'static str], u64>>,
    /// Areas, change points and programmes.
    areas: OnceCell<u64>,
    /// Each template's path and value, by id.
    templates: OnceCell<HashMap<String, u64>>,
}

fn hash_of(value: &dyn erased::Feed) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.feed(&mut hasher);
    hasher.finish()
}

impl<'i, 'a> Fingerprinter<'i, 'a> {
    fn new(inputs: &'i SiteInputs<'a>) -> Self {
        Fingerprinter {
            inputs,
            common: OnceCell::new(),
            theme: RefCell::new(HashMap::new()),
            areas: OnceCell::new(),
            templates: OnceCell::new(),
        }
    }

    fn common(&self) -> u64 {
        *self.common.get_or_init(|| {
            let snapshot = self.inputs.snapshot;
            hash_of(&(
                &snapshot.config.site.title,
                navigation(snapshot),
                &self.inputs.revision,
                self.inputs
                    .queries
                    .tables
                    .latest_month
                    .map(|m| m.to_string()),
            ))
        })
    }

    fn theme(&self, roots: &'static [&'static str]) -> u64 {
        if let Some(hash) = self.theme.borrow().get(roots) {
            return *hash;
        }
        let templates = &self.inputs.snapshot.theme.templates;
        let mut hasher = DefaultHasher::new();
        for name in theme_closure(templates, roots) {
            erased::Feed::feed(&(&name, templates.get(&name)), &mut hasher);
        }
        let hash = hasher.finish();
        self.theme.borrow_mut().insert(roots, hash);
        hash
    }

    fn areas(&self) -> u64 {
        *self.areas.get_or_init(|| {
            let snapshot = self.inputs.snapshot;
            hash_of(&(
                snapshot.areas.as_ref().map(|a| &a.value),
                snapshot.change_points.as_ref().map(|c| &c.value),
                snapshot
                    .programmes
                    .iter()
                    .map(|p| &p.value)
                    .collect::<Vec<_>>(),
            ))
        })
    }

    fn template(&self, id: &str) -> Option<u64> {
        self.templates
            .get_or_init(|| {
                self.inputs
                    .snapshot
                    .templates
                    .iter()
                    .map(|t| (t.value.id.clone(), hash_of(&(&t.path, &t.value))))
                    .collect()
            })
            .get(id)
            .copied()
    }

    fn of(&self, family: &PageFamily, figures: Figures) -> u64 {
        let inputs = self.inputs;
        let snapshot = inputs.snapshot;
        let mut hasher = DefaultHasher::new();
        family.hash(&mut hasher);
        if *family == PageFamily::Static {
            for (path, bytes) in &snapshot.theme.static_files {
                path.hash(&mut hasher);
                bytes.hash(&mut hasher);
            }
            return hasher.finish();
        }
        self.common().hash(&mut hasher);
        self.theme(family.theme_roots()).hash(&mut hasher);
        let tables = inputs.queries.tables;
        let mut feed = |value: &dyn erased::Feed| value.feed(&mut hasher);
        match family {
            PageFamily::Static => {}
            PageFamily::Report(id) => {
                let report = snapshot.reports.iter().find(|r| &r.value.id == id);
                feed(&report.map(|r| (&r.path, &r.value)));
                feed(&self.areas());
                feed(&tables.first_month.map(|m| m.to_string()));
                // Its figures: what its queries can read of the tables.
                if figures == Figures::Included {
                    for query in report.iter().flat_map(|r| &r.value.queries) {
                        feed(&figures_read_by(&query.sql, tables));
                    }
                }
            }
            PageFamily::Template(id) => {
                feed(&self.template(id));
                feed(&figures_read_by(&uptake_sql(id), tables));
                // The version pages and each version's Questionnaire.
                feed(&inputs.history_version);
                feed(&snapshot.config.site.canonical_base());
            }
            PageFamily::TemplatesIndex => {
                for template in &snapshot.templates {
                    feed(&self.template(&template.value.id));
                    feed(&figures_read_by(&uptake_sql(&template.value.id), tables));
                }
            }
            PageFamily::Quality => {
                feed(inputs.check);
                feed(&snapshot.origin);
                feed(
                    &snapshot
                        .metrics
                        .iter()
                        .filter(|f| f.month.is_some())
                        .count(),
                );
                feed(&tables.first_month.map(|m| m.to_string()));
            }
            PageFamily::Method => {
                let fields: Vec<(&str, &str)> = snapshot
                    .table_schema
                    .fields
                    .iter()
                    .map(|f| (f.name.as_str(), f.description.as_str()))
                    .collect();
                feed(&fields);
                feed(&snapshot.config.disclosure);
                // It counts the suppressed figures of the metrics at each level.
                for file in &snapshot.metrics {
                    feed(&(&file.path, snapshot.version(&file.path)));
                }
                feed(&snapshot.areas.as_ref().map(|a| &a.value));
                feed(&tables.first_month.map(|m| m.to_string()));
            }
        }
        hasher.finish()
    }
}

/// A fingerprint of everything `sql` can read of the tables: its figures change only when it
/// changes.
fn figures_read_by(sql: &str, tables: &Tables) -> u64 {
    tables.fingerprint_of(&reads(sql, &Tables::names()))
}

/// Feeding any serialisable value to a hasher, through its JSON form.
mod erased {
    use std::hash::Hasher;

    use serde::Serialize;

    pub trait Feed {
        fn feed(&self, hasher: &mut dyn Hasher);
    }

    impl<T: Serialize + ?Sized> Feed for T {
        fn feed(&self, hasher: &mut dyn Hasher) {
            let mut writer = HashWriter(hasher);
            // Serialising plain records cannot fail; a value that did would hash what was
            // written before the failure, which still differs from any other value's.
            let _ = serde_json::to_writer(&mut writer, self);
            writer.0.write_u8(0xff);
        }
    }

    struct HashWriter<'a>(&'a mut dyn Hasher);

    impl std::io::Write for HashWriter<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

/// `{% extends %}`, `{% include %}`, `{% import %}` and `{% from ... import %}` with a quoted
/// template name.
static TEMPLATE_REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\{%-?\s*(?:extends|include|import|from)\s+(?:"([^"]+)"|'([^']+)')"#)
        .expect("the template reference pattern is valid")
});

/// A reference whose template name is computed: nothing can be ruled out.
static DYNAMIC_REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\{%-?\s*(?:extends|include|import|from)\s+[^"'\s]"#)
        .expect("the dynamic reference pattern is valid")
});

/// The theme templates `roots` are rendered with: the roots and every template they extend,
/// include or import, however deep. A computed template name brings in every template.
pub fn theme_closure(templates: &BTreeMap<String, String>, roots: &[&str]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<String> = roots.iter().map(|r| (*r).to_owned()).collect();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(source) = templates.get(&name) else {
            continue;
        };
        if DYNAMIC_REFERENCE.is_match(source) {
            return templates.keys().cloned().collect();
        }
        for found in TEMPLATE_REFERENCE.captures_iter(source) {
            if let Some(referenced) = found.get(1).or_else(|| found.get(2)) {
                pending.push(referenced.as_str().to_owned());
            }
        }
    }
    seen
}

/// A serialisable value as a template value.
pub(super) fn ser<T: Serialize>(value: T) -> Value {
    Value::from(Serde(value))
}

/// Where a page sits and what surrounds it.
pub(super) struct PagePlace {
    pub path: String,
    pub title: String,
    pub breadcrumbs: Vec<(String, String)>,
}

pub(super) struct Renderer<'a> {
    pub inputs: &'a SiteInputs<'a>,
    pub env: Environment<'static>,
    /// The files of the family being rendered.
    pub site: Site,
    /// The downloads among them, described for the data package.
    pub resources: Vec<Resource>,
    pub problems: Vec<Diagnostic>,
    pub areas: Vec<AreaSummary>,
    pub nav: Vec<(String, String)>,
    /// Time spent running report queries, for the debug log.
    pub query_time: std::time::Duration,
    /// The family being rendered, and the fingerprint of its inputs but its figures.
    pub current_family: Option<(PageFamily, u64)>,
}

pub(super) fn template_problem(site_dir: &str, error: &minijinja::Error) -> Diagnostic {
    let path = error
        .name()
        .map(|name| format!("{site_dir}/templates/{name}"))
        .unwrap_or_else(|| format!("{site_dir}/templates"));
    let mut diagnostic = Diagnostic::error("site/template", path, describe_template_error(error));
    if let Some(line) = error.line() {
        diagnostic = diagnostic.at(crate::yaml::Span::point(line, 1));
    }
    diagnostic
}

/// The relative path from the folder of page `from` to `to`, so the site works from `file://`.
pub fn relative(from: &str, to: &str) -> String {
    let depth = from.matches('/').count();
    format!("{}{to}", "../".repeat(depth))
}

fn stp_folder(area: &AreaSummary) -> String {
    format!("areas/{}", slug(&area.short))
}

impl<'a> Renderer<'a> {
    fn work(&mut self, work: &Work<'_>) {
        match work {
            Work::ReportPage(report, area) => self.report_page(report, area.as_ref()),
            Work::Template(template) => self.template_page(template),
            Work::Static => {
                for (path, bytes) in &self.inputs.snapshot.theme.static_files {
                    self.site.insert(format!("static/{path}"), bytes.clone());
                }
            }
            Work::TemplatesIndex => self.templates_index(),
            Work::Quality => self.quality_page(),
            Work::Method => self.method_page(),
        }
    }

    /// A renderer of the same inputs with nothing rendered yet, for another thread.
    fn part(&self) -> Renderer<'a> {
        Renderer {
            inputs: self.inputs,
            env: self.env.clone(),
            site: Site::default(),
            resources: Vec::new(),
            problems: Vec::new(),
            areas: self.areas.clone(),
            nav: self.nav.clone(),
            query_time: std::time::Duration::ZERO,
            current_family: self.current_family.clone(),
        }
    }

    /// The block `make` makes from the family's inputs and `what` (the page, the block and its
    /// query result): kept from the last render when they are the same, made otherwise.
    pub(super) fn block<T: Clone + Send + Sync + 'static>(
        &self,
        what: impl Hash,
        make: impl FnOnce() -> T,
    ) -> T {
        let (Some(cache), Some((family, base))) = (self.inputs.blocks, &self.current_family) else {
            return make();
        };
        let mut hasher = DefaultHasher::new();
        base.hash(&mut hasher);
        std::any::type_name::<T>().hash(&mut hasher);
        what.hash(&mut hasher);
        let key = hasher.finish();
        if let Some(kept) = cache
            .take(family, key)
            .and_then(|block| block.downcast_ref::<T>().cloned())
        {
            cache.count(true);
            return kept;
        }
        cache.count(false);
        let made = make();
        cache.put(family, key, Arc::new(made.clone()));
        made
    }

    /// Writes a download (a CSV or JSON file under `data/`) and records what it holds.
    pub(super) fn download(&mut self, resource: Resource, bytes: impl Into<Vec<u8>>) {
        self.site.insert(resource.path.clone(), bytes);
        self.resources.push(resource);
    }

    pub(super) fn area(&self, code: &str) -> Option<&AreaSummary> {
        self.areas.iter().find(|a| a.code == code)
    }

    /// The page path of a report for an area (see the module docs for the naming).
    pub(super) fn report_path(&self, report: &Report, area: Option<&AreaSummary>) -> String {
        match area {
            None if report.id == "overview" => "index.html".into(),
            None => format!("{}.html", report.id),
            Some(area) if area.level == AreaLevel::Stp => {
                let folder = stp_folder(area);
                if report.id == "stp" {
                    format!("{folder}/index.html")
                } else {
                    format!("{folder}/{}.html", report.id)
                }
            }
            Some(area) => {
                let stp = area.parent.as_deref().and_then(|p| self.area(p));
                let folder = stp.map(stp_folder).unwrap_or_else(|| "areas".into());
                let name = slug(&area.name);
                if report.id == "borough" {
                    format!("{folder}/{name}.html")
                } else {
                    format!("{folder}/{name}-{}.html", report.id)
                }
            }
        }
    }

    pub(super) fn stp_page(&self, stp: &AreaSummary) -> String {
        format!("{}/index.html", stp_folder(stp))
    }

    pub(super) fn borough_page(&self, borough: &AreaSummary) -> String {
        let stp = borough.parent.as_deref().and_then(|p| self.area(p));
        let folder = stp.map(stp_folder).unwrap_or_else(|| "areas".into());
        format!("{folder}/{}.html", slug(&borough.name))
    }

    pub(super) fn breadcrumbs_for(
        &self,
        area: Option<&AreaSummary>,
        is_home: bool,
    ) -> Vec<(String, String)> {
        let mut crumbs = Vec::new();
        if is_home {
            return crumbs;
        }
        crumbs.push(("London".to_owned(), "index.html".to_owned()));
        if let Some(area) = area
            && area.level == AreaLevel::Borough
            && let Some(stp) = area.parent.as_deref().and_then(|p| self.area(p))
        {
            crumbs.push((stp.short.clone(), self.stp_page(stp)));
        }
        crumbs
    }

    pub(super) fn links(&self, from: &str, items: &[(String, String)]) -> Vec<Link> {
        items
            .iter()
            .map(|(label, href)| Link {
                label: label.clone(),
                href: relative(from, href),
            })
            .collect()
    }

    /// Renders a page template with the context every page shares.
    pub(super) fn render(&mut self, template: &str, place: &PagePlace, page: Value) {
        let snapshot = self.inputs.snapshot;
        let base = BasePage {
            site_title: snapshot.config.site.title.clone(),
            title: place.title.clone(),
            root: relative(&place.path, ""),
            path: place.path.clone(),
            nav: self.links(&place.path, &self.nav),
            breadcrumbs: self.links(&place.path, &place.breadcrumbs),
            revision: self.inputs.revision.clone(),
            latest_month: self
                .inputs
                .queries
                .tables
                .latest_month
                .map(|m| m.long_name()),
        };
        match render_page(&self.env, template, &base, page) {
            Ok(html) => self.site.insert(place.path.clone(), html),
            Err(error) => self
                .problems
                .push(template_problem(&snapshot.config.paths.site, &error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect()
    }

    #[test]
    fn a_family_is_rendered_with_the_templates_it_reaches() {
        let templates = theme(&[
            ("base.html", "{% import 'macros.html' as m %}<html>"),
            ("macros.html", "{% macro x() %}{% endmacro %}"),
            ("report.html", "{% extends \"base.html\" %}"),
            (
                "template.html",
                "{%- extends \"base.html\" %}{% include \"form.html\" %}",
            ),
            ("form.html", ""),
            ("quality.html", "{% extends 'base.html' %}"),
        ]);
        assert_eq!(
            theme_closure(&templates, &["report.html"]),
            ["base.html", "macros.html", "report.html"]
                .map(String::from)
                .into()
        );
        assert!(theme_closure(&templates, &["template.html"]).contains("form.html"));
        assert!(!theme_closure(&templates, &["quality.html"]).contains("form.html"));
    }

    #[test]
    fn a_computed_template_name_reaches_every_template() {
        let templates = theme(&[
            ("report.html", "{% include page_kind ~ '.html' %}"),
            ("a.html", ""),
            ("b.html", ""),
        ]);
        assert_eq!(theme_closure(&templates, &["report.html"]).len(), 3);
    }
}
