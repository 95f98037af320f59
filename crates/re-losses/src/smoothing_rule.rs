//! The seed report's rule for choosing the label-smoothing factor from the label distribution.
use crate::LossError;

/// Smoothing used for a perfectly balanced label distribution.
pub const DEFAULT_MIN_SMOOTHING: f64 = 0.05;
/// Smoothing used for a maximally skewed label distribution.
pub const DEFAULT_MAX_SMOOTHING: f64 = 0.2;

/// Normalised entropy `H / log K` of the distribution given by `counts`, in [0, 1].
///
/// `K = counts.len()` (every class of the label map, including classes with count 0); `H = −Σ p_c ln p_c` with
/// `p_c = count_c / Σ count` and `0 · ln 0 = 0`. Edge cases: `K ≤ 1` or all counts 0 → 0 (no spread is measurable,
/// treated as fully skewed).
pub fn normalised_entropy(counts: &[usize]) -> f64 {
    let k = counts.len();
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    if k <= 1 || total == 0.0 {
        return 0.0;
    }
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total;
            -p * p.ln()
        })
        .sum();
    (entropy / (k as f64).ln()).clamp(0.0, 1.0)
}

/// Label smoothing ε from label counts: `ε = max − (max − min) · H / log K` (see [`normalised_entropy`]).
///
/// A balanced distribution (H = log K) gets `min`, a skewed one gets up to `max`. The seed report uses
/// `min = 0.05`, `max = 0.2` ([`DEFAULT_MIN_SMOOTHING`], [`DEFAULT_MAX_SMOOTHING`]). Edge cases: one class or no
/// examples give `max`. Errors when `min`/`max` are not in [0, 1] or `min > max`.
pub fn label_smoothing_from_counts(counts: &[usize], min: f64, max: f64) -> Result<f64, LossError> {
    if !(0.0..=1.0).contains(&min) || !(0.0..=1.0).contains(&max) || min > max {
        return Err(LossError::InvalidConfig(format!(
            "smoothing bounds must satisfy 0 ≤ min ≤ max ≤ 1, got min = {min}, max = {max}"
        )));
    }
    Ok(max - (max - min) * normalised_entropy(counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_gives_min_and_skewed_gives_more() {
        let balanced = label_smoothing_from_counts(&[10, 10, 10, 10], 0.05, 0.2).unwrap();
        assert!((balanced - 0.05).abs() < 1e-12);
        let skewed = label_smoothing_from_counts(&[97, 1, 1, 1], 0.05, 0.2).unwrap();
        assert!(skewed > 0.15 && skewed < 0.2, "{skewed}");
        // Hand computation for [3, 1]: p = (0.75, 0.25), H = -(0.75 ln 0.75 + 0.25 ln 0.25), K = 2.
        let h = -(0.75f64 * 0.75f64.ln() + 0.25 * 0.25f64.ln()) / 2f64.ln();
        let expected = 0.2 - 0.15 * h;
        assert!((label_smoothing_from_counts(&[3, 1], 0.05, 0.2).unwrap() - expected).abs() < 1e-15);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(label_smoothing_from_counts(&[5], 0.05, 0.2).unwrap(), 0.2);
        assert_eq!(label_smoothing_from_counts(&[], 0.05, 0.2).unwrap(), 0.2);
        assert_eq!(label_smoothing_from_counts(&[0, 0, 0], 0.05, 0.2).unwrap(), 0.2);
        // A zero-count class still counts in K: two used classes out of four are not "balanced".
        let e = label_smoothing_from_counts(&[5, 5, 0, 0], 0.05, 0.2).unwrap();
        assert!((e - (0.2 - 0.15 * 0.5)).abs() < 1e-12, "{e}");
        assert!(label_smoothing_from_counts(&[1, 2], 0.3, 0.2).is_err());
        assert!(label_smoothing_from_counts(&[1, 2], f64::NAN, 0.2).is_err());
    }
}
