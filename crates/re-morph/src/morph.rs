//! Morphology: the [`Morphology`] trait, the morphemes it returns and eojeol (whitespace token) splitting. The
//! MeCab backend lives in [`crate::mecab`].
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One morpheme of a sentence.
///
/// Offsets are **half-open** (`start..end`), both in characters (Unicode scalar values) and in UTF-8 bytes of the
/// analysed sentence, so `sentence[byte_start..byte_end] == surface`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Morpheme {
    pub surface: String,
    /// mecab-ko-dic POS tag: the first field of the feature string (`NNP`, `JKS`, `XSV+EF`, `SL`, `SH` …).
    pub tag: String,
    /// The whole mecab-ko-dic feature string (`NNP,인명,T,이순신,*,*,*,*`): tag, semantic class, final consonant,
    /// reading, type (`Inflect`, `Compound` …), first/last tag, expression. Empty for other analysers.
    #[serde(default)]
    pub feature: String,
    pub start: usize,
    pub end: usize,
    pub byte_start: usize,
    pub byte_end: usize,
}

impl Morpheme {
    pub fn byte_range(&self) -> Range<usize> {
        self.byte_start..self.byte_end
    }

    /// mecab-ko-dic's semantic class (second feature field: `인명` person, `지명` place, `*` none), or `""`.
    pub fn semantic_class(&self) -> &str {
        self.feature.split(',').nth(1).unwrap_or("")
    }
}

/// A morphological analyser. Implementations must be usable from several threads (`Send + Sync`); the MeCab
/// backend serialises calls on one handle with a mutex (see [`crate::mecab::Mecab`]).
pub trait Morphology: Send + Sync {
    /// Morphemes of `text` in order; empty input gives an empty vector.
    fn analyze(&self, text: &str) -> Result<Vec<Morpheme>>;
}

/// Byte ranges of the whitespace-separated tokens (eojeols) of `text`.
pub fn eojeol_ranges(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push(s..i);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// A sentence with its morphemes and eojeols, computed once and shared by all candidate pairs of the sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzedSentence {
    pub text: String,
    pub morphemes: Vec<Morpheme>,
    /// Byte ranges of the eojeols.
    pub eojeols: Vec<Range<usize>>,
}

impl AnalyzedSentence {
    pub fn new(text: &str, morphology: &dyn Morphology) -> Result<Self> {
        let morphemes = morphology.analyze(text)?;
        Ok(AnalyzedSentence { text: text.to_string(), morphemes, eojeols: eojeol_ranges(text) })
    }

    /// Index of the eojeol containing byte `b` (or the nearest one before it, for whitespace).
    pub fn eojeol_of(&self, b: usize) -> usize {
        match self.eojeols.binary_search_by(|r| {
            if r.end <= b {
                std::cmp::Ordering::Less
            } else if r.start > b {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        }) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eojeols_split_on_any_whitespace() {
        let s = " 삼성전자와\t애플은  경쟁 ";
        let e: Vec<&str> = eojeol_ranges(s).into_iter().map(|r| &s[r]).collect();
        assert_eq!(e, ["삼성전자와", "애플은", "경쟁"]);
        assert!(eojeol_ranges("").is_empty());
    }
}
