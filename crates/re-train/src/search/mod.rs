//! Hyper-parameter search: TPE (Optuna's default sampler) or random sampling over the seed report's ranges, with
//! successive halving, Optuna's median rule or no pruning to stop weak trials early; dev micro-F1 is maximised.
//! Every finished trial is appended to `STUDY/trials.jsonl`; re-running the same command skips finished trials and
//! resumes an interrupted one from its `last/` checkpoint. A trial's parameters depend only on the seed and the
//! trials before it, so a resumed study proposes what an uninterrupted one would have.
//!
//! A study can also live in a database ([`storage`]: SQLite, PostgreSQL) that any number of workers share
//! ([`run_study_in`]): each trial is claimed atomically with its parameters, intermediate values are stored as
//! each epoch ends (so pruning sees the other workers' trials), and a heartbeat thread keeps the running trial
//! alive; a trial whose worker died is failed by another worker and run again.
pub mod export;
pub mod importance;
#[cfg(test)]
mod optuna_reference;
mod pruner;
pub mod report;
mod sampler;
mod space;
pub mod storage;
mod tpe;

pub use pruner::Pruner;
pub use sampler::{Distribution, Observation, Outcome, SamplerConfig, SamplerKind, TrialSampler};
pub use space::SearchSpace;
pub use storage::{StorageSpec, StoredTrial, StudyStorage, TrialState};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use storage::{Claim, ClaimedTrial, DirectoryStorage, Proposal, TrialResult};

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
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and checks a search.toml text; `origin` (a file or a storage) prefixes the errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let cfg: SearchConfig = toml::from_str(text).map_err(|e| TrainError::Config(format!("{origin}: {e}")))?;
        cfg.check().map_err(|e| TrainError::Config(format!("{origin}: {e}")))?;
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
        let observed: Vec<Observation> = history.iter().map(TrialRecord::observation).collect();
        self.propose(index, &observed, study_dir)
    }

    /// [`Self::trial_config`] from the finished trials' observations (those numbered `index` or above are
    /// ignored).
    fn propose(
        &self,
        index: usize,
        observed: &[Observation],
        runs_dir: &Path,
    ) -> Result<(TrainConfig, BTreeMap<String, f64>)> {
        self.check().map_err(TrainError::Config)?;
        let observed: Vec<Observation> = observed.iter().filter(|o| o.number < index).cloned().collect();
        let trial = self.sampler.start_trial(self.seed, index, &observed, &self.space.distributions(&self.base));
        let (c, params) = self.space.sample(&self.base, |name, d| trial.suggest(name, d));
        Ok((self.place(c, index, runs_dir), params))
    }

    /// The configuration of trial `index` whose parameters were stored when it was claimed (a trial claimed
    /// again after a failure runs what it was given first, wherever this worker keeps its run directories).
    fn stored_trial_config(
        &self,
        index: usize,
        params: &BTreeMap<String, f64>,
        runs_dir: &Path,
    ) -> Result<TrainConfig> {
        let mut missing = None;
        let (c, _) = self.space.sample(&self.base, |name, d| match params.get(name) {
            Some(&v) if d.contains(v) => v,
            _ => {
                missing.get_or_insert_with(|| name.to_string());
                0.0
            }
        });
        if let Some(name) = missing {
            return Err(TrainError::Config(format!(
                "trial {index}: the stored parameters have no valid `{name}` for this search space"
            )));
        }
        Ok(self.place(c, index, runs_dir))
    }

    fn place(&self, mut c: TrainConfig, index: usize, runs_dir: &Path) -> TrainConfig {
        c.out = runs_dir.join(format!("trial-{index:03}"));
        c.resume = true;
        c.seed = self.base.seed;
        c
    }
}

/// How this process takes part in a study that other workers may share.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerOptions {
    /// Stored with each trial this worker claims; `HOST-PID` by default.
    pub worker_id: String,
    /// How often the running trial's heartbeat is written.
    pub heartbeat_interval: Duration,
    /// A running trial whose heartbeat is older than this is failed by the next claim and run again.
    pub grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions::with_heartbeat(Duration::from_secs(30), None)
    }
}

impl WorkerOptions {
    /// Heartbeat every `interval`; `grace` defaults to twice that.
    pub fn with_heartbeat(interval: Duration, grace: Option<Duration>) -> Self {
        WorkerOptions {
            worker_id: default_worker_id(),
            heartbeat_interval: interval,
            grace: grace.unwrap_or(interval * 2),
        }
    }

    /// What is wrong with the heartbeat settings, if anything.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.heartbeat_interval.is_zero() {
            return Err("the heartbeat interval must be positive".into());
        }
        if self.grace <= self.heartbeat_interval {
            return Err(format!(
                "the heartbeat grace period ({:?}) must be longer than the heartbeat interval ({:?}), or live \
                 trials would be failed",
                self.grace, self.heartbeat_interval
            ));
        }
        Ok(())
    }

    /// How long a worker with nothing to claim waits before asking again (a running trial may fail meanwhile).
    fn poll_interval(&self) -> Duration {
        self.heartbeat_interval.clamp(Duration::from_millis(20), Duration::from_secs(5))
    }
}

/// `HOST-PID`.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}", std::process::id())
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

    /// The record of a finished stored trial (`None` for running and failed ones). The payload is what
    /// [`run_study_in`] stores: the configuration, the reproducing command and the best epoch.
    pub fn from_stored(t: &StoredTrial) -> Result<Option<TrialRecord>> {
        let status = match t.state {
            TrialState::Complete => TrialStatus::Complete,
            TrialState::Pruned => TrialStatus::Pruned,
            TrialState::Running | TrialState::Failed => return Ok(None),
        };
        let field = |name: &str| t.payload.get(name).cloned().unwrap_or(serde_json::Value::Null);
        let bad = |name: &str, e: serde_json::Error| TrainError::Other(format!("trial {}: {name}: {e}", t.number));
        Ok(Some(TrialRecord {
            trial: t.number,
            status,
            best_micro_f1: t.value.unwrap_or(f64::NAN),
            best_epoch: serde_json::from_value(field("best_epoch")).unwrap_or(0),
            curve: t.intermediate.clone(),
            config: serde_json::from_value(field("config")).map_err(|e| bad("config", e))?,
            command: field("command").as_str().unwrap_or_default().to_string(),
            params: t.params.clone(),
        }))
    }
}

/// What the samplers learn from the finished trials among `trials`.
fn observations(trials: &[StoredTrial]) -> Vec<Observation> {
    trials
        .iter()
        .filter_map(|t| {
            let outcome = match t.state {
                TrialState::Complete => Outcome::Complete(t.value.unwrap_or(f64::NAN)),
                TrialState::Pruned => Outcome::Pruned {
                    step: t.intermediate.len(),
                    value: t.intermediate.last().copied().unwrap_or(f64::NAN),
                },
                TrialState::Running | TrialState::Failed => return None,
            };
            Some(Observation { number: t.number, outcome, params: t.params.clone() })
        })
        .collect()
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

/// The `kre train` command that reproduces a trial: its full configuration is `OUT/train_config.toml`
/// ([`write_train_config`]), so nothing is lost in a flag string.
pub fn train_command(c: &TrainConfig) -> String {
    format!("kre train --config {}", c.out.join(CONFIG_FILE).display())
}

/// Asks the pruner after every epoch. With a storage, the epoch's value is stored first and the other trials'
/// values are read back, so pruning sees what the other workers' trials reported so far.
struct PruningObserver<'a> {
    inner: &'a mut dyn TrainObserver,
    pruner: &'a Pruner,
    /// (completed, dev micro-F1 curve) of the other trials.
    history: Vec<(bool, Vec<f64>)>,
    /// This trial's dev micro-F1 per epoch so far (NaN where an epoch had none), including epochs run before an
    /// interruption.
    curve: Vec<f64>,
    pruned: bool,
    shared: Option<SharedTrial<'a>>,
}

/// The running trial in its storage.
struct SharedTrial<'a> {
    storage: &'a dyn StudyStorage,
    number: usize,
    attempt: u32,
    /// Set when the storage says this attempt no longer runs the trial (declared stale, given to another worker).
    lost: &'a AtomicBool,
}

impl SharedTrial<'_> {
    fn lose(&self) {
        if !self.lost.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                "{}: trial {} was declared stale and given to another worker; stopping it here",
                self.storage.describe(),
                self.number
            );
        }
    }

    /// The other trials that ran or run (failed ones excluded): (completed, intermediate values).
    fn others(&self) -> Result<Vec<(bool, Vec<f64>)>> {
        Ok(self
            .storage
            .trials()?
            .into_iter()
            .filter(|t| t.number != self.number && t.state != TrialState::Failed)
            .map(|t| (t.state == TrialState::Complete, t.intermediate))
            .collect())
    }
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
        let value = m.micro_f1.unwrap_or(f64::NAN);
        self.curve.push(value);
        if let Some(shared) = &self.shared {
            match shared.storage.report(shared.number, shared.attempt, self.curve.len() - 1, value) {
                Ok(true) => {}
                Ok(false) => shared.lose(),
                Err(e) => tracing::warn!("trial {}: storing epoch {}'s value: {e}", shared.number, m.epoch),
            }
            if shared.lost.load(Ordering::SeqCst) {
                return true;
            }
            match shared.others() {
                Ok(h) => self.history = h,
                Err(e) => {
                    tracing::warn!("trial {}: reading the other trials (pruning on older values): {e}", shared.number)
                }
            }
        }
        let history: Vec<(bool, &[f64])> = self.history.iter().map(|(done, c)| (*done, c.as_slice())).collect();
        self.pruned = self.pruner.should_prune(&self.curve, &history);
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

/// The training function of a study: a trial's configuration and the observer that reports its epochs (and
/// decides pruning) in, its summary out.
pub type TrainFn<'a> = dyn FnMut(&TrainConfig, &mut dyn TrainObserver) -> Result<TrainSummary> + 'a;

/// [`run_study`] with the training function given: `kre search` passes one that picks the backend (CPU, CUDA,
/// several GPUs, precision) from each trial's configuration, exactly as `kre train` does. The study lives in
/// `study_dir` ([`DirectoryStorage`]: one worker).
pub fn run_study_with(
    cfg: &SearchConfig,
    trials: usize,
    study_dir: &Path,
    observer: &mut dyn TrainObserver,
    train_fn: &mut TrainFn<'_>,
) -> Result<Vec<TrialRecord>> {
    cfg.base.validate()?;
    cfg.check().map_err(TrainError::Config)?;
    let storage = DirectoryStorage::open(study_dir)?;
    run_study_in(&storage, cfg, trials, study_dir, &WorkerOptions::default(), observer, train_fn)
}

/// One worker of a study in `storage`, which other workers (processes, machines) may share: claims trials until
/// numbers `0..trials` are all complete or pruned, waiting while the last ones run elsewhere (one of them may
/// fail and need running again). Trial run directories go under `runs_dir` (`trial-NNN`). Returns every finished
/// trial's record, best first.
pub fn run_study_in(
    storage: &dyn StudyStorage,
    cfg: &SearchConfig,
    trials: usize,
    runs_dir: &Path,
    worker: &WorkerOptions,
    observer: &mut dyn TrainObserver,
    train_fn: &mut TrainFn<'_>,
) -> Result<Vec<TrialRecord>> {
    cfg.base.validate()?;
    cfg.check().map_err(TrainError::Config)?;
    worker.check().map_err(TrainError::Config)?;
    std::fs::create_dir_all(runs_dir).map_err(|e| TrainError::io(runs_dir, e))?;
    check_study_config(storage, cfg)?;
    loop {
        let mut propose = |number: usize, all: &[StoredTrial]| -> Result<Proposal> {
            let (tc, params) = cfg.propose(number, &observations(all), runs_dir)?;
            Ok(Proposal { params, payload: trial_payload(&tc, None) })
        };
        match storage.claim(trials, &worker.worker_id, worker.grace, &mut propose)? {
            Claim::Done => break,
            Claim::Wait => std::thread::sleep(worker.poll_interval()),
            Claim::Run(claimed) => run_trial(storage, cfg, runs_dir, worker, &claimed, observer, train_fn)?,
        }
    }
    let mut records = Vec::new();
    for t in storage.trials()? {
        records.extend(TrialRecord::from_stored(&t)?);
    }
    records.sort_by(|a, b| b.best_micro_f1.total_cmp(&a.best_micro_f1));
    Ok(records)
}

/// Stores `cfg` as the study's configuration, or checks it against the stored one (devices may differ between
/// workers and sessions, as for `kre train --resume`).
fn check_study_config(storage: &dyn StudyStorage, cfg: &SearchConfig) -> Result<()> {
    let text = toml::to_string_pretty(cfg).map_err(|e| TrainError::Config(e.to_string()))?;
    let stored = storage.init_config(&text)?;
    if stored == text {
        return Ok(());
    }
    let prev: SearchConfig = toml::from_str(&stored).map_err(|e| TrainError::Storage {
        storage: storage.describe(),
        message: format!("the stored search configuration does not load: {e}"),
    })?;
    let comparable = |c: &SearchConfig| {
        let mut c = c.clone();
        c.base.device = DeviceSpec::Cpu;
        c
    };
    if comparable(&prev) != comparable(cfg) {
        return Err(TrainError::Config(format!(
            "{} holds a study with a different search configuration; use another --study directory or --study-name",
            storage.describe()
        )));
    }
    Ok(())
}

/// What a trial's row carries besides its parameters: the configuration it runs, the command that reproduces
/// it, and once it finished its best epoch.
fn trial_payload(tc: &TrainConfig, best_epoch: Option<usize>) -> serde_json::Value {
    let config = TrainConfig { resume: false, ..tc.clone() };
    let mut payload = serde_json::json!({
        "config": serde_json::to_value(&config).unwrap_or_default(),
        "command": train_command(&config),
    });
    if let Some(e) = best_epoch {
        payload["best_epoch"] = e.into();
    }
    payload
}

/// Runs one claimed trial with a heartbeat thread beside it and stores how it ended. A training error marks the
/// trial failed (another worker, or this command run again, will retry it) and is returned.
fn run_trial(
    storage: &dyn StudyStorage,
    cfg: &SearchConfig,
    runs_dir: &Path,
    worker: &WorkerOptions,
    claimed: &ClaimedTrial,
    observer: &mut dyn TrainObserver,
    train_fn: &mut TrainFn<'_>,
) -> Result<()> {
    let (number, attempt) = (claimed.number, claimed.attempt);
    let outcome = (|| {
        let tc = cfg.stored_trial_config(number, &claimed.params, runs_dir)?;
        // Written before training starts, so even a trial that fails can be re-run with `train_command`.
        write_train_config(&tc.out, &tc)?;
        tracing::info!("trial {number} (attempt {attempt}, {}): {}", worker.worker_id, tc.describe());
        // An interrupted trial resumes after its last finished epoch; the pruner needs the epochs before it too.
        let metrics = tc.out.join(METRICS_FILE);
        let curve: Vec<f64> = if metrics.exists() {
            read_metrics(&metrics)?.iter().map(|m| m.micro_f1.unwrap_or(f64::NAN)).collect()
        } else {
            Vec::new()
        };
        for (step, v) in curve.iter().enumerate() {
            storage.report(number, attempt, step, *v)?;
        }
        let lost = AtomicBool::new(false);
        let shared = SharedTrial { storage, number, attempt, lost: &lost };
        let history = shared.others()?;
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (summary, pruned) = std::thread::scope(|s| {
            let beat = &shared;
            s.spawn(move || {
                // Ends when `tx` is dropped: after training, or while unwinding from a panic in it.
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(worker.heartbeat_interval) {
                    match beat.storage.heartbeat(beat.number, beat.attempt) {
                        Ok(true) => {}
                        Ok(false) => beat.lose(),
                        Err(e) => tracing::warn!("trial {}: heartbeat: {e}", beat.number),
                    }
                }
            });
            let mut pruning = PruningObserver {
                inner: &mut *observer,
                pruner: &cfg.pruner,
                history,
                curve,
                pruned: false,
                shared: Some(SharedTrial { storage, number, attempt, lost: &lost }),
            };
            let summary = train_fn(&tc, &mut pruning);
            drop(tx);
            (summary, pruning.pruned)
        });
        Ok::<_, TrainError>((tc, summary?, pruned))
    })();
    let (tc, summary, pruned) = match outcome {
        Ok(v) => v,
        Err(e) => {
            if let Err(fail) = storage.fail(number, attempt, &e.to_string()) {
                tracing::warn!("trial {number}: recording the failure: {fail}");
            }
            return Err(e);
        }
    };
    let result = TrialResult {
        state: if pruned { TrialState::Pruned } else { TrialState::Complete },
        value: summary.best_micro_f1,
        intermediate: summary.epochs.iter().map(|m| m.micro_f1.unwrap_or(f64::NAN)).collect(),
        payload: trial_payload(&tc, Some(summary.best_epoch)),
    };
    if !storage.finish(number, attempt, &result)? {
        tracing::warn!(
            "{}: trial {number} was given to another worker while this one ran it; its result here is dropped",
            storage.describe()
        );
    }
    Ok(())
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
            history: done.iter().map(|c| (true, c.clone())).collect(),
            // Epoch 1 ran before the interruption with a good value.
            curve: vec![35.0],
            pruned: false,
            shared: None,
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
        std::fs::write(&p, format!("{}\n{{\"trial\": 1, \"sta", serde_json::to_string(&rec).unwrap())).unwrap();
        assert_eq!(read_trials(&p).unwrap(), vec![rec.clone()]);
        std::fs::write(&p, format!("garbage\n{}\n", serde_json::to_string(&rec).unwrap())).unwrap();
        assert!(read_trials(&p).is_err());
    }
}
