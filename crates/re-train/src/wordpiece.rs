//! A deterministic WordPiece vocabulary for `--model tiny`.
//!
//! The `tokenizers` crate's `WordPieceTrainer` breaks ties between equally frequent merges in hash-map order,
//! which is seeded per process: trained twice on the same 4,000 synthetic sentences (vocabulary 4,000) it returned
//! three different vocabularies in three runs, and so three different models. This builder picks the same
//! vocabulary for the same sentences every time:
//!
//! - every character seen, as a word-initial piece (`c`) and, where it occurs inside a word, as a continuation
//!   piece (`##c`), so no training word becomes `[UNK]`;
//! - then the substrings of 2–8 characters that occur at least `min_frequency` times (word-initial prefixes as
//!   `abc`, inner substrings as `##abc`), best first by characters saved (`count × (length − 1)`), ties broken by
//!   the string itself, until the vocabulary is full.
use std::collections::BTreeMap;

use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

use crate::error::{Result, TrainError};

/// Longest piece considered, in characters.
const MAX_PIECE_CHARS: usize = 8;
/// Words longer than this (URLs, numbers) contribute their characters but no multi-character pieces.
const MAX_WORD_CHARS: usize = 32;

/// The words of `sentences` after `normalizer` and `pre_tokenizer`, with their counts (sorted, for determinism).
pub fn word_counts<S: AsRef<str>>(
    sentences: &[S],
    normalizer: &BertNormalizer,
    pre_tokenizer: &BertPreTokenizer,
) -> Result<BTreeMap<String, usize>> {
    let err = |e: tokenizers::Error| TrainError::Tokenizer(e.to_string());
    let mut counts = BTreeMap::new();
    for sentence in sentences {
        let mut normalized = NormalizedString::from(sentence.as_ref());
        normalizer.normalize(&mut normalized).map_err(err)?;
        let mut pre = PreTokenizedString::from(normalized);
        pre_tokenizer.pre_tokenize(&mut pre).map_err(err)?;
        for (word, _, _) in pre.get_splits(OffsetReferential::Original, OffsetType::Char) {
            *counts.entry(word.to_string()).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// The learned vocabulary (without special tokens), in no particular order; at most `max_tokens` entries unless
/// the alphabet alone is larger (every character is always kept).
pub fn learn_vocabulary(words: &BTreeMap<String, usize>, max_tokens: usize, min_frequency: usize) -> Vec<String> {
    let mut alphabet: BTreeMap<String, usize> = BTreeMap::new();
    let mut pieces: BTreeMap<String, usize> = BTreeMap::new();
    for (word, &count) in words {
        let chars: Vec<char> = word.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            let piece = if i == 0 { c.to_string() } else { format!("##{c}") };
            *alphabet.entry(piece).or_insert(0) += count;
        }
        if chars.len() > MAX_WORD_CHARS {
            continue;
        }
        for start in 0..chars.len() {
            for end in start + 2..=(start + MAX_PIECE_CHARS).min(chars.len()) {
                let text: String = chars[start..end].iter().collect();
                let piece = if start == 0 { text } else { format!("##{text}") };
                *pieces.entry(piece).or_insert(0) += count;
            }
        }
    }
    let mut candidates: Vec<(usize, String)> = pieces
        .into_iter()
        .filter(|(_, count)| *count >= min_frequency.max(1))
        .map(|(piece, count)| {
            let chars = piece.trim_start_matches("##").chars().count();
            (count * (chars - 1), piece)
        })
        .collect();
    // Best score first; equal scores in string order (the BTreeMap order is already sorted, sort is stable).
    candidates.sort_by(|a, b| b.0.cmp(&a.0));
    let room = max_tokens.saturating_sub(alphabet.len());
    alphabet.into_keys().chain(candidates.into_iter().take(room).map(|(_, piece)| piece)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &[&str]) -> BTreeMap<String, usize> {
        word_counts(text, &BertNormalizer::new(true, true, Some(false), false), &BertPreTokenizer).unwrap()
    }

    #[test]
    fn same_sentences_same_vocabulary_in_any_order() {
        let a = ["이순신은 조선의 무신이다.", "이순신은 한산도에서 싸웠다.", "조선의 수군은 이겼다."];
        let b = [a[2], a[0], a[1]];
        let va = learn_vocabulary(&words(&a), 40, 2);
        let vb = learn_vocabulary(&words(&b), 40, 2);
        assert_eq!(va, vb);
        assert!(va.len() <= 40 || va.iter().all(|p| p.trim_start_matches("##").chars().count() == 1));
    }

    #[test]
    fn keeps_every_character_and_frequent_pieces() {
        let w = words(&["이순신은 이순신이", "이순신을"]);
        let v = learn_vocabulary(&w, 100, 2);
        for piece in ["이", "##순", "##신", "##은", "##이", "##을", "이순신", "이순"] {
            assert!(v.contains(&piece.to_string()), "{piece} missing from {v:?}");
        }
        // "은" alone occurs once: not a multi-character piece, but its character is kept as ##은.
        assert!(!v.contains(&"##신은".to_string()));
        // A budget below the alphabet keeps only the alphabet.
        let small = learn_vocabulary(&w, 3, 2);
        assert!(small.iter().all(|p| p.trim_start_matches("##").chars().count() == 1));
    }
}
