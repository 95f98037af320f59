//! Features f1–f7 of the paper (section 3.2) for one candidate pair, as hashed sparse vectors.
//!
//! | family | what | string form |
//! |---|---|---|
//! | f1 | morpheme + POS of each context morpheme | `f1:경쟁/NNG` |
//! | f2 | NE types of the pair | `f2:ORG-ORG` |
//! | f3 | token type class of each context eojeol piece | `f3:korean` |
//! | f4 | region L/M/R relative to the pair: conjoined with f1/f3/f6/f7 (`@M`), plus pair order and the eojeol gap | `f1:경쟁/NNG@M`, `f4:gap:2` |
//! | f5 | distance to the nearer candidate (bytes as the paper, or characters), log2 buckets | `f5:pair:4`, `f5:clue:2` |
//! | f6 | clue-word presence | `f6:clue`, `f6:none` |
//! | f7 | clue-word identity | `f7:경쟁` |
//!
//! Context items are those outside both entity spans. With a distance constraint (filter of paper Fig. 5), items
//! more than `n` eojeols away from the nearer candidate are dropped. Every vector also has the feature `bias`.
use crate::clues::{ClueHit, ClueLexicon};
use crate::error::{ClassicError, Result};
use crate::morph::{AnalyzedSentence, TokenClass};
use crate::sparse::{bucket, Fnv, SparseVec};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// A set of feature families f1–f7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSet(pub u8);

impl FeatureSet {
    pub const ALL: FeatureSet = FeatureSet(0b111_1111);
    /// The paper's best set: f3, f4, f5, f6, f7.
    pub const PAPER_BEST: FeatureSet = FeatureSet(0b111_1100);

    pub fn has(self, family: u8) -> bool {
        (1..=7).contains(&family) && self.0 & (1 << (family - 1)) != 0
    }

    /// Parse `f3,f4,f5` (also `3,4,5`, `all`, `best`).
    pub fn parse(s: &str) -> Result<FeatureSet> {
        match s.trim() {
            "all" => return Ok(FeatureSet::ALL),
            "best" | "paper" => return Ok(FeatureSet::PAPER_BEST),
            _ => {}
        }
        let mut bits = 0u8;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let digits = part.strip_prefix('f').or_else(|| part.strip_prefix('F')).unwrap_or(part);
            match digits.parse::<u8>() {
                Ok(n @ 1..=7) => bits |= 1 << (n - 1),
                _ => {
                    return Err(ClassicError::Config(format!(
                        "unknown feature family {part:?} (use f1..f7, `all` or `best`)"
                    )))
                }
            }
        }
        if bits == 0 {
            return Err(ClassicError::Config(format!("empty feature set {s:?}")));
        }
        Ok(FeatureSet(bits))
    }
}

impl std::fmt::Display for FeatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = (1..=7).filter(|&i| self.has(i)).map(|i| format!("f{i}")).collect();
        f.write_str(&names.join(","))
    }
}

/// Unit of the distance feature f5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistanceUnit {
    /// UTF-8 bytes (the paper counts bytes).
    Bytes,
    Chars,
}

/// How features are extracted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    pub families: FeatureSet,
    /// The hash table has `2^hash_bits` entries.
    pub hash_bits: u32,
    pub distance_unit: DistanceUnit,
    /// Distance-constraint filter: keep only context items within this many eojeols of the nearer candidate.
    pub max_eojeol_distance: Option<usize>,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            families: FeatureSet::PAPER_BEST,
            hash_bits: 18,
            distance_unit: DistanceUnit::Bytes,
            max_eojeol_distance: None,
        }
    }
}

impl FeatureConfig {
    pub fn dim(&self) -> usize {
        1usize << self.hash_bits
    }
}

/// One entity of a candidate pair: byte range in the sentence and NE type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mention {
    pub bytes: Range<usize>,
    pub entity_type: String,
}

/// A candidate pair (subject, object).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub subject: Mention,
    pub object: Mention,
}

impl Candidate {
    /// The record's own pair; errors name the record when a span lies outside the sentence.
    pub fn from_record(r: &re_data::RelationRecord) -> Result<Candidate> {
        let span = |e: &re_data::Entity, role: &str| -> Result<Mention> {
            let bytes = e.byte_range(&r.sentence).ok_or_else(|| {
                ClassicError::record(&r.id, format!("{role} span {}..={} lies outside the sentence", e.start, e.end))
            })?;
            Ok(Mention { bytes, entity_type: e.entity_type.as_str().to_string() })
        };
        Ok(Candidate { subject: span(&r.subject, "subject")?, object: span(&r.object, "object")? })
    }

    pub fn entity_ranges(&self) -> [Range<usize>; 2] {
        [self.subject.bytes.clone(), self.object.bytes.clone()]
    }
}

/// All unordered pairs of same-type entities of one sentence (the paper's candidate generation when a sentence
/// comes with entities only). Mentions with identical spans are taken once; pairs keep sentence order
/// (subject = the earlier mention).
pub fn same_type_pairs(entities: &[Mention]) -> Vec<Candidate> {
    let mut uniq: Vec<&Mention> = Vec::new();
    for e in entities {
        if !uniq.iter().any(|u| u.bytes == e.bytes) {
            uniq.push(e);
        }
    }
    uniq.sort_by_key(|m| (m.bytes.start, m.bytes.end));
    let mut out = Vec::new();
    for (i, a) in uniq.iter().enumerate() {
        for b in &uniq[i + 1..] {
            let overlapping = a.bytes.start < b.bytes.end && b.bytes.start < a.bytes.end;
            if a.entity_type == b.entity_type && !overlapping {
                out.push(Candidate { subject: (*a).clone(), object: (*b).clone() });
            }
        }
    }
    out
}

/// Where a context item lies relative to the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    Left,
    Middle,
    Right,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Left => "L",
            Region::Middle => "M",
            Region::Right => "R",
        }
    }
}

/// Receives features as a sequence of string parts (their concatenation is the feature).
pub trait FeatureSink {
    fn emit(&mut self, parts: &[&str]);
}

/// Collects feature strings (tests, `--explain`).
#[derive(Default, Debug)]
pub struct StringSink(pub Vec<String>);

impl FeatureSink for StringSink {
    fn emit(&mut self, parts: &[&str]) {
        self.0.push(parts.concat());
    }
}

/// Hashes features into bucket indices without building strings.
pub struct HashSink {
    pub bits: u32,
    pub indices: Vec<u32>,
}

impl FeatureSink for HashSink {
    fn emit(&mut self, parts: &[&str]) {
        let mut h = Fnv::default();
        for p in parts {
            h.write(p.as_bytes());
        }
        self.indices.push(bucket(h.finish(), self.bits));
    }
}

/// log2 bucket of a distance: 0 → 0, 1 → 1, 2–3 → 2, 4–7 → 3 … capped at 10.
pub fn distance_bucket(d: usize) -> usize {
    if d == 0 {
        0
    } else {
        ((usize::BITS - d.leading_zeros()) as usize).min(10)
    }
}

const BUCKETS: [&str; 11] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];

/// Position of a context item relative to the pair.
struct Position {
    region: Region,
    /// Distance to the nearer candidate in the configured unit.
    distance: usize,
    /// Distance in eojeols to the nearer candidate (0 = same eojeol).
    eojeol_distance: usize,
}

struct PairGeometry<'a> {
    s: &'a AnalyzedSentence,
    first: Range<usize>,
    second: Range<usize>,
    first_eojeols: Range<usize>,
    second_eojeols: Range<usize>,
    unit: DistanceUnit,
}

impl<'a> PairGeometry<'a> {
    fn new(s: &'a AnalyzedSentence, c: &Candidate, unit: DistanceUnit) -> Self {
        let (a, b) = (c.subject.bytes.clone(), c.object.bytes.clone());
        let (first, second) = if (a.start, a.end) <= (b.start, b.end) { (a, b) } else { (b, a) };
        let eoj = |r: &Range<usize>| s.eojeol_of(r.start)..s.eojeol_of(r.end.saturating_sub(1).max(r.start)) + 1;
        PairGeometry { first_eojeols: eoj(&first), second_eojeols: eoj(&second), s, first, second, unit }
    }

    fn measure(&self, from: usize, to: usize) -> usize {
        if to <= from {
            return 0;
        }
        match self.unit {
            DistanceUnit::Bytes => to - from,
            DistanceUnit::Chars => self.s.text.get(from..to).map_or(to - from, |t| t.chars().count()),
        }
    }

    fn overlaps_entity(&self, r: &Range<usize>) -> bool {
        [&self.first, &self.second].iter().any(|e| r.start < e.end && e.start < r.end)
    }

    fn position(&self, r: &Range<usize>) -> Position {
        let (f, s) = (&self.first, &self.second);
        let (region, distance) = if r.end <= f.start {
            (Region::Left, self.measure(r.end, f.start))
        } else if r.start >= s.end {
            (Region::Right, self.measure(s.end, r.start))
        } else {
            (Region::Middle, self.measure(f.end, r.start).min(self.measure(r.end, s.start)))
        };
        let e = self.s.eojeol_of(r.start);
        let gap = |er: &Range<usize>| {
            if e < er.start {
                er.start - e
            } else if e >= er.end {
                e + 1 - er.end
            } else {
                0
            }
        };
        Position { region, distance, eojeol_distance: gap(&self.first_eojeols).min(gap(&self.second_eojeols)) }
    }
}

/// Extract the features of one candidate into `sink`. `hits` are the clue hits of the sentence outside the pair's
/// entities (from [`ClueLexicon::find`]).
pub fn pair_features(
    s: &AnalyzedSentence,
    c: &Candidate,
    lexicon: &ClueLexicon,
    hits: &[ClueHit],
    cfg: &FeatureConfig,
    sink: &mut dyn FeatureSink,
) {
    let fam = cfg.families;
    let g = PairGeometry::new(s, c, cfg.distance_unit);
    let keep = |p: &Position| cfg.max_eojeol_distance.is_none_or(|n| p.eojeol_distance <= n);
    let regional = fam.has(4);
    sink.emit(&["bias"]);
    if fam.has(2) {
        sink.emit(&["f2:", &c.subject.entity_type, "-", &c.object.entity_type]);
    }
    if regional {
        let order = if c.subject.bytes.start <= c.object.bytes.start { "f4:order:so" } else { "f4:order:os" };
        sink.emit(&[order]);
        let gap = g.second_eojeols.start.saturating_sub(g.first_eojeols.end);
        sink.emit(&["f4:gap:", BUCKETS[distance_bucket(gap)]]);
    }
    if fam.has(5) {
        let d = g.measure(g.first.end, g.second.start);
        sink.emit(&["f5:pair:", BUCKETS[distance_bucket(d)]]);
    }
    if fam.has(1) {
        for m in &s.morphemes {
            let r = m.byte_range();
            if g.overlaps_entity(&r) {
                continue;
            }
            let p = g.position(&r);
            if !keep(&p) {
                continue;
            }
            if regional {
                sink.emit(&["f1:", &m.surface, "/", &m.tag, "@", p.region.as_str()]);
            } else {
                sink.emit(&["f1:", &m.surface, "/", &m.tag]);
            }
        }
    }
    if fam.has(3) {
        for e in &s.eojeols {
            for piece in subtract(e, &[g.first.clone(), g.second.clone()]) {
                let p = g.position(&piece);
                if !keep(&p) {
                    continue;
                }
                let class = TokenClass::of_token(&s.text[piece]).as_str();
                if regional {
                    sink.emit(&["f3:", class, "@", p.region.as_str()]);
                } else {
                    sink.emit(&["f3:", class]);
                }
            }
        }
    }
    let mut any_clue = false;
    for h in hits {
        if g.overlaps_entity(&h.range) {
            continue;
        }
        let p = g.position(&h.range);
        if !keep(&p) {
            continue;
        }
        any_clue = true;
        let word = lexicon.words.get(h.word).map_or("?", String::as_str);
        if fam.has(6) && regional {
            sink.emit(&["f6:clue@", p.region.as_str()]);
        }
        if fam.has(7) {
            if regional {
                sink.emit(&["f7:", word, "@", p.region.as_str()]);
            } else {
                sink.emit(&["f7:", word]);
            }
        }
        if fam.has(5) {
            sink.emit(&["f5:clue:", BUCKETS[distance_bucket(p.distance)]]);
        }
    }
    if fam.has(6) {
        sink.emit(&[if any_clue { "f6:clue" } else { "f6:none" }]);
    }
}

/// Sentence-level features (for the sentence filter and the spam filter): every morpheme, token classes and clue
/// words of the whole sentence, with no reference to a pair.
pub fn sentence_features(s: &AnalyzedSentence, lexicon: &ClueLexicon, hits: &[ClueHit], sink: &mut dyn FeatureSink) {
    sink.emit(&["bias"]);
    for m in &s.morphemes {
        sink.emit(&["s1:", &m.surface, "/", &m.tag]);
    }
    for e in &s.eojeols {
        sink.emit(&["s3:", TokenClass::of_token(&s.text[e.clone()]).as_str()]);
    }
    for h in hits {
        sink.emit(&["s7:", lexicon.words.get(h.word).map_or("?", String::as_str)]);
    }
    sink.emit(&[if hits.is_empty() { "s6:none" } else { "s6:clue" }]);
}

/// `pair_features` hashed into a normalised sparse vector.
pub fn pair_vector(
    s: &AnalyzedSentence,
    c: &Candidate,
    lexicon: &ClueLexicon,
    hits: &[ClueHit],
    cfg: &FeatureConfig,
) -> SparseVec {
    let mut sink = HashSink { bits: cfg.hash_bits, indices: Vec::with_capacity(64) };
    pair_features(s, c, lexicon, hits, cfg, &mut sink);
    SparseVec::from_indices_normalized(sink.indices)
}

/// `sentence_features` hashed into a normalised sparse vector.
pub fn sentence_vector(s: &AnalyzedSentence, lexicon: &ClueLexicon, hits: &[ClueHit], bits: u32) -> SparseVec {
    let mut sink = HashSink { bits, indices: Vec::with_capacity(64) };
    sentence_features(s, lexicon, hits, &mut sink);
    SparseVec::from_indices_normalized(sink.indices)
}

/// `r` minus the `holes`, as up to three non-empty pieces.
fn subtract(r: &Range<usize>, holes: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut pieces = vec![r.clone()];
    for h in holes {
        let mut next = Vec::new();
        for p in pieces {
            if h.end <= p.start || h.start >= p.end {
                next.push(p);
                continue;
            }
            if p.start < h.start {
                next.push(p.start..h.start);
            }
            if h.end < p.end {
                next.push(h.end..p.end);
            }
        }
        pieces = next;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_set_parsing() {
        assert_eq!(FeatureSet::parse("f3,f4,f5,f6,f7").unwrap(), FeatureSet::PAPER_BEST);
        assert_eq!(FeatureSet::parse("1, f2").unwrap(), FeatureSet(0b11));
        assert_eq!(FeatureSet::PAPER_BEST.to_string(), "f3,f4,f5,f6,f7");
        assert!(FeatureSet::parse("f8").is_err());
        assert!(FeatureSet::parse("").is_err());
    }

    #[test]
    fn same_type_pairs_of_a_sentence() {
        let m = |a: usize, b: usize, t: &str| Mention { bytes: a..b, entity_type: t.into() };
        // Two ORGs, one PER, a duplicate ORG mention and an ORG overlapping another.
        let ents =
            [m(20, 25, "ORG"), m(0, 5, "ORG"), m(8, 12, "PER"), m(0, 5, "ORG"), m(22, 30, "ORG"), m(40, 44, "PER")];
        let pairs = same_type_pairs(&ents);
        let spans: Vec<_> = pairs.iter().map(|c| (c.subject.bytes.start, c.object.bytes.start)).collect();
        assert_eq!(spans, [(0, 20), (0, 22), (8, 40)]);
        assert!(same_type_pairs(&ents[..1]).is_empty());
    }

    #[test]
    fn buckets_and_subtraction() {
        assert_eq!([0, 1, 2, 3, 4, 7, 8].map(distance_bucket), [0, 1, 2, 2, 3, 3, 4]);
        assert_eq!(subtract(&(0..10), &[2..4, 8..12]), vec![0..2, 4..8]);
        assert!(subtract(&(2..4), &[0..10]).is_empty());
    }
}
