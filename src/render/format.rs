//! How values are written on pages: escaping, thousands separators, percentages, months.

use crate::analyse::Cell;
use crate::model::{ColumnFormat, Month};

/// Escapes text for HTML and SVG (element content and quoted attributes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A number with thousands separators and a fixed number of decimals: 115000 -> "115,000".
pub fn format_number(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w.to_owned(), Some(f.to_owned())),
        None => (text.clone(), None),
    };
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// How many decimals a figure can honestly show on a page (downloads keep the computed value).
/// Each published count may be up to 2.5 off its true value (rounded to 5), so NHS England's
/// HES rule shows a percentage with one decimal only when its rounded denominator is at least
/// 4,000 (then within 0.1 of the true figure), else as a whole number. A rate per 1,000 of an
/// exact population moves by up to 2.5 x 1,000 / population, so it earns a decimal only from
/// 25,000 people. Without a denominator, percentages and rates are whole numbers.
pub fn honest_decimals(format: ColumnFormat, denominator: Option<f64>) -> usize {
    let at_least = |threshold: f64| usize::from(denominator.is_some_and(|d| d >= threshold));
    match format {
        ColumnFormat::Percent => at_least(4_000.0),
        ColumnFormat::Rate => at_least(25_000.0),
        ColumnFormat::Decimal => 1,
        ColumnFormat::Integer | ColumnFormat::Text | ColumnFormat::Month => 0,
    }
}

/// The text for a cell with its denominator (see `honest_decimals`), or `None` when empty.
pub fn format_cell_with(
    cell: &Cell,
    format: Option<ColumnFormat>,
    denominator: Option<f64>,
) -> Option<String> {
    match (cell, format) {
        (Cell::Null, _) => None,
        (cell, Some(ColumnFormat::Percent)) => cell.as_f64().map(|v| {
            let decimals = honest_decimals(ColumnFormat::Percent, denominator);
            format!("{}%", format_number(v, decimals))
        }),
        (cell, Some(ColumnFormat::Rate)) => cell
            .as_f64()
            .map(|v| format_number(v, honest_decimals(ColumnFormat::Rate, denominator))),
        _ => format_cell(cell, format),
    }
}

/// The text for a cell, or `None` when the cell is empty (the caller says why).
pub fn format_cell(cell: &Cell, format: Option<ColumnFormat>) -> Option<String> {
    match (cell, format) {
        (Cell::Null, _) => None,
        (Cell::Text(text), Some(ColumnFormat::Month)) => Some(
            text.parse::<Month>()
                .map(|m| m.long_name())
                .unwrap_or_else(|_| text.clone()),
        ),
        (Cell::Text(text), _) => Some(text.clone()),
        (Cell::Bool(value), _) => Some(if *value { "yes" } else { "no" }.to_owned()),
        (cell, Some(ColumnFormat::Percent)) => {
            cell.as_f64().map(|v| format!("{}%", format_number(v, 0)))
        }
        (cell, Some(ColumnFormat::Rate)) => cell.as_f64().map(|v| format_number(v, 0)),
        (cell, Some(ColumnFormat::Decimal)) => cell.as_f64().map(|v| format_number(v, 1)),
        (cell, Some(ColumnFormat::Integer)) => cell.as_f64().map(|v| format_number(v.round(), 0)),
        (Cell::Int(v), _) => Some(format_number(*v as f64, 0)),
        (cell, _) => cell.as_f64().map(|v| format_number(v, 2)),
    }
}

/// A URL-safe slug: "Barking and Dagenham" -> "barking-and-dagenham".
/// The text with its first letter in upper case ("similar" -> "Similar").
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// A column name as a heading: `deaths_in_preferred_place` -> "Deaths in preferred place".
pub fn humanise(column: &str) -> String {
    capitalise(&column.replace('_', " "))
}

pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(format_number(115_000.0, 0), "115,000");
        assert_eq!(format_number(1234.567, 1), "1,234.6");
        assert_eq!(format_number(-12.0, 0), "-12");
        assert_eq!(format_number(999.0, 0), "999");
    }

    #[test]
    fn percentages_and_rates_show_a_decimal_only_where_rounding_allows_it() {
        let percent = Some(ColumnFormat::Percent);
        // 40 of 45 (both rounded): anything from about 81% to 98%; one decimal would lie.
        assert_eq!(
            format_cell_with(&Cell::Float(88.89), percent, Some(45.0)).unwrap(),
            "89%"
        );
        assert_eq!(
            format_cell_with(&Cell::Float(88.89), percent, Some(3_995.0)).unwrap(),
            "89%"
        );
        assert_eq!(
            format_cell_with(&Cell::Float(88.89), percent, Some(4_000.0)).unwrap(),
            "88.9%"
        );
        assert_eq!(
            format_cell_with(&Cell::Float(88.89), percent, None).unwrap(),
            "89%"
        );
        let rate = Some(ColumnFormat::Rate);
        assert_eq!(
            format_cell_with(&Cell::Float(12.46), rate, Some(18_000.0)).unwrap(),
            "12"
        );
        assert_eq!(
            format_cell_with(&Cell::Float(12.46), rate, Some(250_000.0)).unwrap(),
            "12.5"
        );
        assert_eq!(honest_decimals(ColumnFormat::Decimal, None), 1);
    }

    #[test]
    fn cells_format_by_column_format() {
        assert_eq!(
            format_cell(&Cell::Float(74.26), Some(ColumnFormat::Percent)).unwrap(),
            "74%"
        );
        assert_eq!(
            format_cell(&Cell::Text("2021-04".into()), Some(ColumnFormat::Month)).unwrap(),
            "April 2021"
        );
        assert_eq!(format_cell(&Cell::Null, None), None);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slug("Barking and Dagenham"), "barking-and-dagenham");
        assert_eq!(slug("City of London"), "city-of-london");
    }
}
