//! Statistics over repeated timings.

/// Summary of repeated measurements of one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Number of values.
    pub count: usize,
}

/// Median of `values`; `None` when empty or when any value is not finite (a timing that failed).
pub fn median(values: &[f64]) -> Option<f64> {
    summarize(values).map(|s| s.median)
}

/// Summary of `values`; `None` when empty or when any value is not finite.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some(Summary { median, min: v[0], max: v[n - 1], count: n })
}

/// How many timed repeats a case gets: `repeats`, reduced for slow cases so that one case takes
/// about `budget_s` at most (never fewer than 3, so the median still rejects one outlier).
pub fn repeats_for(estimate_s: f64, repeats: usize, budget_s: f64) -> usize {
    if !(estimate_s.is_finite() && estimate_s > 0.0) {
        return repeats.max(1);
    }
    let fit = (budget_s / estimate_s).floor();
    let fit = if fit.is_finite() && fit >= 0.0 { fit as usize } else { repeats };
    fit.clamp(3.min(repeats.max(1)), repeats.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn median_cases() {
        let cases: [(&[f64], Option<f64>); 7] = [
            (&[], None),
            (&[2.0], Some(2.0)),
            (&[3.0, 1.0], Some(2.0)),
            (&[5.0, 1.0, 3.0], Some(3.0)),
            (&[3.0, 2.0, 50.0, 2.5], Some(2.75)),
            (&[1.0, f64::NAN, 2.0], None),
            (&[1.0, f64::INFINITY], None),
        ];
        for (input, expect) in cases {
            assert_eq!(median(input), expect, "median of {input:?}");
        }
    }

    #[test]
    fn one_outlier_does_not_move_the_median_much() {
        // A repeat disturbed by, e.g., a clock change is rejected by the median, not averaged in.
        let v = [1.0, 1.01, 0.99, 1.0, 50.0];
        assert_eq!(median(&v), Some(1.0));
    }

    #[test]
    fn repeats_budget_cases() {
        let cases = [
            // (estimate_s, repeats, budget_s, expect)
            (1e-5, 25, 2.0, 25),
            (0.1, 25, 2.0, 20),
            (1.0, 25, 2.0, 3),
            (30.0, 25, 2.0, 3),
            (30.0, 2, 2.0, 2),
            (f64::NAN, 7, 2.0, 7),
            (0.0, 7, 2.0, 7),
        ];
        for (est, reps, budget, expect) in cases {
            assert_eq!(repeats_for(est, reps, budget), expect, "repeats_for({est}, {reps}, {budget})");
        }
    }

    proptest! {
        #[test]
        fn median_is_between_min_and_max_and_order_free(mut v in proptest::collection::vec(-1e6f64..1e6, 1..50)) {
            let s = summarize(&v).unwrap();
            prop_assert!(s.min <= s.median && s.median <= s.max);
            prop_assert_eq!(s.count, v.len());
            v.reverse();
            prop_assert_eq!(median(&v), Some(s.median));
            // At least half the values are <= the median and at least half are >= it.
            let le = v.iter().filter(|&&x| x <= s.median).count();
            let ge = v.iter().filter(|&&x| x >= s.median).count();
            prop_assert!(2 * le >= v.len() && 2 * ge >= v.len());
        }
    }
}
