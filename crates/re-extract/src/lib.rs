//! `re-extract`: relation triples from text with a trained model.
//!
//! parse ([`parse_line`]) → candidate pairs ([`Extractor::pairs`]: given entities, or mention candidates found by
//! [`MentionFinder`] over MeCab) → the model's probabilities for the pairs' records
//! ([`re_train::predict::TrainedModel::predict`]) → [`Extractor::triples`]. The split lets a server put the pairs'
//! records into the same batch as other requests' records.
//!
//! ```no_run
//! use re_extract::{parse_line, Extractor, ExtractOptions, InputFormat};
//! # fn run<B: burn::tensor::backend::Backend>(model: &re_train::predict::TrainedModel<B>) -> re_extract::Result<()> {
//! let extractor = Extractor::for_model(model)?;
//! let sentences = parse_line("[[이순신|PER]]은 [[조선|ORG]]의 장군이다.", 1, InputFormat::Auto)?;
//! let pairs = extractor.pairs(&sentences)?;
//! let records: Vec<_> = pairs.iter().map(|p| p.record.clone()).collect();
//! let probs = model.predict(&records, 32)?;
//! for t in extractor.triples(&sentences, &pairs, &probs, model.labels(), &ExtractOptions::default()) {
//!     println!("{}", serde_json::to_string(&t).unwrap());
//! }
//! # Ok(()) }
//! ```
pub mod error;
pub mod input;
pub mod mentions;
pub mod options;
pub mod pairs;
pub mod recall;
pub mod stream;

pub use error::{ExtractError, Result};
pub use input::{parse_line, InputFormat, Sentence};
pub use mentions::{Candidates, MentionFinder};
pub use options::{ExtractOptions, Threshold};
pub use pairs::{CandidatePair, Extractor, Triple};
pub use stream::{extract_stream, StreamOptions, StreamSummary};

/// A mention in a sentence: the entity type of KLUE records (`word`, `start`, `end` inclusive, `type`).
pub type Mention = re_data::record::Entity;

/// The label that means "no relation" in KLUE's label set.
pub const NO_RELATION: &str = "no_relation";
