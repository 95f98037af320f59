//! `re-classic`: the feature-based competition-relation extractor of Lee, Seo & Kim, "Competition relation
//! extraction based on combining machine learning and filtering" (Journal of KIISE 42(3), 2015).
pub mod clues;
pub mod error;
pub mod features;
pub mod learn;
pub mod mecab;
pub mod morph;
pub mod sparse;

pub use error::{ClassicError, Result};
pub mod pipeline;
pub mod eval;
pub mod svmlight;
