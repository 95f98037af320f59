//! The one error type of `re-serve`. [`ServeError::status`] maps each variant to the HTTP status it answers with.
use axum::http::StatusCode;

pub type Result<T, E = ServeError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Malformed JSON, a missing or mistyped field, or a record that is not valid (offsets, types): 400.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than `max_body_bytes`: 413.
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed but over a limit (a sentence longer than `max_sentence_chars`): 422.
    #[error("{0}")]
    Unprocessable(String),
    /// The batching queue is full: 503 with `Retry-After`.
    #[error("the model queue is full ({capacity} requests waiting); retry later")]
    QueueFull { capacity: usize },
    /// The model thread has stopped (shutdown, or it failed): 503.
    #[error("the model is not available: {0}")]
    Unavailable(String),
    /// The model failed on records that parsed and validated: 500.
    #[error("model error: {0}")]
    Model(String),
    /// Loading the model or binding the address failed (before serving).
    #[error("{0}")]
    Startup(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ServeError {
    pub fn status(&self) -> StatusCode {
        match self {
            ServeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServeError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServeError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServeError::QueueFull { .. } | ServeError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServeError::Model(_) | ServeError::Startup(_) | ServeError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
