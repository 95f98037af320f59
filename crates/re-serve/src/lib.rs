//! `re-serve`: a trained kre model over HTTP (axum + tokio). No model code lives here: requests are parsed into
//! [`re_data::record::RelationRecord`]s, a dedicated model thread ([`worker`]) groups the records of many requests
//! into one call of a [`Scorer`] (a [`re_train::predict::TrainedModel`] in `kre serve`), and each request gets its
//! own rows back.
//!
//! Routes ([`app::router`]): `POST /v1/predict`, `POST /v1/extract` (text → triples through
//! [`re_extract::Extractor`], whose candidate pairs share the batches), `GET /healthz`, `GET /metrics` (Prometheus text format).
//! The binary concerns (argument parsing, logging, signal handling) live in `kre serve` (re-cli).
pub mod app;
pub mod config;
pub mod error;
pub mod metrics;
pub mod request;
pub mod worker;

pub use app::{router, serve, AppState};
pub use config::ServeConfig;
pub use error::{Result, ServeError};
pub use worker::{spawn_worker, Scorer, Served, WorkerHandle};
