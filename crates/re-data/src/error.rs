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
    /// A record that cannot be marked or encoded (spans, marker types, tokenization), found where the file is not
    /// known; [`DataError::in_file`] turns it into [`DataError::InvalidRecord`].
    #[error("record {record}: {message}")]
    Record { record: String, message: String },
    /// The file holds no records where at least one is needed (prediction, evaluation).
    #[error("{path}: no records; at least one is needed")]
    NoRecords { path: PathBuf },
    /// Several records share an id where outputs are keyed by id (`submission.csv`, scoring).
    #[error("{path}: record id={id} occurs {count} times{more}; {why}")]
    DuplicateId {
        path: PathBuf,
        id: String,
        count: usize,
        /// `` (and 3 other ids occur more than once)`` when there are more.
        more: String,
        /// Why ids must be unique here.
        why: String,
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
    /// A [`DataError::Record`] about the record with id `id`.
    pub fn record(id: impl std::fmt::Display, message: impl Into<String>) -> Self {
        DataError::Record { record: id.to_string(), message: message.into() }
    }
    /// Name the file a [`DataError::Record`] came from (other errors already name theirs, or have none): for
    /// callers that encode records read from `path`.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            DataError::Record { record, message } => {
                DataError::InvalidRecord { path: path.into(), record: format!("id={record}"), message }
            }
            other => other,
        }
    }
}
