//! The common record of every reader: one sentence, a subject and an object entity, an optional label.
//!
//! Offsets are **character** (Unicode scalar value) indices with `end` **inclusive**, exactly as KLUE publishes
//! them (Python `sentence[start:end + 1] == word`). Use [`char_to_byte`] / [`Entity::byte_range`] to slice a `&str`.
use serde::{Deserialize, Serialize};
use std::fmt;

/// Entity types of KLUE-RE (PER, ORG, LOC, DAT, POH, NOH), `UNK` for sources that have none (KAIST gold),
/// and any extra type a user declares (`Other`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum EntityType {
    Per,
    Org,
    Loc,
    Dat,
    Poh,
    Noh,
    Unk,
    Other(String),
}

impl EntityType {
    /// The six KLUE-RE types, in the order the KLUE paper lists them.
    pub const KLUE: [EntityType; 6] =
        [EntityType::Per, EntityType::Org, EntityType::Loc, EntityType::Dat, EntityType::Poh, EntityType::Noh];

    pub fn as_str(&self) -> &str {
        match self {
            EntityType::Per => "PER",
            EntityType::Org => "ORG",
            EntityType::Loc => "LOC",
            EntityType::Dat => "DAT",
            EntityType::Poh => "POH",
            EntityType::Noh => "NOH",
            EntityType::Unk => "UNK",
            EntityType::Other(s) => s,
        }
    }

    /// True for the KLUE types and `UNK`; `Other` types must be declared by the user.
    pub fn is_builtin(&self) -> bool {
        !matches!(self, EntityType::Other(_))
    }
}

impl From<String> for EntityType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "PER" => EntityType::Per,
            "ORG" => EntityType::Org,
            "LOC" => EntityType::Loc,
            "DAT" => EntityType::Dat,
            "POH" => EntityType::Poh,
            "NOH" => EntityType::Noh,
            "UNK" => EntityType::Unk,
            _ => EntityType::Other(s),
        }
    }
}

impl From<&str> for EntityType {
    fn from(s: &str) -> Self {
        EntityType::from(s.to_string())
    }
}

impl From<EntityType> for String {
    fn from(t: EntityType) -> Self {
        t.as_str().to_string()
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entity mention: the surface `word` and its inclusive character span in the sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub word: String,
    /// First character index (inclusive).
    pub start: usize,
    /// Last character index (inclusive, KLUE convention).
    pub end: usize,
    #[serde(rename = "type")]
    pub entity_type: EntityType,
}

impl Entity {
    pub fn new(word: impl Into<String>, start: usize, end: usize, entity_type: impl Into<EntityType>) -> Self {
        Entity { word: word.into(), start, end, entity_type: entity_type.into() }
    }

    /// Number of characters in the span.
    pub fn char_len(&self) -> usize {
        self.end + 1 - self.start
    }

    /// The span as a half-open **byte** range of `sentence`, or `None` if it lies outside the sentence.
    pub fn byte_range(&self, sentence: &str) -> Option<std::ops::Range<usize>> {
        if self.end < self.start {
            return None;
        }
        let begin = char_to_byte(sentence, self.start)?;
        let end = char_to_byte(sentence, self.end + 1)?;
        Some(begin..end)
    }

    /// True when the two inclusive character spans share a character.
    pub fn overlaps(&self, other: &Entity) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

/// Byte offset of character index `char_idx` in `s`; `char_idx == s.chars().count()` maps to `s.len()`.
pub fn char_to_byte(s: &str, char_idx: usize) -> Option<usize> {
    if char_idx == 0 {
        return Some(0);
    }
    let mut count = 0;
    for (b, _) in s.char_indices() {
        if count == char_idx {
            return Some(b);
        }
        count += 1;
    }
    (count == char_idx).then_some(s.len())
}

/// Character index of byte offset `byte_idx` (which must be a char boundary) in `s`.
pub fn byte_to_char(s: &str, byte_idx: usize) -> Option<usize> {
    if byte_idx > s.len() || !s.is_char_boundary(byte_idx) {
        return None;
    }
    Some(s[..byte_idx].chars().count())
}

/// One relation-extraction example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationRecord {
    /// guid (KLUE, parquet) or id (competition CSV), kept exactly as given.
    pub id: String,
    pub sentence: String,
    pub subject: Entity,
    pub object: Entity,
    /// Relation label name (`no_relation`, `org:founded`, …); `None` for unlabeled test data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What [`RelationRecord::validate`] accepts.
#[derive(Clone, Debug, Default)]
pub struct Validation {
    /// Entity types accepted besides the built-in ones (KLUE's six and `UNK`).
    pub extra_types: Vec<String>,
    /// Relocate a word whose offsets are wrong when it occurs exactly once in the sentence.
    pub fix_offsets: bool,
}

impl Validation {
    pub fn accepts_type(&self, t: &EntityType) -> bool {
        t.is_builtin() || self.extra_types.iter().any(|x| x == t.as_str())
    }
}

impl RelationRecord {
    /// Check offsets and types; with `fix_offsets`, repair a wrong span when the word occurs exactly once.
    /// The error message shows both strings (what the offsets select and what the record says).
    pub fn validate(&mut self, rules: &Validation) -> Result<(), String> {
        let n_chars = self.sentence.chars().count();
        for role in ["subject", "object"] {
            let entity = if role == "subject" { &mut self.subject } else { &mut self.object };
            if !rules.accepts_type(&entity.entity_type) {
                return Err(format!(
                    "{role} entity {:?} has unknown type {:?} (known: PER, ORG, LOC, DAT, POH, NOH, UNK{}{})",
                    entity.word,
                    entity.entity_type.as_str(),
                    if rules.extra_types.is_empty() { "" } else { ", " },
                    rules.extra_types.join(", ")
                ));
            }
            if entity.word.is_empty() {
                return Err(format!("{role} entity word is empty"));
            }
            let selected = span_text(&self.sentence, entity.start, entity.end);
            if selected.as_deref() == Some(entity.word.as_str()) {
                continue;
            }
            if rules.fix_offsets {
                if let Some((start, end)) = unique_char_span(&self.sentence, &entity.word) {
                    tracing::warn!(
                        "{role} {:?}: offsets {}..={} fixed to {}..={}",
                        entity.word,
                        entity.start,
                        entity.end,
                        start,
                        end
                    );
                    entity.start = start;
                    entity.end = end;
                    continue;
                }
            }
            return Err(match selected {
                None => format!(
                    "{role} entity {:?} span {}..={} lies outside the sentence ({} characters)",
                    entity.word, entity.start, entity.end, n_chars
                ),
                Some(text) => format!(
                    "{role} entity offsets {}..={} select {:?} but the word is {:?}{}",
                    entity.start,
                    entity.end,
                    text,
                    entity.word,
                    if rules.fix_offsets {
                        " (not fixable: the word does not occur exactly once)"
                    } else {
                        " (try --fix-offsets)"
                    }
                ),
            });
        }
        Ok(())
    }

    /// Subject and object text as `&str` slices (valid records only).
    pub fn subject_text(&self) -> Option<&str> {
        self.subject.byte_range(&self.sentence).map(|r| &self.sentence[r])
    }

    pub fn object_text(&self) -> Option<&str> {
        self.object.byte_range(&self.sentence).map(|r| &self.sentence[r])
    }
}

/// The characters `start..=end` of `s`, or `None` when the span is empty or outside `s`.
pub fn span_text(s: &str, start: usize, end: usize) -> Option<String> {
    if end < start {
        return None;
    }
    let b = char_to_byte(s, start)?;
    let e = char_to_byte(s, end + 1)?;
    Some(s[b..e].to_string())
}

/// The inclusive character span of `word` in `s` when it occurs exactly once.
pub fn unique_char_span(s: &str, word: &str) -> Option<(usize, usize)> {
    let mut hits = s.match_indices(word);
    let (first, _) = hits.next()?;
    if hits.next().is_some() {
        return None;
    }
    let start = byte_to_char(s, first)?;
    Some((start, start + word.chars().count() - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(sentence: &str, s: Entity, o: Entity) -> RelationRecord {
        RelationRecord { id: "t".into(), sentence: sentence.into(), subject: s, object: o, label: None, source: None }
    }

    #[test]
    fn multibyte_offsets_select_words() {
        let mut r = rec(
            "〈Something〉는 조지 해리슨이 쓰고 비틀즈가 1969년 앨범 《Abbey Road》에 담은 노래다.",
            Entity::new("비틀즈", 24, 26, "ORG"),
            Entity::new("조지 해리슨", 13, 18, "PER"),
        );
        r.validate(&Validation::default()).unwrap();
        assert_eq!(r.subject_text(), Some("비틀즈"));
        assert_eq!(r.object_text(), Some("조지 해리슨"));
    }

    #[test]
    fn wrong_offsets_are_reported_with_both_strings_and_fixed_on_request() {
        let mut r =
            rec("삼성전자와 애플은 경쟁한다.", Entity::new("애플", 0, 1, "ORG"), Entity::new("삼성전자", 0, 3, "ORG"));
        let err = r.clone().validate(&Validation::default()).unwrap_err();
        assert!(err.contains("\"삼성\"") && err.contains("\"애플\""), "{err}");
        r.validate(&Validation { fix_offsets: true, ..Default::default() }).unwrap();
        assert_eq!((r.subject.start, r.subject.end), (6, 7));
    }

    #[test]
    fn unknown_types_need_declaring() {
        let mut r = rec("가나다", Entity::new("가", 0, 0, "XYZ"), Entity::new("다", 2, 2, "PER"));
        assert!(r.validate(&Validation::default()).unwrap_err().contains("XYZ"));
        r.validate(&Validation { extra_types: vec!["XYZ".into()], ..Default::default() }).unwrap();
    }

    #[test]
    fn span_outside_sentence_is_an_error_not_a_panic() {
        let mut r = rec("가나다", Entity::new("다라", 2, 3, "PER"), Entity::new("가", 0, 0, "PER"));
        assert!(r.validate(&Validation::default()).unwrap_err().contains("outside"));
    }

    #[test]
    fn char_byte_conversions() {
        let s = "a가b";
        assert_eq!(char_to_byte(s, 0), Some(0));
        assert_eq!(char_to_byte(s, 2), Some(4));
        assert_eq!(char_to_byte(s, 3), Some(5));
        assert_eq!(char_to_byte(s, 4), None);
        assert_eq!(byte_to_char(s, 4), Some(2));
        assert_eq!(byte_to_char(s, 2), None);
    }
}
