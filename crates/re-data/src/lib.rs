//! `re-data`: everything that turns published relation-extraction data into validated records,
//! and records into encoded model inputs.
//!
//! - [`record`]: [`RelationRecord`], [`Entity`], [`EntityType`] (character offsets, `end` inclusive, as KLUE publishes them).
//! - [`io`]: one module per file format, plus a `read_records` entry point which detects the format.
//! - [`labels`]: `LabelMap` (KLUE-RE order by default; JSON and pickle I/O).
//! - [`split`], [`markers`], [`encode`], [`eda`], [`synth`].
pub mod eda;
pub mod encode;
pub mod error;
pub mod fsutil;
pub mod io;
pub mod labels;
pub mod markers;
pub mod record;
pub mod split;
pub mod synth;

pub use error::{DataError, Result};
pub use record::{Entity, EntityType, RelationRecord};
