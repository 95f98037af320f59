//! Checking submissions and matching them row for row by id.
use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{Result, SubmissionError};
use crate::file::{SubmissionFile, SubmissionRow};

/// Tolerance on the sum of a row's probabilities.
pub const SUM_TOLERANCE: f64 = 1e-3;

/// Checks one submission: every row has `num_labels` finite, non-negative probabilities summing to 1 ± 1e-3, and no
/// id occurs twice. Returns the row index of each id.
pub fn validate(path: &Path, rows: &[SubmissionRow], num_labels: usize) -> Result<HashMap<String, usize>> {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let err_path = || path.to_path_buf();
        if row.probs.len() != num_labels {
            return Err(SubmissionError::WrongLength {
                path: err_path(),
                id: row.id.clone(),
                expected: num_labels,
                found: row.probs.len(),
            });
        }
        if let Some((column, &value)) = row.probs.iter().enumerate().find(|(_, p)| !p.is_finite() || **p < 0.0) {
            return Err(SubmissionError::BadProbability { path: err_path(), id: row.id.clone(), column, value });
        }
        let sum: f64 = row.probs.iter().sum();
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(SubmissionError::NotNormalised { path: err_path(), id: row.id.clone(), sum });
        }
        if let Some(first) = index.insert(row.id.clone(), i) {
            return Err(SubmissionError::DuplicateId {
                path: err_path(),
                id: row.id.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
    }
    Ok(index)
}

/// Submissions aligned by id.
#[derive(Clone, Debug, PartialEq)]
pub struct Aligned {
    /// Ids in the first file's order.
    pub ids: Vec<String>,
    /// Number of labels (columns).
    pub num_labels: usize,
    /// Per file, row-major `[ids.len(), num_labels]` probabilities in `ids` order.
    pub probs: Vec<Vec<f64>>,
}

impl Aligned {
    /// Number of files (models).
    pub fn num_models(&self) -> usize {
        self.probs.len()
    }
}

/// Validates every submission ([`validate`]) and aligns them on the first one's ids. Every file must have exactly
/// the same ids.
pub fn align(files: &[SubmissionFile], num_labels: usize) -> Result<Aligned> {
    let first = files.first().ok_or(SubmissionError::NoInputs)?;
    let ids: Vec<String> = first.submission.rows.iter().map(|r| r.id.clone()).collect();
    let mut probs = Vec::with_capacity(files.len());
    for file in files {
        let index = validate(&file.path, &file.submission.rows, num_labels)?;
        let mut matrix = Vec::with_capacity(ids.len() * num_labels);
        for id in &ids {
            let row = index.get(id).ok_or_else(|| SubmissionError::MissingId {
                path: file.path.clone(),
                id: id.clone(),
                reference: first.path.clone(),
            })?;
            matrix.extend_from_slice(&file.submission.rows[*row].probs);
        }
        // Same count and every reference id present ⇒ same id set; otherwise name an extra id.
        if index.len() != ids.len() {
            let known: HashSet<&str> = ids.iter().map(String::as_str).collect();
            if let Some(row) = file.submission.rows.iter().find(|r| !known.contains(r.id.as_str())) {
                return Err(SubmissionError::UnexpectedId {
                    path: file.path.clone(),
                    id: row.id.clone(),
                    reference: first.path.clone(),
                });
            }
        }
        probs.push(matrix);
    }
    Ok(Aligned { ids, num_labels, probs })
}

/// Gold label ids in the order of `ids`, from `(id, label id)` pairs read from `gold_path`. Gold ids must be
/// unique, every id must be in the gold data and every gold record must be among `ids`.
pub fn align_gold(
    ids: &[String],
    gold: &[(String, Option<usize>)],
    gold_path: &Path,
    pred_path: &Path,
) -> Result<Vec<usize>> {
    let mut by_id: HashMap<&str, (usize, Option<usize>)> = HashMap::with_capacity(gold.len());
    for (i, (id, label)) in gold.iter().enumerate() {
        if let Some((first, _)) = by_id.insert(id.as_str(), (i, *label)) {
            return Err(SubmissionError::DuplicateId {
                path: gold_path.to_path_buf(),
                id: id.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
    }
    if gold.len() != ids.len() || ids.iter().any(|id| !by_id.contains_key(id.as_str())) {
        let pred_ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
        if let Some((id, _)) = gold.iter().find(|(id, _)| !pred_ids.contains(id.as_str())) {
            return Err(SubmissionError::MissingId {
                path: pred_path.to_path_buf(),
                id: id.clone(),
                reference: gold_path.to_path_buf(),
            });
        }
        if let Some(id) = ids.iter().find(|id| !by_id.contains_key(id.as_str())) {
            return Err(SubmissionError::UnexpectedId {
                path: pred_path.to_path_buf(),
                id: id.clone(),
                reference: gold_path.to_path_buf(),
            });
        }
    }
    ids.iter()
        .map(|id| {
            by_id
                .get(id.as_str())
                .and_then(|(_, label)| *label)
                .ok_or_else(|| SubmissionError::UnlabeledGold { path: gold_path.to_path_buf(), id: id.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::Submission;

    fn row(id: &str, probs: &[f64]) -> SubmissionRow {
        SubmissionRow { id: id.into(), pred_label: "x".into(), probs: probs.to_vec() }
    }

    #[test]
    fn duplicate_ids_are_refused_with_both_positions() {
        let rows = vec![row("a", &[1.0]), row("b", &[1.0]), row("a", &[1.0])];
        let err = validate(Path::new("p.csv"), &rows, 1).unwrap_err();
        assert!(matches!(&err, SubmissionError::DuplicateId { first: 1, second: 3, .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("p.csv") && msg.contains("id=a") && msg.contains("unique"), "{msg}");

        let gold = vec![("x".to_string(), Some(0)), ("x".to_string(), Some(1))];
        let ids = vec!["x".to_string()];
        let msg = align_gold(&ids, &gold, Path::new("gold.json"), Path::new("p.csv")).unwrap_err().to_string();
        assert!(msg.contains("gold.json") && msg.contains("id=x") && msg.contains("more than once"), "{msg}");
    }

    #[test]
    fn align_reorders_to_the_first_file() {
        let a = SubmissionFile::new("a.csv", Submission { rows: vec![row("1", &[1.0, 0.0]), row("2", &[0.0, 1.0])] });
        let b = SubmissionFile::new("b.csv", Submission { rows: vec![row("2", &[0.5, 0.5]), row("1", &[0.25, 0.75])] });
        let aligned = align(&[a, b], 2).unwrap();
        assert_eq!(aligned.num_models(), 2);
        assert_eq!(aligned.probs[1], vec![0.25, 0.75, 0.5, 0.5]);
    }
}
