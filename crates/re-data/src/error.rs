//! The one error type of `re-data`. Every variant that concerns a file names the file and, where one exists,
//! the record (guid/id or 1-based line), so a user can find the bad input.
use std::path::PathBuf;

pub type Result<T, E = DataError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file could not be parsed at all (truncated JSON, bad CSV quoting, not parquet, not UTF-8 …).
    #[error("{path}: {location}: {message}")]
    Parse {
        path: PathBuf,
        /// e.g. `line 12`, `record guid=klue-re-v1_train_00012`, `row group 0`.
        location: String,
        message: String,
    },
    /// A record parsed but is not valid (offsets, types, labels).
    #[error("{path}: record {record}: {message}")]
    InvalidRecord {
        path: PathBuf,
        /// guid/id when the record has one, else `line N`.
        record: String,
        message: String,
    },
    #[error("{path}: unknown file format ({message})")]
    UnknownFormat { path: PathBuf, message: String },
    /// Reading or writing a `submission.csv` (re-submission) failed.
    #[error(transparent)]
    Submission(#[from] re_submission::SubmissionError),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }
    pub fn parse(path: impl Into<PathBuf>, location: impl Into<String>, message: impl Into<String>) -> Self {
        DataError::Parse { path: path.into(), location: location.into(), message: message.into() }
    }
    pub fn invalid_record(path: impl Into<PathBuf>, record: impl Into<String>, message: impl Into<String>) -> Self {
        DataError::InvalidRecord { path: path.into(), record: record.into(), message: message.into() }
    }
}
