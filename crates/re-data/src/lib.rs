//! `re-data`: everything that turns published relation-extraction data into validated records,
//! and records into encoded model inputs.
//!
//! - [`record`]: [`RelationRecord`], [`Entity`], [`EntityType`] (character offsets, `end` inclusive, as KLUE publishes them).
//! - [`io`]: one module per file format, plus [`io::read_records`] which detects the format.
//! - [`labels`]: [`LabelMap`] (KLUE-RE order by default; JSON and pickle I/O).
//! - [`split`], [`markers`], [`encode`], [`eda`], [`synth`].
pub mod error;
pub mod fsutil;
pub mod record;

pub use error::{DataError, Result};
pub use record::{Entity, EntityType, RelationRecord};
