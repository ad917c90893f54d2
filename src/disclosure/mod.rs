//! Disclosure control of published counts (NHS England's method, DOMAIN.md): a count of 1 up to
//! the threshold is suppressed, every other count is rounded to the nearest rounding base, and
//! zero is published as zero. Used by everything that publishes; `validate` checks the result.

pub mod secondary;

use crate::config::DisclosureRule;
use crate::model::Count;

/// The published form of an unrounded count.
pub fn publish(count: u64, rule: &DisclosureRule) -> Count {
    if count == 0 {
        Count::Value(0)
    } else if count <= rule.threshold {
        Count::Suppressed
    } else {
        Count::Value(round_to_base(count, rule.rounding_base))
    }
}

/// Rounds to the nearest multiple of `base`, halves upwards (12 -> 10, 13 -> 15 with base 5).
pub fn round_to_base(count: u64, base: u64) -> u64 {
    let base = base.max(1);
    (count + base / 2) / base * base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::metrics::disclosure_breach;

    #[test]
    fn suppresses_one_to_threshold_and_rounds_the_rest() {
        let rule = DisclosureRule::default();
        assert_eq!(publish(0, &rule), Count::Value(0));
        assert_eq!(publish(1, &rule), Count::Suppressed);
        assert_eq!(publish(7, &rule), Count::Suppressed);
        assert_eq!(publish(8, &rule), Count::Value(10));
        assert_eq!(publish(12, &rule), Count::Value(10));
        assert_eq!(publish(13, &rule), Count::Value(15));
        assert_eq!(publish(115_002, &rule), Count::Value(115_000));
    }

    #[test]
    fn every_published_count_passes_the_check() {
        let rule = DisclosureRule::default();
        for count in 0..2_000 {
            assert_eq!(
                disclosure_breach(publish(count, &rule), &rule),
                None,
                "count {count}"
            );
        }
    }
}
