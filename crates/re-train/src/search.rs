//! Hyper-parameter search: random search over the seed report's ranges with asynchronous successive
//! halving (a trial whose dev micro-F1 at a rung epoch is not in the top 1/η of earlier trials at that rung
//! is stopped). Every finished trial is appended to `STUDY/trials.jsonl`; re-running the same command
//! skips finished trials and resumes an interrupted one from its `last/` checkpoint.
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

use burn::tensor::backend::AutodiffBackend;

use re_data::markers::{MarkerScheme, TypedPunctOptions};
use re_models::head::SpanPooling;

use crate::checkpoint::{write_train_config, CONFIG_FILE};
use crate::config::{Alpha, DeviceSpec, LabelSmoothing, LossKind, SchedulerKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::progress::{StepInfo, TrainObserver};
use crate::trainer::{train, EpochMetrics, TrainSummary};

/// The search space; every field defaults to the seed report's range.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSpace {
    pub max_length: Vec<usize>,
    pub batch_size: Vec<usize>,
    /// Log-uniform range.
    pub lr: [f64; 2],
    pub scheduler: Vec<SchedulerKind>,
    pub loss: Vec<LossKind>,
    pub gamma: Vec<f64>,
    pub alpha: Vec<f64>,
    /// Uniform range.
    pub label_smoothing: [f64; 2],
    pub markers: Vec<MarkerScheme>,
    pub pooling: Vec<SpanPooling>,
}

impl Default for SearchSpace {
    fn default() -> Self {
        SearchSpace {
            max_length: vec![128, 160, 200],
            batch_size: vec![16, 24, 32],
            lr: [1e-5, 5e-5],
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
        }
    }
}

/// Successive-halving settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Pruner {
    /// First rung (epochs); later rungs are min_epochs × η^k.
    pub min_epochs: usize,
    /// η: keep the top 1/η at each rung.
    pub reduction_factor: usize,
    /// Set false to run every trial to the end.
    pub enabled: bool,
}

impl Default for Pruner {
    fn default() -> Self {
        Pruner { min_epochs: 1, reduction_factor: 2, enabled: true }
    }
}

/// `search.toml`: `[base]` is a training config (train/dev files, model, epochs, `device`, `precision` …),
/// `[space]` the ranges. Every trial trains on `base.device` in `base.precision`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    pub seed: u64,
    pub base: TrainConfig,
    pub space: SearchSpace,
    pub pruner: Pruner,
}

impl SearchConfig {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))
    }

    /// The configuration of trial `index`: a pure function of (seed, index), so a resumed study
    /// re-creates exactly the same trials.
    pub fn trial_config(&self, index: usize, study_dir: &Path) -> Result<TrainConfig> {
        let s = &self.space;
        let empty = |name: &str| TrainError::Config(format!("search space `{name}` is empty"));
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9).wrapping_add(index as u64));
        fn pick<'a, T>(rng: &mut ChaCha8Rng, v: &'a [T]) -> Option<&'a T> {
            (!v.is_empty()).then(|| &v[rng.random_range(0..v.len())])
        }
        let mut c = self.base.clone();
        c.max_length = *pick(&mut rng, &s.max_length).ok_or_else(|| empty("max_length"))?;
        c.batch_size = *pick(&mut rng, &s.batch_size).ok_or_else(|| empty("batch_size"))?;
        let (lo, hi) = (s.lr[0].ln(), s.lr[1].ln());
        c.lr = Some((lo + (hi - lo) * rng.random::<f64>()).exp());
        c.scheduler = *pick(&mut rng, &s.scheduler).ok_or_else(|| empty("scheduler"))?;
        c.loss = *pick(&mut rng, &s.loss).ok_or_else(|| empty("loss"))?;
        c.gamma = *pick(&mut rng, &s.gamma).ok_or_else(|| empty("gamma"))?;
        c.alpha = Alpha::Scalar(*pick(&mut rng, &s.alpha).ok_or_else(|| empty("alpha"))?);
        let (a, b) = (s.label_smoothing[0], s.label_smoothing[1]);
        c.label_smoothing = LabelSmoothing::Fixed(a + (b - a) * rng.random::<f64>());
        c.markers = pick(&mut rng, &s.markers).ok_or_else(|| empty("markers"))?.clone();
        c.pooling = *pick(&mut rng, &s.pooling).ok_or_else(|| empty("pooling"))?;
        c.out = study_dir.join(format!("trial-{index:03}"));
        c.resume = true;
        c.seed = self.base.seed;
        Ok(c)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    Complete,
    Pruned,
}

/// One line of `trials.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrialRecord {
    pub trial: usize,
    pub status: TrialStatus,
    pub best_micro_f1: f64,
    pub best_epoch: usize,
    /// Dev micro-F1 after each epoch that ran.
    pub curve: Vec<f64>,
    pub config: TrainConfig,
    /// The `kre train` command that reproduces this trial.
    pub command: String,
}

/// Read `trials.jsonl` (missing = none). A torn last line (killed mid-write) is ignored.
pub fn read_trials(path: &Path) -> Result<Vec<TrialRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        match serde_json::from_str(l) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() => tracing::warn!("{}: ignoring a torn last line", path.display()),
            Err(e) => return Err(TrainError::checkpoint(path, format!("line {}: {e}", i + 1))),
        }
    }
    Ok(out)
}

fn append_trial(path: &Path, rec: &TrialRecord) -> Result<()> {
    use std::io::Write;
    let line = serde_json::to_string(rec).map_err(|e| TrainError::checkpoint(path, e))?;
    let mut f =
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| TrainError::io(path, e))?;
    writeln!(f, "{line}").and_then(|_| f.sync_all()).map_err(|e| TrainError::io(path, e))
}

/// The `kre train` command that reproduces a trial: its full configuration is `OUT/train_config.toml`
/// ([`write_train_config`]), so nothing is lost in a flag string.
pub fn train_command(c: &TrainConfig) -> String {
    format!("kre train --config {}", c.out.join(CONFIG_FILE).display())
}

/// Stops a trial at a rung when it is not in the top 1/η of earlier trials at that rung.
struct HalvingObserver<'a> {
    inner: &'a mut dyn TrainObserver,
    pruner: Pruner,
    /// Earlier trials' dev micro-F1 curves.
    history: Vec<Vec<f64>>,
    pruned: bool,
}

impl HalvingObserver<'_> {
    fn is_rung(&self, epoch: usize) -> bool {
        let (mut r, eta) = (self.pruner.min_epochs.max(1), self.pruner.reduction_factor.max(2));
        while r < epoch {
            r *= eta;
        }
        r == epoch
    }
}

impl TrainObserver for HalvingObserver<'_> {
    fn on_epoch_start(&mut self, e: usize, n: usize, b: usize) {
        self.inner.on_epoch_start(e, n, b)
    }
    fn on_step(&mut self, i: &StepInfo) {
        self.inner.on_step(i)
    }
    fn on_epoch_end(&mut self, m: &EpochMetrics) {
        self.inner.on_epoch_end(m)
    }
    fn should_stop(&mut self, m: &EpochMetrics) -> bool {
        let (Some(score), true) = (m.micro_f1, self.pruner.enabled && self.is_rung(m.epoch)) else {
            return false;
        };
        let mut prior: Vec<f64> = self.history.iter().filter_map(|c| c.get(m.epoch - 1).copied()).collect();
        let eta = self.pruner.reduction_factor.max(2);
        if prior.len() < eta {
            return false;
        }
        prior.sort_by(|a, b| b.total_cmp(a));
        let keep = (prior.len() / eta).max(1);
        let threshold = prior[keep - 1];
        self.pruned = score < threshold;
        self.pruned
    }
}

/// Run (or resume) a study of `trials` trials in `study_dir` on one device of backend `B`. Returns every trial
/// record, best first.
pub fn run_study<B: AutodiffBackend>(
    cfg: &SearchConfig,
    trials: usize,
    study_dir: &Path,
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<Vec<TrialRecord>> {
    run_study_with(cfg, trials, study_dir, observer, &mut |tc, obs| train::<B>(tc, device, obs))
}

/// [`run_study`] with the training function given: `kre search` passes one that picks the backend (CPU, CUDA,
/// several GPUs, precision) from each trial's configuration, exactly as `kre train` does.
pub fn run_study_with(
    cfg: &SearchConfig,
    trials: usize,
    study_dir: &Path,
    observer: &mut dyn TrainObserver,
    train_fn: &mut dyn FnMut(&TrainConfig, &mut dyn TrainObserver) -> Result<TrainSummary>,
) -> Result<Vec<TrialRecord>> {
    cfg.base.validate()?;
    std::fs::create_dir_all(study_dir).map_err(|e| TrainError::io(study_dir, e))?;
    let saved = study_dir.join("search.toml");
    let text = toml::to_string_pretty(cfg).map_err(|e| TrainError::Config(e.to_string()))?;
    if let Ok(prev) = std::fs::read_to_string(&saved) {
        let prev: SearchConfig = toml::from_str(&prev).map_err(|e| TrainError::checkpoint(&saved, e.to_string()))?;
        // The devices may differ between sessions of one study (as for `kre train --resume`).
        let comparable = |c: &SearchConfig| {
            let mut c = c.clone();
            c.base.device = DeviceSpec::Cpu;
            c
        };
        if comparable(&prev) != comparable(cfg) {
            return Err(TrainError::Config(format!(
                "{} holds a study with a different search configuration; use another --study directory",
                study_dir.display()
            )));
        }
    }
    re_data::fsutil::write_atomic(&saved, text.as_bytes())?;
    let log = study_dir.join("trials.jsonl");
    let mut records = read_trials(&log)?;
    for index in 0..trials {
        if records.iter().any(|r| r.trial == index) {
            continue;
        }
        let tc = cfg.trial_config(index, study_dir)?;
        // Written before training starts, so even a trial that fails can be re-run with `train_command`.
        write_train_config(&tc.out, &tc)?;
        tracing::info!("trial {index}: {}", tc.describe());
        let mut halving = HalvingObserver {
            inner: &mut *observer,
            pruner: cfg.pruner.clone(),
            history: records.iter().map(|r| r.curve.clone()).collect(),
            pruned: false,
        };
        let summary = train_fn(&tc, &mut halving)?;
        let pruned = halving.pruned;
        let curve: Vec<f64> = summary.epochs.iter().map(|m| m.micro_f1.unwrap_or(f64::NAN)).collect();
        let rec = TrialRecord {
            trial: index,
            status: if pruned { TrialStatus::Pruned } else { TrialStatus::Complete },
            best_micro_f1: summary.best_micro_f1,
            best_epoch: summary.best_epoch,
            curve,
            command: train_command(&TrainConfig { resume: false, ..tc.clone() }),
            config: TrainConfig { resume: false, ..tc },
        };
        append_trial(&log, &rec)?;
        records.push(rec);
    }
    records.sort_by(|a, b| b.best_micro_f1.total_cmp(&a.best_micro_f1));
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_configs_are_deterministic_and_in_range() {
        let cfg = SearchConfig::default();
        let dir = Path::new("/tmp/study");
        let a = cfg.trial_config(3, dir).unwrap();
        assert_eq!(a, cfg.trial_config(3, dir).unwrap());
        assert_ne!(a, cfg.trial_config(4, dir).unwrap());
        for i in 0..50 {
            let c = cfg.trial_config(i, dir).unwrap();
            assert!((1e-5..=5e-5).contains(&c.lr.unwrap()));
            assert!([128, 160, 200].contains(&c.max_length));
            match c.label_smoothing {
                LabelSmoothing::Fixed(v) => assert!((0.05..=0.2).contains(&v)),
                LabelSmoothing::Auto => panic!(),
            }
            assert_eq!(c.out, dir.join(format!("trial-{i:03}")));
        }
    }

    #[test]
    fn halving_prunes_below_the_top_fraction_at_rungs_only() {
        let mut silent = crate::progress::Silent;
        let mut h = HalvingObserver {
            inner: &mut silent,
            pruner: Pruner::default(),
            history: vec![vec![50.0, 60.0], vec![40.0, 55.0], vec![30.0, 20.0], vec![20.0, 10.0]],
            pruned: false,
        };
        let m = |epoch, f1| EpochMetrics {
            epoch,
            step: 0,
            train_loss: 0.0,
            lr: 0.0,
            dev_loss: None,
            micro_f1: Some(f1),
            auprc: None,
            accuracy: None,
            fallback_spans: 0,
            label_smoothing: 0.0,
            samples_per_sec: 0.0,
            epoch_seconds: 0.0,
        };
        // Rung 1: top 1/2 of [50, 40, 30, 20] → threshold 40.
        assert!(!h.should_stop(&m(1, 45.0)));
        assert!(h.should_stop(&m(1, 35.0)));
        // Epoch 3 is not a rung (1, 2, 4, …).
        assert!(!h.should_stop(&m(3, 0.0)));
        assert!(h.is_rung(2) && h.is_rung(4) && !h.is_rung(3));
    }

    #[test]
    fn torn_last_line_is_ignored_but_corrupt_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trials.jsonl");
        let rec = TrialRecord {
            trial: 0,
            status: TrialStatus::Complete,
            best_micro_f1: 1.0,
            best_epoch: 1,
            curve: vec![1.0],
            config: TrainConfig::default(),
            command: "kre train".into(),
        };
        append_trial(&p, &rec).unwrap();
        std::fs::write(&p, format!("{}{{\"trial\": 1, \"sta", std::fs::read_to_string(&p).unwrap())).unwrap();
        assert_eq!(read_trials(&p).unwrap(), vec![rec.clone()]);
        std::fs::write(&p, format!("garbage\n{}\n", serde_json::to_string(&rec).unwrap())).unwrap();
        assert!(read_trials(&p).is_err());
    }
}
