//! Hyper-parameter search: TPE (Optuna's default sampler) or random sampling over the seed report's ranges, with
//! successive halving, Optuna's median rule or no pruning to stop weak trials early; dev micro-F1 is maximised.
//! Every finished trial is appended to `STUDY/trials.jsonl`; re-running the same command skips finished trials and
//! resumes an interrupted one from its `last/` checkpoint. A trial's parameters depend only on the seed and the
//! trials before it, so a resumed study proposes what an uninterrupted one would have.
pub mod export;
pub mod importance;
#[cfg(test)]
mod optuna_reference;
mod pruner;
pub mod report;
mod sampler;
mod space;
mod tpe;

pub use pruner::Pruner;
pub use sampler::{Distribution, Observation, Outcome, SamplerConfig, SamplerKind, TrialSampler};
pub use space::SearchSpace;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::backend::AutodiffBackend;

use crate::checkpoint::{write_train_config, CONFIG_FILE, METRICS_FILE};
use crate::config::{DeviceSpec, TrainConfig};
use crate::error::{Result, TrainError};
use crate::progress::{StepInfo, TrainObserver};
use crate::trainer::{read_metrics, train, EpochMetrics, TrainSummary};

/// `search.toml`: `[base]` is a training config (train/dev files, model, epochs, `device`, `precision` …),
/// `[space]` the ranges, `[sampler]` and `[pruner]` how trials are proposed and stopped. Every trial trains on
/// `base.device` in `base.precision`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Seed of the sampler (unless `[sampler] seed` is set); each trial trains with `[base] seed`.
    pub seed: u64,
    pub base: TrainConfig,
    pub space: SearchSpace,
    pub sampler: SamplerConfig,
    pub pruner: Pruner,
}

impl SearchConfig {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let cfg: SearchConfig =
            toml::from_str(&text).map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        cfg.check().map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        Ok(cfg)
    }

    /// What is wrong with the `[space]` and `[sampler]` tables, naming the field.
    pub fn check(&self) -> std::result::Result<(), String> {
        self.space.check().map_err(|(field, msg)| format!("[space] {field}: {msg}"))?;
        self.sampler.check().map_err(|msg| format!("[sampler] {msg}"))
    }

    /// The configuration of trial `index` and its parameters (internal representation, see [`Distribution`]),
    /// given the trials that finished before it. A pure function of the seed and `history`'s trials numbered
    /// below `index` (others are ignored), so a resumed study re-creates exactly the same trials.
    pub fn trial_config(
        &self,
        index: usize,
        history: &[TrialRecord],
        study_dir: &Path,
    ) -> Result<(TrainConfig, BTreeMap<String, f64>)> {
        self.check().map_err(TrainError::Config)?;
        let observed: Vec<Observation> =
            history.iter().filter(|r| r.trial < index).map(TrialRecord::observation).collect();
        let trial = self.sampler.start_trial(self.seed, index, &observed, &self.space.distributions(&self.base));
        let (mut c, params) = self.space.sample(&self.base, |name, d| trial.suggest(name, d));
        c.out = study_dir.join(format!("trial-{index:03}"));
        c.resume = true;
        c.seed = self.base.seed;
        Ok((c, params))
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
    /// The sampled parameters, internal representation (categoricals: index into the `[space]` list). Absent in
    /// records written before TPE; such trials count towards the number of trials but teach TPE nothing.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
}

impl TrialRecord {
    /// What the sampler learns from this trial: best dev micro-F1 if it completed, how far it got otherwise.
    pub fn observation(&self) -> Observation {
        let outcome = match self.status {
            TrialStatus::Complete => Outcome::Complete(self.best_micro_f1),
            TrialStatus::Pruned => {
                Outcome::Pruned { step: self.curve.len(), value: self.curve.last().copied().unwrap_or(f64::NAN) }
            }
        };
        Observation { number: self.trial, outcome, params: self.params.clone() }
    }
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

/// Asks the pruner after every epoch, with the trials that finished before this one.
struct PruningObserver<'a> {
    inner: &'a mut dyn TrainObserver,
    pruner: &'a Pruner,
    /// (completed, dev micro-F1 curve) of the earlier trials.
    history: Vec<(bool, &'a [f64])>,
    /// This trial's dev micro-F1 per epoch so far (NaN where an epoch had none), including epochs run before an
    /// interruption.
    curve: Vec<f64>,
    pruned: bool,
}

impl TrainObserver for PruningObserver<'_> {
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
        self.curve.resize(m.epoch.saturating_sub(1), f64::NAN);
        self.curve.push(m.micro_f1.unwrap_or(f64::NAN));
        self.pruned = self.pruner.should_prune(&self.curve, &self.history);
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
    cfg.check().map_err(TrainError::Config)?;
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
        let (tc, params) = cfg.trial_config(index, &records, study_dir)?;
        // Written before training starts, so even a trial that fails can be re-run with `train_command`.
        write_train_config(&tc.out, &tc)?;
        tracing::info!("trial {index}: {}", tc.describe());
        // An interrupted trial resumes after its last finished epoch; the pruner needs the epochs before it too.
        let metrics = tc.out.join(METRICS_FILE);
        let curve = if metrics.exists() {
            read_metrics(&metrics)?.iter().map(|m| m.micro_f1.unwrap_or(f64::NAN)).collect()
        } else {
            Vec::new()
        };
        let mut pruning = PruningObserver {
            inner: &mut *observer,
            pruner: &cfg.pruner,
            history: records
                .iter()
                .filter(|r| r.trial < index)
                .map(|r| (r.status == TrialStatus::Complete, r.curve.as_slice()))
                .collect(),
            curve,
            pruned: false,
        };
        let summary = train_fn(&tc, &mut pruning)?;
        let pruned = pruning.pruned;
        let curve: Vec<f64> = summary.epochs.iter().map(|m| m.micro_f1.unwrap_or(f64::NAN)).collect();
        let rec = TrialRecord {
            trial: index,
            status: if pruned { TrialStatus::Pruned } else { TrialStatus::Complete },
            best_micro_f1: summary.best_micro_f1,
            best_epoch: summary.best_epoch,
            curve,
            command: train_command(&TrainConfig { resume: false, ..tc.clone() }),
            config: TrainConfig { resume: false, ..tc },
            params,
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
    use crate::config::{LabelSmoothing, LossKind, ModelSource};

    fn record(
        trial: usize,
        status: TrialStatus,
        curve: Vec<f64>,
        tc: TrainConfig,
        params: BTreeMap<String, f64>,
    ) -> TrialRecord {
        TrialRecord {
            trial,
            status,
            best_micro_f1: curve.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            best_epoch: 1,
            curve,
            command: train_command(&tc),
            config: tc,
            params,
        }
    }

    #[test]
    fn trial_configs_are_deterministic_and_in_range() {
        let cfg = SearchConfig {
            space: SearchSpace { epochs: Some([2, 4]), ..SearchSpace::default() },
            ..SearchConfig::default()
        };
        let dir = Path::new("/tmp/study");
        let a = cfg.trial_config(3, &[], dir).unwrap();
        assert_eq!(a, cfg.trial_config(3, &[], dir).unwrap());
        assert_ne!(a.0, cfg.trial_config(4, &[], dir).unwrap().0);
        let mut focal = 0;
        for i in 0..60 {
            let (c, params) = cfg.trial_config(i, &[], dir).unwrap();
            // The default model is `tiny`: its lr range sits around its default lr of 1e-3.
            assert!((3e-4..=3e-3).contains(&c.lr.unwrap()));
            assert!([128, 160, 200].contains(&c.max_length));
            assert!((2..=4).contains(&c.epochs));
            assert!((0.0..=0.2).contains(&c.dropout));
            match c.label_smoothing {
                LabelSmoothing::Fixed(v) => assert!((0.05..=0.2).contains(&v)),
                LabelSmoothing::Auto => panic!(),
            }
            // γ and α are parameters of focal-loss trials only.
            assert_eq!(params.contains_key("gamma"), c.loss == LossKind::Focal);
            focal += usize::from(c.loss == LossKind::Focal);
            assert_eq!(c.out, dir.join(format!("trial-{i:03}")));
        }
        assert!((10..50).contains(&focal), "{focal}");
        // A checkpoint gets the fine-tuning range.
        let hub = SearchConfig {
            base: TrainConfig { model: ModelSource::Hub("klue/roberta-large".into()), ..TrainConfig::default() },
            ..cfg.clone()
        };
        for i in 0..20 {
            assert!((1e-5..=5e-5).contains(&hub.trial_config(i, &[], dir).unwrap().0.lr.unwrap()));
        }
    }

    /// `distributions` (what multivariate TPE draws jointly) lists every parameter `sample` asks for, same ranges.
    #[test]
    fn distributions_list_every_sampled_parameter() {
        let cfg = SearchConfig {
            space: SearchSpace { epochs: Some([2, 4]), ..SearchSpace::default() },
            ..SearchConfig::default()
        };
        let listed = cfg.space.distributions(&cfg.base);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..40 {
            let sampler = SamplerConfig { kind: SamplerKind::Random, ..SamplerConfig::default() };
            cfg.space.sample(&cfg.base, |name, d| {
                let entry = listed.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} not listed"));
                assert_eq!(&entry.1, d, "{name}");
                seen.insert(name.to_string());
                sampler.suggest(0, name, d, i, &[])
            });
        }
        assert_eq!(seen.len(), listed.len(), "every listed parameter is asked for by some trial");
    }

    /// Trial k's parameters depend on the trials before it only: later records (as a resumed study directory may
    /// hold) change nothing, and after 10 trials TPE uses them.
    #[test]
    fn proposals_depend_on_earlier_trials_only() {
        let cfg = SearchConfig { seed: 9, ..SearchConfig::default() };
        let dir = Path::new("/tmp/study");
        let mut records = Vec::new();
        for i in 0..14 {
            let (tc, params) = cfg.trial_config(i, &records, dir).unwrap();
            let f1 = 50.0 + 10.0 * (tc.lr.unwrap().log10() + 3.0);
            records.push(record(i, TrialStatus::Complete, vec![f1], tc, params));
        }
        for k in [3, 11, 13] {
            let full = cfg.trial_config(k, &records, dir).unwrap();
            let prefix = cfg.trial_config(k, &records[..k], dir).unwrap();
            assert_eq!(full, prefix, "trial {k}");
            assert_eq!(full.1, records[k].params, "trial {k} re-proposed differently");
        }
        // Before n_startup_trials the history is not used; after it is.
        let fake: Vec<TrialRecord> =
            records.iter().map(|r| TrialRecord { best_micro_f1: -r.best_micro_f1, ..r.clone() }).collect();
        assert_eq!(cfg.trial_config(5, &fake, dir).unwrap(), cfg.trial_config(5, &records, dir).unwrap());
        assert_ne!(cfg.trial_config(12, &fake, dir).unwrap().1, cfg.trial_config(12, &records, dir).unwrap().1);
    }

    #[test]
    fn bad_space_is_refused_naming_the_field() {
        let cfg = SearchConfig {
            space: SearchSpace { max_length: vec![], ..SearchSpace::default() },
            ..SearchConfig::default()
        };
        let e = cfg.trial_config(0, &[], Path::new("/tmp/s")).unwrap_err().to_string();
        assert!(e.contains("[space] max_length"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("search.toml");
        std::fs::write(&p, "[space]\nlr = [1e-3, 1e-4]\n").unwrap();
        let e = SearchConfig::from_toml_file(&p).unwrap_err().to_string();
        assert!(e.contains("search.toml") && e.contains("[space] lr"), "{e}");
        std::fs::write(&p, "[sampler]\nkind = \"grid\"\n").unwrap();
        let e = SearchConfig::from_toml_file(&p).unwrap_err().to_string();
        assert!(e.contains("search.toml") && e.contains("grid"), "{e}");
    }

    /// A search.toml written before TPE (old `[space]` fields only, old `[pruner]` table) loads: successive
    /// halving, TPE, the old ranges.
    #[test]
    fn old_search_toml_loads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("search.toml");
        let old = "seed = 3\n[space]\nmax_length = [128]\nbatch_size = [16, 32]\nlr = [1e-5, 5e-5]\n\
                   label_smoothing = [0.05, 0.2]\ngamma = [1.0]\nalpha = [0.25]\n\
                   [pruner]\nmin_epochs = 1\nreduction_factor = 2\nenabled = false\n";
        std::fs::write(&p, old).unwrap();
        let cfg = SearchConfig::from_toml_file(&p).unwrap();
        assert_eq!(cfg.pruner, Pruner::None);
        assert_eq!(cfg.sampler.kind, SamplerKind::Tpe);
        assert_eq!(cfg.space.lr, Some([1e-5, 5e-5]));
        assert_eq!(cfg.space.batch_size, vec![16, 32]);
        // And what kre writes reads back equal (the study directory's copy is compared on resume).
        let text = toml::to_string_pretty(&cfg).unwrap();
        assert_eq!(toml::from_str::<SearchConfig>(&text).unwrap(), cfg);
    }

    #[test]
    fn pruning_observer_keeps_epochs_from_before_a_resume() {
        let mut silent = crate::progress::Silent;
        let done: Vec<Vec<f64>> = (0..5).map(|i| vec![10.0 * i as f64, 10.0 * i as f64 + 5.0]).collect();
        let pruner = Pruner::median();
        let mut obs = PruningObserver {
            inner: &mut silent,
            pruner: &pruner,
            history: done.iter().map(|c| (true, c.as_slice())).collect(),
            // Epoch 1 ran before the interruption with a good value.
            curve: vec![35.0],
            pruned: false,
        };
        let m = EpochMetrics {
            epoch: 2,
            step: 0,
            train_loss: 0.0,
            lr: 0.0,
            dev_loss: None,
            micro_f1: Some(0.0),
            auprc: None,
            accuracy: None,
            fallback_spans: 0,
            label_smoothing: 0.0,
            samples_per_sec: 0.0,
            epoch_seconds: 0.0,
        };
        // Median at epoch 2 is 25; the best so far (35, epoch 1) keeps the trial.
        assert!(!obs.should_stop(&m));
        assert_eq!(obs.curve, vec![35.0, 0.0]);
        obs.curve.clear();
        assert!(obs.should_stop(&m), "without epoch 1 the trial is below the median");
    }

    #[test]
    fn torn_last_line_is_ignored_but_corrupt_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trials.jsonl");
        let rec = record(0, TrialStatus::Complete, vec![1.0], TrainConfig::default(), BTreeMap::new());
        append_trial(&p, &rec).unwrap();
        std::fs::write(&p, format!("{}{{\"trial\": 1, \"sta", std::fs::read_to_string(&p).unwrap())).unwrap();
        assert_eq!(read_trials(&p).unwrap(), vec![rec.clone()]);
        std::fs::write(&p, format!("garbage\n{}\n", serde_json::to_string(&rec).unwrap())).unwrap();
        assert!(read_trials(&p).is_err());
    }
}
