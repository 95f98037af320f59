//! Clue words (paper 3.2, f6/f7 and the rule baseline): a lexicon read from a file (one word per line), matching
//! in sentences, and proposing new clue words from labelled data by log-odds.
use crate::error::{ClassicError, Result};
use crate::morph::{is_clue_tag, AnalyzedSentence};
use crate::pipeline::Corpus;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

/// The clue words of competition used when no lexicon file is given (reviewed by hand; the synthetic set and the
/// paper's examples use them).
pub const DEFAULT_CLUES: &[&str] = &[
    "경쟁",
    "맞대결",
    "설전",
    "vs",
    "격돌",
    "라이벌",
    "반격",
    "대결",
    "경합",
    "신경전",
    "각축",
    "추격",
    "맞수",
    "공세",
    "겨루",
    "견제",
    "앞지르",
    "제치",
    "점유율 다툼",
    "정면승부",
];

/// A clue-word lexicon. Matching is on the raw sentence text (ASCII case-insensitive), so clue words that MeCab
/// splits into several morphemes (맞/대결) still match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClueLexicon {
    pub words: Vec<String>,
}

/// One occurrence of a clue word: the index into [`ClueLexicon::words`] and its byte range in the sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClueHit {
    pub word: usize,
    pub range: Range<usize>,
}

impl ClueLexicon {
    pub fn new<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> ClueLexicon {
        let mut out: Vec<String> = Vec::new();
        for w in words {
            let w = w.as_ref().trim().to_ascii_lowercase();
            if !w.is_empty() && !out.contains(&w) {
                out.push(w);
            }
        }
        ClueLexicon { words: out }
    }

    pub fn default_competition() -> ClueLexicon {
        ClueLexicon::new(DEFAULT_CLUES.iter().copied())
    }

    /// One word per line; blank lines and lines starting with `#` are skipped; a tab ends the word (so the
    /// output of `kre classic clues` can be used as is).
    pub fn read(path: &Path) -> Result<ClueLexicon> {
        let text = std::fs::read_to_string(path).map_err(|e| ClassicError::io(path, e))?;
        let words: Vec<&str> = text
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        if words.is_empty() {
            return Err(ClassicError::parse(path, "line 1", "the clue-word file holds no words"));
        }
        Ok(ClueLexicon::new(words))
    }

    /// All occurrences in `text` that do not overlap any of the `exclude` byte ranges (the candidate entities),
    /// sorted by position.
    pub fn find(&self, text: &str, exclude: &[Range<usize>]) -> Vec<ClueHit> {
        let lower = text.to_ascii_lowercase(); // ASCII lowercasing keeps byte offsets
        let mut hits = Vec::new();
        for (wi, w) in self.words.iter().enumerate() {
            for (b, _) in lower.match_indices(w.as_str()) {
                let range = b..b + w.len();
                if exclude.iter().all(|e| range.end <= e.start || range.start >= e.end) {
                    hits.push(ClueHit { word: wi, range });
                }
            }
        }
        hits.sort_by_key(|h| (h.range.start, h.word));
        hits
    }

    /// The rule baseline: any clue word outside the entities → positive.
    pub fn rule_positive(&self, text: &str, exclude: &[Range<usize>]) -> bool {
        !self.find(text, exclude).is_empty()
    }
}

/// A proposed clue word with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClueCandidate {
    pub word: String,
    pub tag: String,
    /// Smoothed log-odds ratio of occurring in a positive vs a negative sentence.
    pub log_odds: f64,
    /// z-score of the log-odds (log-odds divided by its approximate standard deviation).
    pub z: f64,
    pub pos_count: usize,
    pub neg_count: usize,
}

/// Propose clue words: content morphemes (nouns, verbs, adverbs …; see [`is_clue_tag`]) outside the entity spans,
/// counted once per sentence, ranked by the z-score of the smoothed log-odds ratio between positive and negative
/// sentences (Monroe et al. 2008 with a uniform prior `alpha`). Words seen in fewer than `min_count` positive
/// sentences are dropped.
pub fn propose_clues(
    sentences: &[(&AnalyzedSentence, Vec<Range<usize>>, bool)],
    min_count: usize,
    alpha: f64,
    top_k: usize,
) -> Vec<ClueCandidate> {
    let mut counts: HashMap<(String, String), (usize, usize)> = HashMap::new();
    let (mut n_pos, mut n_neg) = (0usize, 0usize);
    for (s, entities, positive) in sentences {
        if *positive {
            n_pos += 1
        } else {
            n_neg += 1
        }
        let mut seen = std::collections::HashSet::new();
        for m in &s.morphemes {
            if !is_clue_tag(&m.tag) || entities.iter().any(|e| m.byte_start < e.end && e.start < m.byte_end) {
                continue;
            }
            let head = m.tag.split('+').next().unwrap_or(&m.tag).to_string();
            if seen.insert((m.surface.clone(), head.clone())) {
                let c = counts.entry((m.surface.clone(), head)).or_default();
                if *positive {
                    c.0 += 1
                } else {
                    c.1 += 1
                }
            }
        }
    }
    let mut out: Vec<ClueCandidate> = counts
        .into_iter()
        .filter(|(_, (p, _))| *p >= min_count.max(1))
        .map(|((word, tag), (p, n))| {
            let (p_f, n_f) = (p as f64, n as f64);
            let a = alpha;
            let lo_pos = ((p_f + a) / (n_pos as f64 - p_f + a)).ln();
            let lo_neg = ((n_f + a) / (n_neg as f64 - n_f + a)).ln();
            let delta = lo_pos - lo_neg;
            let var =
                1.0 / (p_f + a) + 1.0 / (n_pos as f64 - p_f + a) + 1.0 / (n_f + a) + 1.0 / (n_neg as f64 - n_f + a);
            ClueCandidate { word, tag, log_odds: delta, z: delta / var.sqrt(), pos_count: p, neg_count: n }
        })
        .filter(|c| c.log_odds > 0.0)
        .collect();
    out.sort_by(|a, b| b.z.total_cmp(&a.z).then_with(|| a.word.cmp(&b.word)));
    out.truncate(top_k);
    out
}

/// What [`propose_clues`] needs to know about one sentence: its analysis, the entity byte ranges to skip, and
/// whether it is positive.
pub type SentenceEvidence<'a> = (&'a AnalyzedSentence, Vec<Range<usize>>, bool);

/// One [`SentenceEvidence`] per distinct sentence of `corpus`: a sentence is positive when any of its pairs has a
/// label other than `negative_label` (unlabelled pairs count as negative), and the entity spans of **all** its
/// pairs are excluded, so entity words never become clue words.
pub fn sentence_evidence<'a>(corpus: &'a Corpus, negative_label: &str) -> Vec<SentenceEvidence<'a>> {
    let mut per_sentence: Vec<(Vec<Range<usize>>, bool)> = vec![(Vec::new(), false); corpus.sentences.len()];
    for pair in &corpus.pairs {
        // A pair pointing outside the sentence list cannot come from Corpus::build; skip rather than panic.
        let Some(entry) = per_sentence.get_mut(pair.sentence) else { continue };
        entry.0.extend(pair.candidate.entity_ranges());
        entry.1 |= pair.label.as_deref().is_some_and(|l| l != negative_label);
    }
    corpus
        .sentences
        .iter()
        .zip(per_sentence)
        .map(|(s, (entities, positive))| (&s.analyzed, entities, positive))
        .collect()
}

/// [`propose_clues`] over a whole corpus ([`sentence_evidence`]): what `kre classic clues` prints.
pub fn propose_corpus_clues(
    corpus: &Corpus,
    negative_label: &str,
    min_count: usize,
    alpha: f64,
    top_k: usize,
) -> Vec<ClueCandidate> {
    propose_clues(&sentence_evidence(corpus, negative_label), min_count, alpha, top_k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_skips_entities_and_is_ascii_case_insensitive() {
        let lex = ClueLexicon::new(["경쟁", "vs"]);
        let s = "경쟁사 A VS B, 경쟁";
        let hits = lex.find(s, &[]);
        assert_eq!(hits.len(), 3);
        assert_eq!(&s[hits[1].range.clone()], "VS");
        let only_last = lex.find(s, &[0..6, 12..14]);
        assert_eq!(only_last.len(), 1);
        assert_eq!(only_last[0].range.start, s.rfind("경쟁").unwrap());
        assert!(lex.rule_positive(s, &[]));
        assert!(!ClueLexicon::new(["협력"]).rule_positive(s, &[]));
    }

    /// Whitespace "morphology" tagging every word NNG, so the test runs without MeCab.
    struct Words;
    impl crate::morph::Morphology for Words {
        fn analyze(&self, text: &str) -> re_morph::Result<Vec<crate::morph::Morpheme>> {
            let mut out = Vec::new();
            let mut chars = 0;
            for (b, w) in text.split(' ').scan(0usize, |at, w| {
                let start = *at;
                *at += w.len() + 1;
                Some((start, w))
            }) {
                let n = w.chars().count();
                out.push(crate::morph::Morpheme {
                    surface: w.to_string(),
                    tag: "NNG".into(),
                    feature: "NNG,*,*".into(),
                    start: chars,
                    end: chars + n,
                    byte_start: b,
                    byte_end: b + w.len(),
                });
                chars += n + 1;
            }
            Ok(out)
        }
    }

    #[test]
    fn corpus_evidence_is_per_sentence_and_skips_entities() {
        use re_data::{Entity, EntityType, RelationRecord};
        let record = |id: &str, sentence: &str, subj: (&str, usize), obj: (&str, usize), label: &str| {
            let entity = |(word, start): (&str, usize)| Entity {
                word: word.into(),
                start,
                end: start + word.chars().count() - 1,
                entity_type: EntityType::Org,
            };
            RelationRecord {
                id: id.into(),
                sentence: sentence.into(),
                subject: entity(subj),
                object: entity(obj),
                label: Some(label.into()),
                source: None,
            }
        };
        // Sentence 1 has a negative and a positive pair (⇒ positive); sentence 2 only a negative one.
        let s1 = "삼성 애플 경쟁 구글";
        let s2 = "삼성 애플 협력";
        let records = vec![
            record("1", s1, ("삼성", 0), ("애플", 3), "no_relation"),
            record("2", s1, ("애플", 3), ("구글", 9), "competition"),
            record("3", s2, ("삼성", 0), ("애플", 3), "no_relation"),
        ];
        let corpus = Corpus::build(&records, &Words, &ClueLexicon::default(), &|| {}).unwrap();
        let evidence = sentence_evidence(&corpus, "no_relation");
        assert_eq!(evidence.len(), 2);
        assert!(evidence[0].2 && !evidence[1].2);
        // Entities of both pairs of sentence 1 are excluded: 삼성, 애플 (twice), 구글.
        assert_eq!(evidence[0].1.len(), 4);
        let clues = propose_corpus_clues(&corpus, "no_relation", 1, 0.5, 10);
        let words: Vec<&str> = clues.iter().map(|c| c.word.as_str()).collect();
        assert_eq!(words, ["경쟁"], "entity words and negative-only words are not clues");
        assert_eq!((clues[0].pos_count, clues[0].neg_count), (1, 0));
    }

    #[test]
    fn lexicon_file_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("clues.txt");
        std::fs::write(&p, "# header\n경쟁\t3.2\n\nVS\n경쟁\n").unwrap();
        assert_eq!(ClueLexicon::read(&p).unwrap().words, ["경쟁", "vs"]);
        std::fs::write(&p, "\n# nothing\n").unwrap();
        assert!(ClueLexicon::read(&p).unwrap_err().to_string().contains("no words"));
    }
}
