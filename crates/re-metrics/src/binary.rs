//! Binary scores of the competition-relation paper: POS precision, NEG precision and accuracy.

use crate::error::Result;
use crate::validate;

/// Binary-task scores. Ratios with an empty denominator (nothing predicted positive/negative) are `0.0`, like
/// scikit-learn's default `zero_division`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BinaryScores {
    /// Correct among predicted positive: `tp / (tp + fp)`.
    pub pos_precision: f64,
    /// Correct among predicted negative: `tn / (tn + fn)`.
    pub neg_precision: f64,
    /// Correct among all examples.
    pub accuracy: f64,
    /// Predicted positive and correct.
    pub true_positives: u64,
    /// Predicted positive and wrong.
    pub false_positives: u64,
    /// Predicted negative and correct.
    pub true_negatives: u64,
    /// Predicted negative and wrong.
    pub false_negatives: u64,
}

impl BinaryScores {
    /// Scores of binary predictions (`true` = positive, e.g. "is a competition relation").
    pub fn compute(gold: &[bool], pred: &[bool]) -> Result<Self> {
        validate::non_empty("gold", gold)?;
        validate::same_length("pred", pred, gold.len())?;
        let mut counts = [0u64; 4]; // tp, fp, tn, fn
        for (&g, &p) in gold.iter().zip(pred) {
            let index = match (p, g == p) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            counts[index] += 1;
        }
        Ok(Self::from_counts(counts, counts[0] + counts[2]))
    }

    /// Multi-class generalisation: a prediction is "positive" when it is not `negative_label` (e.g.
    /// `no_relation`), and "correct" when it equals the gold label exactly. So POS precision is the share of
    /// predicted relations that are the right relation, NEG precision the share of predicted `negative_label`
    /// that are gold `negative_label`, accuracy the exact-match rate.
    pub fn from_labels(gold: &[usize], pred: &[usize], negative_label: usize) -> Result<Self> {
        validate::non_empty("gold", gold)?;
        validate::same_length("pred", pred, gold.len())?;
        let mut counts = [0u64; 4];
        for (&g, &p) in gold.iter().zip(pred) {
            let index = match (p != negative_label, g == p) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            counts[index] += 1;
        }
        Ok(Self::from_counts(counts, counts[0] + counts[2]))
    }

    fn from_counts([tp, fp, tn, fn_]: [u64; 4], correct: u64) -> Self {
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        BinaryScores {
            pos_precision: ratio(tp, tp + fp),
            neg_precision: ratio(tn, tn + fn_),
            accuracy: ratio(correct, tp + fp + tn + fn_),
            true_positives: tp,
            false_positives: fp,
            true_negatives: tn,
            false_negatives: fn_,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // gold: T T F F F ; pred: T F T F F → tp=1, fn=1, fp=1, tn=2
        let s = BinaryScores::compute(&[true, true, false, false, false], &[true, false, true, false, false]).unwrap();
        assert_eq!((s.true_positives, s.false_negatives, s.false_positives, s.true_negatives), (1, 1, 1, 2));
        assert_eq!(s.pos_precision, 0.5);
        assert_eq!(s.neg_precision, 2.0 / 3.0);
        assert_eq!(s.accuracy, 0.6);
    }

    #[test]
    fn labels_and_empty_denominators() {
        // negative = 0. pred 2 on gold 1 is a predicted positive that is wrong.
        let s = BinaryScores::from_labels(&[1, 1, 0, 0], &[1, 2, 0, 1], 0).unwrap();
        assert_eq!(s.pos_precision, 1.0 / 3.0);
        assert_eq!(s.neg_precision, 1.0);
        assert_eq!(s.accuracy, 0.5);
        let none_positive = BinaryScores::compute(&[true], &[false]).unwrap();
        assert_eq!(none_positive.pos_precision, 0.0);
        assert_eq!(none_positive.neg_precision, 0.0);
        assert!(BinaryScores::compute(&[], &[]).is_err());
        assert!(BinaryScores::from_labels(&[0, 1], &[0], 0).is_err());
    }
}
