//! `re-plots`: PNG plots for kre, drawn with plotters. Inputs are plain numbers and strings so any crate's
//! results can be plotted without this crate depending on them.
//!
//! - [`eda`]: label distribution, sentence-length histogram, type-pair heatmap.
//! - [`eval`]: confusion-matrix heatmap, per-class precision-recall curves.
//! - [`study`]: hyper-parameter study plots (optimization history, intermediate values, parallel coordinates,
//!   parameter importances, slices).
pub mod eda;
pub mod eval;
pub mod study;
mod style;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: {message}")]
    Draw { path: std::path::PathBuf, message: String },
}
