//! Areas compared with a comparator, as OHID Fingertips compares them: each area's rate (or
//! proportion) with 95% and 99.8% confidence intervals — Byar's method for a rate (exact
//! Poisson below 10 events), Wilson's score for a proportion — "similar", "higher" or "lower"
//! by whether the comparator lies inside the interval; and funnel limits (Spiegelhalter) for
//! rates against their populations. Intervals are computed from the published (rounded)
//! counts. Pure: query rows in, values out.

use crate::model::IntervalMethod;

use super::intervals::{self, Comparison, FunnelLimits, Interval};
use super::query::QueryResult;

/// One area's figure with its intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    pub label: String,
    pub numerator: f64,
    pub denominator: f64,
    /// The rate (per `per`).
    pub value: f64,
    pub ci95: Interval,
    pub ci998: Interval,
    /// Against the comparator at 95% and at 99.8%.
    pub at_95: Comparison,
    pub at_998: Comparison,
}

/// What a comparison compares, from a chart's definition.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    pub label: &'a str,
    pub numerator: &'a str,
    pub denominator: &'a str,
    pub per: f64,
    pub method: IntervalMethod,
    pub comparator: &'a str,
}

/// The comparator's row and every other row, each with its intervals; a row whose counts are
/// suppressed (or whose denominator is 0) is left out and named in the second list.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparisons {
    pub comparator: Option<Compared>,
    pub rows: Vec<Compared>,
    pub left_out: Vec<String>,
}

fn interval(method: IntervalMethod, x: f64, n: f64, confidence: f64, per: f64) -> Option<Interval> {
    match method {
        IntervalMethod::Rate => {
            intervals::rate_interval(x, n, confidence, per).map(|r| r.interval())
        }
        IntervalMethod::Proportion => {
            intervals::proportion_interval(x, n, confidence).map(|i| i.scale(per))
        }
    }
}

/// Compares every row of `result` with the comparator row.
pub fn compare(result: &QueryResult, spec: &Spec<'_>) -> Comparisons {
    let (Some(li), Some(ni), Some(di)) = (
        result.column_index(spec.label),
        result.column_index(spec.numerator),
        result.column_index(spec.denominator),
    ) else {
        return Comparisons {
            comparator: None,
            rows: Vec::new(),
            left_out: Vec::new(),
        };
    };
    let mut measured = Vec::new();
    let mut left_out = Vec::new();
    for row in &result.rows {
        let label = row[li].as_text();
        match (row[ni].as_f64(), row[di].as_f64()) {
            (Some(x), Some(n)) if n > 0.0 => {
                let (Some(ci95), Some(ci998)) = (
                    interval(spec.method, x, n, 0.95, spec.per),
                    interval(spec.method, x, n, 0.998, spec.per),
                ) else {
                    left_out.push(label);
                    continue;
                };
                measured.push((label, x, n, ci95, ci998));
            }
            _ => left_out.push(label),
        }
    }
    let comparator_value = measured
        .iter()
        .find(|(label, ..)| label == spec.comparator)
        .map(|(_, x, n, ..)| x / n * spec.per);
    let mut comparator = None;
    let mut rows = Vec::new();
    for (label, x, n, ci95, ci998) in measured {
        let value = x / n * spec.per;
        let against = comparator_value.unwrap_or(value);
        let compared = Compared {
            at_95: ci95.compare(against),
            at_998: ci998.compare(against),
            label,
            numerator: x,
            denominator: n,
            value,
            ci95,
            ci998,
        };
        if compared.label == spec.comparator {
            comparator = Some(compared);
        } else {
            rows.push(compared);
        }
    }
    Comparisons {
        comparator,
        rows,
        left_out,
    }
}

/// Funnel limits around the comparator's rate, for denominators across the rows' range (and
/// a little beyond), smooth enough to draw: (denominator, limits).
pub fn funnel(comparisons: &Comparisons, per: f64) -> Vec<(f64, FunnelLimits)> {
    let Some(comparator) = &comparisons.comparator else {
        return Vec::new();
    };
    let denominators: Vec<f64> = comparisons.rows.iter().map(|r| r.denominator).collect();
    let (Some(low), Some(high)) = (
        denominators.iter().copied().reduce(f64::min),
        denominators.iter().copied().reduce(f64::max),
    ) else {
        return Vec::new();
    };
    let (low, high) = (low * 0.8, high * 1.1);
    let steps = 60;
    (0..=steps)
        .filter_map(|i| {
            // Evenly spaced on a log scale: the funnel narrows fastest at small denominators.
            let denominator = low * (high / low).powf(f64::from(i) / f64::from(steps));
            intervals::funnel_limits_rate(comparator.value, denominator, per)
                .map(|l| (denominator, l))
        })
        .collect()
}

/// Where a row sits against the funnel at its own denominator.
pub fn funnel_position(
    comparator_rate: f64,
    row: &Compared,
    per: f64,
) -> Option<intervals::FunnelSignificance> {
    intervals::funnel_limits_rate(comparator_rate, row.denominator, per)
        .map(|l| l.classify(row.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse::Cell;

    fn rows(data: &[(&str, i64, i64)]) -> QueryResult {
        QueryResult {
            columns: vec!["area".into(), "plans".into(), "people".into()],
            rows: data
                .iter()
                .map(|(a, x, n)| vec![Cell::Text((*a).into()), Cell::Int(*x), Cell::Int(*n)])
                .collect(),
        }
    }

    fn spec(method: IntervalMethod, per: f64) -> Spec<'static> {
        Spec {
            label: "area",
            numerator: "plans",
            denominator: "people",
            per,
            method,
            comparator: "London",
        }
    }

    #[test]
    fn areas_are_higher_lower_or_similar_by_their_interval() {
        let result = rows(&[
            ("London", 60_000, 550_000),
            ("High", 2_000, 10_000),
            ("Low", 500, 10_000),
            ("Close", 1_100, 10_000),
            ("Hidden", 0, 0),
        ]);
        let compared = compare(&result, &spec(IntervalMethod::Rate, 1000.0));
        let london = compared.comparator.as_ref().unwrap();
        assert!((london.value - 109.09).abs() < 0.01);
        let by = |label: &str| {
            compared
                .rows
                .iter()
                .find(|r| r.label == label)
                .unwrap()
                .at_95
        };
        assert_eq!(by("High"), Comparison::Higher);
        assert_eq!(by("Low"), Comparison::Lower);
        assert_eq!(by("Close"), Comparison::Similar);
        assert_eq!(compared.left_out, ["Hidden"]);
    }

    #[test]
    fn proportions_use_wilson_score_intervals() {
        // 40 of 45: Wilson's 95% interval is about 76.5% to 95.2%.
        let result = rows(&[("London", 800, 1_000), ("Area", 40, 45)]);
        let compared = compare(&result, &spec(IntervalMethod::Proportion, 100.0));
        let area = &compared.rows[0];
        assert!((area.ci95.lower - 76.5).abs() < 0.2, "{:?}", area.ci95);
        assert!((area.ci95.upper - 95.2).abs() < 0.2, "{:?}", area.ci95);
        assert_eq!(area.at_95, Comparison::Similar);
    }

    #[test]
    fn the_funnel_narrows_as_the_population_grows() {
        let result = rows(&[
            ("London", 60_000, 550_000),
            ("A", 900, 8_000),
            ("B", 3_000, 30_000),
        ]);
        let compared = compare(&result, &spec(IntervalMethod::Rate, 1000.0));
        let limits = funnel(&compared, 1000.0);
        assert!(limits.len() > 10);
        let width = |l: &FunnelLimits| l.upper_95 - l.lower_95;
        assert!(width(&limits[0].1) > width(&limits.last().unwrap().1));
        assert!(
            limits
                .iter()
                .all(|(_, l)| l.lower_99_8 <= l.lower_95 && l.upper_95 <= l.upper_99_8)
        );
    }
}
