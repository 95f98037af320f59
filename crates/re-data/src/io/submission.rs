//! `submission.csv` I/O lives in the light `re-submission` crate (csv + serde only, so re-ensemble and
//! `kre evaluate` need not build tokenizers/parquet/arrow); re-exported here so `re_data::io::submission::…`
//! keeps working.
pub use re_submission::{parse_probs, Submission, SubmissionError, SubmissionFile, SubmissionRow};
