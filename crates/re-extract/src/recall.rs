//! Candidate recall: how many gold subject/object words the mention finder proposes.
//!
//! A gold word is **covered** when some candidate span contains its span (candidate `start <= gold.start` and
//! `gold.end <= candidate.end`, characters, inclusive ends), and matched **exactly** when some candidate has the same
//! span. Candidate counts and lengths are reported beside, since longer or more candidates cover more.
use crate::error::Result;
use crate::mentions::MentionFinder;
use crate::Mention;
use re_data::record::RelationRecord;
use serde::Serialize;

/// Candidate recall over a set of records (each record's subject and object are gold words).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RecallReport {
    pub sentences: usize,
    pub gold_words: usize,
    pub covered: usize,
    pub exact: usize,
    pub candidates: usize,
    /// Sum of candidate lengths in characters.
    pub candidate_chars: usize,
    /// Gold words no candidate covers: (record id, word).
    pub misses: Vec<(String, String)>,
}

impl RecallReport {
    pub fn recall(&self) -> f64 {
        self.covered as f64 / self.gold_words.max(1) as f64
    }
    pub fn exact_recall(&self) -> f64 {
        self.exact as f64 / self.gold_words.max(1) as f64
    }
    pub fn candidates_per_sentence(&self) -> f64 {
        self.candidates as f64 / self.sentences.max(1) as f64
    }
    pub fn mean_candidate_chars(&self) -> f64 {
        self.candidate_chars as f64 / self.candidates.max(1) as f64
    }
}

/// Runs `finder` on every record's sentence and checks its subject and object against the candidates.
pub fn candidate_recall(finder: &MentionFinder, records: &[RelationRecord]) -> Result<RecallReport> {
    let mut report = RecallReport::default();
    for r in records {
        let found = finder.find(&r.sentence)?;
        report.sentences += 1;
        report.candidates += found.len();
        report.candidate_chars += found.iter().map(Mention::char_len).sum::<usize>();
        for gold in [&r.subject, &r.object] {
            report.gold_words += 1;
            if found.iter().any(|c| c.start <= gold.start && gold.end <= c.end) {
                report.covered += 1;
            } else {
                report.misses.push((r.id.clone(), gold.word.clone()));
            }
            if found.iter().any(|c| c.start == gold.start && c.end == gold.end) {
                report.exact += 1;
            }
        }
    }
    Ok(report)
}
