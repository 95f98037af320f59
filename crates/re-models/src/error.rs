//! The error type of `re-models`.
use std::path::PathBuf;

/// Everything that can go wrong while reading a checkpoint directory, its configuration, its weights or its tokenizer.
///
/// Every variant names the file it concerns, so a user can tell which part of a checkpoint directory is broken.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// `config.json` (or `tokenizer_config.json`) is not valid JSON for the expected structure.
    #[error("invalid configuration {path}: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The configuration names a model family or an option this crate does not implement.
    #[error("{path}: unsupported {what}")]
    Unsupported {
        /// The configuration file.
        path: PathBuf,
        /// What is not supported (e.g. `model_type "gpt2"`).
        what: String,
    },
    /// The directory has neither `model.safetensors` nor `pytorch_model.bin`.
    #[error("no weights in {dir}: expected model.safetensors or pytorch_model.bin")]
    NoWeights {
        /// The checkpoint directory.
        dir: PathBuf,
    },
    /// The weight file could not be parsed.
    #[error("cannot read weights {path}: {message}")]
    Weights {
        /// The weight file.
        path: PathBuf,
        /// The store's message.
        message: String,
    },
    /// The weight file does not match the module: keys the model needs are absent, keys the checkpoint has are not
    /// understood, or shapes differ. Each list holds checkpoint key names (after prefix stripping for `missing`).
    #[error(
        "weights {path} do not match the model{}:\n  missing ({}): {}\n  unexpected ({}): {}\n  shape mismatches ({}): {}",
        described_by(config.as_deref()),
        missing.len(), missing.join(", "), unexpected.len(), unexpected.join(", "), mismatched.len(), mismatched.join("; ")
    )]
    KeyMismatch {
        /// The weight file.
        path: PathBuf,
        /// The `config.json` the model was built from, when there is one: with the weights file, one of the two
        /// files the user has to check.
        config: Option<PathBuf>,
        /// Module parameters (burn paths) that no checkpoint tensor provides.
        missing: Vec<String>,
        /// Checkpoint tensors (original names) that no module parameter uses and that are not a known head.
        unexpected: Vec<String>,
        /// `path: expected [..], found [..]` for each tensor with the wrong shape.
        mismatched: Vec<String>,
    },
    /// The tokenizer files are missing or invalid.
    #[error("tokenizer {path}: {message}")]
    Tokenizer {
        /// The tokenizer file or directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Invalid input to a model function (e.g. shapes that do not agree).
    #[error("invalid input: {0}")]
    Input(String),
}

fn described_by(config: Option<&std::path::Path>) -> String {
    match config {
        Some(c) => format!(" built from {} (the two files are not from the same checkpoint)", c.display()),
        None => String::new(),
    }
}

impl ModelError {
    /// Name the `config.json` the model was built from in a [`ModelError::KeyMismatch`] (other errors unchanged).
    pub fn with_config(self, config_file: &std::path::Path) -> Self {
        match self {
            ModelError::KeyMismatch { path, config: None, missing, unexpected, mismatched } => {
                ModelError::KeyMismatch { path, config: Some(config_file.into()), missing, unexpected, mismatched }
            }
            other => other,
        }
    }
}

/// `Result` with [`ModelError`].
pub type Result<T> = std::result::Result<T, ModelError>;
