//! The one error type of `re-train`.
use std::path::PathBuf;

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] re_data::DataError),
    /// Writing/reading a `submission.csv` (re-submission).
    #[error(transparent)]
    Submission(#[from] re_submission::SubmissionError),
    #[error(transparent)]
    Model(#[from] re_models::error::ModelError),
    #[error("metrics: {0}")]
    Metrics(#[from] re_metrics::MetricsError),
    #[error("loss: {0}")]
    Loss(#[from] re_losses::LossError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// A study storage (`kre search --storage`): which one, and what went wrong.
    #[error("{storage}: {message}")]
    Storage { storage: String, message: String },
    /// Multi-node training: another node stopped, never joined, or the collective failed (the message names it).
    #[error("{0}")]
    Peer(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{0}")]
    Other(String),
}

impl TrainError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }
    pub fn checkpoint(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        TrainError::Checkpoint { path: path.into(), message: message.to_string() }
    }
}
