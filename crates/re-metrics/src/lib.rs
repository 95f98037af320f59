//! # re-metrics
//!
//! KLUE-RE scoring in plain Rust (dependencies: `thiserror`, and `serde` with the `serde` feature), exact against
//! scikit-learn 1.9 as the KLUE scorer uses it:
//!
//! * [`micro_f1_without_no_relation`] — KLUE's `klue_re_micro_f1` (`f1_score(average="micro", labels=[all but
//!   no_relation]) * 100`), and the general [`micro_f1`];
//! * [`auprc`] — KLUE's `klue_re_auprc`: per class `auc(recall, precision)` of `precision_recall_curve` on the
//!   one-vs-rest column, averaged over **all** classes ×100 (a class without gold examples contributes 0.5, as in
//!   scikit-learn ≥ 1.1);
//! * [`average_precision`] / [`class_curve_scores`] — `average_precision_score` per class and macro-averaged;
//! * [`accuracy`], [`precision_recall_fscore_support`], [`confusion_matrix`], [`rarest_class_recall`],
//!   [`no_relation_share`], [`BinaryScores`] (POS/NEG precision of the competition-relation paper);
//! * [`Report`] — all of the above with label names, serialisable to JSON (feature `serde`).
//!
//! Features: `serde` (off by default) derives `Serialize` for the result types; `test-util` adds `re_metrics::synthetic`
//! (deterministic KLUE-like score matrices for parity tests and benchmarks).
//!
//! Inputs are plain slices: gold label ids, predicted ids, and row-major `[n, num_labels]` probability matrices
//! (use [`flatten_rows`] for `Vec<Vec<f64>>`). Bad input (length mismatch, id out of range, NaN/∞ score, empty
//! input) is a [`MetricsError`], never a panic. The reference path ([`precision_recall_curve`], [`auc`],
//! [`auprc_reference`]) is a line-by-line port of scikit-learn, bit-identical to it, and returns whole curves for
//! plotting; the fast path ([`auprc`], [`class_curve_scores`]) agrees with it to a few ulps.
//!
//! ```
//! use re_metrics::{auprc, micro_f1_without_no_relation, Predictions, Report};
//!
//! # fn main() -> Result<(), re_metrics::MetricsError> {
//! let labels = ["no_relation", "org:founded", "per:title"];
//! let gold = [0, 1, 2, 2];
//! // Row-major [4, 3] probabilities.
//! let probs = [
//!     0.7, 0.2, 0.1, //
//!     0.1, 0.8, 0.1, //
//!     0.5, 0.1, 0.4, //
//!     0.2, 0.1, 0.7,
//! ];
//! let pred = re_metrics::argmax_rows(&probs, 3)?; // [0, 1, 0, 2]
//! let f1 = micro_f1_without_no_relation(&gold, &pred, 3, 0)?;
//! assert!((f1 - 80.0).abs() < 1e-12); // tp = 2, gold relations = 3, predicted relations = 2
//! let area = auprc(&gold, &probs, 3)?;
//! assert!(area > 0.0 && area <= 100.0);
//!
//! let report = Report::compute(&gold, Predictions::Probabilities(&probs), &labels, 0)?;
//! assert_eq!(report.micro_f1, f1);
//! assert_eq!(report.per_class[2].support, 2);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod binary;
mod classification;
mod error;
mod fast_curves;
mod numeric;
mod ranking;
mod report;
#[cfg(feature = "test-util")]
pub mod synthetic;
mod validate;

pub use binary::BinaryScores;
pub use classification::{
    accuracy, argmax_rows, confusion_matrix, micro_f1, micro_f1_without_no_relation, no_relation_share,
    precision_recall_fscore_support, rarest_class_recall, ClassScores, RareClassRecall, ZeroDivision,
};
pub use error::{MetricsError, Result};
pub use ranking::{
    auc, auprc, auprc_reference, average_precision, average_precision_binary, class_curve_scores,
    class_precision_recall_curve, precision_recall_curve, ClassCurveScore, PrecisionRecallCurve,
};
pub use report::{ClassReport, Predictions, Report, ReportOptions, DEFAULT_RARE_CLASSES};

/// Flattens equal-length rows (`&[Vec<f64>]`, `&[[f64; K]]`, …) into the row-major matrix the metrics take.
/// Returns the matrix and the number of columns; rows of different lengths are an error.
pub fn flatten_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<(Vec<f64>, usize)> {
    let first = rows.first().ok_or(MetricsError::Empty { what: "rows" })?;
    let columns = first.as_ref().len();
    let mut flat = Vec::with_capacity(rows.len() * columns);
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_ref();
        if row.len() != columns {
            return Err(MetricsError::InvalidArgument(format!(
                "row {i} has {} columns but row 0 has {columns}",
                row.len()
            )));
        }
        flat.extend_from_slice(row);
    }
    Ok((flat, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_rows_checks_lengths() {
        let (flat, k) = flatten_rows(&[vec![0.1, 0.9], vec![0.4, 0.6]]).unwrap();
        assert_eq!((flat, k), (vec![0.1, 0.9, 0.4, 0.6], 2));
        assert!(flatten_rows(&[vec![0.1, 0.9], vec![0.4]]).is_err());
        let none: [Vec<f64>; 0] = [];
        assert!(flatten_rows(&none).is_err());
    }
}
