//! The one error type of `re-submission`; every variant about a file names the file, and the id where there is one.
use std::path::PathBuf;

use crate::align::SUM_TOLERANCE;

/// Result alias of this crate.
pub type Result<T, E = SubmissionError> = std::result::Result<T, E>;

/// Reading, writing or aligning submissions failed.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV itself is malformed (header, quoting, field count).
    #[error("{path}: {location}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// `header` or `line N`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A row parsed as CSV but its `probs` field is not a list of numbers.
    #[error("{path}: record id={id} (line {line}): {message}")]
    InvalidRow {
        /// The file.
        path: PathBuf,
        /// The row's id.
        id: String,
        /// 1-based line of the row (the header is line 1).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Nothing to align.
    #[error("no submissions to combine")]
    NoInputs,
    /// An id occurs twice in a file where ids must be unique (a submission or the gold data).
    #[error("{path}: id={id} occurs more than once (entries {first} and {second}); ids must be unique")]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// The repeated id.
        id: String,
        /// 1-based position of its first occurrence among the file's rows/records.
        first: usize,
        /// 1-based position of the repetition.
        second: usize,
    },
    /// An id of the reference (first file / gold) is absent from a file.
    #[error("{path}: id={id} is missing (it is in {reference})")]
    MissingId {
        /// The file that lacks the id.
        path: PathBuf,
        /// The id.
        id: String,
        /// The file that has it.
        reference: PathBuf,
    },
    /// A file has an id the reference does not have.
    #[error("{path}: id={id} is not in {reference}")]
    UnexpectedId {
        /// The file with the extra id.
        path: PathBuf,
        /// The id.
        id: String,
        /// The reference file.
        reference: PathBuf,
    },
    /// A row has the wrong number of probabilities.
    #[error("{path}: id={id}: {found} probabilities, expected {expected} (one per label)")]
    WrongLength {
        /// The file.
        path: PathBuf,
        /// The row's id.
        id: String,
        /// Number of labels.
        expected: usize,
        /// Number of probabilities in the row.
        found: usize,
    },
    /// A probability is NaN, infinite or negative.
    #[error("{path}: id={id}: probability {value} of label {column} is not a finite non-negative number")]
    BadProbability {
        /// The file.
        path: PathBuf,
        /// The row's id.
        id: String,
        /// 0-based label column.
        column: usize,
        /// The value.
        value: f64,
    },
    /// A row's probabilities do not sum to 1.
    #[error("{path}: id={id}: probabilities sum to {sum}, not 1 ± {SUM_TOLERANCE}")]
    NotNormalised {
        /// The file.
        path: PathBuf,
        /// The row's id.
        id: String,
        /// The sum.
        sum: f64,
    },
    /// A gold record has no label.
    #[error("{path}: id={id} has no gold label")]
    UnlabeledGold {
        /// The gold file.
        path: PathBuf,
        /// The record's id.
        id: String,
    },
}

impl SubmissionError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SubmissionError::Io { path: path.into(), source }
    }
    pub(crate) fn parse(path: impl Into<PathBuf>, location: impl Into<String>, message: impl Into<String>) -> Self {
        SubmissionError::Parse { path: path.into(), location: location.into(), message: message.into() }
    }
}
