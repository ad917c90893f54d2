//! Report pages: a report's queries for one area turned into headline figures, a tile map,
//! charts with their data tables, tables, links one level down, and the downloads behind them.

use std::collections::BTreeMap;

use minijinja::{Value, context};

use crate::analyse::reports;
use crate::analyse::{Cell, QueryResult};
use crate::model::{AreaLevel, AreaSummary, Chart, ChartType, ColumnFormat, Month, Report};
use crate::snapshot::Loaded;

use super::chart::{self, ChartModel, Marker, Series, XAxis};
use super::datapackage::{chart_resource, json_resource, table_resource};
use super::evidence_views::{self, ChartBlock, Download};
use super::format::{format_cell, format_cell_with, honest_decimals, humanise};
use super::site::{PagePlace, Renderer, relative, ser};
use super::tilemap::{self, Tile, TileMapModel};
use super::views::{
    ChartView, FigureView, TableBlock, chart_csv, chart_table, has_missing, map_table, page_json,
    report_table, table_csv,
};

impl Renderer<'_> {
    pub(super) fn report_page(&mut self, report: &Loaded<Report>, area: Option<&AreaSummary>) {
        let started = std::time::Instant::now();
        let evaluated =
            reports::evaluate(report, &self.inputs.queries, area.map(|a| a.code.as_str()));
        self.query_time += started.elapsed();
        let results = match evaluated {
            Ok(results) => results,
            Err(problems) => {
                self.problems.extend(problems);
                return;
            }
        };
        let value = &report.value;
        let path = self.report_path(value, area);
        let title = match area {
            Some(area) => format!("{}: {}", value.title, area.name),
            None => value.title.clone(),
        };
        let data_stem = path.trim_end_matches(".html").replace('/', "-");
        let markers = self.markers_for(value, area);
        let mut charts = Vec::new();
        for (index, chart) in value.charts.iter().enumerate() {
            let Some(result) = results.get(&chart.query) else {
                continue;
            };
            let made = self.block(("chart", index, &path, result), || {
                chart_block(
                    self.inputs.snapshot,
                    chart,
                    index,
                    result,
                    &path,
                    &data_stem,
                    &markers,
                )
            });
            if let Some((block, download)) = made {
                self.download(download.resource, download.csv);
                charts.push(block);
            }
        }
        let mut spc_tables = Vec::new();
        for (index, table) in value.spc_tables.iter().enumerate() {
            let Some(result) = results.get(&table.query) else {
                continue;
            };
            let csv_path = format!("data/{data_stem}-spc-table-{}.csv", index + 1);
            let (view, download) = self.block(("spc table", index, &path, result), || {
                evidence_views::spc_table_view(
                    self.inputs.snapshot,
                    table,
                    result,
                    &format!("spc-table-{}", index + 1),
                    relative(&path, &csv_path),
                    &csv_path,
                )
            });
            self.download(download.resource, download.csv);
            spc_tables.push(view);
        }
        let mut table_views = Vec::new();
        for (index, table) in value.tables.iter().enumerate() {
            let Some(result) = results.get(&table.query) else {
                continue;
            };
            let view = report_table(table, result);
            let csv_path = format!("data/{data_stem}-table-{}.csv", index + 1);
            let formats: Vec<Option<ColumnFormat>> =
                table.columns.iter().map(|c| c.format).collect();
            let missing: Vec<Option<String>> =
                table.columns.iter().map(|c| c.missing.clone()).collect();
            self.download(
                table_resource(&csv_path, &view, &formats, &missing),
                table_csv(&view),
            );
            table_views.push(TableBlock {
                anchor: format!("table-{}", index + 1),
                csv: relative(&path, &csv_path),
                table: view,
            });
        }
        let figures: Vec<FigureView> = value
            .figures
            .iter()
            .filter_map(|figure| {
                let result = results.get(&figure.query)?;
                let row = result.rows.first();
                let cell = row.and_then(|r| result.column_index(&figure.column).map(|i| &r[i]));
                let denominator = figure.denominator.as_ref().and_then(|d| {
                    let index = result.column_index(d)?;
                    row.and_then(|r| r[index].as_f64())
                });
                let text = cell.and_then(|c| format_cell_with(c, figure.format, denominator));
                let note = figure.note.as_ref().map(|note| fill_note(note, result));
                Some(FigureView {
                    label: figure.label.clone(),
                    missing: text.is_none(),
                    value: text.unwrap_or_else(|| "suppressed".into()),
                    note,
                })
            })
            .collect();
        let map = value.map.as_ref().and_then(|map| {
            let result = results.get(&map.query)?;
            let highlight = area.and_then(|a| match a.level {
                AreaLevel::Stp => Some(a.code.clone()),
                AreaLevel::Borough => a.parent.clone(),
                AreaLevel::London => None,
            });
            let model = self.tile_map(map, result, highlight);
            let table = map_table(&model);
            let csv_path = format!("data/{data_stem}-map.csv");
            self.download(
                table_resource(
                    &csv_path,
                    &table,
                    &[Some(ColumnFormat::Text), Some(ColumnFormat::Decimal)],
                    &[None, None],
                ),
                table_csv(&table),
            );
            Some(context! {
                title => model.title.clone(),
                description => model.description.clone(),
                svg => tilemap::render_svg(&model),
                table => ser(&table),
                csv => relative(&path, &csv_path),
            })
        });
        let children = self.children_of(&path, area, value);
        let json_path = format!("data/{data_stem}.json");
        self.download(
            json_resource(
                &json_path,
                &format!("Query results: {title}"),
                &format!("The result of every query of the page {path}; null is a suppressed or withheld figure"),
            ),
            page_json(&path, &title, area, &results),
        );
        let any_missing = figures.iter().any(|f| f.missing)
            || charts.iter().any(|c| match c {
                ChartBlock::Basic(c) => has_missing(&c.table),
                ChartBlock::Stats(_) => false,
            })
            || table_views.iter().any(|t| has_missing(&t.table));
        let mut contents: Vec<(String, String)> = Vec::new();
        if !figures.is_empty() {
            contents.push(("headline-figures".into(), "Headline figures".into()));
        }
        if let Some(map) = &value.map {
            contents.push(("tile-map".into(), map.title.clone()));
        }
        contents.extend(charts.iter().map(|c| match c {
            ChartBlock::Basic(c) => (c.anchor.clone(), c.title.clone()),
            ChartBlock::Stats(c) => (c.anchor.clone(), c.title.clone()),
        }));
        contents.extend(
            spc_tables
                .iter()
                .map(|t| (t.anchor.clone(), t.caption.clone())),
        );
        contents.extend(
            table_views
                .iter()
                .map(|t| (t.anchor.clone(), t.table.caption.clone())),
        );
        if let Some(children) = &children {
            let heading = children
                .get_attr("heading")
                .map(|h| h.to_string())
                .unwrap_or_default();
            contents.push(("areas".into(), heading));
        }
        let place = PagePlace {
            breadcrumbs: self.breadcrumbs_for(area, path == "index.html"),
            path: path.clone(),
            title,
        };
        self.render(
            "report.html",
            &place,
            context! {
                description => value.description.clone(),
                area => area.map(|a| context! { name => a.name.clone(), level => a.level.name() }),
                figures => ser(&figures),
                map => map,
                charts => ser(&charts),
                spc_tables => ser(&spc_tables),
                tables => ser(&table_views),
                children => children,
                contents => contents,
                json => relative(&path, &json_path),
                suppressed_note => any_missing,
            },
        );
    }

    /// Programme start markers for charts over months on this page.
    fn markers_for(&self, report: &Report, area: Option<&AreaSummary>) -> Vec<Marker> {
        let snapshot = self.inputs.snapshot;
        let stp = area.and_then(|a| match a.level {
            AreaLevel::Stp => Some(a.code.clone()),
            AreaLevel::Borough => a.parent.clone(),
            AreaLevel::London => None,
        });
        snapshot
            .programmes
            .iter()
            .filter(|p| match &stp {
                Some(code) => &p.value.area == code,
                None => report.id == "programmes",
            })
            .map(|p| Marker {
                category: p.value.start.to_string(),
                label: format!(
                    "{} programme starts",
                    self.area(&p.value.area)
                        .map_or(p.value.area.as_str(), |a| a.short.as_str())
                ),
            })
            .collect()
    }

    /// Links to the pages one level down: STP areas from the overview, boroughs from an STP page.
    fn children_of(
        &self,
        path: &str,
        area: Option<&AreaSummary>,
        report: &Report,
    ) -> Option<Value> {
        let (heading, items): (String, Vec<(String, String)>) = match (area, report.id.as_str()) {
            (None, "overview") => (
                "STP areas".into(),
                self.areas
                    .iter()
                    .filter(|a| a.level == AreaLevel::Stp)
                    .map(|a| (a.name.clone(), self.stp_page(a)))
                    .collect(),
            ),
            (Some(stp), "stp") if stp.level == AreaLevel::Stp => (
                format!("Boroughs in {}", stp.short),
                self.areas
                    .iter()
                    .filter(|a| a.parent.as_deref() == Some(stp.code.as_str()))
                    .map(|a| (a.name.clone(), self.borough_page(a)))
                    .collect(),
            ),
            _ => return None,
        };
        Some(context! { heading => heading, links => ser(self.links(path, &items)) })
    }

    fn tile_map(
        &self,
        map: &crate::model::TileMap,
        result: &QueryResult,
        highlight: Option<String>,
    ) -> TileMapModel {
        let values: BTreeMap<String, Option<f64>> = result
            .column("area_code")
            .unwrap_or_default()
            .into_iter()
            .zip(result.column(&map.value).unwrap_or_default())
            .map(|(code, value)| (code.as_text(), value.as_f64()))
            .collect();
        let tiles = self
            .inputs
            .snapshot
            .areas
            .iter()
            .flat_map(|a| a.value.boroughs.iter())
            .map(|b| Tile {
                code: b.code.clone(),
                name: b.name.clone(),
                short: self
                    .area(&b.code)
                    .map_or_else(|| b.name.clone(), |a| a.short.clone()),
                stp: b.stp.clone(),
                column: b.tile[0],
                row: b.tile[1],
                value: values.get(&b.code).copied().flatten(),
            })
            .collect();
        TileMapModel {
            id: "tile-map".into(),
            title: map.title.clone(),
            description: map
                .description
                .clone()
                .unwrap_or_else(|| format!("Each square is a London borough in its approximate position, outlined by STP area, shaded by {}.", map.units)),
            units: map.units.clone(),
            tiles,
            highlight_stp: highlight,
        }
    }
}

/// Replaces `{column}` in a figure's note with the first row's value of that column.
fn fill_note(note: &str, result: &QueryResult) -> String {
    let mut out = note.to_owned();
    if let Some(row) = result.rows.first() {
        for (index, column) in result.columns.iter().enumerate() {
            let needle = format!("{{{column}}}");
            if out.contains(&needle) {
                // A month (`YYYY-MM`) is written out: "March 2023".
                let is_month = matches!(&row[index], Cell::Text(t) if t.parse::<Month>().is_ok());
                let format = is_month.then_some(ColumnFormat::Month);
                let text = format_cell(&row[index], format).unwrap_or_else(|| "suppressed".into());
                out = out.replace(&needle, &text);
            }
        }
    }
    out
}

/// Builds a chart model from a query: categories from `x` in order of appearance, one series
/// per distinct `series` value (or one series).
fn chart_model(chart: &Chart, result: &QueryResult, id: String, markers: &[Marker]) -> ChartModel {
    let x = result.column_index(&chart.x);
    let y = result.column_index(&chart.y);
    let s = chart
        .series
        .as_ref()
        .and_then(|name| result.column_index(name));
    let mut categories: Vec<String> = Vec::new();
    let mut series_names: Vec<String> = Vec::new();
    let mut values: BTreeMap<(usize, usize), Option<f64>> = BTreeMap::new();
    let mut decimals: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let denominator = chart
        .denominator
        .as_ref()
        .and_then(|d| result.column_index(d));
    if let (Some(x), Some(y)) = (x, y) {
        for row in &result.rows {
            let category = row[x].as_text();
            let name = s.map_or_else(|| chart.y.clone(), |s| row[s].as_text());
            let ci = categories
                .iter()
                .position(|c| c == &category)
                .unwrap_or_else(|| {
                    categories.push(category.clone());
                    categories.len() - 1
                });
            let si = series_names
                .iter()
                .position(|n| n == &name)
                .unwrap_or_else(|| {
                    series_names.push(name.clone());
                    series_names.len() - 1
                });
            values.insert((si, ci), row[y].as_f64());
            if let Some(format) = chart.format {
                let of = denominator.and_then(|d| row[d].as_f64());
                decimals.insert((si, ci), honest_decimals(format, of));
            }
        }
    }
    let single_name = chart.units.clone();
    let series = series_names
        .iter()
        .enumerate()
        .map(|(si, name)| Series {
            name: if s.is_some() {
                name.clone()
            } else {
                single_name.clone()
            },
            values: (0..categories.len())
                .map(|ci| values.get(&(si, ci)).copied().flatten())
                .collect(),
            decimals: if chart.format.is_some() {
                (0..categories.len())
                    .map(|ci| decimals.get(&(si, ci)).copied().unwrap_or(0))
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect();
    let x_axis = XAxis::of(&categories);
    let months = x_axis == XAxis::Months;
    ChartModel {
        id,
        kind: chart.chart_type,
        title: chart.title.clone(),
        description: chart
            .description
            .clone()
            .unwrap_or_else(|| chart.title.clone()),
        x_label: if months {
            "Month".into()
        } else {
            humanise(&chart.x)
        },
        x_axis,
        units: chart.units.clone(),
        categories,
        series,
        markers: if months { markers.to_vec() } else { Vec::new() },
    }
}

/// One chart of a report page and its download; none for a comparison without its comparator.
fn chart_block(
    snapshot: &crate::snapshot::Snapshot,
    chart: &Chart,
    index: usize,
    result: &QueryResult,
    path: &str,
    data_stem: &str,
    markers: &[Marker],
) -> Option<(ChartBlock, Download)> {
    let anchor = format!("chart-{}", index + 1);
    let csv_path = format!("data/{data_stem}-chart-{}.csv", index + 1);
    let csv_href = relative(path, &csv_path);
    let stats = match chart.chart_type {
        ChartType::Line | ChartType::Bar | ChartType::StackedBar => None,
        ChartType::Spc => Some(evidence_views::spc_chart_view(
            snapshot,
            chart,
            result,
            &anchor,
            chart.title.clone(),
            csv_href.clone(),
            &csv_path,
        )),
        ChartType::Comparison => {
            evidence_views::comparison_view(chart, result, &anchor, csv_href.clone(), &csv_path)
        }
        ChartType::Funnel => {
            evidence_views::funnel_view(chart, result, &anchor, csv_href.clone(), &csv_path)
        }
    };
    if let Some((view, download)) = stats {
        return Some((ChartBlock::Stats(view), download));
    }
    if chart.chart_type.is_statistical() {
        // A comparison without its comparator row (or columns) has nothing to show.
        return None;
    }
    let model = chart_model(chart, result, anchor.clone(), markers);
    let download = Download {
        resource: chart_resource(&csv_path, &model),
        csv: chart_csv(&model),
    };
    Some((
        ChartBlock::Basic(ChartView {
            anchor,
            title: model.title.clone(),
            description: model.description.clone(),
            svg: chart::render_svg(&model),
            table: chart_table(&model),
            csv: csv_href,
        }),
        download,
    ))
}
