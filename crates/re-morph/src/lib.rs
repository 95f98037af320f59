//! `re-morph`: Korean morphology shared by the feature-based extractor (re-classic) and mention candidates
//! (re-extract). The only FFI of the workspace that touches MeCab lives here.
//!
//! - [`mecab`]: MeCab + mecab-ko-dic through a run-time-loaded FFI (`libloading`), so builds never need MeCab.
//! - [`morph`]: the [`Morphology`] trait, [`Morpheme`] (tag, mecab-ko-dic feature fields, offsets), eojeols.
//!
//! ```no_run
//! use re_morph::{Mecab, Morphology};
//! let mecab = Mecab::new()?;
//! for m in mecab.analyze("삼성전자와 애플은 경쟁한다.")? {
//!     println!("{} {} {}", m.surface, m.tag, m.semantic_class());
//! }
//! # Ok::<(), re_morph::MorphError>(())
//! ```
pub mod error;
pub mod mecab;
pub mod morph;

pub use error::{MorphError, Result};
pub use mecab::{default_dicdir, Mecab};
pub use morph::{eojeol_ranges, AnalyzedSentence, Morpheme, Morphology};
