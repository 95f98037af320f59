//! Morphology as re-classic uses it: the analyser, morphemes and eojeols come from `re-morph` (re-exported here);
//! the token type classes of feature f3 and the clue-word tags are re-classic's own.
pub use re_morph::morph::{eojeol_ranges, AnalyzedSentence, Morpheme, Morphology};
use serde::{Deserialize, Serialize};

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
}
