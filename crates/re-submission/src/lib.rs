//! `re-submission`: the competition's `submission.csv` (`id,pred_label,probs`) and matching such files by id.
//!
//! - [`Submission`] / [`SubmissionRow`]: tolerant reading (quoting, whitespace, BOM, scientific notation) and
//!   atomic writing of exactly the competition layout (`probs` is a bracketed list in label-map order).
//! - [`validate`], [`align`], [`align_gold`]: check that files can be compared row for row (one probability per
//!   label, rows summing to 1, **unique ids**, the same id set everywhere) and put them in one order.
//!
//! The crate needs only `csv`, `serde` and `thiserror`, so scoring and ensembling submissions never pulls in the
//! tokenizer or parquet/arrow stacks that reading training data needs. Every error names the file and the id.
//!
//! ```
//! use re_submission::{align, Submission, SubmissionFile, SubmissionRow};
//!
//! let row = |id: &str, p: Vec<f64>| SubmissionRow { id: id.into(), pred_label: String::new(), probs: p };
//! let a = SubmissionFile::new("a.csv", Submission { rows: vec![row("1", vec![0.2, 0.8]), row("2", vec![0.6, 0.4])] });
//! let b = SubmissionFile::new("b.csv", Submission { rows: vec![row("2", vec![1.0, 0.0]), row("1", vec![0.4, 0.6])] });
//! let aligned = align(&[a, b.clone()], 2)?;
//! assert_eq!(aligned.ids, ["1", "2"]); // the first file's order
//! assert_eq!(aligned.probs[1], [0.4, 0.6, 1.0, 0.0]); // b, reordered
//!
//! // Ids must be unique: a repeated id is refused with the file and the id.
//! let dup = SubmissionFile::new("dup.csv", Submission { rows: vec![row("1", vec![0.5, 0.5]), row("1", vec![0.5, 0.5])] });
//! let err = align(&[dup], 2).unwrap_err().to_string();
//! assert!(err.contains("dup.csv") && err.contains("id=1"), "{err}");
//! # Ok::<(), re_submission::SubmissionError>(())
//! ```
mod align;
mod error;
mod file;

pub use align::{align, align_gold, validate, Aligned, SUM_TOLERANCE};
pub use error::{Result, SubmissionError};
pub use file::{parse_probs, Submission, SubmissionFile, SubmissionRow};
