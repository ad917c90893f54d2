//! XmR (individuals and moving range) charts with NHS England's
//! *Making Data Count* (MDC) special-cause rules.
//!
//! This is a line-by-line port of the calculations in the R package
//! **NHSRplotthedots 0.2.2** (NHS-R Community,
//! <https://github.com/nhs-r-community/NHSRplotthedots>, git tag `0.2.2`,
//! commit `050b07d7eacc011767532732f69b8fd7d6a28fd3`), with the package
//! defaults (`screen_outliers = TRUE`, `fix_after_n_points = NULL`,
//! `ptd_spc.warning_threshold = 13`). The R functions ported are named in the
//! doc comment of each Rust item:
//!
//! * `ptd_spc_standard()` – centre line, moving ranges, outlier screening,
//!   process limits and near ("2 sigma") limits;
//! * `ptd_calculate_point_type()` and its helpers
//!   (`ptd_seven_point_one_side_mean`, `ptd_part_of_seven_trend`,
//!   `ptd_seven_point_trend`, `ptd_two_in_three`, `ptd_part_of_two_in_three`,
//!   `ptd_special_cause_type`, `ptd_point_type`) – the four MDC rules, their
//!   precedence and the orientation by improvement direction;
//! * `ptd_add_rebase_column()` / the `rebase_group` grouping – rebasing;
//! * `ptd_add_short_group_warnings()` – the "trial limits" flag;
//! * `ptd_calculate_assurance_type()` – assurance against a target;
//! * `ptd_get_icons()` (in `geom_ptd_icon.R`) – the variation icon.
//!
//! MDC background: NHS England's *Making Data Count* guidance and its "plot
//! the dots" Excel tool (<https://www.england.nhs.uk/publication/making-data-count/>,
//! the reference NHSRplotthedots cites). The rules, as NHSRplotthedots
//! implements them, are:
//!
//! 1. **Outside limits** – a point above the upper or below the lower
//!    process limit (mean ± 2.66 × mean moving range).
//! 2. **Trend** – 7 consecutive points each strictly higher (or each strictly
//!    lower) than the one before; every point in the run is flagged.
//! 3. **Two of three** – of three consecutive points, all on the same side of
//!    the mean, at least two lie between the near limit (mean ± ⅔ × 2.66 ×
//!    mean moving range) and the process limit; only those near-limit points
//!    are flagged.
//! 4. **Shift** – 7 or more consecutive points on the same side of the mean
//!    (a point exactly on the mean breaks the run); every point is flagged.
//!
//! Where NHSRplotthedots behaves in a way a reader of the MDC guidance might
//! not expect, the code keeps the R behaviour and says so in a comment
//! (search for "NHSRplotthedots quirk"). The only intentional deviations are
//! for inputs where R returns `NaN` or errors: see [`xmr_with_options`].
//!
//! Everything is pure (no I/O, no global state) and no input panics (empty,
//! single point, constant, non-finite, odd rebase indexes).

/// Process limits are `mean ± 2.66 × mean moving range` (`limit <- 2.66` in
/// `ptd_spc_standard()`); 2.66 = 3 / d2 with d2 = 1.128 for ranges of 2.
pub const LIMIT_MULTIPLIER: f64 = 2.66;

/// Near limits are at two thirds of the process-limit distance
/// (`limitclose <- 2 * (limit / 3)` in `ptd_spc_standard()`), i.e. "2 sigma".
/// Written in the same operation order as R so the value is bit-identical.
pub const NEAR_LIMIT_MULTIPLIER: f64 = 2.0 * (LIMIT_MULTIPLIER / 3.0);

/// Moving ranges at or above `3.267 × mean moving range` are screened out
/// (Nelson 1982; 3.267 = D4 for n = 2) before the mean moving range is
/// recomputed once. `ptd_spc_standard()` keeps ranges with `mr < 3.267 * amr`.
pub const SCREENING_MULTIPLIER: f64 = 3.267;

/// Segments with fewer points than this have "trial limits":
/// `ptd_add_short_group_warnings(warning_threshold =
/// getOption("ptd_spc.warning_threshold", 13))` flags groups with `n() < 13`.
pub const TRIAL_LIMITS_THRESHOLD: usize = 13;

/// Length of the trend and shift runs (the R helper names say "seven").
pub const RUN_LENGTH: usize = 7;

/// Which direction of change is an improvement (`improvement_direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Improvement {
    /// Higher values are better (`"increase"`, the R default).
    Increase,
    /// Lower values are better (`"decrease"`).
    Decrease,
    /// Neither direction is better (`"neutral"`).
    Neutral,
}

impl Improvement {
    /// The R argument value: `increase`, `decrease` or `neutral`.
    pub fn id(&self) -> &'static str {
        match self {
            Improvement::Increase => "increase",
            Improvement::Decrease => "decrease",
            Improvement::Neutral => "neutral",
        }
    }

    /// `ptd_spc.data.frame()` turns the direction into 1 / -1 / 0 and
    /// `ptd_point_type()` multiplies the signal direction by it.
    fn sign(self) -> i8 {
        match self {
            Improvement::Increase => 1,
            Improvement::Decrease => -1,
            Improvement::Neutral => 0,
        }
    }
}

/// The MDC rule that determined a point's classification (after precedence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A point above the upper or below the lower process limit.
    OutsideLimits,
    /// Part of a run of 7 points each higher (or each lower) than the last.
    Trend,
    /// A near-limit point in 2 of 3 consecutive points on one side.
    TwoOfThree,
    /// Part of a run of 7 or more points on one side of the mean.
    Shift,
}

impl Rule {
    /// Stable snake_case identifier.
    pub fn id(&self) -> &'static str {
        match self {
            Rule::OutsideLimits => "outside_limits",
            Rule::Trend => "trend",
            Rule::TwoOfThree => "two_of_three",
            Rule::Shift => "shift",
        }
    }
}

/// Which way a signal points: above the mean / a limit, or an increasing
/// trend (`High`); below, or a decreasing trend (`Low`). This is the `v` of
/// `ptd_point_type()`, which looks for "Above|Increasing" and
/// "Below|Decreasing" in the special-cause text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    High,
    Low,
}

impl Side {
    pub fn id(&self) -> &'static str {
        match self {
            Side::High => "high",
            Side::Low => "low",
        }
    }

    fn sign(self) -> i8 {
        match self {
            Side::High => 1,
            Side::Low => -1,
        }
    }
}

/// The `point_type` column of `ptd_spc()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PointType {
    CommonCause,
    SpecialCauseImprovement,
    SpecialCauseConcern,
    SpecialCauseNeutralHigh,
    SpecialCauseNeutralLow,
}

impl PointType {
    /// Exactly the R `point_type` strings.
    pub fn id(&self) -> &'static str {
        match self {
            PointType::CommonCause => "common_cause",
            PointType::SpecialCauseImprovement => "special_cause_improvement",
            PointType::SpecialCauseConcern => "special_cause_concern",
            PointType::SpecialCauseNeutralHigh => "special_cause_neutral_high",
            PointType::SpecialCauseNeutralLow => "special_cause_neutral_low",
        }
    }

    pub fn is_special_cause(&self) -> bool {
        *self != PointType::CommonCause
    }
}

/// The MDC variation icon, taken from the last point of the chart
/// (`ptd_get_icons()` filters `x == max(x)` per facet, across rebase groups).
/// The ids are the icon file stems shipped in NHSRplotthedots
/// `inst/icons/variation/*.svg`, which follow the MDC icon names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variation {
    CommonCause,
    ImprovementHigh,
    ImprovementLow,
    ConcernHigh,
    ConcernLow,
    NeutralHigh,
    NeutralLow,
}

impl Variation {
    /// `common_cause`, `improvement_high`, `improvement_low`, `concern_high`,
    /// `concern_low`, `neutral_high`, `neutral_low`.
    pub fn id(&self) -> &'static str {
        match self {
            Variation::CommonCause => "common_cause",
            Variation::ImprovementHigh => "improvement_high",
            Variation::ImprovementLow => "improvement_low",
            Variation::ConcernHigh => "concern_high",
            Variation::ConcernLow => "concern_low",
            Variation::NeutralHigh => "neutral_high",
            Variation::NeutralLow => "neutral_low",
        }
    }

    /// Plain-English MDC wording for the icon.
    pub fn label(&self) -> &'static str {
        match self {
            Variation::CommonCause => "Common cause variation",
            Variation::ImprovementHigh => "Special cause variation: improvement (higher)",
            Variation::ImprovementLow => "Special cause variation: improvement (lower)",
            Variation::ConcernHigh => "Special cause variation: concern (higher)",
            Variation::ConcernLow => "Special cause variation: concern (lower)",
            Variation::NeutralHigh => "Special cause variation: higher (neither good nor bad)",
            Variation::NeutralLow => "Special cause variation: lower (neither good nor bad)",
        }
    }
}

/// MDC assurance against a target (`ptd_calculate_assurance_type()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Assurance {
    /// The target is outside the process limits on the good side: the
    /// process will consistently meet it.
    ConsistentlyPassing,
    /// The target is outside the process limits on the bad side: the process
    /// will consistently fail it.
    ConsistentlyFailing,
    /// The target lies within (or on) the process limits: it will be met
    /// sometimes and missed sometimes.
    HitAndMiss,
}

impl Assurance {
    /// The R `assurance_type` strings: `consistent_pass`, `consistent_fail`,
    /// `inconsistent` (icon files `pass.svg`, `fail.svg`, `inconsistent.svg`).
    pub fn id(&self) -> &'static str {
        match self {
            Assurance::ConsistentlyPassing => "consistent_pass",
            Assurance::ConsistentlyFailing => "consistent_fail",
            Assurance::HitAndMiss => "inconsistent",
        }
    }

    /// MDC wording.
    pub fn label(&self) -> &'static str {
        match self {
            Assurance::ConsistentlyPassing => "Consistently passing the target",
            Assurance::ConsistentlyFailing => "Consistently failing the target",
            Assurance::HitAndMiss => {
                "Hit and miss: the target will be met some months and not others"
            }
        }
    }
}

/// Which rules a point takes part in, before precedence is applied (a point
/// above the upper limit at the end of a trend has both flags set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Signals {
    pub outside_limits: bool,
    pub trend: bool,
    pub two_of_three: bool,
    pub shift: bool,
}

/// One point of the chart (one row of the `ptd_spc()` data frame).
#[derive(Debug, Clone, PartialEq)]
pub struct SpcPoint {
    pub value: f64,
    /// 1-based segment number (R's `rebase_group` starts at 0 when the first
    /// date is not a rebase date, and at 1 when it is; we always start at 1).
    pub segment: usize,
    /// `mean_col`.
    pub centre: f64,
    /// `lpl`.
    pub lower_limit: f64,
    /// `upl`.
    pub upper_limit: f64,
    /// `nlpl` (dropped from the R output, used for "two of three").
    pub lower_near: f64,
    /// `nupl`.
    pub upper_near: f64,
    /// `relative_to_mean`: `sign(value - centre)`, i.e. -1, 0 or 1.
    pub relative_to_mean: i8,
    /// `close_to_limits`: beyond a near limit but not outside the limits.
    pub close_to_limits: bool,
    /// Rule membership before precedence.
    pub signals: Signals,
    /// The rule that won (precedence: outside limits, trend, two of three,
    /// shift); `None` for common cause.
    pub rule: Option<Rule>,
    /// Direction of the winning rule.
    pub side: Option<Side>,
    pub point_type: PointType,
}

impl SpcPoint {
    /// The R `special_cause_type` text for this point, e.g. `"Above UCL"`,
    /// `"7 Point Trend (Increasing)"`, `"2 in 3 Below CL"`,
    /// `"7 Points Above CL"` or `"Common Cause"`.
    pub fn special_cause_type(&self) -> &'static str {
        special_cause_text(self.rule, self.side)
    }
}

/// A run of points sharing one set of limits (a rebase group).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Index of the first point.
    pub start: usize,
    /// One past the last point.
    pub end: usize,
    pub centre: f64,
    /// Mean moving range after screening (`amr`); `NaN` for one point.
    pub mean_moving_range: f64,
    pub lower_limit: f64,
    pub upper_limit: f64,
    pub lower_near: f64,
    pub upper_near: f64,
    /// Fewer than [`TRIAL_LIMITS_THRESHOLD`] (13) points.
    pub trial_limits: bool,
}

impl Segment {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// The whole chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SpcChart {
    pub points: Vec<SpcPoint>,
    pub segments: Vec<Segment>,
    pub improvement: Improvement,
    /// Icon for the last point ([`Variation::CommonCause`] for an empty chart).
    pub variation: Variation,
    /// `None` without a (finite) target, with a neutral direction, or for an
    /// empty chart.
    pub assurance: Option<Assurance>,
}

impl SpcChart {
    /// The segment containing the last point.
    pub fn latest_segment(&self) -> Option<&Segment> {
        self.segments.last()
    }

    /// True if any segment has trial limits (NHSRplotthedots then adds the
    /// caption "Some trial limits created by groups of fewer than 12 points
    /// exist. These will become more reliable as more data is added.").
    pub fn has_trial_limits(&self) -> bool {
        self.segments.iter().any(|s| s.trial_limits)
    }
}

/// Non-default `ptd_spc()` settings. [`xmr`] uses `XmrOptions::default()`,
/// which are the NHSRplotthedots 0.2.2 defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmrOptions {
    /// `screen_outliers` (default `true`). `false` reproduces the MDC Excel
    /// tool, which does not screen (see the package's "deviations" vignette).
    pub screen_outliers: bool,
    /// `fix_after_n_points` (default `None`): compute the mean and moving
    /// ranges of each segment from its first n points only; the rules are
    /// still applied to every point. R requires n >= 12; here `Some(0)` is
    /// treated as `None`.
    pub fix_after_n_points: Option<usize>,
    /// `getOption("ptd_spc.warning_threshold", 13)`.
    pub trial_limits_threshold: usize,
}

impl Default for XmrOptions {
    fn default() -> Self {
        XmrOptions {
            screen_outliers: true,
            fix_after_n_points: None,
            trial_limits_threshold: TRIAL_LIMITS_THRESHOLD,
        }
    }
}

/// Build an XmR chart with the NHSRplotthedots 0.2.2 defaults.
///
/// * `values` – the series in time order, one value per period, no gaps.
/// * `rebase_at` – indexes of points that start a new segment. As with R's
///   `rebase` dates (`date %in% rebase` then `cumsum`), index 0, indexes past
///   the end and duplicates have no effect, and order does not matter.
/// * `improvement` – which direction is good.
/// * `target` – optional target for the assurance icon.
pub fn xmr(
    values: &[f64],
    rebase_at: &[usize],
    improvement: Improvement,
    target: Option<f64>,
) -> SpcChart {
    xmr_with_options(
        values,
        rebase_at,
        improvement,
        target,
        &XmrOptions::default(),
    )
}

/// [`xmr`] with explicit options.
///
/// Edge cases (R would give `NaN` limits or stop with an error; we never
/// panic):
/// * empty `values`: no points, no segments, `CommonCause` variation, no
///   assurance;
/// * a segment of one point has no moving range, so its mean moving range and
///   limits are `NaN` exactly as in R (`mean(NA, na.rm = TRUE)` is `NaN`);
///   its point is common cause, and assurance against `NaN` limits is
///   `HitAndMiss` (R's `case_when` falls through to `"inconsistent"`);
/// * a constant segment (all moving ranges 0): R screens out *every* moving
///   range (`0 < 3.267 * 0` is false) and so returns `NaN` limits; we use a
///   mean moving range of 0 so the limits collapse onto the mean. Point
///   types are the same either way (all common cause);
/// * non-finite values propagate into that segment's mean and limits; they
///   never raise a signal themselves.
///
/// The 0-for-constant rule also applies when `fix_after_n_points` makes the
/// basis constant; later points that differ from it are then outside the
/// (collapsed) limits, where R would show no signals at all.
pub fn xmr_with_options(
    values: &[f64],
    rebase_at: &[usize],
    improvement: Improvement,
    target: Option<f64>,
    options: &XmrOptions,
) -> SpcChart {
    let bounds = segment_bounds(values.len(), rebase_at);
    let mut points = Vec::with_capacity(values.len());
    let mut segments = Vec::with_capacity(bounds.len());

    for (segment_index, &(start, end)) in bounds.iter().enumerate() {
        let ys = &values[start..end];
        let (centre, mrbar) = centre_and_mean_moving_range(ys, options);
        let lower_limit = centre - LIMIT_MULTIPLIER * mrbar;
        let upper_limit = centre + LIMIT_MULTIPLIER * mrbar;
        let lower_near = centre - NEAR_LIMIT_MULTIPLIER * mrbar;
        let upper_near = centre + NEAR_LIMIT_MULTIPLIER * mrbar;

        // Columns of ptd_spc_standard(); comparisons with NaN are false,
        // which matches R's case_when() treating NA as "not this case".
        let rtm: Vec<i8> = ys.iter().map(|&y| sign(y - centre)).collect();
        let outside: Vec<bool> = ys
            .iter()
            .map(|&y| y > upper_limit || y < lower_limit)
            .collect();
        let close: Vec<bool> = ys
            .iter()
            .zip(&outside)
            .map(|(&y, &out)| !out && (y < lower_near || y > upper_near))
            .collect();

        // ptd_special_cause_type(): rules are evaluated per (facet,
        // rebase_group), so no run can cross a rebase boundary.
        let part_trend = part_of_seven_trend(&seven_point_trend(ys));
        let part_two = part_of_two_in_three(&two_in_three(&close, &rtm), &close);
        let part_shift = part_of_seven_trend(&seven_point_one_side_mean(&rtm));
        let types = special_cause_type(ys, &rtm, &outside, &part_trend, &part_two, &part_shift);

        for (i, &value) in ys.iter().enumerate() {
            let (rule, side) = types[i];
            points.push(SpcPoint {
                value,
                segment: segment_index + 1,
                centre,
                lower_limit,
                upper_limit,
                lower_near,
                upper_near,
                relative_to_mean: rtm[i],
                close_to_limits: close[i],
                signals: Signals {
                    outside_limits: outside[i],
                    trend: part_trend[i],
                    two_of_three: part_two[i],
                    shift: part_shift[i],
                },
                rule,
                side,
                point_type: point_type(side, improvement),
            });
        }

        segments.push(Segment {
            start,
            end,
            centre,
            mean_moving_range: mrbar,
            lower_limit,
            upper_limit,
            lower_near,
            upper_near,
            trial_limits: ys.len() < options.trial_limits_threshold,
        });
    }

    let last = points.last();
    let variation = last.map_or(Variation::CommonCause, |p| {
        variation(p.point_type, improvement)
    });
    // ptd_calculate_assurance_type() uses the last row, i.e. the limits of
    // the latest segment.
    let assurance = match (last, target) {
        (Some(p), Some(t)) => assurance(t, p.lower_limit, p.upper_limit, improvement),
        _ => None,
    };

    SpcChart {
        points,
        segments,
        improvement,
        variation,
        assurance,
    }
}

/// Assurance of a target against process limits
/// (`ptd_calculate_assurance_type()`).
///
/// Strict comparisons as in R: a target exactly on a limit is `HitAndMiss`,
/// and so is any comparison with `NaN` limits (R's `case_when` default).
/// Returns `None` for a neutral direction (R returns `NA`) and for a
/// non-finite target (a deliberate choice: R would say `"inconsistent"`).
pub fn assurance(
    target: f64,
    lower_limit: f64,
    upper_limit: f64,
    improvement: Improvement,
) -> Option<Assurance> {
    if !target.is_finite() {
        return None;
    }
    let increasing = match improvement {
        Improvement::Neutral => return None,
        Improvement::Increase => true,
        Improvement::Decrease => false,
    };
    Some(if target > upper_limit {
        if increasing {
            Assurance::ConsistentlyFailing
        } else {
            Assurance::ConsistentlyPassing
        }
    } else if target < lower_limit {
        if increasing {
            Assurance::ConsistentlyPassing
        } else {
            Assurance::ConsistentlyFailing
        }
    } else {
        Assurance::HitAndMiss
    })
}

/// The variation icon for a point type (`variation_icon_file()` in
/// `ptd_get_icons()`): concern is "low" when increase is good and "high"
/// otherwise; improvement is "high" when increase is good and "low"
/// otherwise.
pub fn variation(point_type: PointType, improvement: Improvement) -> Variation {
    let increasing = improvement == Improvement::Increase;
    match point_type {
        PointType::CommonCause => Variation::CommonCause,
        PointType::SpecialCauseNeutralHigh => Variation::NeutralHigh,
        PointType::SpecialCauseNeutralLow => Variation::NeutralLow,
        PointType::SpecialCauseConcern if increasing => Variation::ConcernLow,
        PointType::SpecialCauseConcern => Variation::ConcernHigh,
        PointType::SpecialCauseImprovement if increasing => Variation::ImprovementHigh,
        PointType::SpecialCauseImprovement => Variation::ImprovementLow,
    }
}

/// Plain-English description of the most recent special-cause signal in the
/// chart, using month labels (one per point), e.g.
/// `"7 months in a row above the mean, from February 2021 to August 2021:
/// special cause, improvement"`. `None` if no point is special cause.
pub fn describe_latest_signal(chart: &SpcChart, labels: &[String]) -> Option<String> {
    describe_latest_signal_with_unit(chart, labels, "month", "months")
}

/// [`describe_latest_signal`] with a different unit, e.g. `("week",
/// "weeks")`.
pub fn describe_latest_signal_with_unit(
    chart: &SpcChart,
    labels: &[String],
    singular: &str,
    plural: &str,
) -> Option<String> {
    let k = chart
        .points
        .iter()
        .rposition(|p| p.point_type.is_special_cause())?;
    Some(describe_at(chart, k, labels, singular, plural))
}

/// The most recent signal within one segment (1-based, as in
/// [`SpcPoint::segment`]); `None` if the segment does not exist or has no
/// special cause.
pub fn describe_segment_signal(
    chart: &SpcChart,
    segment: usize,
    labels: &[String],
    singular: &str,
    plural: &str,
) -> Option<String> {
    let seg = chart.segments.get(segment.checked_sub(1)?)?;
    let k = (seg.start..seg.end)
        .rev()
        .find(|&i| chart.points[i].point_type.is_special_cause())?;
    Some(describe_at(chart, k, labels, singular, plural))
}

// ---------------------------------------------------------------------------
// Internals, named after the R functions they port.
// ---------------------------------------------------------------------------

/// R's `sign()`, with `NaN` mapped to 0 so that a missing value never joins
/// a run (R would propagate `NA` and, in places, stop with an error).
fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// R's `mean()` for doubles: the sum divided by n, then corrected by the
/// mean residual (R's `summary.c` does this second pass, in long double).
fn r_mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let n = xs.len() as f64;
    let s = xs.iter().sum::<f64>() / n;
    if !s.is_finite() {
        return s;
    }
    let t: f64 = xs.iter().map(|&x| x - s).sum();
    s + t / n
}

/// Split `0..n` into segments at the rebase indexes (`cumsum(rebase)`).
fn segment_bounds(n: usize, rebase_at: &[usize]) -> Vec<(usize, usize)> {
    if n == 0 {
        return Vec::new();
    }
    let mut cuts: Vec<usize> = rebase_at
        .iter()
        .copied()
        .filter(|&i| i > 0 && i < n)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut bounds = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        bounds.push((start, cut));
        start = cut;
    }
    bounds.push((start, n));
    bounds
}

/// `mean_col` and the screened `amr` of `ptd_spc_standard()`.
fn centre_and_mean_moving_range(ys: &[f64], options: &XmrOptions) -> (f64, f64) {
    // fix_y: only the first n points inform the limits.
    let basis = match options.fix_after_n_points {
        Some(n) if n > 0 => &ys[..n.min(ys.len())],
        _ => ys,
    };
    let centre = r_mean(basis);
    // mr = c(NA, abs(diff(fix_y))): the first point of a segment has none.
    let ranges: Vec<f64> = basis.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    if ranges.is_empty() {
        return (centre, f64::NAN);
    }
    let first_pass = r_mean(&ranges);
    if !options.screen_outliers {
        return (centre, first_pass);
    }
    // Screen once: keep mr < 3.267 * amr (so ranges >= the cut-off go), then
    // recompute. The screening is not iterated.
    let cut_off = SCREENING_MULTIPLIER * first_pass;
    let kept: Vec<f64> = ranges.iter().copied().filter(|&mr| mr < cut_off).collect();
    if kept.is_empty() {
        // Only possible when every moving range is 0 (or non-finite): R gives
        // NaN here; we give 0 for the constant case (see xmr_with_options).
        return (centre, if first_pass == 0.0 { 0.0 } else { f64::NAN });
    }
    (centre, r_mean(&kept))
}

/// `ptd_seven_point_one_side_mean(v)`: 1 at a point that, with the 6 points
/// before it, is on the same (non-zero) side of the mean.
fn seven_point_one_side_mean(v: &[i8]) -> Vec<i8> {
    (0..v.len())
        .map(|i| {
            let run = i + 1 >= RUN_LENGTH
                && v[i] != 0
                && v[i + 1 - RUN_LENGTH..i].iter().all(|&x| x == v[i]);
            i8::from(run)
        })
        .collect()
}

/// `ptd_part_of_seven_trend(v)`: a point is part of a run if it, or any of
/// the 6 points after it, ends a run of 7 (|v| == 1). This is how the whole
/// run gets flagged, not just its last point.
fn part_of_seven_trend(v: &[i8]) -> Vec<bool> {
    (0..v.len())
        .map(|i| {
            let end = (i + RUN_LENGTH).min(v.len());
            v[i..end].iter().any(|&x| x.abs() == 1)
        })
        .collect()
}

/// `ptd_seven_point_trend(y)`: 1 (or -1) at a point that ends 7 points with
/// 6 strictly increasing (or decreasing) steps. A tie breaks the trend. The
/// trend ignores the mean and the limits.
fn seven_point_trend(y: &[f64]) -> Vec<i8> {
    if y.len() < RUN_LENGTH {
        return vec![0; y.len()];
    }
    (0..y.len())
        .map(|i| {
            if i + 1 < RUN_LENGTH {
                return 0;
            }
            let steps: Vec<i8> = y[i + 1 - RUN_LENGTH..=i]
                .windows(2)
                .map(|w| sign(w[1] - w[0]))
                .collect();
            if steps.iter().all(|&d| d == 1) {
                1
            } else if steps.iter().all(|&d| d == -1) {
                -1
            } else {
                0
            }
        })
        .collect()
}

/// `ptd_two_in_three(close_to_limits, relative_to_mean)`: true for every
/// point of a window of 3 consecutive points in which at least 2 are close to
/// the limits and all 3 are on the same side of the mean (|sum(rtm)| == 3).
///
/// NHSRplotthedots quirks kept: the third point must also be on the same
/// side of the mean; `close_to_limits` excludes points outside the limits,
/// so "one beyond the limit plus one near it" does not count; windows must
/// lie inside the segment (R pads with zeros, which can never sum to 3).
fn two_in_three(close: &[bool], rtm: &[i8]) -> Vec<bool> {
    let n = close.len().min(rtm.len());
    let window_fires = |s: usize| {
        s + 3 <= n
            && close[s..s + 3].iter().filter(|&&c| c).count() >= 2
            && rtm[s..s + 3]
                .iter()
                .map(|&r| i32::from(r))
                .sum::<i32>()
                .abs()
                == 3
    };
    (0..close.len())
        .map(|i| (i.saturating_sub(2)..=i).any(window_fires))
        .collect()
}

/// `ptd_part_of_two_in_three(v, x)`: of the points in a firing window, only
/// those that are themselves close to the limits are flagged.
fn part_of_two_in_three(v: &[bool], close: &[bool]) -> Vec<bool> {
    v.iter().zip(close).map(|(&a, &b)| a && b).collect()
}

/// `ptd_special_cause_type()`: combine the rule flags with precedence
/// outside limits > trend > two of three > shift > common cause.
fn special_cause_type(
    y: &[f64],
    rtm: &[i8],
    outside: &[bool],
    part_trend: &[bool],
    part_two: &[bool],
    part_shift: &[bool],
) -> Vec<(Option<Rule>, Option<Side>)> {
    let n = y.len();
    let above_or_below = |r: i8| if r > 0 { Side::High } else { Side::Low };
    (0..n)
        .map(|i| {
            if outside[i] {
                // ifelse(relative_to_mean == 1, "Above UCL", "Below LCL")
                let side = if rtm[i] == 1 { Side::High } else { Side::Low };
                (Some(Rule::OutsideLimits), Some(side))
            } else if part_trend[i] {
                // NHSRplotthedots quirk: the trend direction of a point is the
                // sign of the step to the *next* point when that point is
                // also part of a trend, otherwise the step from the previous
                // point; anything but +1 reads as "Decreasing". So the peak
                // shared by an up-trend followed by a down-trend is labelled
                // decreasing.
                let step = if i + 1 < n && part_trend[i + 1] {
                    sign(y[i + 1] - y[i])
                } else if i > 0 {
                    sign(y[i] - y[i - 1])
                } else {
                    0
                };
                let side = if step == 1 { Side::High } else { Side::Low };
                (Some(Rule::Trend), Some(side))
            } else if part_two[i] {
                (Some(Rule::TwoOfThree), Some(above_or_below(rtm[i])))
            } else if part_shift[i] {
                (Some(Rule::Shift), Some(above_or_below(rtm[i])))
            } else {
                (None, None)
            }
        })
        .collect()
}

/// `ptd_point_type()`: orient the signal by the improvement direction.
fn point_type(side: Option<Side>, improvement: Improvement) -> PointType {
    let Some(side) = side else {
        return PointType::CommonCause;
    };
    if improvement == Improvement::Neutral {
        return match side {
            Side::High => PointType::SpecialCauseNeutralHigh,
            Side::Low => PointType::SpecialCauseNeutralLow,
        };
    }
    if side.sign() * improvement.sign() > 0 {
        PointType::SpecialCauseImprovement
    } else {
        PointType::SpecialCauseConcern
    }
}

/// The R `special_cause_type` strings.
fn special_cause_text(rule: Option<Rule>, side: Option<Side>) -> &'static str {
    match (rule, side) {
        (Some(Rule::OutsideLimits), Some(Side::High)) => "Above UCL",
        (Some(Rule::OutsideLimits), _) => "Below LCL",
        (Some(Rule::Trend), Some(Side::High)) => "7 Point Trend (Increasing)",
        (Some(Rule::Trend), _) => "7 Point Trend (Decreasing)",
        (Some(Rule::TwoOfThree), Some(Side::High)) => "2 in 3 Above CL",
        (Some(Rule::TwoOfThree), _) => "2 in 3 Below CL",
        (Some(Rule::Shift), Some(Side::High)) => "7 Points Above CL",
        (Some(Rule::Shift), _) => "7 Points Below CL",
        (None, _) => "Common Cause",
    }
}

/// Describe the signal at point `k` (a special-cause point) together with the
/// run it belongs to, walking backwards within its segment. `k` is the last
/// special-cause point of its segment, so the run always ends at `k`.
fn describe_at(
    chart: &SpcChart,
    k: usize,
    labels: &[String],
    singular: &str,
    plural: &str,
) -> String {
    let points = &chart.points;
    let p = &points[k];
    let seg_start = chart.segments.get(p.segment - 1).map_or(0, |s| s.start);
    let side = p.side.unwrap_or(Side::High);
    let label = |i: usize| {
        labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("point {}", i + 1))
    };
    let count = |n: usize| {
        if n == 1 {
            format!("1 {singular}")
        } else {
            format!("{n} {plural}")
        }
    };
    let same_side = |i: usize| points[i].relative_to_mean == side.sign();

    let mut start = k;
    let what = match p.rule {
        Some(Rule::OutsideLimits) => {
            while start > seg_start
                && points[start - 1].signals.outside_limits
                && same_side(start - 1)
            {
                start -= 1;
            }
            let limit = match side {
                Side::High => "above the upper process limit",
                Side::Low => "below the lower process limit",
            };
            format!("{} {limit}", count(k - start + 1))
        }
        Some(Rule::Trend) => {
            while start > seg_start
                && points[start - 1].signals.trend
                && sign(points[start].value - points[start - 1].value) == side.sign()
            {
                start -= 1;
            }
            let way = match side {
                Side::High => "increasing",
                Side::Low => "decreasing",
            };
            format!("{} in a row {way}", count(k - start + 1))
        }
        Some(Rule::TwoOfThree) => {
            // Chain back through flagged near-limit points at most one
            // non-flagged point apart (the gap point must be on the same side).
            loop {
                if start > seg_start
                    && points[start - 1].signals.two_of_three
                    && same_side(start - 1)
                {
                    start -= 1;
                } else if start >= seg_start + 2
                    && points[start - 2].signals.two_of_three
                    && same_side(start - 2)
                    && same_side(start - 1)
                {
                    start -= 2;
                } else {
                    break;
                }
            }
            let near = (start..=k)
                .filter(|&i| points[i].signals.two_of_three)
                .count();
            let limit = match side {
                Side::High => "upper",
                Side::Low => "lower",
            };
            format!(
                "{near} of {} {plural} close to the {limit} process limit",
                k - start + 1
            )
        }
        Some(Rule::Shift) | None => {
            while start > seg_start && points[start - 1].signals.shift && same_side(start - 1) {
                start -= 1;
            }
            let where_ = match side {
                Side::High => "above",
                Side::Low => "below",
            };
            format!("{} in a row {where_} the mean", count(k - start + 1))
        }
    };
    let when = if start == k {
        format!("in {}", label(k))
    } else {
        format!("from {} to {}", label(start), label(k))
    };
    let outcome = match p.point_type {
        PointType::SpecialCauseImprovement => "special cause, improvement",
        PointType::SpecialCauseConcern => "special cause, concern",
        PointType::SpecialCauseNeutralHigh => "special cause, higher (neither good nor bad)",
        PointType::SpecialCauseNeutralLow => "special cause, lower (neither good nor bad)",
        PointType::CommonCause => "common cause",
    };
    format!("{what}, {when}: {outcome}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `set.seed(123); rnorm(24)` in R (the first 20 are the data used by
    /// tests/testthat/test-ptd_spc_standard.R and test-ptd_spc.R; all 24 by
    /// test-geom_ptd_icon.R).
    const RNORM_SEED_123: [f64; 24] = [
        -0.560475646552213,
        -0.23017748948328,
        1.55870831414912,
        0.070508391424576,
        0.129287735160946,
        1.71506498688328,
        0.460916205989202,
        -1.26506123460653,
        -0.686852851893526,
        -0.445661970099958,
        1.22408179743946,
        0.359813827057364,
        0.400771450594052,
        0.11068271594512,
        -0.555841134754075,
        1.78691313680308,
        0.497850478229239,
        -1.96661715662964,
        0.701355901563686,
        -0.472791407727934,
        -1.06782370598685,
        -0.217974914658295,
        -1.02600444830724,
        -0.72889122929114,
    ];

    #[track_caller]
    fn assert_close(actual: f64, expected: f64, tol: f64) {
        assert!(
            (actual - expected).abs() <= tol,
            "expected {expected}, got {actual} (tolerance {tol})"
        );
    }

    fn point_types(chart: &SpcChart) -> Vec<&'static str> {
        chart.points.iter().map(|p| p.point_type.id()).collect()
    }

    fn rules(chart: &SpcChart) -> Vec<Option<Rule>> {
        chart.points.iter().map(|p| p.rule).collect()
    }

    /// `n` month labels ("January 2021", ...) from month `month0` (0 = January) of `year`.
    fn months(n: usize, year: i32, month0: usize) -> Vec<String> {
        let first = i64::from(year) * 12 + month0 as i64;
        (0..n as i64)
            .map(|i| crate::model::Month::from_index(first + i).long_name())
            .collect()
    }

    fn bools(v: &[u8]) -> Vec<bool> {
        v.iter().map(|&x| x != 0).collect()
    }

    // -----------------------------------------------------------------
    // Ported from tests/testthat/test-ptd_calculate_point_type.R
    // -----------------------------------------------------------------

    #[test]
    fn r_seven_point_one_side_mean() {
        // "ptd_seven_point_one_side_mean works as expected"
        assert_eq!(seven_point_one_side_mean(&[]), Vec::<i8>::new());
        assert_eq!(seven_point_one_side_mean(&[1; 6]), vec![0; 6]);
        assert_eq!(
            seven_point_one_side_mean(&[1, 1, 1, 1, 1, 1, -1]),
            vec![0; 7]
        );
        assert_eq!(
            seven_point_one_side_mean(&[1, 1, 1, 1, 1, 1, 1, 1, -1]),
            vec![0, 0, 0, 0, 0, 0, 1, 1, 0]
        );
        assert_eq!(
            seven_point_one_side_mean(&[-1, -1, -1, -1, -1, -1, -1, -1, 1]),
            vec![0, 0, 0, 0, 0, 0, 1, 1, 0]
        );
    }

    #[test]
    fn r_part_of_seven_trend() {
        // "ptd_part_of_seven_trend works as expected"
        assert_eq!(part_of_seven_trend(&[]), Vec::<bool>::new());
        assert_eq!(part_of_seven_trend(&[0; 6]), vec![false; 6]);
        let mut expect = vec![true; 7];
        expect.push(false);
        assert_eq!(part_of_seven_trend(&[0, 0, 0, 0, 0, 0, 1, 0]), expect);
        assert_eq!(part_of_seven_trend(&[0, 0, 0, 0, 0, 0, -1, 0]), expect);
        let mut expect = vec![false];
        expect.extend([true; 7]);
        expect.push(false);
        assert_eq!(part_of_seven_trend(&[0, 0, 0, 0, 0, 0, 0, 1, 0]), expect);
        assert_eq!(part_of_seven_trend(&[0, 0, 0, 0, 0, 0, 0, -1, 0]), expect);
    }

    #[test]
    fn r_seven_point_trend() {
        // "ptd_seven_point_trend works as expected"
        assert_eq!(seven_point_trend(&[]), Vec::<i8>::new());
        assert_eq!(seven_point_trend(&[1., 2., 3., 4., 5., 6.]), vec![0; 6]);
        // c(1:3, 3:6): the tie breaks the trend
        assert_eq!(seven_point_trend(&[1., 2., 3., 3., 4., 5., 6.]), vec![0; 7]);
        assert_eq!(
            seven_point_trend(&[1., 2., 3., 4., 5., 6., 7.]),
            vec![0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(
            seven_point_trend(&[2., 1., 2., 3., 4., 5., 6., 7., 3.]),
            vec![0, 0, 0, 0, 0, 0, 0, 1, 0]
        );
        assert_eq!(
            seven_point_trend(&[7., 6., 5., 4., 3., 2., 1.]),
            vec![0, 0, 0, 0, 0, 0, -1]
        );
        assert_eq!(
            seven_point_trend(&[2., 7., 6., 5., 4., 3., 2., 1., 3.]),
            vec![0, 0, 0, 0, 0, 0, 0, -1, 0]
        );
    }

    #[test]
    fn r_two_in_three_same_side() {
        // "ptd_two_in_three works as expected"
        assert_eq!(two_in_three(&[], &[]), Vec::<bool>::new());
        assert_eq!(two_in_three(&[false; 3], &[0; 3]), vec![false; 3]);
        let all = [1, 1, 1];
        assert_eq!(two_in_three(&bools(&[1, 0, 1]), &all), vec![true; 3]);
        assert_eq!(two_in_three(&bools(&[0, 1, 1]), &all), vec![true; 3]);
        assert_eq!(two_in_three(&bools(&[1, 1, 0]), &all), vec![true; 3]);
        let all7 = [1; 7];
        assert_eq!(
            two_in_three(&bools(&[0, 0, 1, 0, 1, 0, 0]), &all7),
            bools(&[0, 0, 1, 1, 1, 0, 0])
        );
        assert_eq!(
            two_in_three(&bools(&[0, 0, 1, 1, 0, 0, 0]), &all7),
            bools(&[0, 1, 1, 1, 1, 0, 0])
        );
    }

    #[test]
    fn r_two_in_three_opposite_sides() {
        // "ptd_two_in_three works as expected when points are on opposite
        // sides of the mean"
        let alt = [1, -1, 1];
        assert_eq!(two_in_three(&bools(&[1, 0, 1]), &alt), vec![false; 3]);
        assert_eq!(two_in_three(&bools(&[0, 1, 1]), &alt), vec![false; 3]);
        assert_eq!(two_in_three(&bools(&[1, 1, 0]), &alt), vec![false; 3]);
        assert_eq!(
            two_in_three(&bools(&[0, 0, 1, 0, 1, 0, 0]), &[1, -1, 1, -1, 1, -1, 1]),
            vec![false; 7]
        );
        assert_eq!(
            two_in_three(&bools(&[0, 0, 1, 1, 0, 0, 0]), &[-1, 1, -1, 1, -1, 1, -1]),
            vec![false; 7]
        );
    }

    #[test]
    fn r_part_of_two_in_three() {
        // "ptd_part_of_two_in_three works as expected"
        let part = |close: &[u8], rtm: &[i8]| {
            let c = bools(close);
            part_of_two_in_three(&two_in_three(&c, rtm), &c)
        };
        assert_eq!(part(&[], &[]), Vec::<bool>::new());
        assert_eq!(part(&[0, 0, 0], &[0, 0, 0]), vec![false; 3]);
        assert_eq!(part(&[1, 0, 1], &[1, 1, 1]), bools(&[1, 0, 1]));
        assert_eq!(part(&[0, 1, 1], &[1, 1, 1]), bools(&[0, 1, 1]));
        assert_eq!(part(&[1, 1, 0], &[1, 1, 1]), bools(&[1, 1, 0]));
        assert_eq!(
            part(&[0, 0, 1, 0, 1, 0, 0], &[1; 7]),
            bools(&[0, 0, 1, 0, 1, 0, 0])
        );
        assert_eq!(
            part(&[0, 0, 1, 1, 0, 0, 0], &[1; 7]),
            bools(&[0, 0, 1, 1, 0, 0, 0])
        );
        assert_eq!(part(&[1, 0, 0, 1], &[1; 4]), vec![false; 4]);
        assert_eq!(part(&[1, 0, 0, 1, 1], &[1; 5]), bools(&[0, 0, 0, 1, 1]));
    }

    #[test]
    fn r_special_cause_type_precedence() {
        // "ptd_special_cause_type works as expected": the R test mocks the
        // part_of_* helpers; we pass the same mocked vectors straight in.
        let y: Vec<f64> = (1..=8).map(f64::from).collect();
        let rtm = [1, 1, 1, 1, -1, -1, -1, -1];
        let outside = bools(&[0, 0, 0, 0, 0, 1, 1, 0]); // c(0,0,0,0,0,1,-1,0)
        let part_trend = bools(&[1, 1, 0, 0, 0, 0, 0, 0]); // c(1,-1,0,...)
        let part_shift = bools(&[0, 0, 1, 1, 0, 0, 0, 0]); // c(0,0,1,-1,0,...)
        let part_two = bools(&[0, 0, 0, 0, 1, 0, 0, 0]);
        let got: Vec<&str> =
            special_cause_type(&y, &rtm, &outside, &part_trend, &part_two, &part_shift)
                .into_iter()
                .map(|(r, s)| special_cause_text(r, s))
                .collect();
        assert_eq!(
            got,
            [
                "7 Point Trend (Increasing)",
                "7 Point Trend (Increasing)",
                "7 Points Above CL",
                "7 Points Above CL",
                "2 in 3 Below CL",
                "Below LCL",
                "Below LCL",
                "Common Cause",
            ]
        );
    }

    #[test]
    fn trend_direction_quirk_at_a_shared_peak() {
        // Up 7, tie, down 7 (limits ignored): the top of the up-trend is
        // labelled from the step to the next trend point, which is a tie, so
        // R calls it "Decreasing" (see special_cause_type()).
        let y = [1., 2., 3., 4., 5., 6., 7., 7., 6., 5., 4., 3., 2., 1.];
        let part = part_of_seven_trend(&seven_point_trend(&y));
        assert!(part.iter().all(|&p| p));
        let none = vec![false; y.len()];
        let got = special_cause_type(&y, &[0; 14], &none, &part, &none, &none);
        assert_eq!(
            special_cause_text(got[5].0, got[5].1),
            "7 Point Trend (Increasing)"
        );
        assert_eq!(
            special_cause_text(got[6].0, got[6].1),
            "7 Point Trend (Decreasing)"
        );
        assert_eq!(
            special_cause_text(got[13].0, got[13].1),
            "7 Point Trend (Decreasing)"
        );
    }

    // -----------------------------------------------------------------
    // Ported from tests/testthat/test-ptd_spc_standard.R and its snapshot
    // tests/testthat/_snaps/ptd_spc_standard.md
    // -----------------------------------------------------------------

    #[test]
    fn r_spc_standard_snapshot_r1() {
        let c = xmr(&RNORM_SEED_123[..20], &[], Improvement::Increase, None);
        let p = &c.points[0];
        assert_close(p.centre, 0.1416238, 5e-8);
        assert_close(p.lower_limit, -3.01138, 5e-6);
        assert_close(p.upper_limit, 3.294627, 5e-7);
        let rtm: Vec<i8> = c
            .points
            .iter()
            .take(15)
            .map(|p| p.relative_to_mean)
            .collect();
        assert_eq!(rtm, [-1, -1, 1, -1, -1, 1, 1, -1, -1, -1, 1, 1, 1, -1, -1]);
        assert!(
            c.points
                .iter()
                .take(8)
                .all(|p| !p.signals.outside_limits && !p.close_to_limits)
        );
        assert_eq!(c.segments.len(), 1);
        assert!(c.points.iter().all(|p| p.segment == 1));
    }

    #[test]
    fn r_spc_standard_snapshot_r2_r3_screening() {
        let mut y = RNORM_SEED_123[..20].to_vec();
        y[14] = 10.0; // data$y[15] <- 10
        let r2 = xmr(&y, &[], Improvement::Increase, None);
        assert_close(r2.points[0].centre, 0.6694159, 5e-8);
        assert_close(r2.points[0].lower_limit, -2.383666, 5e-7);
        assert_close(r2.points[0].upper_limit, 3.722497, 5e-7);
        let rtm: Vec<i8> = r2
            .points
            .iter()
            .take(14)
            .map(|p| p.relative_to_mean)
            .collect();
        assert_eq!(rtm, [-1, -1, 1, -1, -1, 1, -1, -1, -1, -1, 1, -1, -1, -1]);
        assert!(
            r2.points
                .iter()
                .take(8)
                .all(|p| !p.signals.outside_limits && !p.close_to_limits)
        );
        assert_eq!(r2.points[14].rule, Some(Rule::OutsideLimits));

        let no_screen = XmrOptions {
            screen_outliers: false,
            ..XmrOptions::default()
        };
        let r3 = xmr_with_options(&y, &[], Improvement::Increase, None, &no_screen);
        assert_close(r3.points[0].centre, 0.6694159, 5e-8);
        assert_close(r3.points[0].lower_limit, -4.596625, 5e-7);
        assert_close(r3.points[0].upper_limit, 5.935457, 5e-7);
        // "the range when screen_outliers = FALSE is larger"
        let r1 = xmr(&RNORM_SEED_123[..20], &[], Improvement::Increase, None);
        let width = |c: &SpcChart| c.points[0].upper_limit - c.points[0].lower_limit;
        assert!(width(&r3) > width(&r2));
        assert!(r1.points[0].lower_limit != r2.points[0].lower_limit);
        assert!(r2.points[0].upper_limit != r3.points[0].upper_limit);
    }

    #[test]
    fn r_spc_standard_rebase_group() {
        // "it sets the rebase_group field": rebase = c(rep(0, 10), 1, rep(0, 9))
        let y = &RNORM_SEED_123[..20];
        let c = xmr(y, &[], Improvement::Increase, None);
        assert!(c.points.iter().all(|p| p.segment == 1));
        let c = xmr(y, &[10], Improvement::Increase, None);
        let groups: Vec<usize> = c.points.iter().map(|p| p.segment).collect();
        let mut expect = vec![1; 10];
        expect.extend([2; 10]);
        assert_eq!(groups, expect);
    }

    #[test]
    fn r_spc_standard_fix_after_n_points() {
        // "setting fix_after_n_points changes the calculations"
        let y = &RNORM_SEED_123[..20];
        let s0 = xmr(y, &[], Improvement::Increase, None);
        let fixed = XmrOptions {
            fix_after_n_points: Some(12),
            ..XmrOptions::default()
        };
        let s1 = xmr_with_options(y, &[], Improvement::Increase, None, &fixed);
        assert!(s1.points[0].lower_limit != s0.points[0].lower_limit);
        assert!(s1.points[0].upper_limit != s0.points[0].upper_limit);
    }

    #[test]
    fn r_two_of_three_needs_the_same_side_of_the_mean() {
        // "it only reports special cause for 2of3 points close to limits when
        // they are on the same side of the mean"
        let mut y: Vec<f64> = (0..16)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        y[14] = 5.5;
        y[15] = -5.5;
        let c = xmr(&y, &[], Improvement::Increase, None);
        // Hand check: mean 0; MRs 13 x 2, 6.5, 11 -> mean 2.9; 11 >= 3.267 *
        // 2.9 is screened out -> mrbar 32.5 / 14; near limit +/-4.1167, so
        // both +/-5.5 are "close" but on opposite sides.
        assert_close(c.segments[0].mean_moving_range, 32.5 / 14.0, 1e-12);
        assert!(c.points[14].close_to_limits && c.points[15].close_to_limits);
        assert_eq!(point_types(&c)[14..], ["common_cause", "common_cause"]);
    }

    // -----------------------------------------------------------------
    // Ported from tests/testthat/test-ptd_spc.R (_snaps/ptd_spc.md summary
    // output) and tests/testthat/test-geom_ptd_icon.R
    // -----------------------------------------------------------------

    #[test]
    fn r_spc_summary_snapshot() {
        let y = &RNORM_SEED_123[..20];
        // s1: mean_col 0.142, lpl -3.01, upl 3.29, n 20, common_cause 20.
        // s2: rebase on 2020-01-01, a date before the data: no effect, which
        // is our rebase index 0.
        for rebase in [&[][..], &[0][..]] {
            let c = xmr(y, rebase, Improvement::Increase, None);
            assert_eq!(c.segments.len(), 1);
            let s = &c.segments[0];
            assert_eq!(s.len(), 20);
            assert_close(s.centre, 0.142, 5e-4);
            assert_close(s.lower_limit, -3.01, 5e-3);
            assert_close(s.upper_limit, 3.29, 5e-3);
            assert!(
                c.points
                    .iter()
                    .all(|p| p.point_type == PointType::CommonCause)
            );
            assert_eq!(c.variation, Variation::CommonCause);
            assert_eq!(c.assurance, None);
        }
        // s3/s4: facets of 10 points each; the calculation per facet is the
        // same as per rebase group.
        let c = xmr(y, &[10], Improvement::Increase, None);
        let expect = [(0.0746, -2.60, 2.75), (0.209, -3.28, 3.70)];
        for (s, (mean, lpl, upl)) in c.segments.iter().zip(expect) {
            assert_eq!(s.len(), 10);
            assert_close(s.centre, mean, 5e-4);
            assert_close(s.lower_limit, lpl, 5e-3);
            assert_close(s.upper_limit, upl, 5e-3);
            assert!(s.trial_limits);
        }
        assert!(
            c.points
                .iter()
                .all(|p| p.point_type == PointType::CommonCause)
        );
        // s5: target 0.5 gives an assurance column.
        let c = xmr(y, &[], Improvement::Increase, Some(0.5));
        assert_eq!(c.assurance, Some(Assurance::HitAndMiss));
    }

    #[test]
    fn r_get_icons() {
        // "ptd_get_icons transforms the data correctly"
        let y = &RNORM_SEED_123;
        let s1 = xmr(y, &[], Improvement::Increase, None);
        assert_eq!(s1.variation.id(), "common_cause");
        assert_eq!(s1.assurance, None);
        let s2 = xmr(y, &[], Improvement::Increase, Some(0.5));
        assert_eq!(s2.variation.id(), "common_cause");
        assert_eq!(s2.assurance.map(|a| a.id()), Some("inconsistent"));
        // s3/s4: facet f = rep(0:1, each = 12); each facet's last point is
        // common cause and each facet's assurance is inconsistent.
        let s4 = xmr(y, &[12], Improvement::Increase, Some(0.5));
        for s in &s4.segments {
            let last = &s4.points[s.end - 1];
            assert_eq!(
                variation(last.point_type, Improvement::Increase).id(),
                "common_cause"
            );
            assert_eq!(
                assurance(0.5, s.lower_limit, s.upper_limit, Improvement::Increase),
                Some(Assurance::HitAndMiss)
            );
        }
    }

    // -----------------------------------------------------------------
    // Ported from tests/testthat/test-ptd_calculate_assurance_type.R
    // -----------------------------------------------------------------

    #[test]
    fn r_assurance_no_target() {
        let c = xmr(&RNORM_SEED_123[..20], &[], Improvement::Increase, None);
        assert_eq!(c.assurance, None);
    }

    #[test]
    fn r_assurance_increase_decrease_neutral() {
        // lpl = c(1, 5, 1), upl = c(3, 7, 5), target = 4
        let limits = [(1.0, 3.0), (5.0, 7.0), (1.0, 5.0)];
        let ids = |imp| -> Vec<Option<&str>> {
            limits
                .iter()
                .map(|&(l, u)| assurance(4.0, l, u, imp).map(|a| a.id()))
                .collect()
        };
        assert_eq!(
            ids(Improvement::Increase),
            [
                Some("consistent_fail"),
                Some("consistent_pass"),
                Some("inconsistent")
            ]
        );
        assert_eq!(
            ids(Improvement::Decrease),
            [
                Some("consistent_pass"),
                Some("consistent_fail"),
                Some("inconsistent")
            ]
        );
        assert_eq!(ids(Improvement::Neutral), [None, None, None]);
    }

    #[test]
    fn r_assurance_uses_the_last_row_when_rebased() {
        // "it returns correct values for assurance when rebase": whichever
        // row is last decides (decrease, target 4).
        let rows = [(1.0, 3.0), (5.0, 7.0), (1.0, 5.0)];
        let last = |order: [usize; 3]| {
            let (l, u) = rows[order[2]];
            assurance(4.0, l, u, Improvement::Decrease)
        };
        assert_eq!(last([0, 1, 2]), Some(Assurance::HitAndMiss));
        assert_eq!(last([1, 2, 0]), Some(Assurance::ConsistentlyPassing));
        assert_eq!(last([2, 0, 1]), Some(Assurance::ConsistentlyFailing));
    }

    // -----------------------------------------------------------------
    // Ported from tests/testthat/test-ptd_add_short_group_warnings.R
    // -----------------------------------------------------------------

    fn trial_flags(lengths: &[usize], threshold: usize) -> Vec<bool> {
        let n: usize = lengths.iter().sum();
        let y: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
        let mut cuts = Vec::new();
        let mut at = 0;
        for &len in lengths {
            cuts.push(at);
            at += len;
        }
        let options = XmrOptions {
            trial_limits_threshold: threshold,
            ..XmrOptions::default()
        };
        let c = xmr_with_options(&y, &cuts, Improvement::Increase, None, &options);
        c.points
            .iter()
            .map(|p| c.segments[p.segment - 1].trial_limits)
            .collect()
    }

    #[test]
    fn r_short_group_warnings() {
        // warning_threshold <- 12 in the R test file
        assert_eq!(trial_flags(&[11], 12), vec![true; 11]);
        assert_eq!(trial_flags(&[12], 12), vec![false; 12]);
        // facets a/b of 40, rebase every 20: no warnings
        assert_eq!(trial_flags(&[20, 20, 20, 20], 12), vec![false; 80]);
        // one short group of 5 points
        let mut expect = vec![false; 35];
        expect.extend([true; 5]);
        expect.extend([false; 40]);
        assert_eq!(trial_flags(&[35, 5, 20, 20], 12), expect);
        // the package default threshold is 13 (although the warning text says
        // "n < 12"): 12 points are trial, 13 are not.
        assert_eq!(trial_flags(&[12], TRIAL_LIMITS_THRESHOLD), vec![true; 12]);
        assert_eq!(trial_flags(&[13], TRIAL_LIMITS_THRESHOLD), vec![false; 13]);
    }

    // -----------------------------------------------------------------
    // Ported from tests/testthat/test-ptd_add_rebase_column.R
    // -----------------------------------------------------------------

    #[test]
    fn r_rebase_column() {
        let y: Vec<f64> = (0..10).map(f64::from).collect();
        // no rebase: one group
        assert_eq!(xmr(&y, &[], Improvement::Increase, None).segments.len(), 1);
        // dates 2020-01-02..11, rebase on 2020-01-03 and 2020-01-08 -> rows 1
        // and 6 (0-based) start new groups
        let c = xmr(&y, &[1, 6], Improvement::Increase, None);
        let starts: Vec<usize> = c.segments.iter().map(|s| s.start).collect();
        assert_eq!(starts, [0, 1, 6]);
    }

    // -----------------------------------------------------------------
    // Ported from vignettes/deviations.Rmd (screen_outliers example)
    // -----------------------------------------------------------------

    #[test]
    fn r_vignette_deviations_screening() {
        let y = [
            1., 2., 1., 2., 10., 1., 2., 1., 2., 1., 2., 1., 2., 1., 2., 1., 2., 1.,
        ];
        // Hand check: mean 35/18; 17 MRs sum 32 (mean 1.882); the 8 and 9
        // are >= 3.267 x 1.882 = 6.15 so are dropped, leaving 15 ranges of 1.
        let c = xmr(&y, &[], Improvement::Increase, None);
        let s = &c.segments[0];
        assert_close(s.centre, 35.0 / 18.0, 1e-12);
        assert_close(s.mean_moving_range, 1.0, 1e-12);
        // vignette caption: "UPL = 4.6, Mean = 1.94, LPL = -0.72"
        assert_close(s.upper_limit, 4.60, 5e-3);
        assert_close(s.lower_limit, -0.72, 5e-3);
        assert_close(s.upper_limit, 35.0 / 18.0 + 2.66, 1e-12);
        let mut expect = vec!["common_cause"; 18];
        expect[4] = "special_cause_improvement";
        assert_eq!(point_types(&c), expect);

        // screen_outliers = FALSE replicates the MDC Excel tool: "UPL = 6.95,
        // Mean = 1.94, LPL = -3.06"
        let excel = XmrOptions {
            screen_outliers: false,
            ..XmrOptions::default()
        };
        let c = xmr_with_options(&y, &[], Improvement::Increase, None, &excel);
        let s = &c.segments[0];
        assert_close(s.mean_moving_range, 32.0 / 17.0, 1e-12);
        assert_close(s.upper_limit, 6.95, 5e-3);
        assert_close(s.lower_limit, -3.06, 5e-3);
        assert_eq!(point_types(&c), expect);
    }

    // -----------------------------------------------------------------
    // Hand-computed cases
    // -----------------------------------------------------------------

    /// 7 above, one point exactly on the mean, 7 below. Mean is exactly 0;
    /// MRs are 6 x 1, 1.5, 1.5, 6 x 1, so mrbar = 15/14; limits +/-2.85,
    /// near limits +/-1.9, so nothing is near or outside.
    const SHIFT: [f64; 15] = [
        1.5, 0.5, 1.5, 0.5, 1.5, 0.5, 1.5, 0.0, -1.5, -0.5, -1.5, -0.5, -1.5, -0.5, -1.5,
    ];

    #[test]
    fn shift_rule() {
        let c = xmr(&SHIFT, &[], Improvement::Increase, None);
        let s = &c.segments[0];
        assert_eq!(s.centre, 0.0);
        assert_close(s.mean_moving_range, 15.0 / 14.0, 1e-12);
        assert_close(s.upper_limit, 2.85, 1e-12);
        assert_close(s.upper_near, 1.9, 1e-12);
        assert!(!s.trial_limits);
        let mut expect = vec![Some(Rule::Shift); 15];
        expect[7] = None;
        assert_eq!(rules(&c), expect);
        let mut types = vec!["special_cause_improvement"; 7];
        types.push("common_cause");
        types.extend(["special_cause_concern"; 7]);
        assert_eq!(point_types(&c), types);
        assert_eq!(c.points[0].special_cause_type(), "7 Points Above CL");
        assert_eq!(c.points[14].special_cause_type(), "7 Points Below CL");
        assert_eq!(c.variation, Variation::ConcernLow);

        let d = xmr(&SHIFT, &[], Improvement::Decrease, None);
        assert_eq!(d.points[0].point_type, PointType::SpecialCauseConcern);
        assert_eq!(d.points[14].point_type, PointType::SpecialCauseImprovement);
        assert_eq!(d.variation, Variation::ImprovementLow);
    }

    #[test]
    fn shift_is_broken_by_a_point_on_the_mean() {
        // 6 above, one exactly on the mean (0), 6 below: mean 0, MRs 5 x 1,
        // 0.5, 0.5, 5 x 1 -> mrbar 11/12, near limit 1.6256 > 1.5.
        let y = [
            1.5, 0.5, 1.5, 0.5, 1.5, 0.5, 0.0, -0.5, -1.5, -0.5, -1.5, -0.5, -1.5,
        ];
        let c = xmr(&y, &[], Improvement::Increase, None);
        assert_eq!(c.points[6].relative_to_mean, 0);
        assert_close(c.segments[0].mean_moving_range, 11.0 / 12.0, 1e-12);
        assert!(
            c.points
                .iter()
                .all(|p| p.point_type == PointType::CommonCause)
        );
        // ...and 7 on one side with a point on the mean in the middle is not
        // a shift either.
        // (the final 7 below the mean are a shift, as a control)
        let y = [
            1.5, 0.5, 1.5, 0.0, 0.5, 1.5, 0.5, 1.5, -1.5, -0.5, -1.5, -0.5, -1.5, -0.5, -1.5,
        ];
        let c = xmr(&y, &[], Improvement::Increase, None);
        assert_eq!(c.segments[0].centre, 0.0);
        assert!(c.points[..8].iter().all(|p| !p.signals.shift));
        assert!(c.points[8..].iter().all(|p| p.rule == Some(Rule::Shift)));
    }

    #[test]
    fn trend_rule() {
        // Mean 47.25/12 = 3.9375; MRs 5 x 2 + 6 x 0.25 -> mrbar 11.5/11;
        // limits 1.1566..6.7184, near 2.0836..5.7914: nothing near/outside.
        // Points 5..=11 (3, 3.25, ..., 4.5) rise 6 times in a row.
        let y = [5., 3., 5., 3., 5., 3., 3.25, 3.5, 3.75, 4., 4.25, 4.5];
        let c = xmr(&y, &[], Improvement::Increase, None);
        let s = &c.segments[0];
        assert_close(s.centre, 3.9375, 1e-12);
        assert_close(s.mean_moving_range, 11.5 / 11.0, 1e-12);
        assert_close(s.upper_limit, 3.9375 + 2.66 * 11.5 / 11.0, 1e-12);
        assert!(s.trial_limits, "12 points are fewer than 13");
        let mut expect = vec![None; 5];
        expect.extend([Some(Rule::Trend); 7]);
        assert_eq!(rules(&c), expect);
        assert!(
            c.points[5..]
                .iter()
                .all(|p| p.special_cause_type() == "7 Point Trend (Increasing)")
        );
        assert!(
            c.points[5..]
                .iter()
                .all(|p| p.point_type == PointType::SpecialCauseImprovement)
        );
        // the trend ignores the mean: it starts below it and ends above it
        assert_eq!(c.points[5].relative_to_mean, -1);
        assert_eq!(c.points[11].relative_to_mean, 1);
        assert_eq!(c.variation, Variation::ImprovementHigh);

        // mirrored: a decreasing trend, which is improvement when decrease
        // is good
        let m: Vec<f64> = y.iter().map(|v| -v).collect();
        let c = xmr(&m, &[], Improvement::Decrease, None);
        assert!(
            c.points[5..]
                .iter()
                .all(|p| p.special_cause_type() == "7 Point Trend (Decreasing)")
        );
        assert!(
            c.points[5..]
                .iter()
                .all(|p| p.point_type == PointType::SpecialCauseImprovement)
        );
        assert_eq!(c.variation, Variation::ImprovementLow);
    }

    /// 16 points alternating 10.5/11.5, then 13.25, 12.5, 13.25. Mean
    /// 215/19 = 11.3158; MRs 15 x 1, 1.75, 0.75, 0.75 -> mrbar 18.25/18 =
    /// 1.01389; UPL 14.0127, upper near limit 13.1138, LPL 8.6188.
    fn two_of_three_data() -> Vec<f64> {
        let mut y: Vec<f64> = (0..16)
            .map(|i| if i % 2 == 0 { 10.5 } else { 11.5 })
            .collect();
        y.extend([13.25, 12.5, 13.25]);
        y
    }

    #[test]
    fn two_of_three_rule() {
        let c = xmr(&two_of_three_data(), &[], Improvement::Increase, None);
        let s = &c.segments[0];
        assert_close(s.centre, 215.0 / 19.0, 1e-12);
        assert_close(s.mean_moving_range, 18.25 / 18.0, 1e-12);
        assert_close(
            s.upper_near,
            215.0 / 19.0 + 2.0 * (2.66 / 3.0) * 18.25 / 18.0,
            1e-12,
        );
        assert_close(s.upper_near, 13.113752, 1e-6);
        assert_close(s.upper_limit, 14.012734, 1e-6);
        let mut expect = vec![None; 19];
        expect[16] = Some(Rule::TwoOfThree);
        expect[18] = Some(Rule::TwoOfThree);
        assert_eq!(rules(&c), expect, "only the near-limit points are flagged");
        assert!(!c.points[17].close_to_limits);
        assert_eq!(c.points[16].special_cause_type(), "2 in 3 Above CL");
        assert_eq!(c.points[18].point_type, PointType::SpecialCauseImprovement);
    }

    #[test]
    fn two_of_three_ignores_points_beyond_the_limit() {
        // NHSRplotthedots counts only points between the near limit and the
        // limit: one outside + one near is not "two of three".
        let close = bools(&[0, 1, 0]);
        assert_eq!(two_in_three(&close, &[1, 1, 1]), vec![false; 3]);
    }

    /// 12 points alternating 10/12, then 9.5, 10.5, ..., 14.5, 17: a 7-point
    /// rising trend whose last point is above the UPL. Mean 221/19 = 11.6316;
    /// MRs 11 x 2, 2.5, 5 x 1, 2.5 -> mrbar 32/18; UPL 16.3605.
    fn precedence_data() -> Vec<f64> {
        let mut y: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 10.0 } else { 12.0 })
            .collect();
        y.extend([9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 17.0]);
        y
    }

    #[test]
    fn outside_limits_takes_precedence_over_trend() {
        let y = precedence_data();
        let c = xmr(&y, &[], Improvement::Increase, None);
        let s = &c.segments[0];
        assert_close(s.centre, 221.0 / 19.0, 1e-12);
        assert_close(s.mean_moving_range, 32.0 / 18.0, 1e-12);
        assert_close(s.upper_limit, 16.360468, 1e-6);
        let mut expect = vec![None; 12];
        expect.extend([Some(Rule::Trend); 6]);
        expect.push(Some(Rule::OutsideLimits));
        assert_eq!(rules(&c), expect);
        let last = &c.points[18];
        assert!(last.signals.outside_limits && last.signals.trend);
        assert_eq!(last.special_cause_type(), "Above UCL");
        assert!(
            c.points[12..]
                .iter()
                .all(|p| p.point_type == PointType::SpecialCauseImprovement)
        );
        assert_eq!(c.variation, Variation::ImprovementHigh);

        let d = xmr(&y, &[], Improvement::Decrease, None);
        assert!(
            d.points[12..]
                .iter()
                .all(|p| p.point_type == PointType::SpecialCauseConcern)
        );
        assert_eq!(d.variation, Variation::ConcernHigh);
    }

    #[test]
    fn neutral_direction() {
        let c = xmr(&SHIFT, &[], Improvement::Neutral, Some(0.5));
        assert!(
            c.points[..7]
                .iter()
                .all(|p| p.point_type == PointType::SpecialCauseNeutralHigh)
        );
        assert_eq!(c.points[7].point_type, PointType::CommonCause);
        assert!(
            c.points[8..]
                .iter()
                .all(|p| p.point_type == PointType::SpecialCauseNeutralLow)
        );
        assert_eq!(c.variation, Variation::NeutralLow);
        assert_eq!(c.assurance, None, "no assurance for a neutral direction");
        let c = xmr(&precedence_data(), &[], Improvement::Neutral, None);
        assert_eq!(c.points[18].point_type.id(), "special_cause_neutral_high");
        assert_eq!(c.variation.id(), "neutral_high");
    }

    /// Rebase test data: 8 alternating 2/4, then 1, 2, 3, 4 | 5, 6, 7, then
    /// 5/3 alternating. The 1..7 rise crosses index 12.
    const REBASE: [f64; 25] = [
        2., 4., 2., 4., 2., 4., 2., 4., 1., 2., 3., 4., 5., 6., 7., 5., 3., 5., 3., 5., 3., 5., 3.,
        5., 3.,
    ];

    #[test]
    fn rebasing_recalculates_limits_and_stops_runs_at_the_boundary() {
        // Without a rebase: mean 92/25 = 3.68, mrbar 43/24, and points 8..=14
        // are a 7-point trend.
        let whole = xmr(&REBASE, &[], Improvement::Increase, None);
        assert_close(whole.segments[0].centre, 3.68, 1e-12);
        assert_close(whole.segments[0].mean_moving_range, 43.0 / 24.0, 1e-12);
        let mut expect = vec![None; 25];
        for e in &mut expect[8..=14] {
            *e = Some(Rule::Trend);
        }
        assert_eq!(rules(&whole), expect);

        // Rebased at 12: segment 1 = 12 points (trial limits), mean 34/12,
        // mrbar 20/11; segment 2 = 13 points, mean 58/13, mrbar 22/12. The
        // rise is split 4 + 3, so no trend.
        let c = xmr(&REBASE, &[12], Improvement::Increase, None);
        assert_eq!(c.segments.len(), 2);
        let (a, b) = (&c.segments[0], &c.segments[1]);
        assert_eq!((a.start, a.end, b.start, b.end), (0, 12, 12, 25));
        assert_close(a.centre, 34.0 / 12.0, 1e-12);
        assert_close(a.mean_moving_range, 20.0 / 11.0, 1e-12);
        assert_close(a.upper_limit, 34.0 / 12.0 + 2.66 * 20.0 / 11.0, 1e-12);
        assert_close(b.centre, 58.0 / 13.0, 1e-12);
        assert_close(b.mean_moving_range, 22.0 / 12.0, 1e-12);
        assert_close(b.lower_limit, 58.0 / 13.0 - 2.66 * 22.0 / 12.0, 1e-12);
        assert!(a.trial_limits);
        assert!(!b.trial_limits);
        assert!(c.has_trial_limits());
        assert!(c.points.iter().all(|p| p.rule.is_none()));
        assert_eq!(c.points[11].segment, 1);
        assert_eq!(c.points[12].segment, 2);
        assert_eq!(c.points[12].centre, b.centre);
        // The first point of a segment has no moving range: the 4 -> 5 jump
        // across the boundary is in neither segment's mrbar (checked above).
        assert_eq!(c.latest_segment(), Some(b));
    }

    #[test]
    fn assurance_from_the_chart() {
        // two_of_three_data(): LPL 8.6188, UPL 14.0127.
        let y = two_of_three_data();
        let a = |t: Option<f64>, imp| xmr(&y, &[], imp, t).assurance;
        assert_eq!(
            a(Some(15.0), Improvement::Increase),
            Some(Assurance::ConsistentlyFailing)
        );
        assert_eq!(
            a(Some(15.0), Improvement::Decrease),
            Some(Assurance::ConsistentlyPassing)
        );
        assert_eq!(
            a(Some(8.0), Improvement::Increase),
            Some(Assurance::ConsistentlyPassing)
        );
        assert_eq!(
            a(Some(8.0), Improvement::Decrease),
            Some(Assurance::ConsistentlyFailing)
        );
        assert_eq!(
            a(Some(12.0), Improvement::Increase),
            Some(Assurance::HitAndMiss)
        );
        assert_eq!(a(Some(15.0), Improvement::Neutral), None);
        assert_eq!(a(None, Improvement::Increase), None);
        assert_eq!(a(Some(f64::NAN), Improvement::Increase), None);
        // a target exactly on the limit is not beyond it (strict comparison)
        let upl = xmr(&y, &[], Improvement::Increase, None).segments[0].upper_limit;
        assert_eq!(
            a(Some(upl), Improvement::Increase),
            Some(Assurance::HitAndMiss)
        );
        // only the latest segment counts
        let mut z = vec![100.0, 101.0, 99.0, 100.0];
        z.extend(&y);
        let c = xmr(&z, &[4], Improvement::Increase, Some(15.0));
        assert_eq!(c.assurance, Some(Assurance::ConsistentlyFailing));
    }

    #[test]
    fn variation_mapping() {
        use Improvement::*;
        use PointType::*;
        assert_eq!(variation(CommonCause, Increase).id(), "common_cause");
        assert_eq!(
            variation(SpecialCauseImprovement, Increase).id(),
            "improvement_high"
        );
        assert_eq!(
            variation(SpecialCauseImprovement, Decrease).id(),
            "improvement_low"
        );
        assert_eq!(variation(SpecialCauseConcern, Increase).id(), "concern_low");
        assert_eq!(
            variation(SpecialCauseConcern, Decrease).id(),
            "concern_high"
        );
        assert_eq!(
            variation(SpecialCauseNeutralHigh, Neutral).id(),
            "neutral_high"
        );
        assert_eq!(
            variation(SpecialCauseNeutralLow, Neutral).id(),
            "neutral_low"
        );
    }

    #[test]
    fn ids() {
        assert_eq!(Rule::OutsideLimits.id(), "outside_limits");
        assert_eq!(Rule::Trend.id(), "trend");
        assert_eq!(Rule::TwoOfThree.id(), "two_of_three");
        assert_eq!(Rule::Shift.id(), "shift");
        assert_eq!(
            PointType::SpecialCauseNeutralLow.id(),
            "special_cause_neutral_low"
        );
        assert_eq!(Improvement::Decrease.id(), "decrease");
        assert_eq!(Assurance::ConsistentlyPassing.id(), "consistent_pass");
    }

    // -----------------------------------------------------------------
    // Edge cases
    // -----------------------------------------------------------------

    #[test]
    fn empty_input() {
        let c = xmr(&[], &[0, 3], Improvement::Increase, Some(1.0));
        assert!(c.points.is_empty() && c.segments.is_empty());
        assert_eq!(c.variation, Variation::CommonCause);
        assert_eq!(c.assurance, None);
        assert_eq!(describe_latest_signal(&c, &[]), None);
    }

    #[test]
    fn one_and_two_points() {
        let c = xmr(&[5.0], &[], Improvement::Increase, Some(1.0));
        assert_eq!(c.points.len(), 1);
        assert_eq!(c.points[0].centre, 5.0);
        assert!(c.segments[0].mean_moving_range.is_nan());
        assert!(c.points[0].upper_limit.is_nan());
        assert_eq!(c.points[0].point_type, PointType::CommonCause);
        assert!(c.segments[0].trial_limits);
        assert_eq!(c.assurance, Some(Assurance::HitAndMiss));

        let c = xmr(&[5.0, 7.0], &[], Improvement::Increase, None);
        assert_eq!(c.segments[0].mean_moving_range, 2.0);
        assert!(c.points.iter().all(|p| p.rule.is_none()));
    }

    #[test]
    fn all_equal_values() {
        let c = xmr(&[3.0; 20], &[], Improvement::Increase, Some(4.0));
        let s = &c.segments[0];
        assert_eq!(s.centre, 3.0);
        assert_eq!(s.mean_moving_range, 0.0);
        assert_eq!((s.lower_limit, s.upper_limit), (3.0, 3.0));
        assert!(
            c.points
                .iter()
                .all(|p| p.point_type == PointType::CommonCause)
        );
        assert_eq!(c.assurance, Some(Assurance::ConsistentlyFailing));
    }

    #[test]
    fn odd_rebase_indexes() {
        let y: Vec<f64> = (0..10).map(|i| f64::from(i % 4)).collect();
        let c = xmr(&y, &[0, 5, 5, 99, 10], Improvement::Increase, None);
        let bounds: Vec<(usize, usize)> = c.segments.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(bounds, [(0, 5), (5, 10)]);
        let unsorted = xmr(&y, &[7, 3], Improvement::Increase, None);
        let bounds: Vec<(usize, usize)> =
            unsorted.segments.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(bounds, [(0, 3), (3, 7), (7, 10)]);
        // a one-point final segment
        let c = xmr(&y, &[9], Improvement::Increase, Some(1.0));
        assert_eq!(c.segments[1].len(), 1);
        assert_eq!(c.assurance, Some(Assurance::HitAndMiss));
    }

    #[test]
    fn non_finite_values_do_not_panic() {
        let y = [1.0, f64::NAN, 2.0, f64::INFINITY, 3.0, 1.0, 2.0, 3.0];
        let c = xmr(&y, &[2], Improvement::Increase, Some(2.0));
        assert_eq!(c.points.len(), 8);
        let _ = describe_latest_signal(&c, &[]);
    }

    // -----------------------------------------------------------------
    // describe_latest_signal
    // -----------------------------------------------------------------

    #[test]
    fn describe_shift() {
        let labels = months(15, 2021, 0);
        let c = xmr(&SHIFT, &[], Improvement::Increase, None);
        assert_eq!(
            describe_latest_signal(&c, &labels).as_deref(),
            Some(
                "7 months in a row below the mean, from September 2021 to March 2022: special cause, concern"
            )
        );
        let c = xmr(&SHIFT[..7], &[], Improvement::Increase, None);
        assert!(
            describe_latest_signal(&c, &labels).is_none(),
            "7 points: mean is inside the run"
        );
        let c = xmr(&SHIFT, &[], Improvement::Decrease, None);
        assert_eq!(
            describe_segment_signal(&c, 1, &labels, "month", "months").as_deref(),
            Some(
                "7 months in a row below the mean, from September 2021 to March 2022: special cause, improvement"
            )
        );
        assert_eq!(
            describe_segment_signal(&c, 2, &labels, "month", "months"),
            None
        );
        assert_eq!(
            describe_segment_signal(&c, 0, &labels, "month", "months"),
            None
        );
    }

    #[test]
    fn describe_trend_two_of_three_and_outside() {
        let y = [5., 3., 5., 3., 5., 3., 3.25, 3.5, 3.75, 4., 4.25, 4.5];
        let c = xmr(&y, &[], Improvement::Increase, None);
        assert_eq!(
            describe_latest_signal(&c, &months(12, 2021, 0)).as_deref(),
            Some(
                "7 months in a row increasing, from June 2021 to December 2021: special cause, improvement"
            )
        );

        let c = xmr(&two_of_three_data(), &[], Improvement::Increase, None);
        assert_eq!(
            describe_latest_signal(&c, &months(19, 2021, 0)).as_deref(),
            Some(
                "2 of 3 months close to the upper process limit, from May 2022 to July 2022: special cause, improvement"
            )
        );

        let c = xmr(&precedence_data(), &[], Improvement::Neutral, None);
        assert_eq!(
            describe_latest_signal(&c, &months(19, 2021, 0)).as_deref(),
            Some(
                "1 month above the upper process limit, in July 2022: special cause, higher (neither good nor bad)"
            )
        );
        // missing labels fall back to point numbers; other units
        assert_eq!(
            describe_latest_signal_with_unit(&c, &[], "week", "weeks").as_deref(),
            Some(
                "1 week above the upper process limit, in point 19: special cause, higher (neither good nor bad)"
            )
        );
    }

    #[test]
    fn describe_nothing_when_common_cause() {
        let c = xmr(&RNORM_SEED_123[..20], &[], Improvement::Increase, None);
        assert_eq!(describe_latest_signal(&c, &months(20, 2021, 0)), None);
    }
}
