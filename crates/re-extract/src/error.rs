//! The one error type of `re-extract`. Input errors name the line (1-based) and the field.
use std::path::PathBuf;

pub type Result<T, E = ExtractError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// An input line that cannot be used; `field` is the JSON field (`entities[1].start`) or the markup, if any.
    #[error("line {line}{}: {message}", field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default())]
    Input { line: usize, field: Option<String>, message: String },
    /// The same, read from a file.
    #[error("{path}: {source}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<ExtractError>,
    },
    /// A sentence without given entities while no mention finder (MeCab) is available.
    #[error("sentence {sentence_id}: no entities given and no mention finder available ({reason})")]
    NoMentionFinder { sentence_id: String, reason: String },
    /// Extraction options that make no sense (threshold outside [0, 1], a per-class threshold for an unknown label).
    #[error("{0}")]
    Options(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Morph(#[from] re_morph::MorphError),
    #[error(transparent)]
    Data(#[from] re_data::DataError),
    #[error(transparent)]
    Train(#[from] re_train::TrainError),
}

impl ExtractError {
    pub fn input(line: usize, field: Option<&str>, message: impl Into<String>) -> Self {
        ExtractError::Input { line, field: field.map(str::to_string), message: message.into() }
    }

    /// An input error, as read from `path` (other errors are returned unchanged).
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            e @ (ExtractError::Input { .. } | ExtractError::NoMentionFinder { .. }) => {
                ExtractError::InFile { path: path.into(), source: Box::new(e) }
            }
            e => e,
        }
    }
}
