//! Morphology: the [`Morphology`] trait, the morphemes it returns, eojeol (whitespace token) splitting and the
//! token type classes of feature f3. The MeCab backend lives in [`crate::mecab`].
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
    pub start: usize,
    pub end: usize,
    pub byte_start: usize,
    pub byte_end: usize,
}

impl Morpheme {
    pub fn byte_range(&self) -> Range<usize> {
        self.byte_start..self.byte_end
    }
}

/// A morphological analyser. Implementations must be usable from several threads (`Send + Sync`); the MeCab
/// backend serialises calls on one handle with a mutex (see [`crate::mecab::Mecab`]).
pub trait Morphology: Send + Sync {
    /// Morphemes of `text` in order; empty input gives an empty vector.
    fn analyze(&self, text: &str) -> Result<Vec<Morpheme>>;
}

/// Token type class of an eojeol (feature f3, paper 3.2): what kind of characters the token is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenClass {
    Digit,
    Symbol,
    Korean,
    English,
    Chinese,
    /// Mixed classes (e.g. `2014년`) or any other script.
    Other,
}

impl TokenClass {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenClass::Digit => "digit",
            TokenClass::Symbol => "symbol",
            TokenClass::Korean => "korean",
            TokenClass::English => "english",
            TokenClass::Chinese => "chinese",
            TokenClass::Other => "other",
        }
    }

    fn of_char(c: char) -> TokenClass {
        let u = c as u32;
        if c.is_ascii_digit() || c.is_numeric() && !is_han(u) {
            TokenClass::Digit
        } else if (0xAC00..=0xD7A3).contains(&u) || (0x1100..=0x11FF).contains(&u) || (0x3130..=0x318F).contains(&u) {
            TokenClass::Korean
        } else if c.is_ascii_alphabetic() || ('\u{FF21}'..='\u{FF5A}').contains(&c) && c.is_alphabetic() {
            TokenClass::English
        } else if is_han(u) {
            TokenClass::Chinese
        } else if c.is_ascii_punctuation() || !c.is_alphanumeric() {
            TokenClass::Symbol
        } else {
            TokenClass::Other
        }
    }

    /// The class of a whole token: the common class of its characters, `Other` when they differ or it is empty.
    pub fn of_token(token: &str) -> TokenClass {
        let mut classes = token.chars().filter(|c| !c.is_whitespace()).map(TokenClass::of_char);
        let Some(first) = classes.next() else { return TokenClass::Other };
        if classes.all(|c| c == first) {
            first
        } else {
            TokenClass::Other
        }
    }
}

fn is_han(u: u32) -> bool {
    (0x4E00..=0x9FFF).contains(&u) || (0x3400..=0x4DBF).contains(&u) || (0xF900..=0xFAFF).contains(&u)
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

/// Tags treated as content words when proposing clue words: nouns, verbs, adjectives' roots and adverbs.
pub fn is_clue_tag(tag: &str) -> bool {
    let head = tag.split('+').next().unwrap_or(tag);
    matches!(head, "NNG" | "NNP" | "VV" | "VA" | "MAG" | "XR" | "SL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_classes() {
        assert_eq!(TokenClass::of_token("2014"), TokenClass::Digit);
        assert_eq!(TokenClass::of_token("삼성전자와"), TokenClass::Korean);
        assert_eq!(TokenClass::of_token("vs"), TokenClass::English);
        assert_eq!(TokenClass::of_token("競爭"), TokenClass::Chinese);
        assert_eq!(TokenClass::of_token("…,"), TokenClass::Symbol);
        assert_eq!(TokenClass::of_token("2014년"), TokenClass::Other);
        assert_eq!(TokenClass::of_token(""), TokenClass::Other);
    }

    #[test]
    fn eojeols_split_on_any_whitespace() {
        let s = " 삼성전자와\t애플은  경쟁 ";
        let e: Vec<&str> = eojeol_ranges(s).into_iter().map(|r| &s[r]).collect();
        assert_eq!(e, ["삼성전자와", "애플은", "경쟁"]);
        assert!(eojeol_ranges("").is_empty());
    }
}
