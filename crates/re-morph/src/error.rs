//! The one error type of `re-morph`.
pub type Result<T, E = MorphError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum MorphError {
    /// libmecab or the mecab-ko-dic dictionary could not be loaded.
    #[error("{message}; install Korean morphology with `bash scripts/install-mecab-ko.sh` (or `bash scripts/install-test-deps.sh`)")]
    MecabMissing { message: String },
    /// MeCab loaded but failed on an input.
    #[error("mecab: {0}")]
    Mecab(String),
    /// An argument that cannot be passed to MeCab (a path with a NUL byte …).
    #[error("{0}")]
    Config(String),
}
