//! Records → model inputs: mark the entities ([`crate::markers`]), tokenize with a Hugging Face tokenizer, find
//! the token index of each start marker and the token range of each entity, and cut long sentences around the
//! entities.
//!
//! ```no_run
//! use re_data::encode::{EncodedBatch, RecordTokenizer};
//! use re_data::markers::MarkerScheme;
//! # fn main() -> re_data::Result<()> {
//! # let records: Vec<re_data::RelationRecord> = Vec::new();
//! let (encoder, n_added) =
//!     RecordTokenizer::from_file("tokenizer.json".as_ref(), MarkerScheme::parse("typed")?, 256)?;
//! // A model resizes its embeddings to `encoder.vocab_size()` when `n_added > 0`.
//! let examples = encoder.encode_all(&records, None)?;
//! let batch = EncodedBatch::collate(&examples.iter().collect::<Vec<_>>(), encoder.pad_id());
//! # let _ = (n_added, batch); Ok(()) }
//! ```
//!
//! Offsets: `tokenizers` reports **byte** offsets from `Tokenizer::encode` and **character** offsets from
//! `Tokenizer::encode_char_offsets` (the one Python's `Tokenizer.encode` matches). Markers are located in
//! characters, so this module uses `encode_char_offsets`.
//!
//! Special tokens (`[CLS]`, `[SEP]`, `<s>` …) are added by the tokenizer's own post-processor after the window is
//! cut, so every family gets its usual frame and `token_type_ids`. The tokenizer's own truncation and padding
//! settings are switched off: truncation here is entity-aware and padding happens per batch ([`EncodedBatch`]).
use crate::error::{DataError, Result};
use crate::markers::{mark, MarkedText, MarkerScheme};
use crate::record::{EntityType, RelationRecord};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use tokenizers::{AddedToken, Encoding, PostProcessor, Token, Tokenizer};

/// The entity types whose marker tokens [`RecordTokenizer::new`] registers: KLUE's six and `UNK`.
pub fn default_entity_types() -> Vec<EntityType> {
    let mut types = EntityType::KLUE.to_vec();
    types.push(EntityType::Unk);
    types
}

/// One record as model input. Token indices refer to `input_ids` (special tokens included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedExample {
    pub id: String,
    pub input_ids: Vec<u32>,
    pub attention_mask: Vec<u32>,
    pub token_type_ids: Vec<u32>,
    /// Token index of the subject's start marker (`none`: first subject token; `mask`: the mask token);
    /// 0 (the first special token) when truncation cut it.
    pub subject_start: usize,
    pub object_start: usize,
    /// Token range (half-open) of the subject's word tokens (`mask`: the mask token); `0..0` when truncation cut
    /// any of them.
    pub subject_span: Range<usize>,
    pub object_span: Range<usize>,
    /// An entity (with its markers) did not fit in `max_length` and was cut.
    pub entity_truncated: bool,
    pub label: Option<usize>,
}

impl EncodedExample {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }
}

/// Ids of the examples whose entities were cut by truncation (what [`RecordTokenizer::encode_all`] warns about).
pub fn truncated_ids(examples: &[EncodedExample]) -> Vec<&str> {
    examples.iter().filter(|e| e.entity_truncated).map(|e| e.id.as_str()).collect()
}

struct EncoderInner {
    tokenizer: Tokenizer,
    scheme: MarkerScheme,
    max_length: usize,
    types: Vec<EntityType>,
    /// Tokens the post-processor adds around a single sequence (`[CLS] … [SEP]` = 2).
    n_special: usize,
    pad_id: u32,
    vocab_size: usize,
    /// What the post-processor puts around any single sequence, when that does not depend on the content.
    layout: Option<SpecialLayout>,
}

/// The post-processor's output for one sequence as fixed pieces: `prefix ++ content ++ suffix`, with a constant
/// token type for the content and an attention mask of ones. Found once per encoder so that each record skips
/// building a token-string `Encoding` just to have `[CLS]`/`[SEP]` added (most of the per-record allocation).
#[derive(Clone, Debug, PartialEq, Eq)]
struct SpecialLayout {
    prefix_ids: Vec<u32>,
    prefix_types: Vec<u32>,
    content_type: u32,
    suffix_ids: Vec<u32>,
    suffix_types: Vec<u32>,
}

impl SpecialLayout {
    /// Post-processes probe sequences of different lengths; `None` if the pieces around them differ (a
    /// content-dependent post-processor), in which case every record is post-processed the general way.
    fn probe(tokenizer: &Tokenizer) -> Option<SpecialLayout> {
        let probe_ids: [&[u32]; 3] = [&[7], &[7, 8, 9], &[9, 8, 7, 7, 8]];
        let mut found: Option<SpecialLayout> = None;
        for ids in probe_ids {
            let tokens: Vec<Token> =
                ids.iter().enumerate().map(|(i, &id)| Token::new(id, "x".into(), (i, i + 1))).collect();
            let processed = tokenizer.post_process(Encoding::from_tokens(tokens, 0), None, true).ok()?;
            let (all_ids, types, mask) =
                (processed.get_ids(), processed.get_type_ids(), processed.get_attention_mask());
            if mask.iter().any(|&m| m != 1) {
                return None;
            }
            let start = processed.get_sequence_ids().iter().position(|s| *s == Some(0))?;
            let end = start + ids.len();
            if all_ids.get(start..end) != Some(ids) || types[start..end].iter().any(|&t| t != types[start]) {
                return None;
            }
            let layout = SpecialLayout {
                prefix_ids: all_ids[..start].to_vec(),
                prefix_types: types[..start].to_vec(),
                content_type: types[start],
                suffix_ids: all_ids[end..].to_vec(),
                suffix_types: types[end..].to_vec(),
            };
            match &found {
                Some(previous) if *previous != layout => return None,
                _ => found = Some(layout),
            }
        }
        found
    }
}

/// Marks, tokenizes and truncates records. Cloning is cheap (the tokenizer is shared behind an `Arc`) and the
/// encoder is `Send + Sync`, so threads can share one.
#[derive(Clone)]
pub struct RecordTokenizer {
    inner: Arc<EncoderInner>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RecordTokenizer>();
};

impl std::fmt::Debug for RecordTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordTokenizer")
            .field("scheme", &self.inner.scheme)
            .field("max_length", &self.inner.max_length)
            .field("vocab_size", &self.inner.vocab_size)
            .finish()
    }
}

/// Rows an embedding matrix needs for this tokenizer: highest id + 1 (added tokens included).
fn vocab_rows(tokenizer: &Tokenizer) -> usize {
    tokenizer.get_vocab(true).values().max().map_or(0, |&id| id as usize + 1)
}

/// Tokens whose character offsets overlap `chars` (tokens with empty offsets never do), as a token range.
fn tokens_overlapping(offsets: &[(usize, usize)], chars: &Range<usize>) -> Option<Range<usize>> {
    let hit = |o: &(usize, usize)| o.0 < o.1 && o.0 < chars.end && o.1 > chars.start;
    let first = offsets.iter().position(hit)?;
    let last = offsets.iter().rposition(hit)?;
    Some(first..last + 1)
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Token positions of one entity in the un-truncated, special-token-free encoding.
struct EntityTokens {
    marker: usize,
    word: Range<usize>,
    block: Range<usize>,
}

impl RecordTokenizer {
    /// Wrap `tokenizer` for `scheme`, registering the marker tokens of KLUE's entity types and `UNK`
    /// ([`default_entity_types`]). Returns the encoder and how many new token ids were added (the model's
    /// embedding matrix grows by that many rows, to [`RecordTokenizer::vocab_size`]).
    pub fn new(tokenizer: Tokenizer, scheme: MarkerScheme, max_length: usize) -> Result<(Self, usize)> {
        Self::with_types(tokenizer, scheme, max_length, &default_entity_types())
    }

    /// [`RecordTokenizer::new`] for a tokenizer file (`tokenizer.json`).
    pub fn from_file(path: &Path, scheme: MarkerScheme, max_length: usize) -> Result<(Self, usize)> {
        let json = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let tokenizer: Tokenizer = json
            .parse()
            .map_err(|e| DataError::parse(path, "tokenizer", format!("not a Hugging Face tokenizer.json: {e}")))?;
        Self::new(tokenizer, scheme, max_length)
    }

    /// Like [`RecordTokenizer::new`] with an explicit list of entity types that get marker tokens (`typed`, `mask`).
    /// Encoding a record of another type is an error.
    pub fn with_types(
        mut tokenizer: Tokenizer,
        scheme: MarkerScheme,
        max_length: usize,
        types: &[EntityType],
    ) -> Result<(Self, usize)> {
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| ["[PAD]", "<pad>", "<PAD>"].iter().find_map(|t| tokenizer.token_to_id(t)))
            .unwrap_or(0);
        tokenizer.with_truncation(None).map_err(|e| DataError::Tokenizer(format!("disabling truncation: {e}")))?;
        tokenizer.with_padding(None);

        let rows_before = vocab_rows(&tokenizer);
        let markers = scheme.special_tokens(types);
        let added_tokens: Vec<AddedToken> =
            markers.iter().map(|t| AddedToken::from(t.as_str(), true).normalized(false)).collect();
        tokenizer.add_special_tokens(&added_tokens);
        let vocab_size = vocab_rows(&tokenizer);
        for marker in &markers {
            if tokenizer.token_to_id(marker).is_none() {
                return Err(DataError::Tokenizer(format!("marker token {marker:?} has no id after adding it")));
            }
        }
        let n_special = tokenizer.get_post_processor().map_or(0, |p| p.added_tokens(false));
        if max_length <= n_special {
            return Err(DataError::Invalid(format!(
                "max_length {max_length} leaves no room for text: the tokenizer adds {n_special} special tokens"
            )));
        }
        let layout = SpecialLayout::probe(&tokenizer).filter(|l| l.prefix_ids.len() + l.suffix_ids.len() == n_special);
        let inner = EncoderInner {
            tokenizer,
            scheme,
            max_length,
            types: types.to_vec(),
            n_special,
            pad_id,
            vocab_size,
            layout,
        };
        Ok((RecordTokenizer { inner: Arc::new(inner) }, vocab_size.saturating_sub(rows_before)))
    }

    /// The tokenizer with the marker tokens added (truncation and padding switched off).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.inner.tokenizer
    }

    pub fn scheme(&self) -> &MarkerScheme {
        &self.inner.scheme
    }

    pub fn max_length(&self) -> usize {
        self.inner.max_length
    }

    /// Entity types that have marker tokens.
    pub fn entity_types(&self) -> &[EntityType] {
        &self.inner.types
    }

    /// Embedding rows a model needs: highest token id + 1, marker tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.vocab_size
    }

    /// Padding id for [`EncodedBatch::collate`]: the tokenizer's padding setting, else `[PAD]`/`<pad>`, else 0.
    pub fn pad_id(&self) -> u32 {
        self.inner.pad_id
    }

    /// Tokens the tokenizer's post-processor adds around one sequence.
    pub fn num_special_tokens(&self) -> usize {
        self.inner.n_special
    }

    fn check_types(&self, record: &RelationRecord) -> Result<()> {
        if !matches!(self.inner.scheme, MarkerScheme::Typed | MarkerScheme::Mask) {
            return Ok(());
        }
        for (role, t) in [("subject", &record.subject.entity_type), ("object", &record.object.entity_type)] {
            if !self.inner.types.contains(t) {
                return Err(DataError::record(
                    &record.id,
                    format!(
                        "{role} type {t} has no marker token (registered: {}); \
                         build the encoder with RecordTokenizer::with_types",
                        self.inner.types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Mark, tokenize and (if longer than `max_length`) truncate one record.
    pub fn encode(&self, record: &RelationRecord, label: Option<usize>) -> Result<EncodedExample> {
        self.check_types(record)?;
        let marked = mark(record, &self.inner.scheme)?;
        self.encode_marked(&record.id, &marked, label)
    }

    /// Tokenize an already marked text (see [`mark`]).
    pub fn encode_marked(&self, id: &str, marked: &MarkedText, label: Option<usize>) -> Result<EncodedExample> {
        let fail = |message: String| DataError::record(id, message);
        let tokenizer = &self.inner.tokenizer;
        let encoding =
            tokenizer.encode_char_offsets(marked.text.as_str(), false).map_err(|e| fail(format!("tokenizer: {e}")))?;
        let offsets = encoding.get_offsets();
        let locate = |role: &str, marker: usize, word: &Range<usize>, block: &Range<usize>| -> Result<EntityTokens> {
            let word_tokens = tokens_overlapping(offsets, word)
                .ok_or_else(|| fail(format!("the {role} produced no tokens in {:?}", marked.text)))?;
            let block_tokens = tokens_overlapping(offsets, block).unwrap_or_else(|| word_tokens.clone());
            let marker_token = tokens_overlapping(offsets, &(marker..marker + 1))
                .map(|r| r.start)
                .ok_or_else(|| fail(format!("the {role} start marker produced no token in {:?}", marked.text)))?;
            Ok(EntityTokens {
                marker: marker_token,
                block: block_tokens.start.min(word_tokens.start)..block_tokens.end.max(word_tokens.end),
                word: word_tokens,
            })
        };
        let subject =
            locate("subject", marked.subject_marker_char, &marked.subject_chars, &marked.subject_block_chars)?;
        let object = locate("object", marked.object_marker_char, &marked.object_chars, &marked.object_block_chars)?;

        // Choose the window of content tokens to keep.
        let n = encoding.len();
        let budget = self.inner.max_length - self.inner.n_special;
        let window = if n <= budget {
            0..n
        } else {
            let needed = subject.block.start.min(object.block.start)..subject.block.end.max(object.block.end);
            if needed.len() <= budget {
                // Both entities fit: spread the spare tokens evenly on both sides, shifting at the text's edges.
                let spare = budget - needed.len();
                let start = needed.start.saturating_sub(spare / 2);
                let end = (start + budget).min(n);
                end - budget..end
            } else {
                // They cannot both fit: keep the first entity block and as much as fits after it.
                needed.start..needed.start + budget
            }
        };
        let entity_truncated = !(contains(&window, &subject.block) && contains(&window, &object.block));

        let (input_ids, attention_mask, token_type_ids, prefix) = match &self.inner.layout {
            Some(layout) => {
                let content = &encoding.get_ids()[window.clone()];
                let ids: Vec<u32> =
                    layout.prefix_ids.iter().chain(content).chain(&layout.suffix_ids).copied().collect();
                let types: Vec<u32> = layout
                    .prefix_types
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(layout.content_type, content.len()))
                    .chain(layout.suffix_types.iter().copied())
                    .collect();
                (ids, vec![1; types.len()], types, layout.prefix_ids.len())
            }
            None => {
                let tokens: Vec<Token> = window
                    .clone()
                    .map(|i| Token::new(encoding.get_ids()[i], encoding.get_tokens()[i].clone(), offsets[i]))
                    .collect();
                let window_ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
                let processed = tokenizer
                    .post_process(Encoding::from_tokens(tokens, 0), None, true)
                    .map_err(|e| fail(format!("post-processing: {e}")))?;
                let prefix = self.content_offset(&processed, &window_ids).ok_or_else(|| {
                    fail("the post-processor changed the token ids of the text; cannot locate the entities".into())
                })?;
                (
                    processed.get_ids().to_vec(),
                    processed.get_attention_mask().to_vec(),
                    processed.get_type_ids().to_vec(),
                    prefix,
                )
            }
        };

        let shift_index = |i: usize| if window.contains(&i) { i - window.start + prefix } else { 0 };
        let shift_span = |r: &Range<usize>| {
            if contains(&window, r) {
                r.start - window.start + prefix..r.end - window.start + prefix
            } else {
                0..0
            }
        };
        Ok(EncodedExample {
            id: id.to_string(),
            input_ids,
            attention_mask,
            token_type_ids,
            subject_start: shift_index(subject.marker),
            object_start: shift_index(object.marker),
            subject_span: shift_span(&subject.word),
            object_span: shift_span(&object.word),
            entity_truncated,
            label,
        })
    }

    /// Where the content tokens start in a post-processed encoding: the post-processor's sequence range when it
    /// reports one, else the first position where the content ids appear.
    fn content_offset(&self, processed: &Encoding, window_ids: &[u32]) -> Option<usize> {
        let ids = processed.get_ids();
        let matches = |p: usize| ids.get(p..p + window_ids.len()) == Some(window_ids);
        let reported = processed.get_sequence_ids().iter().position(|s| *s == Some(0));
        reported
            .filter(|&p| matches(p))
            .or_else(|| (0..=ids.len().saturating_sub(window_ids.len())).find(|&p| matches(p)))
    }

    /// Encode all records in parallel (rayon), in input order. `labels`, when given, holds one label id per record.
    /// Records whose entities were cut are logged (see [`truncated_ids`]); the first failing record's error is
    /// returned: it names the record, and `.map_err(|e| e.in_file(path))` names the file the records came from.
    pub fn encode_all(
        &self,
        records: &[RelationRecord],
        labels: Option<&[Option<usize>]>,
    ) -> Result<Vec<EncodedExample>> {
        if let Some(labels) = labels {
            if labels.len() != records.len() {
                return Err(DataError::Invalid(format!(
                    "encode_all: {} labels for {} records",
                    labels.len(),
                    records.len()
                )));
            }
        }
        let examples = records
            .par_iter()
            .enumerate()
            .map(|(i, record)| self.encode(record, labels.and_then(|l| l[i])))
            .collect::<Result<Vec<_>>>()?;
        let cut = truncated_ids(&examples);
        if !cut.is_empty() {
            tracing::warn!(
                "{} of {} records lost (part of) an entity to truncation at max_length {}: {}{}",
                cut.len(),
                examples.len(),
                self.inner.max_length,
                cut.iter().take(5).copied().collect::<Vec<_>>().join(", "),
                if cut.len() > 5 { ", …" } else { "" }
            );
        }
        Ok(examples)
    }
}

/// A padded batch, row-major `[batch_size, seq_len]`, padded to the longest example (dynamic padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedBatch {
    pub batch_size: usize,
    pub seq_len: usize,
    pub input_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    pub subject_start: Vec<i64>,
    pub object_start: Vec<i64>,
    /// `(start, end)` with `end` exclusive; `(0, 0)` for an entity cut by truncation.
    pub subject_span: Vec<(i64, i64)>,
    pub object_span: Vec<(i64, i64)>,
    /// `Some` only when every example has a label.
    pub labels: Option<Vec<i64>>,
    pub ids: Vec<String>,
}

impl EncodedBatch {
    /// Pad `examples` to the longest one with `pad_id` (attention mask and token types pad with 0).
    pub fn collate(examples: &[&EncodedExample], pad_id: u32) -> Self {
        let batch_size = examples.len();
        let seq_len = examples.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut input_ids = Vec::with_capacity(batch_size * seq_len);
        let mut attention_mask = Vec::with_capacity(batch_size * seq_len);
        let mut token_type_ids = Vec::with_capacity(batch_size * seq_len);
        for e in examples {
            let pad = seq_len - e.len();
            input_ids.extend(e.input_ids.iter().map(|&x| x as i64).chain(std::iter::repeat_n(pad_id as i64, pad)));
            attention_mask.extend(e.attention_mask.iter().map(|&x| x as i64).chain(std::iter::repeat_n(0, pad)));
            token_type_ids.extend(e.token_type_ids.iter().map(|&x| x as i64).chain(std::iter::repeat_n(0, pad)));
        }
        let span = |r: &Range<usize>| (r.start as i64, r.end as i64);
        let labels = examples.iter().map(|e| e.label.map(|l| l as i64)).collect::<Option<Vec<_>>>();
        EncodedBatch {
            batch_size,
            seq_len,
            input_ids,
            attention_mask,
            token_type_ids,
            subject_start: examples.iter().map(|e| e.subject_start as i64).collect(),
            object_start: examples.iter().map(|e| e.object_start as i64).collect(),
            subject_span: examples.iter().map(|e| span(&e.subject_span)).collect(),
            object_span: examples.iter().map(|e| span(&e.object_span)).collect(),
            labels: if batch_size == 0 { None } else { labels },
            ids: examples.iter().map(|e| e.id.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Entity;
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
    use tokenizers::processors::template::TemplateProcessing;

    /// A word-level tokenizer over a tiny vocabulary, `[CLS] $A [SEP]` template: every word one token, so
    /// expected indices can be counted by hand.
    fn word_tokenizer() -> Tokenizer {
        let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d", "e", "f", "g", "h", "x", "y"];
        let vocab = words.iter().enumerate().map(|(i, w)| (w.to_string(), i as u32)).collect();
        let model = WordLevel::builder().vocab(vocab).unk_token("[UNK]".into()).build().unwrap();
        let mut tokenizer = Tokenizer::new(model);
        tokenizer.with_pre_tokenizer(Some(WhitespaceSplit));
        let template = TemplateProcessing::builder()
            .try_single("[CLS] $A [SEP]")
            .unwrap()
            .special_tokens(vec![("[CLS]", 2), ("[SEP]", 3)])
            .build()
            .unwrap();
        tokenizer.with_post_processor(Some(template));
        tokenizer
    }

    fn record(sentence: &str, subject: Entity, object: Entity) -> RelationRecord {
        RelationRecord { id: "w1".into(), sentence: sentence.into(), subject, object, label: None, source: None }
    }

    #[test]
    fn indices_are_counted_by_hand() {
        // tokens: a b x c d y e  (x subject at char 4, y object at char 10)
        let r = record("a b x c d y e", Entity::new("x", 4, 4, "PER"), Entity::new("y", 10, 10, "ORG"));
        let (enc, added) = RecordTokenizer::new(word_tokenizer(), MarkerScheme::Entity, 64).unwrap();
        assert_eq!(added, 4);
        assert_eq!(enc.vocab_size(), 18);
        let e = enc.encode(&r, Some(3)).unwrap();
        // [CLS] a b [E1] x [/E1] c d [E2] y [/E2] e [SEP]
        assert_eq!(e.input_ids, [2, 4, 5, 14, 12, 15, 6, 7, 16, 13, 17, 8, 3]);
        assert_eq!((e.subject_start, e.object_start), (3, 8));
        assert_eq!((e.subject_span.clone(), e.object_span.clone()), (4..5, 9..10));
        assert_eq!(e.attention_mask, vec![1; 13]);
        assert!(!e.entity_truncated);
        assert_eq!(e.label, Some(3));
    }

    #[test]
    fn truncation_window_is_symmetric_and_shifts_at_the_edges() {
        // 10 words, subject "x" at word 6, object "y" at word 8 (scheme none: blocks are the words).
        let r = record("a b c d e f x g y h", Entity::new("x", 12, 12, "PER"), Entity::new("y", 16, 16, "ORG"));
        let (enc, _) = RecordTokenizer::new(word_tokenizer(), MarkerScheme::None, 2 + 5).unwrap();
        let e = enc.encode(&r, None).unwrap();
        // needed tokens 6..9 (3), spare 2 → one each side: 5..10 = f x g y h
        assert_eq!(e.input_ids, [2, 9, 12, 10, 13, 11, 3]);
        assert_eq!((e.subject_start, e.object_start), (2, 4));
        assert!(!e.entity_truncated);
        // Entities at the very end: window shifts left to end at the text's end.
        let r = record("a b c d e f g h x y", Entity::new("x", 16, 16, "PER"), Entity::new("y", 18, 18, "ORG"));
        let e = enc.encode(&r, None).unwrap();
        assert_eq!(e.input_ids, [2, 9, 10, 11, 12, 13, 3]);
        assert_eq!((e.subject_span.clone(), e.object_span.clone()), (4..5, 5..6));
    }

    #[test]
    fn entities_too_far_apart_are_reported() {
        let r = record("x a b c d e f g y", Entity::new("x", 0, 0, "PER"), Entity::new("y", 16, 16, "ORG"));
        let (enc, _) = RecordTokenizer::new(word_tokenizer(), MarkerScheme::Entity, 2 + 6).unwrap();
        let e = enc.encode(&r, None).unwrap();
        assert!(e.entity_truncated);
        // Window starts at the first block: [E1] x [/E1] a b c
        assert_eq!(e.input_ids, [2, 14, 12, 15, 4, 5, 6, 3]);
        assert_eq!((e.subject_start, e.subject_span.clone()), (1, 2..3));
        assert_eq!((e.object_start, e.object_span.clone()), (0, 0..0));
        let all = enc.encode_all(&[r.clone(), r], Some(&[Some(1), None])).unwrap();
        assert_eq!(truncated_ids(&all), ["w1", "w1"]);
        assert_eq!((all[0].label, all[1].label), (Some(1), None));
        assert!(enc.encode_all(&all_records(), Some(&[Some(1)])).is_err());
    }

    fn all_records() -> Vec<RelationRecord> {
        vec![record("x y", Entity::new("x", 0, 0, "PER"), Entity::new("y", 2, 2, "ORG")); 2]
    }

    #[test]
    fn typed_scheme_rejects_unregistered_types() {
        let r = record("x y", Entity::new("x", 0, 0, "XYZ"), Entity::new("y", 2, 2, "ORG"));
        let (enc, added) = RecordTokenizer::new(word_tokenizer(), MarkerScheme::Typed, 16).unwrap();
        assert_eq!(added, 28);
        let err = enc.encode(&r, None).unwrap_err().to_string();
        assert!(err.contains("w1") && err.contains("XYZ"), "{err}");
        let types = [EntityType::from("XYZ"), EntityType::Org];
        let (enc, added) = RecordTokenizer::with_types(word_tokenizer(), MarkerScheme::Typed, 16, &types).unwrap();
        assert_eq!(added, 8);
        let e = enc.encode(&r, None).unwrap();
        assert_eq!(enc.tokenizer().id_to_token(e.input_ids[e.subject_start]).as_deref(), Some("[E1-XYZ]"));
    }

    #[test]
    fn max_length_must_leave_room_for_text() {
        assert!(RecordTokenizer::new(word_tokenizer(), MarkerScheme::None, 2).is_err());
    }

    #[test]
    fn collate_pads_to_the_longest() {
        let (enc, _) = RecordTokenizer::new(word_tokenizer(), MarkerScheme::None, 64).unwrap();
        let a =
            enc.encode(&record("x y", Entity::new("x", 0, 0, "PER"), Entity::new("y", 2, 2, "ORG")), Some(1)).unwrap();
        let b = enc
            .encode(&record("a x b y c", Entity::new("x", 2, 2, "PER"), Entity::new("y", 6, 6, "ORG")), Some(0))
            .unwrap();
        let batch = EncodedBatch::collate(&[&a, &b], 0);
        assert_eq!((batch.batch_size, batch.seq_len), (2, 7));
        assert_eq!(&batch.input_ids[..7], &[2, 12, 13, 3, 0, 0, 0]);
        assert_eq!(&batch.attention_mask[..7], &[1, 1, 1, 1, 0, 0, 0]);
        assert_eq!(&batch.input_ids[7..], &[2, 4, 12, 5, 13, 6, 3]);
        assert_eq!(batch.subject_start, [1, 2]);
        assert_eq!(batch.object_span, [(2, 3), (4, 5)]);
        assert_eq!(batch.labels, Some(vec![1, 0]));
        let unlabeled = EncodedExample { label: None, ..a.clone() };
        assert_eq!(EncodedBatch::collate(&[&a, &unlabeled], 0).labels, None);
        let empty = EncodedBatch::collate(&[], 0);
        assert_eq!((empty.batch_size, empty.seq_len, empty.labels), (0, 0, None));
    }
}
