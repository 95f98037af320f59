//! The one error type of `re-classic`. Variants about files name the file and, where one exists, the record.
use std::path::PathBuf;

pub type Result<T, E = ClassicError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ClassicError {
    /// MeCab or its dictionary is missing, or MeCab failed on an input.
    #[error(transparent)]
    Morph(#[from] re_morph::MorphError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file parsed badly (line numbers are 1-based).
    #[error("{path}: {location}: {message}")]
    Parse { path: PathBuf, location: String, message: String },
    /// A record that cannot be used (span outside its sentence …).
    #[error("record {record}: {message}")]
    InvalidRecord { record: String, message: String },
    /// A configuration or argument that makes no sense (unknown feature family, no positive label …).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Data(#[from] re_data::DataError),
    #[error("metrics: {0}")]
    Metrics(#[from] re_metrics::MetricsError),
}

impl ClassicError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ClassicError::Io { path: path.into(), source }
    }
    pub fn parse(path: impl Into<PathBuf>, location: impl Into<String>, message: impl Into<String>) -> Self {
        ClassicError::Parse { path: path.into(), location: location.into(), message: message.into() }
    }
    pub fn record(record: impl Into<String>, message: impl Into<String>) -> Self {
        ClassicError::InvalidRecord { record: record.into(), message: message.into() }
    }
}
