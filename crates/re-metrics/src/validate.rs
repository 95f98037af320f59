//! Input checks shared by the metrics (lengths, label ranges, finiteness).
use crate::error::{MetricsError, Result};

pub(crate) fn non_empty<T>(what: &'static str, values: &[T]) -> Result<()> {
    if values.is_empty() {
        return Err(MetricsError::Empty { what });
    }
    Ok(())
}

pub(crate) fn same_length<T>(what: &'static str, values: &[T], expected: usize) -> Result<()> {
    if values.len() != expected {
        return Err(MetricsError::LengthMismatch { what, expected, found: values.len() });
    }
    Ok(())
}

pub(crate) fn num_labels(num_labels: usize) -> Result<()> {
    if num_labels == 0 {
        return Err(MetricsError::InvalidArgument("num_labels must be at least 1".into()));
    }
    Ok(())
}

pub(crate) fn labels_in_range(what: &'static str, labels: &[usize], num_labels: usize) -> Result<()> {
    match labels.iter().position(|&l| l >= num_labels) {
        Some(index) => Err(MetricsError::LabelOutOfRange { what, index, label: labels[index], num_labels }),
        None => Ok(()),
    }
}

/// Gold and predicted label ids for the same examples, all below `num_labels`.
pub(crate) fn gold_and_pred(gold: &[usize], pred: &[usize], num_labels: usize) -> Result<()> {
    self::num_labels(num_labels)?;
    non_empty("gold", gold)?;
    same_length("pred", pred, gold.len())?;
    labels_in_range("gold", gold, num_labels)?;
    labels_in_range("pred", pred, num_labels)
}

/// A row-major `[gold.len(), num_labels]` score matrix with finite entries.
pub(crate) fn score_matrix(gold: &[usize], probs: &[f64], num_labels: usize) -> Result<()> {
    score_matrix_shape(gold, probs, num_labels)?;
    finite_scores("probs", probs, num_labels)
}

/// A row-major `[gold.len(), num_labels]` score matrix (entries not checked).
pub(crate) fn score_matrix_shape(gold: &[usize], probs: &[f64], num_labels: usize) -> Result<()> {
    self::num_labels(num_labels)?;
    non_empty("gold", gold)?;
    let expected = gold.len().checked_mul(num_labels).ok_or_else(|| {
        MetricsError::InvalidArgument(format!("{} rows x {num_labels} columns overflows usize", gold.len()))
    })?;
    same_length("probs", probs, expected)?;
    labels_in_range("gold", gold, num_labels)
}

pub(crate) fn finite_scores(what: &'static str, scores: &[f64], columns: usize) -> Result<()> {
    // Branch-free fold per chunk (vectorises); only a failing input pays for locating the bad value.
    if scores.chunks(256).all(|chunk| chunk.iter().fold(true, |ok, v| ok & v.is_finite())) {
        return Ok(());
    }
    match scores.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(MetricsError::NonFinite { what, row: i / columns, column: i % columns, value: scores[i] }),
        None => Ok(()),
    }
}
