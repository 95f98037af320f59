//! Entity markers: rewrite a record's sentence so that a model can see where the subject and the object are.
//!
//! | scheme | subject | object |
//! |---|---|---|
//! | `none` | `비틀즈` (text unchanged) | `조지 해리슨` |
//! | `entity` | `[E1] 비틀즈 [/E1]` | `[E2] 조지 해리슨 [/E2]` |
//! | `typed` | `[E1-ORG] 비틀즈 [/E1-ORG]` | `[E2-PER] 조지 해리슨 [/E2-PER]` |
//! | `typed-punct` | `@ * 단체 * 비틀즈 @` | `# ^ 사람 ^ 조지 해리슨 #` |
//! | `mask` | `[SUBJ-ORG]` (replaces the word) | `[OBJ-PER]` |
//!
//! E1 is always the subject, E2 the object, whichever comes first in the sentence. Bracket markers are separated
//! from the word by one space inside the marker pair (`[E1] word [/E1]`), so that byte-level BPE and SentencePiece
//! tokenizers see the word with the same leading space it usually has; nothing is inserted outside the pair, so a
//! Korean particle stays glued to the closing marker (`[E1] 비틀즈 [/E1]가`).
//!
//! `typed-punct` is the "typed entity marker (punct)" of Zhou & Chen (2021), *An Improved Baseline for
//! Sentence-level Relation Extraction*: punctuation that is already in every vocabulary, plus a word for the entity
//! type. Its type words and delimiters are configurable ([`TypedPunctOptions`]); `#` (the paper's object delimiter)
//! reads like WordPiece's `##` continuation prefix in token dumps, so [`TypedPunctOptions::with_object_delimiter`]
//! lets you pick another one (e.g. `&`). Bracket schemes need new special tokens
//! ([`MarkerScheme::special_tokens`]); `none` and `typed-punct` need none.
//!
//! ```
//! use re_data::markers::{mark, MarkerScheme};
//! use re_data::{Entity, RelationRecord};
//! let record = RelationRecord {
//!     id: "r1".into(),
//!     sentence: "조지 해리슨이 쓰고 비틀즈가 불렀다.".into(),
//!     subject: Entity::new("비틀즈", 11, 13, "ORG"),
//!     object: Entity::new("조지 해리슨", 0, 5, "PER"),
//!     label: None,
//!     source: None,
//! };
//! let marked = mark(&record, &MarkerScheme::parse("typed-punct:ko").unwrap()).unwrap();
//! assert_eq!(marked.text, "# ^ 사람 ^ 조지 해리슨 #이 쓰고 @ * 단체 * 비틀즈 @가 불렀다.");
//! ```
use crate::error::{DataError, Result};
use crate::record::{EntityType, RelationRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

/// Options of the `typed-punct` scheme: delimiters and the word written for each entity type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedPunctOptions {
    /// Encloses the subject (`@` in the paper).
    pub subject_delimiter: String,
    /// Encloses the subject's type word (`*`).
    pub subject_type_delimiter: String,
    /// Encloses the object (`#` in the paper; configurable because of WordPiece's `##`).
    pub object_delimiter: String,
    /// Encloses the object's type word (`^`).
    pub object_type_delimiter: String,
    /// Entity type name (`PER`, `ORG`, …, or a user type) → the word written in the marker.
    /// A type missing here is written as its lower-cased name.
    pub type_words: BTreeMap<String, String>,
}

impl Default for TypedPunctOptions {
    fn default() -> Self {
        Self::english()
    }
}

impl TypedPunctOptions {
    fn with_words(words: &[(&str, &str)]) -> Self {
        TypedPunctOptions {
            subject_delimiter: "@".into(),
            subject_type_delimiter: "*".into(),
            object_delimiter: "#".into(),
            object_type_delimiter: "^".into(),
            type_words: words.iter().map(|(t, w)| (t.to_string(), w.to_string())).collect(),
        }
    }

    /// English type words, lower-case like the paper's: PER person, ORG organization, LOC location, DAT date,
    /// POH other (KLUE: other proper noun), NOH quantity (KLUE: other numeral), UNK entity.
    pub fn english() -> Self {
        Self::with_words(&[
            ("PER", "person"),
            ("ORG", "organization"),
            ("LOC", "location"),
            ("DAT", "date"),
            ("POH", "other"),
            ("NOH", "quantity"),
            ("UNK", "entity"),
        ])
    }

    /// Korean type words: PER 사람, ORG 단체, LOC 장소, DAT 날짜, POH 기타, NOH 수량, UNK 개체.
    pub fn korean() -> Self {
        Self::with_words(&[
            ("PER", "사람"),
            ("ORG", "단체"),
            ("LOC", "장소"),
            ("DAT", "날짜"),
            ("POH", "기타"),
            ("NOH", "수량"),
            ("UNK", "개체"),
        ])
    }

    /// The same options with another object delimiter (e.g. `&` instead of `#`).
    pub fn with_object_delimiter(mut self, delimiter: impl Into<String>) -> Self {
        self.object_delimiter = delimiter.into();
        self
    }

    /// The word written for `entity_type`.
    pub fn type_word(&self, entity_type: &EntityType) -> String {
        self.type_words.get(entity_type.as_str()).cloned().unwrap_or_else(|| entity_type.as_str().to_lowercase())
    }

    /// Which preset the type words equal, if any.
    fn preset_name(&self) -> Option<&'static str> {
        let words = |o: TypedPunctOptions| o.type_words;
        if self.type_words == words(Self::english()) {
            Some("en")
        } else if self.type_words == words(Self::korean()) {
            Some("ko")
        } else {
            None
        }
    }
}

/// How entities are marked in the text given to a model. Parse with [`MarkerScheme::parse`]; serialized as that
/// same string when the scheme has one (custom `typed-punct` words serialize as a map).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkerScheme {
    /// The sentence as is; the entity's first token stands in for a start marker.
    None,
    /// `[E1] … [/E1]`, `[E2] … [/E2]`.
    Entity,
    /// `[E1-ORG] … [/E1-ORG]`, `[E2-PER] … [/E2-PER]`.
    Typed,
    /// `@ * TYPE * word @`, `# ^ TYPE ^ word #` (Zhou & Chen 2021).
    TypedPunct(TypedPunctOptions),
    /// The word is replaced by `[SUBJ-TYPE]` / `[OBJ-TYPE]`.
    Mask,
}

impl MarkerScheme {
    /// Parse `none`, `entity`, `typed`, `mask` or `typed-punct[:en|:ko][:object=DELIM]`
    /// (`typed-punct` alone = English type words, `#` object delimiter). `_` may stand for `-`.
    pub fn parse(s: &str) -> Result<Self> {
        let normalized = s.trim().to_ascii_lowercase().replace('_', "-");
        let mut parts = normalized.split(':');
        let name = parts.next().unwrap_or_default();
        let scheme = match name {
            "none" => MarkerScheme::None,
            "entity" => MarkerScheme::Entity,
            "typed" => MarkerScheme::Typed,
            "mask" => MarkerScheme::Mask,
            "typed-punct" => {
                let mut options = TypedPunctOptions::english();
                // Options are read from the original string so a delimiter keeps its case.
                for part in s.trim().split(':').skip(1) {
                    match part {
                        "en" | "EN" => {
                            options =
                                TypedPunctOptions { type_words: TypedPunctOptions::english().type_words, ..options }
                        }
                        "ko" | "KO" => {
                            options =
                                TypedPunctOptions { type_words: TypedPunctOptions::korean().type_words, ..options }
                        }
                        other => match other.split_once('=') {
                            Some(("object" | "obj", delim)) if !delim.is_empty() => {
                                options = options.with_object_delimiter(delim)
                            }
                            _ => {
                                return Err(DataError::Invalid(format!(
                                    "marker scheme {s:?}: unknown typed-punct option {other:?} \
                                     (expected `en`, `ko` or `object=DELIM`)"
                                )))
                            }
                        },
                    }
                }
                MarkerScheme::TypedPunct(options)
            }
            _ => {
                return Err(DataError::Invalid(format!(
                "unknown marker scheme {s:?} (expected none, entity, typed, typed-punct[:ko|:en][:object=DELIM], mask)"
            )))
            }
        };
        if !matches!(scheme, MarkerScheme::TypedPunct(_)) && parts.next().is_some() {
            return Err(DataError::Invalid(format!("marker scheme {s:?}: only typed-punct takes options")));
        }
        Ok(scheme)
    }

    /// The scheme's name as [`MarkerScheme::parse`] reads it (`typed-punct` options included), or `None` for
    /// `typed-punct` with custom type words or type delimiters.
    pub fn name(&self) -> Option<String> {
        Some(match self {
            MarkerScheme::None => "none".into(),
            MarkerScheme::Entity => "entity".into(),
            MarkerScheme::Typed => "typed".into(),
            MarkerScheme::Mask => "mask".into(),
            MarkerScheme::TypedPunct(o) => {
                let preset = o.preset_name()?;
                let defaults = TypedPunctOptions::english();
                if o.subject_delimiter != defaults.subject_delimiter
                    || o.subject_type_delimiter != defaults.subject_type_delimiter
                    || o.object_type_delimiter != defaults.object_type_delimiter
                    || o.object_delimiter.contains(':')
                {
                    return None;
                }
                let mut name = format!("typed-punct:{preset}");
                if o.object_delimiter != defaults.object_delimiter {
                    name.push_str(&format!(":object={}", o.object_delimiter));
                }
                name
            }
        })
    }

    /// The marker tokens this scheme inserts, for records whose entity types are among `types`, in a fixed order
    /// (entity: `[E1] [/E1] [E2] [/E2]`; typed: `[E1-T] [/E1-T]` for each type, then `[E2-T] [/E2-T]` for each;
    /// mask: `[SUBJ-T]` for each, then `[OBJ-T]` for each). Empty for `none` and `typed-punct`.
    pub fn special_tokens(&self, types: &[EntityType]) -> Vec<String> {
        match self {
            MarkerScheme::None | MarkerScheme::TypedPunct(_) => Vec::new(),
            MarkerScheme::Entity => ["[E1]", "[/E1]", "[E2]", "[/E2]"].iter().map(|s| s.to_string()).collect(),
            MarkerScheme::Typed => {
                let mut tokens = Vec::with_capacity(types.len() * 4);
                for role in [Role::Subject, Role::Object] {
                    for t in types {
                        tokens.push(bracket_open(role, Some(t)));
                        tokens.push(bracket_close(role, Some(t)));
                    }
                }
                tokens
            }
            MarkerScheme::Mask => {
                let mut tokens = Vec::with_capacity(types.len() * 2);
                for role in [Role::Subject, Role::Object] {
                    for t in types {
                        tokens.push(mask_token(role, t));
                    }
                }
                tokens
            }
        }
    }

    /// The marker tokens that marking one record with these entity types produces (what must be in the vocabulary).
    pub fn tokens_for(&self, subject_type: &EntityType, object_type: &EntityType) -> Vec<String> {
        match self {
            MarkerScheme::None | MarkerScheme::TypedPunct(_) => Vec::new(),
            MarkerScheme::Entity => self.special_tokens(&[]),
            MarkerScheme::Typed => vec![
                bracket_open(Role::Subject, Some(subject_type)),
                bracket_close(Role::Subject, Some(subject_type)),
                bracket_open(Role::Object, Some(object_type)),
                bracket_close(Role::Object, Some(object_type)),
            ],
            MarkerScheme::Mask => vec![mask_token(Role::Subject, subject_type), mask_token(Role::Object, object_type)],
        }
    }
}

impl fmt::Display for MarkerScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(&name),
            None => f.write_str("typed-punct(custom)"),
        }
    }
}

impl std::str::FromStr for MarkerScheme {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        MarkerScheme::parse(s)
    }
}

/// Serde form: the scheme's name, or `{"typed-punct": {…options…}}` for custom typed-punct options.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum MarkerSchemeRepr {
    Name(String),
    TypedPunct {
        #[serde(rename = "typed-punct")]
        typed_punct: TypedPunctOptions,
    },
}

impl Serialize for MarkerScheme {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match (self.name(), self) {
            (Some(name), _) => MarkerSchemeRepr::Name(name),
            (None, MarkerScheme::TypedPunct(o)) => MarkerSchemeRepr::TypedPunct { typed_punct: o.clone() },
            (None, _) => MarkerSchemeRepr::Name(String::new()), // unreachable: only typed-punct lacks a name
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MarkerScheme {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        match MarkerSchemeRepr::deserialize(deserializer)? {
            MarkerSchemeRepr::Name(name) => MarkerScheme::parse(&name).map_err(serde::de::Error::custom),
            MarkerSchemeRepr::TypedPunct { typed_punct } => Ok(MarkerScheme::TypedPunct(typed_punct)),
        }
    }
}

/// A sentence with markers inserted. All ranges are half-open **character** (Unicode scalar) offsets into `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkedText {
    pub text: String,
    /// The subject word (for `mask`: the mask token).
    pub subject_chars: Range<usize>,
    /// The object word (for `mask`: the mask token).
    pub object_chars: Range<usize>,
    /// First character of the subject's start marker (`none`: of the word).
    pub subject_marker_char: usize,
    /// First character of the object's start marker (`none`: of the word).
    pub object_marker_char: usize,
    /// Everything inserted for the subject: opening marker through closing marker (`none`: the word).
    pub subject_block_chars: Range<usize>,
    /// Everything inserted for the object.
    pub object_block_chars: Range<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Subject,
    Object,
}

fn bracket_open(role: Role, t: Option<&EntityType>) -> String {
    let n = if role == Role::Subject { 1 } else { 2 };
    match t {
        Some(t) => format!("[E{n}-{t}]"),
        None => format!("[E{n}]"),
    }
}

fn bracket_close(role: Role, t: Option<&EntityType>) -> String {
    let n = if role == Role::Subject { 1 } else { 2 };
    match t {
        Some(t) => format!("[/E{n}-{t}]"),
        None => format!("[/E{n}]"),
    }
}

fn mask_token(role: Role, t: &EntityType) -> String {
    match role {
        Role::Subject => format!("[SUBJ-{t}]"),
        Role::Object => format!("[OBJ-{t}]"),
    }
}

/// What one entity becomes: text before the word, the word (or its replacement), text after it.
fn entity_parts(scheme: &MarkerScheme, role: Role, word: &str, t: &EntityType) -> (String, String, String) {
    match scheme {
        MarkerScheme::None => (String::new(), word.to_string(), String::new()),
        MarkerScheme::Entity => {
            (format!("{} ", bracket_open(role, None)), word.to_string(), format!(" {}", bracket_close(role, None)))
        }
        MarkerScheme::Typed => (
            format!("{} ", bracket_open(role, Some(t))),
            word.to_string(),
            format!(" {}", bracket_close(role, Some(t))),
        ),
        MarkerScheme::TypedPunct(o) => {
            let (delim, type_delim) = match role {
                Role::Subject => (&o.subject_delimiter, &o.subject_type_delimiter),
                Role::Object => (&o.object_delimiter, &o.object_type_delimiter),
            };
            (format!("{delim} {type_delim} {} {type_delim} ", o.type_word(t)), word.to_string(), format!(" {delim}"))
        }
        MarkerScheme::Mask => (String::new(), mask_token(role, t), String::new()),
    }
}

/// Insert `scheme`'s markers around the record's subject and object.
///
/// Errors (naming the record) when an entity span lies outside the sentence, does not select the entity's word, or
/// when subject and object overlap and the scheme would have to insert markers inside the other entity.
pub fn mark(record: &RelationRecord, scheme: &MarkerScheme) -> Result<MarkedText> {
    let fail = |message: String| DataError::record(&record.id, message);
    let mut spans = Vec::with_capacity(2);
    for (role, entity) in [(Role::Subject, &record.subject), (Role::Object, &record.object)] {
        let name = if role == Role::Subject { "subject" } else { "object" };
        let bytes = entity.byte_range(&record.sentence).ok_or_else(|| {
            fail(format!(
                "{name} span {}..={} lies outside the sentence ({} characters)",
                entity.start,
                entity.end,
                record.sentence.chars().count()
            ))
        })?;
        if record.sentence[bytes.clone()] != entity.word {
            return Err(fail(format!(
                "{name} offsets {}..={} select {:?} but the word is {:?}",
                entity.start, entity.end, &record.sentence[bytes], entity.word
            )));
        }
        spans.push((role, entity, bytes));
    }
    if record.subject.overlaps(&record.object) {
        if *scheme != MarkerScheme::None {
            return Err(fail(format!(
                "subject {:?} ({}..={}) and object {:?} ({}..={}) overlap; only marker scheme `none` can encode that",
                record.subject.word,
                record.subject.start,
                record.subject.end,
                record.object.word,
                record.object.start,
                record.object.end
            )));
        }
        let char_range = |e: &crate::record::Entity| e.start..e.end + 1;
        return Ok(MarkedText {
            text: record.sentence.clone(),
            subject_chars: char_range(&record.subject),
            object_chars: char_range(&record.object),
            subject_marker_char: record.subject.start,
            object_marker_char: record.object.start,
            subject_block_chars: char_range(&record.subject),
            object_block_chars: char_range(&record.object),
        });
    }
    spans.sort_by_key(|(_, _, bytes)| bytes.start);

    let extra = match scheme {
        MarkerScheme::None => 0,
        _ => 64,
    };
    let mut text = String::with_capacity(record.sentence.len() + extra);
    let mut n_chars = 0usize; // characters pushed to `text` so far
    let mut push = |text: &mut String, s: &str| {
        text.push_str(s);
        n_chars += s.chars().count();
        n_chars
    };
    let mut cursor = 0usize; // byte position in the sentence
    let mut out: [(usize, Range<usize>, Range<usize>); 2] = [(0, 0..0, 0..0), (0, 0..0, 0..0)]; // per role: (marker char, word chars, block chars)
    for (role, entity, bytes) in &spans {
        let block_start = push(&mut text, &record.sentence[cursor..bytes.start]);
        let (before, word, after) = entity_parts(scheme, *role, &entity.word, &entity.entity_type);
        let word_start = push(&mut text, &before);
        let word_end = push(&mut text, &word);
        let block_end = push(&mut text, &after);
        out[*role as usize] = (block_start, word_start..word_end, block_start..block_end);
        cursor = bytes.end;
    }
    push(&mut text, &record.sentence[cursor..]);
    let [(subject_marker_char, subject_chars, subject_block_chars), (object_marker_char, object_chars, object_block_chars)] =
        out;
    Ok(MarkedText {
        text,
        subject_chars,
        object_chars,
        subject_marker_char,
        object_marker_char,
        subject_block_chars,
        object_block_chars,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Entity;

    fn record(sentence: &str, subject: Entity, object: Entity) -> RelationRecord {
        RelationRecord { id: "t1".into(), sentence: sentence.into(), subject, object, label: None, source: None }
    }

    fn chars(s: &str, r: Range<usize>) -> String {
        s.chars().skip(r.start).take(r.len()).collect()
    }

    /// Subject after object, multi-byte text.
    fn beatles() -> RelationRecord {
        record(
            "조지 해리슨이 쓰고 비틀즈가 불렀다.",
            Entity::new("비틀즈", 11, 13, "ORG"),
            Entity::new("조지 해리슨", 0, 5, "PER"),
        )
    }

    #[test]
    fn each_scheme_marks_the_text_exactly() {
        let r = beatles();
        let cases = [
            ("none", "조지 해리슨이 쓰고 비틀즈가 불렀다."),
            ("entity", "[E2] 조지 해리슨 [/E2]이 쓰고 [E1] 비틀즈 [/E1]가 불렀다."),
            ("typed", "[E2-PER] 조지 해리슨 [/E2-PER]이 쓰고 [E1-ORG] 비틀즈 [/E1-ORG]가 불렀다."),
            ("typed-punct", "# ^ person ^ 조지 해리슨 #이 쓰고 @ * organization * 비틀즈 @가 불렀다."),
            ("typed-punct:ko:object=&", "& ^ 사람 ^ 조지 해리슨 &이 쓰고 @ * 단체 * 비틀즈 @가 불렀다."),
            ("mask", "[OBJ-PER]이 쓰고 [SUBJ-ORG]가 불렀다."),
        ];
        for (name, expected) in cases {
            let scheme = MarkerScheme::parse(name).unwrap();
            let m = mark(&r, &scheme).unwrap();
            assert_eq!(m.text, expected, "{name}");
            let (subject_word, object_word) =
                if name == "mask" { ("[SUBJ-ORG]", "[OBJ-PER]") } else { ("비틀즈", "조지 해리슨") };
            assert_eq!(chars(&m.text, m.subject_chars.clone()), subject_word, "{name}");
            assert_eq!(chars(&m.text, m.object_chars.clone()), object_word, "{name}");
            assert_eq!(m.subject_block_chars.start, m.subject_marker_char);
            assert!(
                m.subject_block_chars.start <= m.subject_chars.start
                    && m.subject_chars.end <= m.subject_block_chars.end
            );
            assert!(
                m.object_block_chars.start <= m.object_chars.start && m.object_chars.end <= m.object_block_chars.end
            );
        }
    }

    #[test]
    fn marker_positions_point_at_the_opening_marker() {
        let m = mark(&beatles(), &MarkerScheme::Typed).unwrap();
        assert_eq!(chars(&m.text, m.object_marker_char..m.object_marker_char + 8), "[E2-PER]");
        assert_eq!(chars(&m.text, m.subject_marker_char..m.subject_marker_char + 8), "[E1-ORG]");
        assert_eq!(chars(&m.text, m.subject_block_chars.clone()), "[E1-ORG] 비틀즈 [/E1-ORG]");
    }

    #[test]
    fn adjacent_entities_at_start_and_end() {
        // Object at the very start, subject right after it (no space) and at the very end.
        let r = record("대한민국서울", Entity::new("서울", 4, 5, "LOC"), Entity::new("대한민국", 0, 3, "LOC"));
        let m = mark(&r, &MarkerScheme::Entity).unwrap();
        assert_eq!(m.text, "[E2] 대한민국 [/E2][E1] 서울 [/E1]");
        assert_eq!(m.object_marker_char, 0);
        assert_eq!(m.subject_block_chars.end, m.text.chars().count());
        assert_eq!(m.object_block_chars.end, m.subject_block_chars.start);
        let m = mark(&r, &MarkerScheme::Mask).unwrap();
        assert_eq!(m.text, "[OBJ-LOC][SUBJ-LOC]");
        assert_eq!((m.object_chars.clone(), m.subject_chars.clone()), (0..9, 9..19));
    }

    #[test]
    fn four_byte_characters_before_entities_keep_char_offsets() {
        let r = record("𝄞🎵 베토벤은 본 출신", Entity::new("베토벤", 3, 5, "PER"), Entity::new("본", 8, 8, "LOC"));
        let m = mark(&r, &MarkerScheme::Typed).unwrap();
        assert_eq!(m.text, "𝄞🎵 [E1-PER] 베토벤 [/E1-PER]은 [E2-LOC] 본 [/E2-LOC] 출신");
        assert_eq!(chars(&m.text, m.subject_chars.clone()), "베토벤");
        assert_eq!(chars(&m.text, m.object_chars.clone()), "본");
    }

    #[test]
    fn bad_spans_and_overlaps_are_errors_naming_the_record() {
        let r = record("가나다", Entity::new("다라", 2, 3, "PER"), Entity::new("가", 0, 0, "PER"));
        let e = mark(&r, &MarkerScheme::Entity).unwrap_err().to_string();
        assert!(e.contains("t1") && e.contains("outside"), "{e}");
        let r = record("가나다", Entity::new("나", 0, 0, "PER"), Entity::new("가", 0, 0, "PER"));
        let e = mark(&r, &MarkerScheme::Entity).unwrap_err().to_string();
        assert!(e.contains("\"가\"") && e.contains("\"나\""), "{e}");
        let r = record("가나다", Entity::new("가나", 0, 1, "PER"), Entity::new("나다", 1, 2, "PER"));
        assert!(mark(&r, &MarkerScheme::Typed).unwrap_err().to_string().contains("overlap"));
        let m = mark(&r, &MarkerScheme::None).unwrap();
        assert_eq!((m.subject_chars, m.object_chars), (0..2, 1..3));
    }

    #[test]
    fn parse_names_round_trip_and_reject_unknown() {
        for name in ["none", "entity", "typed", "mask", "typed-punct:en", "typed-punct:ko", "typed-punct:ko:object=&"] {
            let s = MarkerScheme::parse(name).unwrap();
            assert_eq!(s.name().as_deref(), Some(name));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<MarkerScheme>(&json).unwrap(), s);
        }
        assert_eq!(MarkerScheme::parse("typed_punct").unwrap(), MarkerScheme::TypedPunct(TypedPunctOptions::english()));
        assert!(MarkerScheme::parse("brackets").is_err());
        assert!(MarkerScheme::parse("typed-punct:fr").is_err());
        assert!(MarkerScheme::parse("entity:ko").is_err());
        let mut custom = TypedPunctOptions::korean();
        custom.type_words.insert("PER".into(), "인물".into());
        let s = MarkerScheme::TypedPunct(custom);
        assert_eq!(s.name(), None);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<MarkerScheme>(&json).unwrap(), s);
    }

    #[test]
    fn special_tokens_per_scheme() {
        let types = [EntityType::Per, EntityType::Org];
        assert!(MarkerScheme::None.special_tokens(&types).is_empty());
        assert!(MarkerScheme::parse("typed-punct").unwrap().special_tokens(&types).is_empty());
        assert_eq!(MarkerScheme::Entity.special_tokens(&types), ["[E1]", "[/E1]", "[E2]", "[/E2]"]);
        assert_eq!(
            MarkerScheme::Typed.special_tokens(&types),
            ["[E1-PER]", "[/E1-PER]", "[E1-ORG]", "[/E1-ORG]", "[E2-PER]", "[/E2-PER]", "[E2-ORG]", "[/E2-ORG]"]
        );
        assert_eq!(MarkerScheme::Mask.special_tokens(&types), ["[SUBJ-PER]", "[SUBJ-ORG]", "[OBJ-PER]", "[OBJ-ORG]"]);
    }
}
