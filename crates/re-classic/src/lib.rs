//! `re-classic`: the feature-based competition-relation extractor of Lee, Seo & Kim, "Competition relation
//! extraction based on combining machine learning and filtering" (Journal of KIISE 42(3), 2015).
//!
//! - [`mecab`], [`morph`]: MeCab + mecab-ko-dic (from `re-morph`, re-exported) behind the [`morph::Morphology`] trait.
//! - [`features`]: candidates and features f1–f7 as hashed sparse vectors ([`sparse`]).
//! - [`clues`]: clue-word lexicon, the rule baseline and clue-word proposal by log-odds.
//! - [`learn`]: Pegasos linear SVM, max-ent (logistic regression), one-class SVM; deterministic for a seed.
//! - [`pipeline`]: the filters of the paper's Fig. 5 and the trained [`pipeline::ClassicModel`] (`model.json`).
//! - [`eval`]: POS/NEG precision, accuracy, P/R/F1 (via `re-metrics`), prediction CSV, experiments.
//!
//! ```no_run
//! use re_classic::{clues::ClueLexicon, mecab::Mecab, pipeline::*};
//! let records: Vec<re_data::RelationRecord> = vec![/* labelled competition / no_relation records */];
//! let corpus = Corpus::build(&records, &Mecab::new()?, &ClueLexicon::default_competition(), &|| {})?;
//! let all: Vec<usize> = (0..corpus.pairs.len()).collect();
//! let config = ClassicConfig { filters: Filters::parse("sentence,spam,distance:2")?, ..Default::default() };
//! let model = ClassicModel::train(&corpus, &all, &config, None)?;
//! let predictions = model.predict(&corpus, &all);
//! # Ok::<(), re_classic::ClassicError>(())
//! ```
pub mod clues;
pub mod error;
pub mod eval;
pub mod features;
pub mod learn;
pub mod morph;
pub mod pipeline;
pub mod sparse;
pub use re_morph::mecab;
pub mod svmlight;

pub use error::{ClassicError, Result};
