//! A tile map of London: one square per borough in the London Squared layout, coloured by a
//! value in five classes, STP areas outlined, with a legend. Suppressed values are hatched.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::format::{escape, format_number};

/// One borough on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub code: String,
    pub name: String,
    pub short: String,
    pub stp: String,
    pub column: u32,
    pub row: u32,
    /// `None` when suppressed or not published.
    pub value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TileMapModel {
    pub id: String,
    pub title: String,
    pub description: String,
    pub units: String,
    pub tiles: Vec<Tile>,
    /// Tiles outside this STP area are drawn faded.
    pub highlight_stp: Option<String>,
}

/// Light to dark blues; text turns white on the three darkest.
const CLASS_FILLS: [&str; 5] = ["#e8f1fa", "#a8cbe9", "#5a9bd5", "#2b6cb0", "#003087"];
const SIZE: f64 = 46.0;
const GAP: f64 = 3.0;
const MARGIN: f64 = 6.0;

/// Class boundaries: five equal steps between the smallest and largest value.
pub fn class_breaks(values: &[f64]) -> Vec<f64> {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !min.is_finite() || !max.is_finite() {
        return Vec::new();
    }
    let step = (max - min) / CLASS_FILLS.len() as f64;
    (1..CLASS_FILLS.len())
        .map(|i| min + step * i as f64)
        .collect()
}

fn class_of(value: f64, breaks: &[f64]) -> usize {
    breaks.iter().filter(|b| value > **b).count()
}

pub fn render_svg(map: &TileMapModel) -> String {
    let columns = map.tiles.iter().map(|t| t.column).max().unwrap_or(0) + 1;
    let rows = map.tiles.iter().map(|t| t.row).max().unwrap_or(0) + 1;
    let width = MARGIN * 2.0 + columns as f64 * (SIZE + GAP);
    let map_height = MARGIN * 2.0 + rows as f64 * (SIZE + GAP);
    let values: Vec<f64> = map.tiles.iter().filter_map(|t| t.value).collect();
    let breaks = class_breaks(&values);
    let id = escape(&map.id);
    let legend_height = 58.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="cp-map" viewBox="0 0 {width:.0} {:.0}" role="img" aria-labelledby="{id}-title {id}-desc" font-family="Arial, sans-serif" font-size="12"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc><defs><pattern id="{id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#768692" stroke-width="2"/></pattern></defs>"##,
        map_height + legend_height,
        escape(&map.title),
        escape(&map.description)
    );
    let x_of = |column: u32| MARGIN + column as f64 * (SIZE + GAP);
    let y_of = |row: u32| MARGIN + row as f64 * (SIZE + GAP);
    for tile in &map.tiles {
        let faded = map
            .highlight_stp
            .as_ref()
            .is_some_and(|stp| stp != &tile.stp);
        let (fill, dark) = match tile.value {
            Some(value) => {
                let class = class_of(value, &breaks);
                (CLASS_FILLS[class].to_owned(), class >= 2)
            }
            None => (format!("url(#{id}-hatch)"), false),
        };
        let shown = tile
            .value
            .map_or_else(|| "suppressed".to_owned(), |v| format_number(v, 1));
        let _ = write!(
            out,
            r##"<g{}><title>{}: {} {}</title><rect x="{:.1}" y="{:.1}" width="{SIZE}" height="{SIZE}" fill="{fill}" stroke="#4c6272" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold" fill="{}">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10" fill="{}">{}</text></g>"##,
            if faded { r#" opacity="0.35""# } else { "" },
            escape(&tile.name),
            escape(&shown),
            if tile.value.is_some() {
                escape(&map.units)
            } else {
                String::new()
            },
            x_of(tile.column),
            y_of(tile.row),
            x_of(tile.column) + SIZE / 2.0,
            y_of(tile.row) + SIZE / 2.0 - 2.0,
            if dark { "#ffffff" } else { "#212b32" },
            escape(&tile.short),
            x_of(tile.column) + SIZE / 2.0,
            y_of(tile.row) + SIZE / 2.0 + 12.0,
            if dark { "#ffffff" } else { "#212b32" },
            tile.value
                .map_or_else(|| "supp.".to_owned(), |v| format_number(v, 1)),
        );
    }
    // STP outlines: a thick edge wherever a tile's neighbour belongs to another area (or none).
    let by_position: HashMap<(u32, u32), &str> = map
        .tiles
        .iter()
        .map(|t| ((t.column, t.row), t.stp.as_str()))
        .collect();
    for tile in &map.tiles {
        let (x, y) = (x_of(tile.column) - GAP / 2.0, y_of(tile.row) - GAP / 2.0);
        let side = SIZE + GAP;
        let neighbours = [
            (
                tile.column.checked_sub(1).map(|c| (c, tile.row)),
                (x, y, x, y + side),
            ),
            (
                Some((tile.column + 1, tile.row)),
                (x + side, y, x + side, y + side),
            ),
            (
                tile.row.checked_sub(1).map(|r| (tile.column, r)),
                (x, y, x + side, y),
            ),
            (
                Some((tile.column, tile.row + 1)),
                (x, y + side, x + side, y + side),
            ),
        ];
        for (neighbour, (x1, y1, x2, y2)) in neighbours {
            let same = neighbour
                .and_then(|p| by_position.get(&p))
                .is_some_and(|stp| *stp == tile.stp);
            if !same {
                let _ = write!(
                    out,
                    r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#212b32" stroke-width="2.5" stroke-linecap="square"/>"##
                );
            }
        }
    }
    // Legend.
    let top = map_height + 4.0;
    let _ = write!(
        out,
        r#"<text x="{MARGIN}" y="{:.1}">{}</text>"#,
        top + 10.0,
        escape(&map.units)
    );
    let mut lower = values.iter().copied().fold(f64::INFINITY, f64::min);
    let upper_bound = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let box_width = ((width - 2.0 * MARGIN) / 6.0).min(62.0);
    for (class, fill) in CLASS_FILLS.iter().enumerate() {
        if breaks.is_empty() {
            break;
        }
        let upper = breaks.get(class).copied().unwrap_or(upper_bound);
        let x = MARGIN + class as f64 * box_width;
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="12" fill="{fill}" stroke="#4c6272" stroke-width="0.5"/><text x="{x:.1}" y="{:.1}" font-size="10">{}–{}</text>"##,
            top + 16.0,
            box_width - 2.0,
            top + 42.0,
            format_number(lower, 1),
            format_number(upper, 1)
        );
        lower = upper;
    }
    let x = MARGIN + 5.0 * box_width;
    let _ = write!(
        out,
        r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="12" fill="url(#{id}-hatch)" stroke="#4c6272" stroke-width="0.5"/><text x="{x:.1}" y="{:.1}" font-size="10">suppressed</text>"##,
        top + 16.0,
        box_width - 2.0,
        top + 42.0
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(code: &str, stp: &str, column: u32, value: Option<f64>) -> Tile {
        Tile {
            code: code.into(),
            name: format!("Borough {code}"),
            short: code[..3].into(),
            stp: stp.into(),
            column,
            row: 0,
            value,
        }
    }

    #[test]
    fn five_equal_classes() {
        assert_eq!(class_breaks(&[0.0, 10.0]), vec![2.0, 4.0, 6.0, 8.0]);
        assert_eq!(class_of(10.0, &[2.0, 4.0, 6.0, 8.0]), 4);
        assert_eq!(class_of(0.0, &[2.0, 4.0, 6.0, 8.0]), 0);
    }

    #[test]
    fn map_has_title_outlines_and_hatched_suppressed_tile() {
        let map = TileMapModel {
            id: "map".into(),
            title: "Plans per 1,000".into(),
            description: "desc".into(),
            units: "per 1,000".into(),
            tiles: vec![tile("AAA1", "X", 0, Some(5.0)), tile("BBB2", "Y", 1, None)],
            highlight_stp: None,
        };
        let svg = render_svg(&map);
        assert!(svg.contains(r#"<title id="map-title">Plans per 1,000</title>"#));
        assert!(svg.contains("url(#map-hatch)"));
        assert!(svg.contains("Borough BBB2: suppressed"));
        // The edge between tiles of different STP areas is outlined.
        assert!(svg.matches("stroke-width=\"2.5\"").count() >= 8);
    }
}
