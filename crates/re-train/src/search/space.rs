//! The search space: what the seed report tuned with Optuna (lr, batch size, epochs, max_length, dropout, scheduler,
//! focal loss on/off with γ and α, label smoothing, entity markers, pooling, concat-CLS) and how a sampled point
//! becomes a training configuration.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use re_data::markers::{MarkerScheme, TypedPunctOptions};
use re_models::head::SpanPooling;

use super::sampler::Distribution;
use crate::config::{Alpha, LabelSmoothing, LossKind, ModelSource, SchedulerKind, TrainConfig};

/// The `[space]` table. Lists are categorical choices, `[low, high]` pairs ranges; every field has a default, so
/// tables written for older versions (without `epochs`, `dropout`, `concat_cls`) still load.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSpace {
    /// Log-uniform range. Unset: chosen from `[base] model` ([`SearchSpace::default_lr_range`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<[f64; 2]>,
    pub batch_size: Vec<usize>,
    /// Integer range. Unset: `[base] epochs` for every trial (the number of epochs is also the budget); the
    /// report tuned 3..8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<[usize; 2]>,
    pub max_length: Vec<usize>,
    /// Uniform range of the head's dropout.
    pub dropout: [f64; 2],
    pub scheduler: Vec<SchedulerKind>,
    /// `ce` and/or `focal`: focal loss on or off.
    pub loss: Vec<LossKind>,
    /// Focal γ choices (sampled only for focal-loss trials).
    pub gamma: Vec<f64>,
    /// Focal α choices (sampled only for focal-loss trials).
    pub alpha: Vec<f64>,
    /// Uniform range.
    pub label_smoothing: [f64; 2],
    pub markers: Vec<MarkerScheme>,
    pub pooling: Vec<SpanPooling>,
    pub concat_cls: Vec<bool>,
}

impl Default for SearchSpace {
    fn default() -> Self {
        SearchSpace {
            lr: None,
            batch_size: vec![8, 16, 32],
            epochs: None,
            max_length: vec![128, 160, 200],
            dropout: [0.0, 0.2],
            scheduler: vec![
                SchedulerKind::Linear,
                SchedulerKind::Cosine,
                SchedulerKind::Polynomial,
                SchedulerKind::Constant,
            ],
            loss: vec![LossKind::Ce, LossKind::Focal],
            gamma: vec![0.5, 1.0, 1.5, 2.0],
            alpha: vec![0.25, 0.5, 0.75, 1.0],
            label_smoothing: [0.05, 0.2],
            markers: vec![
                MarkerScheme::TypedPunct(TypedPunctOptions::english()),
                MarkerScheme::Typed,
                MarkerScheme::Entity,
            ],
            pooling: vec![SpanPooling::EntityStart, SpanPooling::Mean, SpanPooling::Attention, SpanPooling::Cls],
            concat_cls: vec![false, true],
        }
    }
}

impl SearchSpace {
    /// The lr range when `[space] lr` is unset: around each model's default learning rate
    /// ([`ModelSource::default_lr`]), a randomly initialised `tiny` encoder needing ~30× more than fine-tuning.
    pub fn default_lr_range(model: &ModelSource) -> [f64; 2] {
        match model {
            ModelSource::Tiny(_) => [3e-4, 3e-3],
            ModelSource::Hub(_) => [1e-5, 5e-5],
        }
    }

    /// `Err((field, message))` for the first field that cannot be sampled.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        fn nonempty<T>(name: &'static str, v: &[T]) -> Result<(), (&'static str, String)> {
            if v.is_empty() {
                return Err((name, "needs at least one choice".into()));
            }
            Ok(())
        }
        fn range(name: &'static str, r: [f64; 2], lo: f64, hi: f64) -> Result<(), (&'static str, String)> {
            if !(r[0].is_finite() && r[1].is_finite() && r[0] <= r[1]) {
                return Err((name, format!("[{}, {}] is not a range [low, high] with low <= high", r[0], r[1])));
            }
            if r[0] < lo || r[1] > hi {
                return Err((name, format!("[{}, {}] must lie within [{lo}, {hi}]", r[0], r[1])));
            }
            Ok(())
        }
        if let Some(lr) = self.lr {
            range("lr", lr, f64::MIN_POSITIVE, 1.0)?;
        }
        nonempty("batch_size", &self.batch_size)?;
        if self.batch_size.contains(&0) {
            return Err(("batch_size", "must be positive".into()));
        }
        if let Some([lo, hi]) = self.epochs {
            if lo == 0 || lo > hi {
                return Err(("epochs", format!("[{lo}, {hi}] is not a range [low, high] with 1 <= low <= high")));
            }
        }
        nonempty("max_length", &self.max_length)?;
        if self.max_length.iter().any(|&m| m < 8) {
            return Err(("max_length", "choices must be at least 8 tokens".into()));
        }
        range("dropout", self.dropout, 0.0, 0.99)?;
        nonempty("scheduler", &self.scheduler)?;
        nonempty("loss", &self.loss)?;
        if self.loss.contains(&LossKind::Focal) {
            nonempty("gamma", &self.gamma)?;
            nonempty("alpha", &self.alpha)?;
            if self.gamma.iter().any(|g| !(g.is_finite() && *g >= 0.0)) {
                return Err(("gamma", "choices must be finite and non-negative".into()));
            }
            if self.alpha.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
                return Err(("alpha", "choices must be finite and positive".into()));
            }
        }
        range("label_smoothing", self.label_smoothing, 0.0, 0.99)?;
        nonempty("markers", &self.markers)?;
        nonempty("pooling", &self.pooling)?;
        nonempty("concat_cls", &self.concat_cls)?;
        Ok(())
    }

    /// Every parameter [`SearchSpace::sample`] may ask for, with its range, in the order it asks.
    pub(crate) fn distributions(&self, base: &TrainConfig) -> Vec<(String, Distribution)> {
        let cat = |name: &str, n: usize| (name.to_string(), Distribution::Categorical { n });
        let float = |name: &str, [low, high]: [f64; 2], log| (name.to_string(), Distribution::Float { low, high, log });
        let mut v = vec![
            float("lr", self.lr.unwrap_or_else(|| Self::default_lr_range(&base.model)), true),
            cat("batch_size", self.batch_size.len()),
        ];
        if let Some([lo, hi]) = self.epochs {
            v.push(("epochs".into(), Distribution::Int { low: lo as i64, high: hi as i64, step: 1 }));
        }
        v.extend([
            cat("max_length", self.max_length.len()),
            float("dropout", self.dropout, false),
            cat("scheduler", self.scheduler.len()),
            cat("loss", self.loss.len()),
            cat("gamma", self.gamma.len()),
            cat("alpha", self.alpha.len()),
            float("label_smoothing", self.label_smoothing, false),
            cat("markers", self.markers.len()),
            cat("pooling", self.pooling.len()),
            cat("concat_cls", self.concat_cls.len()),
        ]);
        v
    }

    /// A training configuration from `base` with every parameter of the space set by `suggest(name, range)` (which
    /// returns the internal representation: the value, or the index of a choice), and the parameters as sampled.
    /// γ and α are asked for only when the trial uses focal loss.
    pub(crate) fn sample(
        &self,
        base: &TrainConfig,
        suggest: impl FnMut(&str, &Distribution) -> f64,
    ) -> (TrainConfig, BTreeMap<String, f64>) {
        let mut p = Point { suggest, params: BTreeMap::new() };
        let mut c = base.clone();
        let lr = self.lr.unwrap_or_else(|| Self::default_lr_range(&base.model));
        c.lr = Some(p.float("lr", lr, true));
        c.batch_size = *p.choice("batch_size", &self.batch_size);
        if let Some([lo, hi]) = self.epochs {
            c.epochs = p.int("epochs", lo, hi);
        }
        c.max_length = *p.choice("max_length", &self.max_length);
        c.dropout = p.float("dropout", self.dropout, false);
        c.scheduler = *p.choice("scheduler", &self.scheduler);
        c.loss = *p.choice("loss", &self.loss);
        if c.loss == LossKind::Focal {
            c.gamma = *p.choice("gamma", &self.gamma);
            c.alpha = Alpha::Scalar(*p.choice("alpha", &self.alpha));
        }
        c.label_smoothing = LabelSmoothing::Fixed(p.float("label_smoothing", self.label_smoothing, false));
        c.markers = p.choice("markers", &self.markers).clone();
        c.pooling = *p.choice("pooling", &self.pooling);
        c.concat_cls = *p.choice("concat_cls", &self.concat_cls);
        (c, p.params)
    }
}

/// One trial's parameters as they are asked for.
struct Point<F> {
    suggest: F,
    params: BTreeMap<String, f64>,
}

impl<F: FnMut(&str, &Distribution) -> f64> Point<F> {
    fn ask(&mut self, name: &str, d: Distribution) -> f64 {
        let v = (self.suggest)(name, &d);
        self.params.insert(name.to_string(), v);
        v
    }

    fn float(&mut self, name: &str, [low, high]: [f64; 2], log: bool) -> f64 {
        // Clamped: a value read back from a study written with another space stays usable.
        self.ask(name, Distribution::Float { low, high, log }).clamp(low, high)
    }

    fn int(&mut self, name: &str, low: usize, high: usize) -> usize {
        let v = self.ask(name, Distribution::Int { low: low as i64, high: high as i64, step: 1 });
        (v.round() as usize).clamp(low, high)
    }

    /// `check` guarantees at least one choice.
    fn choice<'a, T>(&mut self, name: &str, choices: &'a [T]) -> &'a T {
        let i = self.ask(name, Distribution::Categorical { n: choices.len() });
        &choices[(i as usize).min(choices.len() - 1)]
    }
}
