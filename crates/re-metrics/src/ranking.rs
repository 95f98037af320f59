//! Score-based metrics: KLUE's AUPRC and scikit-learn's average precision.
//!
//! Two implementations of the same definitions live here:
//!
//! * a **reference path** — [`precision_recall_curve`], [`auc`], [`average_precision_binary`] — a line-by-line
//!   port of scikit-learn 1.9 (`_ranking.py`: stable descending sort, distinct-score thresholds, cumulative
//!   `tps`/`fps`, reversal, appended `(recall 0, precision 1)` point, `auc`'s direction detection and NumPy's
//!   `trapezoid` with NumPy's pairwise summation). It reproduces scikit-learn bit for bit and returns whole curves
//!   (for plots);
//! * a **fast path** — [`class_curve_scores`], [`auprc`], [`average_precision`] — used for scoring. It never sorts
//!   a whole column: per class it sorts only the positives' scores, then, in one row-major pass over the matrix,
//!   places every score that is not below its class's lowest positive among that class's positives through a
//!   bucket table keyed on the float's bits (`fast_curves.rs`). The curve's area only changes at thresholds that
//!   contain a positive, and at such a threshold `t` it needs the counts of negatives `> t` and `== t`, which that
//!   placement gives. Terms are the same IEEE expressions scikit-learn evaluates; only the summation order differs
//!   (compensated sum over the non-zero terms vs NumPy's pairwise sum over all), so results agree to a few ulps
//!   (tests: ≤ 1e-9, measured ≤ 3.4e-16 per class, 1.4e-14 on the ×100 mean).
//!
//! scikit-learn behaviours kept on purpose (do not "fix" them, the KLUE leaderboard uses them):
//! * a class with **no gold positive** gets recall 1 at every threshold (scikit-learn ≥ 1.1 warns and sets it), so
//!   its precision–recall AUC is exactly `0.5` and its average precision `0.0`; both enter the class averages;
//! * **tied scores** form one threshold (all tied examples switch together); `-0.0 == 0.0`;
//! * the AUC is the trapezoid rule over `(recall, precision)`, which interpolates linearly (optimistic), unlike
//!   average precision's step sum.

use crate::error::{MetricsError, Result};
use crate::fast_curves;
use crate::numeric::{numpy_mean, numpy_sum};
use crate::validate;

/// Output of [`precision_recall_curve`], identical to scikit-learn's three arrays.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PrecisionRecallCurve {
    /// Precision per threshold, increasing thresholds, then a final `1.0`.
    pub precision: Vec<f64>,
    /// Recall per threshold (non-increasing), then a final `0.0`.
    pub recall: Vec<f64>,
    /// Distinct scores in increasing order; `thresholds.len() == precision.len() - 1`.
    pub thresholds: Vec<f64>,
}

/// `sklearn.metrics.precision_recall_curve(targets, scores)` (`drop_intermediate=False`, no sample weights).
///
/// When `targets` has no positive, recall is set to 1 for every threshold, as scikit-learn does.
pub fn precision_recall_curve(targets: &[bool], scores: &[f64]) -> Result<PrecisionRecallCurve> {
    validate::non_empty("targets", targets)?;
    validate::same_length("scores", scores, targets.len())?;
    validate::finite_scores("scores", scores, 1)?;
    // Stable descending sort; ties keep input order (array-api `argsort(stable=True, descending=True)`).
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap_or(std::cmp::Ordering::Equal));
    let sorted_scores: Vec<f64> = order.iter().map(|&i| scores[i]).collect();
    // Threshold indices: where the sorted score changes (`np.diff != 0`, so -0.0 ties 0.0), plus the last index.
    let mut threshold_idxs: Vec<usize> =
        (0..sorted_scores.len() - 1).filter(|&i| sorted_scores[i + 1] - sorted_scores[i] != 0.0).collect();
    threshold_idxs.push(sorted_scores.len() - 1);

    let mut cumulative = Vec::with_capacity(order.len());
    let mut running = 0.0f64;
    for &i in &order {
        running += if targets[i] { 1.0 } else { 0.0 };
        cumulative.push(running);
    }
    let tps: Vec<f64> = threshold_idxs.iter().map(|&i| cumulative[i]).collect();
    let fps: Vec<f64> = threshold_idxs.iter().zip(&tps).map(|(&i, &tp)| 1.0 + i as f64 - tp).collect();
    let total_positives = *tps.last().unwrap_or(&0.0);

    let precision_desc = tps.iter().zip(&fps).map(|(&tp, &fp)| {
        let ps = tp + fp;
        if ps != 0.0 {
            tp / ps
        } else {
            0.0
        }
    });
    let recall_desc: Vec<f64> = if total_positives == 0.0 {
        vec![1.0; tps.len()]
    } else {
        tps.iter().map(|&tp| tp / total_positives).collect()
    };
    let mut precision: Vec<f64> = precision_desc.collect();
    precision.reverse();
    precision.push(1.0);
    let mut recall = recall_desc;
    recall.reverse();
    recall.push(0.0);
    let thresholds: Vec<f64> = threshold_idxs.iter().rev().map(|&i| sorted_scores[i]).collect();
    Ok(PrecisionRecallCurve { precision, recall, thresholds })
}

/// `sklearn.metrics.auc(x, y)`: trapezoid rule, with `x` monotonic increasing (direction 1) or decreasing
/// (direction −1); anything else is an error, as in scikit-learn. Summation is NumPy's pairwise sum, so the result
/// is bit-identical to `np.trapezoid`.
pub fn auc(x: &[f64], y: &[f64]) -> Result<f64> {
    validate::same_length("y", y, x.len())?;
    if x.len() < 2 {
        return Err(MetricsError::InvalidArgument(format!(
            "at least 2 points are needed to compute area under curve, got {}",
            x.len()
        )));
    }
    let dx: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let mut direction = 1.0;
    if dx.iter().any(|&d| d < 0.0) {
        if dx.iter().all(|&d| d <= 0.0) {
            direction = -1.0;
        } else {
            return Err(MetricsError::InvalidArgument("x is neither increasing nor decreasing".into()));
        }
    }
    // np.trapezoid: (d * (y[1:] + y[:-1]) / 2.0).sum()
    let terms: Vec<f64> = dx.iter().zip(y.windows(2)).map(|(&d, w)| d * (w[1] + w[0]) / 2.0).collect();
    Ok(direction * numpy_sum(&terms))
}

/// `sklearn.metrics.average_precision_score(targets, scores)` for one binary problem:
/// `max(0, -Σ diff(recall) · precision[:-1])`. A problem without positives scores `0.0`.
pub fn average_precision_binary(targets: &[bool], scores: &[f64]) -> Result<f64> {
    let curve = precision_recall_curve(targets, scores)?;
    Ok(step_average_precision(&curve))
}

fn step_average_precision(curve: &PrecisionRecallCurve) -> f64 {
    let terms: Vec<f64> = curve.recall.windows(2).zip(&curve.precision).map(|(r, &p)| (r[1] - r[0]) * p).collect();
    clip_average_precision(-numpy_sum(&terms))
}

/// Python's `max(0.0, ap)`: returns `ap` only when strictly greater (so `-0.0` and `NaN` become `0.0`).
pub(crate) fn clip_average_precision(ap: f64) -> f64 {
    if ap > 0.0 {
        ap
    } else {
        0.0
    }
}

/// KLUE's per-class AUPRC through the reference path: `auc(recall, precision)` of
/// `precision_recall_curve(gold == class, probs[:, class])`. `probs` is row-major `[gold.len(), num_labels]`.
pub fn class_precision_recall_curve(
    gold: &[usize],
    probs: &[f64],
    num_labels: usize,
    class: usize,
) -> Result<PrecisionRecallCurve> {
    validate::score_matrix(gold, probs, num_labels)?;
    if class >= num_labels {
        return Err(MetricsError::InvalidArgument(format!("class {class} is not below num_labels {num_labels}")));
    }
    let targets: Vec<bool> = gold.iter().map(|&g| g == class).collect();
    let column: Vec<f64> = probs.chunks_exact(num_labels).map(|row| row[class]).collect();
    precision_recall_curve(&targets, &column)
}

/// Curve scores of one class (one-vs-rest), as fractions in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassCurveScore {
    /// `auc(recall, precision)` of the class's precision–recall curve (KLUE's per-class AUPRC, not ×100).
    pub pr_auc: f64,
    /// `average_precision_score` of the class.
    pub average_precision: f64,
    /// Number of gold examples of the class.
    pub positives: u64,
}

/// Per-class precision–recall AUC and average precision for every class `0..num_labels`, one-vs-rest on the
/// columns of the row-major `[gold.len(), num_labels]` score matrix `probs` (fast path; see the module docs).
pub fn class_curve_scores(gold: &[usize], probs: &[f64], num_labels: usize) -> Result<Vec<ClassCurveScore>> {
    // The finiteness check is part of the fast path's pass over the matrix; only a failing input pays for
    // locating the bad value.
    validate::score_matrix_shape(gold, probs, num_labels)?;
    if gold.len().checked_add(num_labels).is_none_or(|total| total >= u32::MAX as usize) {
        return Err(MetricsError::InvalidArgument(format!(
            "{} rows and {num_labels} labels are too many for the fast path's 32-bit positions",
            gold.len()
        )));
    }
    fast_curves::class_curve_scores(gold, probs, num_labels).ok_or_else(|| {
        validate::finite_scores("probs", probs, num_labels)
            .err()
            .unwrap_or_else(|| MetricsError::InvalidArgument("non-finite score".into()))
    })
}

/// KLUE's `klue_re_auprc`: the mean over all `num_labels` classes of `auc(recall, precision)` of the one-vs-rest
/// precision–recall curve, ×100. `probs` is row-major `[gold.len(), num_labels]`. Classes without gold examples
/// contribute 0.5 each (scikit-learn's recall-is-1 convention).
pub fn auprc(gold: &[usize], probs: &[f64], num_labels: usize) -> Result<f64> {
    let scores = class_curve_scores(gold, probs, num_labels)?;
    Ok(mean_pr_auc(&scores) * 100.0)
}

/// [`auprc`] through the reference path (full sort per class, NumPy's pairwise sums): bit-identical to
/// `klue_re_auprc`, about an order of magnitude slower than [`auprc`], which agrees with it to a few ulps.
pub fn auprc_reference(gold: &[usize], probs: &[f64], num_labels: usize) -> Result<f64> {
    validate::score_matrix(gold, probs, num_labels)?;
    let areas = (0..num_labels)
        .map(|c| {
            let curve = class_precision_recall_curve(gold, probs, num_labels, c)?;
            auc(&curve.recall, &curve.precision)
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(numpy_mean(&areas) * 100.0)
}

/// Mean of the per-class `pr_auc` (NumPy's `np.average`), as a fraction.
pub(crate) fn mean_pr_auc(scores: &[ClassCurveScore]) -> f64 {
    let values: Vec<f64> = scores.iter().map(|s| s.pr_auc).collect();
    numpy_mean(&values)
}

/// Macro average precision over all `num_labels` classes (one-vs-rest, unweighted mean, as a fraction): the
/// mean of `average_precision_score(gold == c, probs[:, c])`. Classes without gold examples count as 0, as in
/// `average_precision_score(one_hot(gold), probs, average="macro")`.
pub fn average_precision(gold: &[usize], probs: &[f64], num_labels: usize) -> Result<f64> {
    let scores = class_curve_scores(gold, probs, num_labels)?;
    Ok(mean_average_precision(&scores))
}

pub(crate) fn mean_average_precision(scores: &[ClassCurveScore]) -> f64 {
    let values: Vec<f64> = scores.iter().map(|s| s.average_precision).collect();
    numpy_mean(&values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_matches_sklearn_docstring() {
        // sklearn docstring: y_true = [0, 0, 1, 1], y_scores = [0.1, 0.4, 0.35, 0.8]
        let curve = precision_recall_curve(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert_eq!(curve.precision, vec![0.5, 2.0 / 3.0, 0.5, 1.0, 1.0]);
        assert_eq!(curve.recall, vec![1.0, 1.0, 0.5, 0.5, 0.0]);
        assert_eq!(curve.thresholds, vec![0.1, 0.35, 0.4, 0.8]);
        // average_precision_score docstring value 0.83 (= 0.8333…)
        let ap = average_precision_binary(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((ap - 5.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn auc_direction_and_errors() {
        assert_eq!(auc(&[0.0, 1.0], &[1.0, 1.0]).unwrap(), 1.0);
        assert_eq!(auc(&[1.0, 0.0], &[1.0, 1.0]).unwrap(), 1.0);
        assert!(auc(&[0.0, 1.0, 0.5], &[1.0, 1.0, 1.0]).is_err());
        assert!(auc(&[0.0], &[1.0]).is_err());
    }

    #[test]
    fn class_without_positives_scores_half() {
        // Hand-derived: curve (1,0),…,(1,0),(0,1) → area 0.5, AP 0.
        let curve = precision_recall_curve(&[false; 4], &[0.1, 0.4, 0.4, 0.9]).unwrap();
        assert_eq!(curve.recall, vec![1.0, 1.0, 1.0, 0.0]);
        assert_eq!(auc(&curve.recall, &curve.precision).unwrap(), 0.5);
        let gold = [0, 0];
        let probs = [0.9, 0.1, 0.8, 0.2];
        let scores = class_curve_scores(&gold, &probs, 2).unwrap();
        assert_eq!(scores[1], ClassCurveScore { pr_auc: 0.5, average_precision: 0.0, positives: 0 });
        assert_eq!(scores[0].pr_auc, 1.0);
    }

    #[test]
    fn negative_zero_ties_positive_zero() {
        let targets = [false, true, false, true, false];
        let scores = [-0.0, 0.0, 0.5, 0.5, 0.5];
        let curve = precision_recall_curve(&targets, &scores).unwrap();
        assert_eq!(curve.thresholds.len(), 2);
        let reference = auc(&curve.recall, &curve.precision).unwrap();
        // Same problem through the fast path (2 classes, class 1 = targets).
        let gold: Vec<usize> = targets.iter().map(|&t| usize::from(t)).collect();
        let probs: Vec<f64> = scores.iter().flat_map(|&s| [1.0 - s, s]).collect();
        let fast = class_curve_scores(&gold, &probs, 2).unwrap();
        assert_eq!(fast[1].pr_auc, reference);
        assert_eq!(fast[1].average_precision, step_average_precision(&curve));
    }

    /// Fast path against the reference port on many small random problems with heavy ties.
    #[test]
    fn fast_path_equals_reference_on_random_ties() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        for trial in 0..300 {
            let n = 1 + (next() % 60) as usize;
            let k = 1 + (next() % 5) as usize;
            let levels = 1 + next() % 12; // few distinct values → many ties
            let gold: Vec<usize> = (0..n).map(|_| (next() % k as u64) as usize).collect();
            let probs: Vec<f64> = (0..n * k)
                .map(|_| {
                    let v = (next() % levels) as f64 / levels as f64;
                    if trial % 3 == 0 {
                        v * 1e-300 // tiny values: keys span few bits
                    } else if trial % 3 == 1 {
                        v - 0.5 // negative scores
                    } else {
                        v
                    }
                })
                .collect();
            assert_fast_matches_reference(&gold, &probs, k, &format!("trial {trial}"));
        }
    }

    #[test]
    fn errors_not_panics() {
        assert!(matches!(auprc(&[], &[], 3), Err(MetricsError::Empty { .. })));
        assert!(matches!(auprc(&[0, 1], &[0.5; 5], 3), Err(MetricsError::LengthMismatch { .. })));
        assert!(matches!(auprc(&[0, 3], &[0.5; 6], 3), Err(MetricsError::LabelOutOfRange { .. })));
        assert!(matches!(
            auprc(&[0, 1], &[0.5, 0.5, 0.5, 0.5, f64::INFINITY, 0.5], 3),
            Err(MetricsError::NonFinite { row: 1, column: 1, .. })
        ));
        assert!(auprc(&[0], &[], 0).is_err());
        assert!(class_precision_recall_curve(&[0], &[1.0], 1, 1).is_err());
        assert!(precision_recall_curve(&[true], &[f64::NAN]).is_err());
    }

    /// Fast path vs reference on every class of `(gold, probs)`.
    fn assert_fast_matches_reference(gold: &[usize], probs: &[f64], k: usize, what: &str) {
        let fast = class_curve_scores(gold, probs, k).unwrap();
        for (c, score) in fast.iter().enumerate() {
            let curve = class_precision_recall_curve(gold, probs, k, c).unwrap();
            let reference_auc = auc(&curve.recall, &curve.precision).unwrap();
            let reference_ap = step_average_precision(&curve);
            assert!(
                (score.pr_auc - reference_auc).abs() < 1e-12,
                "{what} class {c}: {} vs {reference_auc}",
                score.pr_auc
            );
            assert!((score.average_precision - reference_ap).abs() < 1e-12, "{what} class {c}");
            assert_eq!(score.positives, gold.iter().filter(|&&g| g == c).count() as u64, "{what} class {c}");
        }
    }

    /// Row widths around the 8-value windows and the 64-column selection words (k > 64 takes the chunked path),
    /// row counts below and above a window, ties, zeros of both signs, negative and tiny scores.
    #[test]
    fn fast_path_equals_reference_on_wide_and_odd_shapes() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        for &k in &[1usize, 2, 7, 8, 9, 30, 63, 64, 65, 130] {
            for &n in &[1usize, 2, 3, 9, 40, 257] {
                for flavour in 0..4 {
                    let gold: Vec<usize> = (0..n).map(|_| (next() % k as u64) as usize).collect();
                    let probs: Vec<f64> = (0..n * k)
                        .map(|_| {
                            let u = (next() % 1_000_001) as f64 / 1e6;
                            match flavour {
                                0 => u,
                                1 => (next() % 5) as f64 / 4.0, // heavy ties, exact 0.0
                                2 => {
                                    if next() % 3 == 0 {
                                        -0.0
                                    } else {
                                        u - 0.5
                                    }
                                }
                                _ => u * u * u * u * 1e-300,
                            }
                        })
                        .collect();
                    assert_fast_matches_reference(&gold, &probs, k, &format!("k {k} n {n} flavour {flavour}"));
                }
            }
        }
    }

    /// Many positives in one bucket (a far outlier stretches the key range): the in-bucket binary search and the
    /// insertion sort's fallback.
    #[test]
    fn fast_path_handles_clustered_positives() {
        let n = 3000;
        let gold: Vec<usize> = (0..n).map(|i| usize::from(i % 3 != 0)).collect();
        let probs: Vec<f64> = (0..n)
            .flat_map(|i| {
                let s = match i {
                    0 => 1e-300,
                    1 => f64::MAX,
                    _ if i % 5 == 0 => 0.5 + (i % 17) as f64 * 1e-15, // ties inside the cluster
                    _ => 0.5 + ((i * 7919) % 3001) as f64 * 1e-12,
                };
                [1.0 - s.min(1.0), s]
            })
            .collect();
        assert_fast_matches_reference(&gold, &probs, 2, "clustered");
        // Descending input: the insertion sort gets the worst order it can.
        let probs: Vec<f64> = (0..n).flat_map(|i| [0.0, (n - i) as f64 * 1e-9 + 0.25]).collect();
        assert_fast_matches_reference(&gold, &probs, 2, "descending");
    }

    /// The fast path checks finiteness inside its pass; the error names the first bad value, wherever it is
    /// (selected or not, in the windowed rows or the last ones, in either column path).
    #[test]
    fn fast_path_reports_first_non_finite_score() {
        for &k in &[3usize, 30, 70] {
            let n = 20;
            let gold: Vec<usize> = (0..n).map(|i| i % k).collect();
            let base: Vec<f64> = (0..n * k).map(|i| ((i * 37) % 101) as f64 / 101.0).collect();
            for &bad in &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for &(row, column) in &[(0, 0), (n / 2, k - 1), (n - 1, k / 2), (n - 1, k - 1)] {
                    let mut probs = base.clone();
                    probs[row * k + column] = bad;
                    for result in
                        [class_curve_scores(&gold, &probs, k).map(|_| ()), auprc(&gold, &probs, k).map(|_| ())]
                    {
                        match result {
                            Err(MetricsError::NonFinite { row: r, column: c, .. }) => {
                                assert_eq!((r, c), (row, column), "k {k} value {bad}")
                            }
                            other => panic!("k {k} value {bad} at ({row}, {column}): {other:?}"),
                        }
                    }
                }
            }
        }
    }
}
