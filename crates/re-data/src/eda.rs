//! Exploratory statistics of a relation-extraction data set: label distribution, sentence lengths (characters and,
//! with a tokenizer, tokens), entity types, the type-pair × relation matrix and the most frequent entity words per
//! label. This module only computes; `re-plots` draws the numbers and `kre eda` writes both.
//!
//! ```no_run
//! use re_data::eda::{compute, EdaOptions};
//! use re_data::io::{read_records, ReadOptions};
//! let data = read_records(std::path::Path::new("train.json"), &ReadOptions::default())?;
//! let report = compute(&data.records, None, &EdaOptions::default())?;
//! println!("no_relation share: {:.3}, median length: {}", report.no_relation_share, report.char_length.p50);
//! # Ok::<(), re_data::DataError>(())
//! ```
use crate::error::{DataError, Result};
use crate::record::RelationRecord;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Key used for records without a label in the per-label tables (matrix, top words).
pub const UNLABELED: &str = "(unlabeled)";
/// The label whose share [`EdaReport::no_relation_share`] reports.
pub const NO_RELATION: &str = "no_relation";
/// Lengths above this count as "long" (a common `max_length` of KLUE-RE models).
pub const LONG_THRESHOLD: usize = 128;

/// Options of [`compute`].
#[derive(Clone, Debug)]
pub struct EdaOptions {
    /// How many entity words to list per label and role.
    pub top_k: usize,
    /// Bin width of the character-length histogram.
    pub char_bin_width: usize,
    /// Bin width of the token-length histogram.
    pub token_bin_width: usize,
}

impl Default for EdaOptions {
    fn default() -> Self {
        EdaOptions { top_k: 10, char_bin_width: 10, token_bin_width: 8 }
    }
}

/// Summary of a list of lengths. Percentiles interpolate linearly between order statistics
/// (NumPy's default: position `q × (n − 1)` in the sorted list).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LengthStats {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub max: usize,
    /// Share of sentences longer than [`LONG_THRESHOLD`] (strictly greater).
    pub share_over_128: f64,
}

/// One histogram bin: lengths in `start..end` (half-open).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistogramBin {
    pub start: usize,
    pub end: usize,
    pub count: usize,
}

/// The most frequent subject and object words of one label, most frequent first (ties alphabetical).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopWords {
    pub subject: Vec<(String, usize)>,
    pub object: Vec<(String, usize)>,
}

/// Everything `kre eda` writes to `eda.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdaReport {
    pub n_records: usize,
    pub n_unlabeled: usize,
    /// label → number of records (labelled records only).
    pub label_counts: BTreeMap<String, usize>,
    /// label → share of the labelled records.
    pub label_ratios: BTreeMap<String, f64>,
    /// Share of `no_relation` among labelled records (0 when there are none).
    pub no_relation_share: f64,
    pub char_length: LengthStats,
    pub char_length_histogram: Vec<HistogramBin>,
    /// Token counts including special tokens, when a tokenizer was given.
    pub token_length: Option<LengthStats>,
    pub token_length_histogram: Option<Vec<HistogramBin>>,
    pub subject_type_counts: BTreeMap<String, usize>,
    pub object_type_counts: BTreeMap<String, usize>,
    /// `"SUBJ-OBJ"` type pair → label → count.
    pub type_pair_relation: BTreeMap<String, BTreeMap<String, usize>>,
    /// label → most frequent subject/object words.
    pub top_entity_words: BTreeMap<String, TopWords>,
}

impl EdaReport {
    /// Labels with their counts, most frequent first (ties by name).
    pub fn labels_by_count(&self) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = self.label_counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Type pairs ordered by total count (most frequent first), for plotting the matrix.
    pub fn type_pairs_by_count(&self) -> Vec<String> {
        let mut v: Vec<(String, usize)> =
            self.type_pair_relation.iter().map(|(k, m)| (k.clone(), m.values().sum())).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().map(|(k, _)| k).collect()
    }
}

/// Linear-interpolation percentile of an ascending `sorted` list, `q` in `[0, 1]`; `0.0` for an empty list.
pub fn percentile(sorted: &[usize], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] as f64 + (sorted[hi] as f64 - sorted[lo] as f64) * frac
}

/// [`LengthStats`] of `lengths` (any order).
pub fn length_stats(lengths: &[usize]) -> LengthStats {
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let sum: usize = sorted.iter().sum();
    LengthStats {
        count: n,
        mean: if n == 0 { 0.0 } else { sum as f64 / n as f64 },
        p50: percentile(&sorted, 0.5),
        p75: percentile(&sorted, 0.75),
        p90: percentile(&sorted, 0.9),
        max: sorted.last().copied().unwrap_or(0),
        share_over_128: if n == 0 {
            0.0
        } else {
            sorted.iter().filter(|&&l| l > LONG_THRESHOLD).count() as f64 / n as f64
        },
    }
}

/// Histogram of `lengths` with bins `[k·width, (k+1)·width)` from 0 up to the bin holding the maximum.
pub fn histogram(lengths: &[usize], width: usize) -> Vec<HistogramBin> {
    let width = width.max(1);
    let Some(&max) = lengths.iter().max() else {
        return Vec::new();
    };
    let mut bins: Vec<HistogramBin> =
        (0..=max / width).map(|k| HistogramBin { start: k * width, end: (k + 1) * width, count: 0 }).collect();
    for &l in lengths {
        bins[l / width].count += 1;
    }
    bins
}

/// Load a Hugging Face `tokenizer.json` for token-length statistics.
pub fn load_tokenizer(path: &std::path::Path) -> Result<tokenizers::Tokenizer> {
    if !path.is_file() {
        return Err(DataError::Tokenizer(format!("{}: no such file", path.display())));
    }
    tokenizers::Tokenizer::from_file(path)
        .map_err(|e| DataError::Tokenizer(format!("{}: cannot load tokenizer.json: {e}", path.display())))
}

/// Compute the report. With a tokenizer, token lengths count the tokens of the plain sentence with special tokens
/// (`[CLS] … [SEP]`), i.e. what a model sees before entity markers are added; the tokenizer's own truncation and
/// padding settings are ignored so that the real lengths show.
pub fn compute(
    records: &[RelationRecord],
    tokenizer: Option<&tokenizers::Tokenizer>,
    opts: &EdaOptions,
) -> Result<EdaReport> {
    let mut label_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut subject_type_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut object_type_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut type_pair_relation: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut words: HashMap<String, (HashMap<String, usize>, HashMap<String, usize>)> = HashMap::new();
    let mut n_unlabeled = 0;
    for r in records {
        let label = match &r.label {
            Some(l) => {
                *label_counts.entry(l.clone()).or_default() += 1;
                l.as_str()
            }
            None => {
                n_unlabeled += 1;
                UNLABELED
            }
        };
        let (st, ot) = (r.subject.entity_type.as_str(), r.object.entity_type.as_str());
        *subject_type_counts.entry(st.to_string()).or_default() += 1;
        *object_type_counts.entry(ot.to_string()).or_default() += 1;
        *type_pair_relation.entry(format!("{st}-{ot}")).or_default().entry(label.to_string()).or_default() += 1;
        let (subj, obj) = words.entry(label.to_string()).or_default();
        *subj.entry(r.subject.word.clone()).or_default() += 1;
        *obj.entry(r.object.word.clone()).or_default() += 1;
    }
    let n_labeled: usize = label_counts.values().sum();
    let label_ratios = label_counts
        .iter()
        .map(|(k, c)| (k.clone(), if n_labeled == 0 { 0.0 } else { *c as f64 / n_labeled as f64 }))
        .collect();
    let no_relation_share = if n_labeled == 0 {
        0.0
    } else {
        label_counts.get(NO_RELATION).copied().unwrap_or(0) as f64 / n_labeled as f64
    };

    let char_lengths: Vec<usize> = records.iter().map(|r| r.sentence.chars().count()).collect();
    // A tokenizer.json may carry truncation and fixed padding (all-MiniLM's pads every text to 128 tokens):
    // both would hide the real lengths, so they are switched off on a copy.
    let plain_tokenizer = match tokenizer {
        None => None,
        Some(tok) => {
            let mut plain = tok.clone();
            plain.with_truncation(None).map_err(|e| DataError::Tokenizer(format!("cannot disable truncation: {e}")))?;
            plain.with_padding(None);
            Some(plain)
        }
    };
    let token_lengths = match plain_tokenizer.as_ref() {
        None => None,
        Some(tok) => Some(
            records
                .par_iter()
                .map(|r| {
                    tok.encode(r.sentence.as_str(), true)
                        .map(|e| e.len())
                        .map_err(|e| DataError::Tokenizer(format!("record {}: {e}", r.id)))
                })
                .collect::<Result<Vec<usize>>>()?,
        ),
    };

    let top_entity_words = words
        .into_iter()
        .map(|(label, (subj, obj))| {
            (label, TopWords { subject: top_k(subj, opts.top_k), object: top_k(obj, opts.top_k) })
        })
        .collect();

    Ok(EdaReport {
        n_records: records.len(),
        n_unlabeled,
        label_counts,
        label_ratios,
        no_relation_share,
        char_length: length_stats(&char_lengths),
        char_length_histogram: histogram(&char_lengths, opts.char_bin_width),
        token_length: token_lengths.as_deref().map(length_stats),
        token_length_histogram: token_lengths.as_deref().map(|t| histogram(t, opts.token_bin_width)),
        subject_type_counts,
        object_type_counts,
        type_pair_relation,
        top_entity_words,
    })
}

fn top_k(counts: HashMap<String, usize>, k: usize) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(k);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], 50) == 2.5; 75 -> 3.25; 90 -> 3.7
        let s = [1, 2, 3, 4];
        assert_eq!(percentile(&s, 0.5), 2.5);
        assert_eq!(percentile(&s, 0.75), 3.25);
        assert!((percentile(&s, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&[7], 0.9), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn histogram_bins_cover_all_lengths() {
        let h = histogram(&[0, 9, 10, 25], 10);
        assert_eq!(h.iter().map(|b| b.count).collect::<Vec<_>>(), vec![2, 1, 1]);
        assert_eq!((h[2].start, h[2].end), (20, 30));
        assert!(histogram(&[], 10).is_empty());
    }
}
