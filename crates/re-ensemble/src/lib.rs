//! Ensembles of relation classifiers over `submission.csv` files (`id,pred_label,probs`).
//!
//! Inputs are aligned by `id` with `re-submission` (files may list rows in any order; the output follows the first
//! file), validated (missing/duplicated ids, wrong number of probabilities, NaN, rows not summing to 1 ± 1e-3 are
//! errors naming the file and the id), then combined with one of the [`Method`]s:
//!
//! - hard voting: majority of the models' argmax labels, ties broken by the highest summed probability;
//! - soft voting: mean of the probabilities;
//! - logit averaging: mean of the log-probabilities, then softmax;
//! - weighted: weighted mean of the probabilities — weights given, proportional to each model's dev micro-F1
//!   ([`weights_from_dev`]), or searched on dev over a grid on the simplex ([`search_weights`]); [`fit_weights`]
//!   does either and reports the dev scores.
//!
//! Dependencies: `re-submission` (csv + serde), `re-metrics`, rayon, tracing — no tokenizers, parquet, arrow or burn.
//!
//! ```
//! use re_ensemble::{align, combine, Method, ModelOutput};
//! use re_ensemble::{Submission, SubmissionRow};
//!
//! let row = |id: &str, p: Vec<f64>| SubmissionRow { id: id.into(), pred_label: String::new(), probs: p };
//! let a = ModelOutput::new("a.csv", Submission { rows: vec![row("1", vec![0.2, 0.8]), row("2", vec![0.6, 0.4])] });
//! let b = ModelOutput::new("b.csv", Submission { rows: vec![row("2", vec![1.0, 0.0]), row("1", vec![0.4, 0.6])] });
//! let aligned = align(&[a, b], 2).unwrap();
//! let out = combine(&aligned, &Method::Soft).unwrap();
//! assert_eq!(aligned.ids, vec!["1", "2"]);
//! assert!((out.probs[1] - 0.7).abs() < 1e-12); // id 1, class 1: (0.8 + 0.6) / 2
//! assert_eq!(out.pred, vec![1, 0]);
//! ```
use rayon::prelude::*;
use re_metrics::MetricsError;
// Alignment by id and submission I/O live in the light re-submission crate; re-exported so users of the ensemble
// need one dependency.
pub use re_submission::{
    align, align_gold, validate, Aligned, Submission, SubmissionError, SubmissionRow, SUM_TOLERANCE,
};

/// Floor applied to probabilities before taking logarithms (a probability of exactly 0 would give −∞).
const LOG_FLOOR: f64 = 1e-12;

/// Result alias of this crate.
pub type Result<T, E = EnsembleError> = std::result::Result<T, E>;

/// Everything that can go wrong while combining submissions. File-related errors (missing/duplicated ids, bad
/// rows) come from `re-submission` and name the file and the id.
#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    /// Reading, validating or aligning a submission failed.
    #[error(transparent)]
    Submission(#[from] SubmissionError),
    /// A metric could not be computed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// No submissions were given.
    #[error("no submissions to combine")]
    NoInputs,
    /// Weights are unusable (wrong count, negative, NaN, all zero).
    #[error("invalid weights: {0}")]
    InvalidWeights(String),
    /// The label map does not match the number of probability columns.
    #[error("{names} label names for {columns} probability columns (is --label-map right?)")]
    LabelCount { names: usize, columns: usize },
}

/// One model's submission and the file it came from (the name this crate has always used for
/// [`re_submission::SubmissionFile`]).
pub use re_submission::SubmissionFile as ModelOutput;

/// How the models are combined.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// Majority vote of the argmax labels; ties go to the tied label with the highest summed probability (then the
    /// lowest label id). The output probabilities are the soft-voting mean.
    Hard,
    /// Mean of the probabilities.
    Soft,
    /// Mean of the log-probabilities (floored at 1e-12), then softmax.
    Logit,
    /// Weighted mean of the probabilities; the weights are normalised to sum to 1.
    Weighted(Vec<f64>),
}

/// Combined predictions.
#[derive(Clone, Debug, PartialEq)]
pub struct Combined {
    /// Row-major `[n, num_labels]` probabilities.
    pub probs: Vec<f64>,
    /// Predicted label id per row.
    pub pred: Vec<usize>,
}

/// First index of the maximum (scikit-learn/NumPy argmax convention).
fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Normalises non-negative weights to sum to 1; one per model.
pub fn normalise_weights(weights: &[f64], num_models: usize) -> Result<Vec<f64>> {
    if weights.len() != num_models {
        return Err(EnsembleError::InvalidWeights(format!("{} weights for {num_models} models", weights.len())));
    }
    if let Some(w) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
        return Err(EnsembleError::InvalidWeights(format!("{w} is not a finite non-negative number")));
    }
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Err(EnsembleError::InvalidWeights("the weights sum to 0".into()));
    }
    Ok(weights.iter().map(|w| w / total).collect())
}

fn weighted_mean(aligned: &Aligned, weights: &[f64]) -> Vec<f64> {
    let len = aligned.ids.len() * aligned.num_labels;
    let mut out = vec![0.0; len];
    for (model, &w) in aligned.probs.iter().zip(weights) {
        for (o, p) in out.iter_mut().zip(model) {
            *o += w * p;
        }
    }
    out
}

/// Combines aligned submissions with `method`.
pub fn combine(aligned: &Aligned, method: &Method) -> Result<Combined> {
    let m = aligned.num_models();
    if m == 0 {
        return Err(EnsembleError::NoInputs);
    }
    let k = aligned.num_labels;
    let uniform = vec![1.0 / m as f64; m];
    let probs = match method {
        Method::Hard | Method::Soft => weighted_mean(aligned, &uniform),
        Method::Weighted(w) => weighted_mean(aligned, &normalise_weights(w, m)?),
        Method::Logit => {
            let mut out = vec![0.0; aligned.ids.len() * k];
            for model in &aligned.probs {
                for (o, p) in out.iter_mut().zip(model) {
                    *o += p.max(LOG_FLOOR).ln() / m as f64;
                }
            }
            for row in out.chunks_mut(k.max(1)) {
                // Stable softmax: subtract the row maximum first.
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - max).exp();
                    total += *v;
                }
                for v in row.iter_mut() {
                    *v /= total;
                }
            }
            out
        }
    };
    let pred = match method {
        Method::Hard => (0..aligned.ids.len())
            .map(|i| {
                let mut votes = vec![0usize; k];
                for model in &aligned.probs {
                    votes[argmax(&model[i * k..(i + 1) * k])] += 1;
                }
                let mean = &probs[i * k..(i + 1) * k];
                let mut best = 0;
                for c in 1..k {
                    if votes[c] > votes[best] || (votes[c] == votes[best] && mean[c] > mean[best]) {
                        best = c;
                    }
                }
                best
            })
            .collect(),
        _ => probs.chunks(k.max(1)).map(argmax).collect(),
    };
    Ok(Combined { probs, pred })
}

/// Dev micro-F1 (×100, without `no_relation`) of each model on its own.
pub fn model_scores(aligned: &Aligned, gold: &[usize], no_relation: usize) -> Result<Vec<f64>> {
    aligned
        .probs
        .iter()
        .map(|p| {
            let pred: Vec<usize> = p.chunks(aligned.num_labels.max(1)).map(argmax).collect();
            Ok(re_metrics::micro_f1_without_no_relation(gold, &pred, aligned.num_labels, no_relation)?)
        })
        .collect()
}

/// Weights proportional to each model's dev micro-F1 (the seed's rule), normalised to sum to 1. Returns the weights
/// and the models' scores.
pub fn weights_from_dev(aligned: &Aligned, gold: &[usize], no_relation: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let scores = model_scores(aligned, gold, no_relation)?;
    let weights = normalise_weights(&scores, scores.len())
        .map_err(|_| EnsembleError::InvalidWeights("every model scores micro-F1 = 0 on dev".into()))?;
    Ok((weights, scores))
}

/// Result of [`search_weights`].
#[derive(Clone, Debug, PartialEq)]
pub struct WeightSearch {
    /// The best weights (sum to 1).
    pub weights: Vec<f64>,
    /// Dev micro-F1 ×100 of the weighted ensemble with those weights.
    pub dev_micro_f1: f64,
    /// Number of weight vectors tried.
    pub candidates: usize,
}

/// All weight vectors with entries in multiples of `1 / steps` summing to 1, as integer numerators.
fn simplex_grid(num_models: usize, steps: usize) -> Vec<Vec<usize>> {
    fn rec(left: usize, slots: usize, prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if slots == 1 {
            prefix.push(left);
            out.push(prefix.clone());
            prefix.pop();
            return;
        }
        for v in (0..=left).rev() {
            prefix.push(v);
            rec(left - v, slots - 1, prefix, out);
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    if num_models > 0 {
        rec(steps, num_models, &mut Vec::new(), &mut out);
    }
    out
}

/// Grid search over the simplex with step `step` (e.g. 0.1) for the weights maximising dev micro-F1. Ties keep
/// the candidate closest to uniform weights (then the first in grid order), so equal scores do not favour one model.
pub fn search_weights(aligned: &Aligned, gold: &[usize], no_relation: usize, step: f64) -> Result<WeightSearch> {
    let m = aligned.num_models();
    if m == 0 {
        return Err(EnsembleError::NoInputs);
    }
    if !(step > 0.0 && step <= 1.0) || ((1.0 / step) - (1.0 / step).round()).abs() > 1e-9 {
        return Err(EnsembleError::InvalidWeights(format!("grid step {step} must divide 1 (e.g. 0.1, 0.25)")));
    }
    let steps = (1.0 / step).round() as usize;
    let grid = simplex_grid(m, steps);
    let scored: Vec<(f64, f64, usize)> = grid
        .par_iter()
        .enumerate()
        .map(|(i, numerators)| {
            let weights: Vec<f64> = numerators.iter().map(|&n| n as f64 / steps as f64).collect();
            let probs = weighted_mean(aligned, &weights);
            let pred: Vec<usize> = probs.chunks(aligned.num_labels.max(1)).map(argmax).collect();
            let score = re_metrics::micro_f1_without_no_relation(gold, &pred, aligned.num_labels, no_relation)?;
            let spread: f64 = weights.iter().map(|w| (w - 1.0 / m as f64).powi(2)).sum();
            Ok((score, spread, i))
        })
        .collect::<Result<_>>()?;
    let (score, _, best) = scored
        .into_iter()
        .reduce(|a, b| {
            let better = b.0 > a.0 || (b.0 == a.0 && (b.1 < a.1 - 1e-12 || ((b.1 - a.1).abs() <= 1e-12 && b.2 < a.2)));
            if better {
                b
            } else {
                a
            }
        })
        .ok_or(EnsembleError::NoInputs)?;
    let weights = grid[best].iter().map(|&n| n as f64 / steps as f64).collect();
    tracing::info!(candidates = grid.len(), dev_micro_f1 = score, "weight search done");
    Ok(WeightSearch { weights, dev_micro_f1: score, candidates: grid.len() })
}

/// How [`fit_weights`] chooses the weights of a weighted ensemble from dev predictions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightFit {
    /// Proportional to each model's dev micro-F1 ([`weights_from_dev`]).
    DevF1,
    /// Grid search over the simplex with this step ([`search_weights`]).
    Search {
        /// Grid step; must divide 1 (0.1, 0.25 …).
        step: f64,
    },
}

/// Weights fitted on dev data, with the evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct FittedWeights {
    /// The weights, one per model, summing to 1.
    pub weights: Vec<f64>,
    /// Dev micro-F1 ×100 of each model alone.
    pub model_dev_micro_f1: Vec<f64>,
    /// Dev micro-F1 ×100 of the weighted ensemble with [`FittedWeights::weights`].
    pub dev_micro_f1: f64,
    /// Number of weight vectors tried ([`WeightFit::Search`] only).
    pub candidates: Option<usize>,
}

/// Fits ensemble weights on `dev` (predictions of the same models on a labelled dev set, aligned) against `gold`
/// (label ids in `dev.ids` order, e.g. from [`align_gold`]).
pub fn fit_weights(dev: &Aligned, gold: &[usize], no_relation: usize, fit: WeightFit) -> Result<FittedWeights> {
    let model_dev_micro_f1 = model_scores(dev, gold, no_relation)?;
    match fit {
        WeightFit::Search { step } => {
            let found = search_weights(dev, gold, no_relation, step)?;
            Ok(FittedWeights {
                weights: found.weights,
                model_dev_micro_f1,
                dev_micro_f1: found.dev_micro_f1,
                candidates: Some(found.candidates),
            })
        }
        WeightFit::DevF1 => {
            let weights = normalise_weights(&model_dev_micro_f1, model_dev_micro_f1.len())
                .map_err(|_| EnsembleError::InvalidWeights("every model scores micro-F1 = 0 on dev".into()))?;
            let combined = combine(dev, &Method::Weighted(weights.clone()))?;
            let dev_micro_f1 =
                re_metrics::micro_f1_without_no_relation(gold, &combined.pred, dev.num_labels, no_relation)?;
            Ok(FittedWeights { weights, model_dev_micro_f1, dev_micro_f1, candidates: None })
        }
    }
}

/// Builds the output submission: ids in `aligned` order, `pred_label` from `label_names`.
pub fn to_submission<S: AsRef<str>>(aligned: &Aligned, combined: &Combined, label_names: &[S]) -> Result<Submission> {
    if label_names.len() != aligned.num_labels {
        return Err(EnsembleError::LabelCount { names: label_names.len(), columns: aligned.num_labels });
    }
    let k = aligned.num_labels;
    let rows = aligned
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| SubmissionRow {
            id: id.clone(),
            pred_label: label_names[combined.pred[i]].as_ref().to_string(),
            probs: combined.probs[i * k..(i + 1) * k].to_vec(),
        })
        .collect();
    Ok(Submission { rows })
}
