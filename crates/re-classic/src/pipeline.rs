//! The pipeline of paper Fig. 5: candidates → (1) sentence-level relation/no-relation filter → (2) blacklist +
//! one-class-SVM spam filter → (3) pair classifier on (optionally distance-constrained) features f1–f7.
//! Each filter can be switched on separately ([`Filters`]); a pair vetoed by a filter is predicted negative.
//!
//! Sentences are analysed once ([`Corpus`]) and shared by all their candidate pairs, so an experiment that trains
//! several systems on the same data ([`compare`]) pays for MeCab once.
use crate::clues::{ClueHit, ClueLexicon};
use crate::error::{ClassicError, Result};
use crate::features::{pair_vector, sentence_vector, Candidate, FeatureConfig, FeatureSet};
use crate::learn::{
    train_maxent, train_one_class, train_pegasos, LinearWeights, MaxEntConfig, OneClassConfig, OneClassSvm,
    PegasosConfig, SparseWeights,
};
use crate::morph::{AnalyzedSentence, Morphology};
use crate::sparse::SparseVec;
use rayon::prelude::*;
use re_data::RelationRecord;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Which filters of Fig. 5 are on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Sentence-level relation/no-relation classifier (first stage).
    pub sentence: bool,
    /// Blacklisted pairs whose sentence the one-class SVM calls spam are negative (second stage).
    pub spam: bool,
    /// Distance-constrained features: only context within this many eojeols of the nearer candidate.
    pub distance: Option<usize>,
}

impl Filters {
    /// Parse `sentence,spam,distance:2` (or `none`, `all` = sentence,spam,distance:2).
    pub fn parse(s: &str) -> Result<Filters> {
        let mut f = Filters::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "none" => {}
                "all" => f = Filters { sentence: true, spam: true, distance: Some(2) },
                "sentence" => f.sentence = true,
                "spam" => f.spam = true,
                "distance" => f.distance = Some(2),
                _ => match part.strip_prefix("distance:").map(str::parse::<usize>) {
                    Some(Ok(n)) => f.distance = Some(n),
                    _ => {
                        return Err(ClassicError::Config(format!(
                            "unknown filter {part:?} (use sentence, spam, distance:N, all, none)"
                        )))
                    }
                },
            }
        }
        Ok(f)
    }
}

impl std::fmt::Display for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.sentence {
            parts.push("sentence".to_string());
        }
        if self.spam {
            parts.push("spam".into());
        }
        if let Some(n) = self.distance {
            parts.push(format!("distance:{n}"));
        }
        f.write_str(if parts.is_empty() { "none" } else { "" })?;
        f.write_str(&parts.join(","))
    }
}

/// The pair (and sentence) learner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Learner {
    Pegasos(PegasosConfig),
    Maxent(MaxEntConfig),
}

impl Learner {
    pub fn parse(name: &str, epochs: usize, seed: u64, lambda: f64) -> Result<Learner> {
        match name {
            "pegasos" | "svm" => Ok(Learner::Pegasos(PegasosConfig { lambda, epochs, seed, positive_weight: 1.0 })),
            "maxent" | "logreg" => Ok(Learner::Maxent(MaxEntConfig { l2: lambda, epochs, seed, ..Default::default() })),
            other => Err(ClassicError::Config(format!("unknown learner {other:?} (use pegasos or maxent)"))),
        }
    }

    fn train(&self, xs: &[SparseVec], ys: &[bool], dim: usize) -> LinearWeights {
        match self {
            Learner::Pegasos(c) => train_pegasos(xs, ys, dim, c),
            Learner::Maxent(c) => train_maxent(xs, ys, dim, c),
        }
    }

    fn seed(&self) -> u64 {
        match self {
            Learner::Pegasos(c) => c.seed,
            Learner::Maxent(c) => c.seed,
        }
    }
}

/// Everything that defines a trained system besides the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassicConfig {
    pub features: FeatureConfig,
    pub learner: Learner,
    pub filters: Filters,
    /// The negative label; `None`: `no_relation` if the training data has it, else `no`.
    pub negative_label: Option<String>,
    /// Collapse every non-negative label into this one (binary task, e.g. KAIST's relation-specific yes/no).
    pub collapse_positive: Option<String>,
    /// The sentence filter vetoes sentences scoring below this.
    pub sentence_threshold: f64,
    pub spam: OneClassConfig,
    /// Without a blacklist file: pairs seen at least this often in training, never positive, are blacklisted.
    pub blacklist_min_count: usize,
}

impl Default for ClassicConfig {
    fn default() -> Self {
        ClassicConfig {
            features: FeatureConfig::default(),
            learner: Learner::Pegasos(PegasosConfig::default()),
            filters: Filters::default(),
            negative_label: None,
            collapse_positive: None,
            sentence_threshold: 0.0,
            spam: OneClassConfig::default(),
            blacklist_min_count: 3,
        }
    }
}

/// One analysed sentence with its clue hits (the whole sentence; pairs drop hits inside their entities).
#[derive(Clone, Debug)]
pub struct PreparedSentence {
    pub analyzed: AnalyzedSentence,
    pub hits: Vec<ClueHit>,
}

/// One candidate pair of a corpus.
#[derive(Clone, Debug)]
pub struct PairItem {
    pub id: String,
    pub sentence: usize,
    pub candidate: Candidate,
    pub label: Option<String>,
    /// The pair's entity words, sorted (blacklist key; pairs are unordered).
    pub key: (String, String),
}

/// Records analysed once: unique sentences and the candidate pairs pointing at them.
#[derive(Clone, Debug)]
pub struct Corpus {
    pub lexicon: ClueLexicon,
    pub sentences: Vec<PreparedSentence>,
    pub pairs: Vec<PairItem>,
}

/// Unordered pair key of two entity words.
pub fn pair_key(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

impl Corpus {
    /// Analyse the records' sentences (each distinct sentence once); `progress` is called once per sentence.
    pub fn build(
        records: &[RelationRecord],
        morphology: &dyn Morphology,
        lexicon: &ClueLexicon,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Corpus> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut texts: Vec<&str> = Vec::new();
        let mut pairs = Vec::with_capacity(records.len());
        for r in records {
            let candidate = Candidate::from_record(r)?;
            let sentence = *index.entry(r.sentence.as_str()).or_insert_with(|| {
                texts.push(r.sentence.as_str());
                texts.len() - 1
            });
            let words = (r.subject_text().unwrap_or(&r.subject.word), r.object_text().unwrap_or(&r.object.word));
            pairs.push(PairItem {
                id: r.id.clone(),
                sentence,
                candidate,
                label: r.label.clone(),
                key: pair_key(words.0, words.1),
            });
        }
        let sentences = texts
            .par_iter()
            .map(|t| {
                let analyzed = AnalyzedSentence::new(t, morphology)?;
                let hits = lexicon.find(t, &[]);
                progress();
                Ok(PreparedSentence { analyzed, hits })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Corpus { lexicon: lexicon.clone(), sentences, pairs })
    }

    pub fn pair_vector(&self, i: usize, features: &FeatureConfig) -> SparseVec {
        let p = &self.pairs[i];
        let s = &self.sentences[p.sentence];
        pair_vector(&s.analyzed, &p.candidate, &self.lexicon, &s.hits, features)
    }

    pub fn sentence_vector(&self, s: usize, bits: u32) -> SparseVec {
        let s = &self.sentences[s];
        sentence_vector(&s.analyzed, &self.lexicon, &s.hits, bits)
    }

    /// Rule baseline: a clue word anywhere outside the pair's entities.
    pub fn rule_positive(&self, i: usize) -> bool {
        let p = &self.pairs[i];
        let ents = p.candidate.entity_ranges();
        self.sentences[p.sentence]
            .hits
            .iter()
            .any(|h| ents.iter().all(|e| h.range.end <= e.start || h.range.start >= e.end))
    }
}

/// A trained system (serialised to `MODEL_DIR/model.json`).
#[derive(Clone, Debug)]
pub struct ClassicModel {
    pub config: ClassicConfig,
    pub lexicon: ClueLexicon,
    pub negative_label: String,
    /// One scorer per label: for two labels a single scorer of the positive label, else one-vs-rest over all.
    pub classifiers: Vec<(String, LinearWeights)>,
    pub sentence_filter: Option<LinearWeights>,
    pub spam_filter: Option<OneClassSvm>,
    pub blacklist: BTreeSet<(String, String)>,
}

/// Which stage decided a prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decider {
    Classifier,
    Sentence,
    Spam,
}

/// One prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    pub id: String,
    pub label: String,
    /// Margin of the positive label (binary) or of the predicted label (multi-class); a pair vetoed by a filter
    /// gets `min(margin, -1)` so it ranks among confident negatives.
    pub score: f64,
    pub decided_by: Decider,
}

/// Read a blacklist: one pair per line, the two entity words separated by a tab (`#` comments allowed).
pub fn read_blacklist(path: &Path) -> Result<BTreeSet<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| ClassicError::io(path, e))?;
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('\t') {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                out.insert(pair_key(a.trim(), b.trim()));
            }
            _ => {
                return Err(ClassicError::parse(
                    path,
                    format!("line {}", i + 1),
                    "expected two entity words separated by a tab",
                ))
            }
        }
    }
    Ok(out)
}

impl ClassicModel {
    fn effective_label(config: &ClassicConfig, negative: &str, label: &str) -> String {
        match &config.collapse_positive {
            Some(p) if label != negative => p.clone(),
            _ => label.to_string(),
        }
    }

    /// Train on the pairs `train` of `corpus` (all labelled). `blacklist`: given pairs, or `None` to derive them
    /// from the training data when the spam filter is on.
    pub fn train(
        corpus: &Corpus,
        train: &[usize],
        config: &ClassicConfig,
        blacklist: Option<BTreeSet<(String, String)>>,
    ) -> Result<ClassicModel> {
        if train.is_empty() {
            return Err(ClassicError::Config("no training records".into()));
        }
        let mut raw_labels = BTreeSet::new();
        for &i in train {
            let p = &corpus.pairs[i];
            let l = p.label.as_deref().ok_or_else(|| ClassicError::record(&p.id, "training record has no label"))?;
            raw_labels.insert(l.to_string());
        }
        let negative = match &config.negative_label {
            Some(n) => n.clone(),
            None if raw_labels.contains("no_relation") => "no_relation".into(),
            None if raw_labels.contains("no") => "no".into(),
            None => {
                return Err(ClassicError::Config(format!(
                    "cannot tell the negative label among {raw_labels:?}; pass --negative-label"
                )))
            }
        };
        let labels: BTreeSet<String> = raw_labels.iter().map(|l| Self::effective_label(config, &negative, l)).collect();
        let gold: Vec<String> = train
            .iter()
            .map(|&i| Self::effective_label(config, &negative, corpus.pairs[i].label.as_deref().unwrap_or_default()))
            .collect();
        let is_pos: Vec<bool> = gold.iter().map(|l| *l != negative).collect();
        if !is_pos.iter().any(|&p| p) {
            tracing::warn!("training data has no positive record; every prediction will be {negative}");
        }
        let mut features = config.features.clone();
        features.max_eojeol_distance = config.filters.distance;
        let dim = features.dim();
        let xs: Vec<SparseVec> = train.par_iter().map(|&i| corpus.pair_vector(i, &features)).collect();
        let targets: Vec<String> = if labels.len() <= 2 {
            labels.iter().filter(|l| **l != negative).cloned().collect()
        } else {
            labels.iter().cloned().collect()
        };
        let classifiers: Vec<(String, LinearWeights)> = targets
            .par_iter()
            .map(|t| {
                let ys: Vec<bool> = gold.iter().map(|g| g == t).collect();
                (t.clone(), config.learner.train(&xs, &ys, dim))
            })
            .collect();

        // Sentence filter: a sentence is positive when any of its training pairs is.
        let sentence_filter = if config.filters.sentence {
            let mut sent_pos: HashMap<usize, bool> = HashMap::new();
            for (k, &i) in train.iter().enumerate() {
                *sent_pos.entry(corpus.pairs[i].sentence).or_default() |= is_pos[k];
            }
            let mut ids: Vec<usize> = sent_pos.keys().copied().collect();
            ids.sort_unstable();
            let sx: Vec<SparseVec> = ids.par_iter().map(|&s| corpus.sentence_vector(s, features.hash_bits)).collect();
            let sy: Vec<bool> = ids.iter().map(|s| sent_pos[s]).collect();
            Some(config.learner.train(&sx, &sy, dim))
        } else {
            None
        };

        // Spam filter: one-class SVM on the sentences of blacklisted pairs.
        let (blacklist, spam_filter) = if config.filters.spam {
            let list = match blacklist {
                Some(b) => b,
                None => derive_blacklist(corpus, train, &is_pos, config.blacklist_min_count),
            };
            let mut spam_sentences: Vec<usize> = train
                .iter()
                .filter(|&&i| list.contains(&corpus.pairs[i].key))
                .map(|&i| corpus.pairs[i].sentence)
                .collect();
            spam_sentences.sort_unstable();
            spam_sentences.dedup();
            if spam_sentences.is_empty() {
                tracing::warn!("spam filter: no training sentence contains a blacklisted pair; the filter is off");
                (list, None)
            } else {
                tracing::info!("spam filter: {} blacklisted pairs, {} sentences", list.len(), spam_sentences.len());
                let sx: Vec<SparseVec> =
                    spam_sentences.iter().map(|&s| corpus.sentence_vector(s, features.hash_bits)).collect();
                let oc = OneClassConfig { seed: config.learner.seed(), ..config.spam.clone() };
                (list, Some(train_one_class(&sx, dim, &oc)))
            }
        } else {
            (BTreeSet::new(), None)
        };
        let mut config = config.clone();
        config.negative_label = Some(negative.clone());
        Ok(ClassicModel {
            config,
            lexicon: corpus.lexicon.clone(),
            negative_label: negative,
            classifiers,
            sentence_filter,
            spam_filter,
            blacklist,
        })
    }

    /// Predict the pairs `items` of `corpus` (analysed with this model's lexicon).
    pub fn predict(&self, corpus: &Corpus, items: &[usize]) -> Vec<Prediction> {
        let mut features = self.config.features.clone();
        features.max_eojeol_distance = self.config.filters.distance;
        items
            .par_iter()
            .map(|&i| {
                let p = &corpus.pairs[i];
                let x = corpus.pair_vector(i, &features);
                let (label, score) = self.classify(&x);
                let sent = || corpus.sentence_vector(p.sentence, features.hash_bits);
                let mut decided_by = Decider::Classifier;
                if let Some(w) = &self.sentence_filter {
                    if w.score(&sent()) < self.config.sentence_threshold {
                        decided_by = Decider::Sentence;
                    }
                }
                if decided_by == Decider::Classifier {
                    if let Some(oc) = &self.spam_filter {
                        if self.blacklist.contains(&p.key) && oc.decision(&sent()) >= 0.0 {
                            decided_by = Decider::Spam;
                        }
                    }
                }
                let (label, score) = match decided_by {
                    Decider::Classifier => (label, score),
                    _ => (self.negative_label.clone(), score.min(-1.0)),
                };
                Prediction { id: p.id.clone(), label, score, decided_by }
            })
            .collect()
    }

    /// Label and score of the pair classifier alone.
    fn classify(&self, x: &SparseVec) -> (String, f64) {
        if self.classifiers.len() == 1 {
            let (label, w) = &self.classifiers[0];
            let s = w.score(x);
            return (if s > 0.0 { label.clone() } else { self.negative_label.clone() }, s);
        }
        let mut best: Option<(&str, f64)> = None;
        for (label, w) in &self.classifiers {
            let s = w.score(x);
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((label, s));
            }
        }
        best.map_or((self.negative_label.clone(), 0.0), |(l, s)| (l.to_string(), s))
    }

    /// Write `dir/model.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let file = ModelFile {
            format: MODEL_FORMAT.into(),
            config: self.config.clone(),
            clue_words: self.lexicon.words.clone(),
            negative_label: self.negative_label.clone(),
            classifiers: self.classifiers.iter().map(|(l, w)| (l.clone(), w.to_sparse())).collect(),
            sentence_filter: self.sentence_filter.as_ref().map(LinearWeights::to_sparse),
            spam_filter: self.spam_filter.as_ref().map(|m| (m.weights.to_sparse(), m.rho)),
            blacklist: self.blacklist.iter().cloned().collect(),
        };
        let path = dir.join("model.json");
        let json = serde_json::to_vec(&file).map_err(|e| ClassicError::Config(format!("serialising model: {e}")))?;
        re_data::fsutil::write_atomic(&path, &json)?;
        Ok(())
    }

    /// Read `dir/model.json`.
    pub fn load(dir: &Path) -> Result<ClassicModel> {
        let path = dir.join("model.json");
        let bytes = std::fs::read(&path).map_err(|e| ClassicError::io(&path, e))?;
        let file: ModelFile = serde_json::from_slice(&bytes)
            .map_err(|e| ClassicError::parse(&path, format!("line {}", e.line()), e.to_string()))?;
        if file.format != MODEL_FORMAT {
            return Err(ClassicError::parse(
                &path,
                "format",
                format!("expected {MODEL_FORMAT}, found {}", file.format),
            ));
        }
        let dense = |w: &SparseWeights| w.to_dense().map_err(|m| ClassicError::parse(&path, "weights", m));
        Ok(ClassicModel {
            lexicon: ClueLexicon::new(&file.clue_words),
            negative_label: file.negative_label,
            classifiers: file.classifiers.iter().map(|(l, w)| Ok((l.clone(), dense(w)?))).collect::<Result<_>>()?,
            sentence_filter: file.sentence_filter.as_ref().map(dense).transpose()?,
            spam_filter: match &file.spam_filter {
                Some((w, rho)) => Some(OneClassSvm { weights: dense(w)?, rho: *rho }),
                None => None,
            },
            blacklist: file.blacklist.into_iter().collect(),
            config: file.config,
        })
    }
}

const MODEL_FORMAT: &str = "kre-classic-model-v1";

#[derive(Serialize, Deserialize)]
struct ModelFile {
    format: String,
    config: ClassicConfig,
    clue_words: Vec<String>,
    negative_label: String,
    classifiers: Vec<(String, SparseWeights)>,
    sentence_filter: Option<SparseWeights>,
    spam_filter: Option<(SparseWeights, f64)>,
    blacklist: Vec<(String, String)>,
}

/// Pairs seen at least `min_count` times among `train` and never positive.
pub fn derive_blacklist(
    corpus: &Corpus,
    train: &[usize],
    is_pos: &[bool],
    min_count: usize,
) -> BTreeSet<(String, String)> {
    let mut stats: HashMap<&(String, String), (usize, bool)> = HashMap::new();
    for (k, &i) in train.iter().enumerate() {
        let e = stats.entry(&corpus.pairs[i].key).or_default();
        e.0 += 1;
        e.1 |= is_pos[k];
    }
    stats.into_iter().filter(|(_, (n, pos))| *n >= min_count && !pos).map(|(k, _)| k.clone()).collect()
}

/// Feature set used by `--feature-set` when none is given.
pub fn default_feature_set() -> FeatureSet {
    FeatureSet::PAPER_BEST
}
