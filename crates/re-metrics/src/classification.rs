//! Label-based metrics: micro-F1 (KLUE style), accuracy, per-class precision/recall/F1/support, confusion matrix,
//! recall of the rarest classes, share of `no_relation` predictions. All match scikit-learn 1.9 (`f1_score`,
//! `precision_recall_fscore_support`, `accuracy_score`, `confusion_matrix`) on integer label ids.

use crate::error::{MetricsError, Result};
use crate::validate;

/// What a ratio is set to when its denominator is zero — scikit-learn's `zero_division` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ZeroDivision {
    /// `0.0` — scikit-learn's default `zero_division="warn"` (it warns, then uses 0).
    #[default]
    Zero,
    /// `1.0` — `zero_division=1`.
    One,
    /// `NaN` — `zero_division=np.nan`.
    Nan,
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            ZeroDivision::Zero => 0.0,
            ZeroDivision::One => 1.0,
            ZeroDivision::Nan => f64::NAN,
        }
    }

    /// `numerator / denominator`, or the zero-division value when `denominator == 0` (`_prf_divide`).
    fn divide(self, numerator: f64, denominator: u64) -> f64 {
        if denominator == 0 {
            self.value()
        } else {
            numerator / denominator as f64
        }
    }
}

/// Micro-F1 ×100 over every label except `no_relation_id` — KLUE's `klue_re_micro_f1`, i.e.
/// `sklearn.metrics.f1_score(gold, pred, average="micro", labels=[all ids but no_relation]) * 100`.
///
/// With no gold and no predicted relation outside `no_relation` the score is ill-defined; scikit-learn then
/// returns 0 (with a warning), and so does this function.
pub fn micro_f1_without_no_relation(
    gold: &[usize],
    pred: &[usize],
    num_labels: usize,
    no_relation_id: usize,
) -> Result<f64> {
    validate::gold_and_pred(gold, pred, num_labels)?;
    check_no_relation(no_relation_id, num_labels)?;
    let mut tp = 0u64;
    let mut true_sum = 0u64;
    let mut pred_sum = 0u64;
    for (&g, &p) in gold.iter().zip(pred) {
        let gold_counts = g != no_relation_id;
        true_sum += u64::from(gold_counts);
        pred_sum += u64::from(p != no_relation_id);
        tp += u64::from(gold_counts && g == p);
    }
    Ok(micro_f1_from_counts(tp, true_sum, pred_sum) * 100.0)
}

/// Micro-F1 ×100 restricted to `labels` (same scale as [`micro_f1_without_no_relation`]):
/// `sklearn.metrics.f1_score(gold, pred, average="micro", labels=labels) * 100`. Gold/pred ids outside `labels`
/// only count against nothing (they are neither true nor predicted positives), as in scikit-learn.
pub fn micro_f1(gold: &[usize], pred: &[usize], labels: &[usize]) -> Result<f64> {
    validate::non_empty("gold", gold)?;
    validate::same_length("pred", pred, gold.len())?;
    validate::non_empty("labels", labels)?;
    let mut sorted = labels.to_vec();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(MetricsError::InvalidArgument(format!("labels lists {} twice", w[0])));
    }
    let contains = |l: usize| sorted.binary_search(&l).is_ok();
    let (mut tp, mut true_sum, mut pred_sum) = (0u64, 0u64, 0u64);
    for (&g, &p) in gold.iter().zip(pred) {
        let gold_counts = contains(g);
        true_sum += u64::from(gold_counts);
        pred_sum += u64::from(contains(p));
        tp += u64::from(gold_counts && g == p);
    }
    Ok(micro_f1_from_counts(tp, true_sum, pred_sum) * 100.0)
}

/// scikit-learn's F-score from counts: `(1 + β²)·tp / (β²·true + pred)` with β = 1; 0 when undefined.
fn micro_f1_from_counts(tp: u64, true_sum: u64, pred_sum: u64) -> f64 {
    ZeroDivision::Zero.divide(2.0 * tp as f64, true_sum + pred_sum)
}

pub(crate) fn check_no_relation(no_relation_id: usize, num_labels: usize) -> Result<()> {
    if no_relation_id >= num_labels {
        return Err(MetricsError::InvalidArgument(format!(
            "no_relation id {no_relation_id} is not below the number of labels {num_labels}"
        )));
    }
    Ok(())
}

/// Fraction of examples whose prediction equals the gold label (`sklearn.metrics.accuracy_score`).
pub fn accuracy(gold: &[usize], pred: &[usize]) -> Result<f64> {
    validate::non_empty("gold", gold)?;
    validate::same_length("pred", pred, gold.len())?;
    let correct = gold.iter().zip(pred).filter(|(g, p)| g == p).count();
    Ok(correct as f64 / gold.len() as f64)
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassScores {
    /// `tp / (tp + fp)`.
    pub precision: f64,
    /// `tp / (tp + fn)`.
    pub recall: f64,
    /// `2·tp / (2·tp + fp + fn)`, computed from counts like scikit-learn ≥ 1.3 (not from rounded P and R).
    pub f1: f64,
    /// Number of gold examples of the class.
    pub support: u64,
}

/// Per-class scores for every label id `0..num_labels` — `sklearn.metrics.precision_recall_fscore_support(gold,
/// pred, labels=range(num_labels), average=None, zero_division=...)`. A ratio with a zero denominator (a class
/// never predicted, never in gold, or both for F1) takes the `zero_division` value.
pub fn precision_recall_fscore_support(
    gold: &[usize],
    pred: &[usize],
    num_labels: usize,
    zero_division: ZeroDivision,
) -> Result<Vec<ClassScores>> {
    validate::gold_and_pred(gold, pred, num_labels)?;
    let mut tp = vec![0u64; num_labels];
    let mut true_sum = vec![0u64; num_labels];
    let mut pred_sum = vec![0u64; num_labels];
    for (&g, &p) in gold.iter().zip(pred) {
        true_sum[g] += 1;
        pred_sum[p] += 1;
        tp[g] += u64::from(g == p);
    }
    Ok((0..num_labels)
        .map(|c| ClassScores {
            precision: zero_division.divide(tp[c] as f64, pred_sum[c]),
            recall: zero_division.divide(tp[c] as f64, true_sum[c]),
            f1: zero_division.divide(2.0 * tp[c] as f64, true_sum[c] + pred_sum[c]),
            support: true_sum[c],
        })
        .collect())
}

/// Confusion matrix `m[gold][pred]` over label ids `0..num_labels` (`sklearn.metrics.confusion_matrix(gold, pred,
/// labels=range(num_labels))`: rows are gold labels, columns predictions).
pub fn confusion_matrix(gold: &[usize], pred: &[usize], num_labels: usize) -> Result<Vec<Vec<u64>>> {
    validate::gold_and_pred(gold, pred, num_labels)?;
    let mut matrix = vec![vec![0u64; num_labels]; num_labels];
    for (&g, &p) in gold.iter().zip(pred) {
        matrix[g][p] += 1;
    }
    Ok(matrix)
}

/// Recall of the rarest gold classes (see [`rarest_class_recall`]).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RareClassRecall {
    /// The requested number of classes (fewer are reported when fewer classes occur in gold).
    pub k: usize,
    /// Label ids of the rarest classes, rarest first.
    pub classes: Vec<usize>,
    /// Gold support of each of those classes.
    pub supports: Vec<u64>,
    /// Recall of each of those classes.
    pub recalls: Vec<f64>,
    /// Unweighted mean of `recalls`.
    pub mean_recall: f64,
}

/// Recall of the `k` classes with the smallest gold support. Only classes that occur in gold take part (recall is
/// undefined without gold examples); ties in support are broken by the smaller label id. When fewer than `k` classes
/// occur, all of them are reported.
pub fn rarest_class_recall(gold: &[usize], pred: &[usize], num_labels: usize, k: usize) -> Result<RareClassRecall> {
    if k == 0 {
        return Err(MetricsError::InvalidArgument("k (number of rare classes) must be at least 1".into()));
    }
    let scores = precision_recall_fscore_support(gold, pred, num_labels, ZeroDivision::Zero)?;
    let mut present: Vec<usize> = (0..num_labels).filter(|&c| scores[c].support > 0).collect();
    present.sort_by_key(|&c| (scores[c].support, c));
    present.truncate(k);
    let recalls: Vec<f64> = present.iter().map(|&c| scores[c].recall).collect();
    // `gold` is non-empty (validated), so at least one class is present.
    let mean_recall = recalls.iter().sum::<f64>() / recalls.len() as f64;
    Ok(RareClassRecall {
        k,
        supports: present.iter().map(|&c| scores[c].support).collect(),
        classes: present,
        recalls,
        mean_recall,
    })
}

/// Fraction of predictions equal to `no_relation_id`.
pub fn no_relation_share(pred: &[usize], no_relation_id: usize) -> Result<f64> {
    validate::non_empty("pred", pred)?;
    let count = pred.iter().filter(|&&p| p == no_relation_id).count();
    Ok(count as f64 / pred.len() as f64)
}

/// Row-wise argmax of a row-major `[n, num_labels]` score matrix; the first maximum wins, like `np.argmax`.
pub fn argmax_rows(probs: &[f64], num_labels: usize) -> Result<Vec<usize>> {
    validate::num_labels(num_labels)?;
    validate::non_empty("probs", probs)?;
    if !probs.len().is_multiple_of(num_labels) {
        return Err(MetricsError::LengthMismatch {
            what: "probs",
            expected: (probs.len() / num_labels + 1) * num_labels,
            found: probs.len(),
        });
    }
    validate::finite_scores("probs", probs, num_labels)?;
    Ok(probs
        .chunks_exact(num_labels)
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate().skip(1) {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_f1_by_hand() {
        // no_relation = 0. Gold relations: rows 1,2,3 (3); predicted relations: rows 1,2,4 (3); correct: row 1.
        let gold = [0, 1, 2, 3, 0];
        let pred = [0, 1, 1, 0, 2];
        // tp = 1 (row 1), true = 3, pred = 3 → F1 = 2·1 / 6.
        let f1 = micro_f1_without_no_relation(&gold, &pred, 4, 0).unwrap();
        assert!((f1 - 100.0 / 3.0).abs() < 1e-12);
        assert_eq!(micro_f1(&gold, &pred, &[1, 2, 3]).unwrap(), f1);
        // Nothing but no_relation anywhere: scikit-learn returns 0.
        assert_eq!(micro_f1_without_no_relation(&[0, 0], &[0, 0], 3, 0).unwrap(), 0.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(micro_f1_without_no_relation(&[], &[], 3, 0), Err(MetricsError::Empty { .. })));
        assert!(matches!(
            micro_f1_without_no_relation(&[0, 1], &[0], 3, 0),
            Err(MetricsError::LengthMismatch { what: "pred", expected: 2, found: 1 })
        ));
        assert!(matches!(
            micro_f1_without_no_relation(&[0, 5], &[0, 1], 3, 0),
            Err(MetricsError::LabelOutOfRange { what: "gold", index: 1, label: 5, num_labels: 3 })
        ));
        assert!(micro_f1_without_no_relation(&[0], &[0], 3, 3).is_err());
        assert!(micro_f1(&[0], &[0], &[1, 1]).is_err());
        assert!(micro_f1(&[0], &[0], &[]).is_err());
        assert!(rarest_class_recall(&[0], &[0], 1, 0).is_err());
        assert!(matches!(
            argmax_rows(&[0.1, f64::NAN, 0.3, 0.4], 2),
            Err(MetricsError::NonFinite { row: 0, column: 1, .. })
        ));
        assert!(argmax_rows(&[0.1, 0.2, 0.3], 2).is_err());
    }

    #[test]
    fn per_class_zero_division() {
        // Class 2 is never in gold and never predicted; class 1 is predicted but never in gold.
        let gold = [0, 0, 3];
        let pred = [0, 1, 3];
        let zero = precision_recall_fscore_support(&gold, &pred, 4, ZeroDivision::Zero).unwrap();
        assert_eq!(zero[0], ClassScores { precision: 1.0, recall: 0.5, f1: 2.0 / 3.0, support: 2 });
        assert_eq!(zero[1], ClassScores { precision: 0.0, recall: 0.0, f1: 0.0, support: 0 });
        assert_eq!(zero[2], ClassScores { precision: 0.0, recall: 0.0, f1: 0.0, support: 0 });
        let one = precision_recall_fscore_support(&gold, &pred, 4, ZeroDivision::One).unwrap();
        assert_eq!(one[1], ClassScores { precision: 0.0, recall: 1.0, f1: 0.0, support: 0 });
        assert_eq!(one[2], ClassScores { precision: 1.0, recall: 1.0, f1: 1.0, support: 0 });
        let nan = precision_recall_fscore_support(&gold, &pred, 4, ZeroDivision::Nan).unwrap();
        assert!(nan[2].precision.is_nan() && nan[2].recall.is_nan() && nan[2].f1.is_nan());
        assert_eq!(nan[1].f1, 0.0);
    }

    #[test]
    fn rare_classes_tie_break_by_id() {
        // supports: class0 = 3, class1 = 1, class2 = 1, class3 = 0 (absent).
        let gold = [0, 0, 0, 1, 2];
        let pred = [0, 0, 1, 1, 0];
        let rare = rarest_class_recall(&gold, &pred, 4, 2).unwrap();
        assert_eq!(rare.classes, vec![1, 2]);
        assert_eq!(rare.supports, vec![1, 1]);
        assert_eq!(rare.recalls, vec![1.0, 0.0]);
        assert_eq!(rare.mean_recall, 0.5);
        let all = rarest_class_recall(&gold, &pred, 4, 10).unwrap();
        assert_eq!(all.classes, vec![1, 2, 0]);
    }

    #[test]
    fn accuracy_share_confusion_argmax() {
        let gold = [0, 1, 1, 2];
        let pred = [0, 1, 2, 0];
        assert_eq!(accuracy(&gold, &pred).unwrap(), 0.5);
        assert_eq!(no_relation_share(&pred, 0).unwrap(), 0.5);
        let cm = confusion_matrix(&gold, &pred, 3).unwrap();
        assert_eq!(cm, vec![vec![1, 0, 0], vec![0, 1, 1], vec![1, 0, 0]]);
        // First maximum wins on ties, like np.argmax.
        assert_eq!(argmax_rows(&[0.5, 0.5, 0.0, 0.1, 0.2, 0.7], 3).unwrap(), vec![0, 2]);
    }
}
