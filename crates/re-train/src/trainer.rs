//! The fine-tuning loop: data → encoder → loss → AdamW, one JSON line of dev metrics per epoch, the best
//! model and the resumable last state saved atomically.
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::SimpleOptimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::activation::softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Element, FloatDType, Tensor, TensorData};
use re_data::encode::{EncodedExample, RecordTokenizer};
use re_data::labels::LabelMap;
use re_data::record::EntityType;
use re_data::RelationRecord;
use re_models::head::RelationHeadConfig;
use serde::{Deserialize, Serialize};

use crate::batches::{epoch_batches, eval_batches};
use crate::checkpoint::*;
use crate::config::{DeviceSpec, ModelSource, Precision, TrainConfig};
use crate::distributed::{
    broadcast_bytes, broadcast_parameters, check_device_counts, pack_dir, unpack_dir, NodeGroup, Peers,
};
use crate::error::{Result, TrainError};
use crate::infer::{InferenceEngine, Predictor};
use crate::loss::Objective;
use crate::model::RelationClassifier;
use crate::optim::{clip_global_norm, FusedAdamW, GroupedAdamW, MasterAdamW};
use crate::parallel::{batch_gradients_on_nodes, collate, collective_lock, is_half_backend, GradPrep};
use crate::progress::{StepInfo, TrainObserver};
use crate::schedule::LrSchedule;

/// One line of `metrics.jsonl`. All fields but `samples_per_sec` and `epoch_seconds` are deterministic
/// for a seed on CPU.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub step: usize,
    pub train_loss: f64,
    pub lr: f64,
    pub dev_loss: Option<f64>,
    pub micro_f1: Option<f64>,
    pub auprc: Option<f64>,
    pub accuracy: Option<f64>,
    /// Spans that were empty/cut and fell back to CLS (train + dev) this epoch.
    pub fallback_spans: usize,
    pub label_smoothing: f64,
    pub samples_per_sec: f64,
    pub epoch_seconds: f64,
}

impl EpochMetrics {
    /// The deterministic part (wall-clock fields zeroed), for comparing runs.
    pub fn without_timing(&self) -> Self {
        EpochMetrics { samples_per_sec: 0.0, epoch_seconds: 0.0, ..self.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct TrainSummary {
    pub run_dir: PathBuf,
    pub best_micro_f1: f64,
    pub best_epoch: usize,
    pub epochs: Vec<EpochMetrics>,
    pub stopped_early: bool,
}

/// Read a data file through `re-data` with the label map (labels outside it are an error).
pub fn load_records(path: &Path, labels: &LabelMap) -> Result<Vec<RelationRecord>> {
    let options = re_data::io::ReadOptions {
        labels: re_data::io::LabelSource::Map(labels.clone()),
        validation: Default::default(),
    };
    Ok(re_data::io::read_records(path, &options)?.records)
}

pub fn label_ids(records: &[RelationRecord], labels: &LabelMap, path: &Path) -> Result<Vec<usize>> {
    records
        .iter()
        .map(|r| {
            let name = r.label.as_deref().ok_or_else(|| {
                TrainError::Data(re_data::DataError::invalid_record(path, &r.id, "record has no label"))
            })?;
            labels.id(name).ok_or_else(|| {
                TrainError::Data(re_data::DataError::invalid_record(
                    path,
                    &r.id,
                    format!("label {name:?} is not in the label map ({})", labels.describe()),
                ))
            })
        })
        .collect()
}

fn encode_records(
    enc: &RecordTokenizer,
    records: &[RelationRecord],
    labels: Option<&[usize]>,
) -> Result<Vec<EncodedExample>> {
    let label_opts: Option<Vec<Option<usize>>> = labels.map(|l| l.iter().map(|&x| Some(x)).collect());
    Ok(enc.encode_all(records, label_opts.as_deref())?)
}

/// Build the classifier described by `spec` with fresh parameters.
pub fn init_model<B: Backend>(spec: &ModelSpec, device: &B::Device) -> Result<RelationClassifier<B>> {
    let encoder = spec.encoder_config.init::<B>(device);
    let head = RelationHeadConfig::new(spec.encoder_config.hidden_size(), spec.num_labels, spec.pooling)
        .with_concat_cls(spec.concat_cls)
        .with_dropout(spec.dropout)
        .init(device);
    Ok(RelationClassifier { encoder, head })
}

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::<FullPrecisionSettings>::new()
}

/// Load a saved classifier (a `best/` or `last/` directory).
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device) -> Result<(RelationClassifier<B>, ModelSpec)> {
    let spec: ModelSpec = read_json(&dir.join(SPEC_FILE))?;
    let model = init_model::<B>(&spec, device)?;
    let model = model
        .load_file(dir.join(MODEL_FILE), &recorder(), device)
        .map_err(|e| TrainError::checkpoint(dir.join("model.mpk"), e))?;
    Ok((model, spec))
}

/// The encoder (tokenizer + markers) saved with a model directory.
pub fn load_record_tokenizer(dir: &Path, spec: &ModelSpec) -> Result<RecordTokenizer> {
    // Marker tokens were added before saving, so this adds none.
    let (enc, _) = RecordTokenizer::from_file(&dir.join(TOKENIZER_FILE), spec.markers.clone(), spec.max_length)?;
    Ok(enc)
}

/// Writes a model directory (`best/`, or the model part of `last/`): weights, spec, `config.json`, tokenizer, labels.
pub fn save_model_dir<B: Backend>(
    dir: &Path,
    model: &RelationClassifier<B>,
    spec: &ModelSpec,
    enc: &RecordTokenizer,
    labels: &LabelMap,
) -> Result<()> {
    model.clone().save_file(dir.join(MODEL_FILE), &recorder()).map_err(|e| TrainError::checkpoint(dir, e))?;
    write_json(&dir.join(SPEC_FILE), spec)?;
    write_json(&dir.join(HF_CONFIG_FILE), &spec.encoder_config)?;
    enc.tokenizer().save(dir.join(TOKENIZER_FILE), true).map_err(|e| TrainError::Tokenizer(e.to_string()))?;
    labels.save_json(&dir.join(LABEL_MAP_FILE))?;
    Ok(())
}

/// Probabilities [n × k] (row-major, input order) and the number of CLS fallbacks, with the engine the
/// [`Predictor`] was built for (see [`crate::infer`]).
pub fn predict_probs<B: Backend>(
    predictor: &Predictor<B>,
    examples: &[EncodedExample],
    batch_size: usize,
    pad: u32,
    num_labels: usize,
    device: &B::Device,
) -> Result<(Vec<f64>, usize)> {
    let lengths: Vec<usize> = examples.iter().map(|e| e.input_ids.len()).collect();
    let mut probs = vec![0.0f64; examples.len() * num_labels];
    let mut fallbacks = 0;
    for idx in eval_batches(&lengths, batch_size.max(1)) {
        let batch = collate(examples, &idx, pad);
        let out = predictor.forward(&batch, device)?;
        fallbacks += out.fallback_count;
        let p = softmax(out.logits, 1)
            .into_data()
            .convert::<f64>()
            .into_vec::<f64>()
            .map_err(|e| TrainError::Other(format!("reading probabilities: {e:?}")))?;
        if p.len() != idx.len() * num_labels {
            return Err(TrainError::Other(format!(
                "the model returned {} probabilities for {} examples × {num_labels} labels",
                p.len(),
                idx.len()
            )));
        }
        for (row, &i) in idx.iter().enumerate() {
            probs[i * num_labels..(i + 1) * num_labels].copy_from_slice(&p[row * num_labels..(row + 1) * num_labels]);
        }
    }
    Ok((probs, fallbacks))
}

struct DevSet {
    examples: Vec<EncodedExample>,
    gold: Vec<usize>,
}

/// `--resume` on several nodes: rank 0 sends its `last/` (if it has one) to the others, who unpack it into a
/// temporary directory (they write nothing in the run directory). Returns whether the run resumes, where to read
/// `last/`, and the temporary directory to keep alive meanwhile.
fn resume_from_leader<B: Backend>(
    nodes: &NodeGroup,
    last_dir: &Path,
    device: &B::Device,
) -> Result<(bool, PathBuf, Option<tempfile::TempDir>)> {
    let payload = match nodes.is_leader() {
        true if last_dir.join(STATE_FILE).exists() => Some(pack_dir(last_dir)?),
        true => Some(Vec::new()),
        false => None,
    };
    let bytes = broadcast_bytes::<B>(nodes, device, payload, "sending rank 0's last/ to the other nodes")?;
    if bytes.is_empty() {
        return Ok((false, last_dir.to_path_buf(), None));
    }
    if nodes.is_leader() {
        return Ok((true, last_dir.to_path_buf(), None));
    }
    let tmp = tempfile::tempdir().map_err(|e| TrainError::io(std::env::temp_dir(), e))?;
    unpack_dir(&bytes, tmp.path())?;
    tracing::info!("resuming from rank 0's last/ ({} bytes received)", bytes.len());
    Ok((true, tmp.path().to_path_buf(), Some(tmp)))
}

/// The dev evaluation of a multi-node run: each node predicts a contiguous share of the examples, and one
/// all-reduce (zeros outside each share) gives every node all the probabilities and the fallback count.
struct DevShare<'a> {
    nodes: &'a NodeGroup,
    batch_size: usize,
    pad: u32,
    num_labels: usize,
}

impl DevShare<'_> {
    fn predict<B: Backend>(
        &self,
        predictor: &Predictor<B>,
        examples: &[EncodedExample],
        device: &B::Device,
    ) -> Result<(Vec<f64>, usize)> {
        let (n, k) = (examples.len(), self.num_labels);
        let (nodes, rank) = (self.nodes.nodes() as usize, self.nodes.rank() as usize);
        let share = (n * rank / nodes)..(n * (rank + 1) / nodes);
        let (probs, fallbacks) =
            predict_probs(predictor, &examples[share.clone()], self.batch_size, self.pad, k, device)?;
        let mut all = vec![0.0f32; n * k + 1];
        for (dst, &p) in all[share.start * k..share.end * k].iter_mut().zip(&probs) {
            *dst = p as f32;
        }
        all[n * k] = fallbacks as f32;
        // In f32 whatever the backend's float type (a bf16 probability would lose the ranking's precision).
        let values = Tensor::<B, 1>::from_data(TensorData::new(all, [n * k + 1]), (device, burn::tensor::DType::F32));
        let peers = Peers { nodes: Some(self.nodes), local: 1 };
        let _lock = collective_lock();
        let summed = peers.sum::<B>(0, device, values, "the dev evaluation's all-reduce")?;
        let mut summed = summed
            .into_data()
            .convert::<f64>()
            .into_vec::<f64>()
            .map_err(|e| TrainError::Other(format!("reading the dev probabilities: {e:?}")))?;
        let fallbacks = summed.pop().unwrap_or(0.0).round() as usize;
        Ok((summed, fallbacks))
    }
}

/// Dynamic loss scaling for f16 training, as `torch.cuda.amp.GradScaler` does it: the loss is multiplied by
/// `scale` before the backward pass so small f16 gradients do not flush to zero; gradients are divided by it
/// again in f32. A step whose gradients overflowed (non-finite norm) is skipped and the scale halved; after
/// [`LossScaler::GROWTH_INTERVAL`] good steps in a row it doubles, up to [`LossScaler::MAX_SCALE`]. Unlike
/// torch, whose loss is f32 under autocast, the scale multiplies an f16 loss here, so it must stay an f16 number
/// (2^15 is the largest power of two below f16's 65504). bf16 has f32's range and needs none.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LossScaler {
    pub scale: f64,
    pub good_steps: usize,
}

impl Default for LossScaler {
    fn default() -> Self {
        LossScaler { scale: Self::MAX_SCALE, good_steps: 0 }
    }
}

impl LossScaler {
    pub const GROWTH_INTERVAL: usize = 2000;
    pub const MAX_SCALE: f64 = 32768.0;

    /// Record whether this step's gradients were finite; returns whether the optimiser may step.
    pub fn update(&mut self, grads_finite: bool) -> bool {
        if grads_finite {
            self.good_steps += 1;
            if self.good_steps >= Self::GROWTH_INTERVAL {
                self.scale = (self.scale * 2.0).min(Self::MAX_SCALE);
                self.good_steps = 0;
            }
        } else {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_steps = 0;
        }
        grads_finite
    }
}

/// Saved in `last/` next to the optimizer state when training in f16.
const LOSS_SCALE_FILE: &str = "loss_scale.json";

/// What one optimiser step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    /// Mean loss over the batch's examples (unscaled).
    pub loss: f64,
    /// Global L2 norm of the gradients before clipping (under f16 loss scaling: of the scaled gradients).
    pub grad_norm: f64,
    /// The learning rate of this step.
    pub lr: f64,
    /// `false` when f16 gradients overflowed and the step was skipped (the loss scale was halved).
    pub applied: bool,
    /// Entity spans that fell back to CLS.
    pub fallbacks: usize,
}

/// The optimisation state of a run — the model, AdamW over HF Trainer's two parameter groups, the learning-rate
/// schedule, the f16 loss scaler, the step count — and [`TrainStepper::step`], the step `kre train` runs for every
/// batch. The training-parity test drives this type against PyTorch.
pub struct TrainStepper<B: AutodiffBackend, O: SimpleOptimizer<B::InnerBackend>> {
    /// `None` only while a step moves it through the optimiser (which takes the module by value, so no second
    /// reference keeps the old parameters alive and burn can update them in place).
    model: Option<RelationClassifier<B>>,
    optim: GroupedAdamW<B, RelationClassifier<B>, O>,
    objective: Objective,
    /// The learning rate as a function of the step.
    pub schedule: LrSchedule,
    scaler: Option<LossScaler>,
    grad_clip: f64,
    upcast: Option<FloatDType>,
    step: usize,
    /// Set for multi-node training: gradients are summed over every node.
    nodes: Option<NodeGroup>,
}

impl<B: AutodiffBackend> TrainStepper<B, FusedAdamW> {
    /// f32 training with [`FusedAdamW`] (burn's AdamW, one pass per parameter on CPU; the optimiser `kre train`
    /// uses unless `--precision` is bf16/f16).
    pub fn new(model: RelationClassifier<B>, cfg: &TrainConfig, objective: Objective, schedule: LrSchedule) -> Self {
        let weight_decay = cfg.weight_decay;
        Self::with_optimizer(model, |m| GroupedAdamW::new(m, weight_decay), cfg, objective, schedule)
    }
}

impl<B: AutodiffBackend, O: SimpleOptimizer<B::InnerBackend>> TrainStepper<B, O> {
    /// A stepper at step 0 whose optimiser `make_optim` builds for `model`.
    pub fn with_optimizer(
        model: RelationClassifier<B>,
        make_optim: impl FnOnce(&RelationClassifier<B>) -> GroupedAdamW<B, RelationClassifier<B>, O>,
        cfg: &TrainConfig,
        objective: Objective,
        schedule: LrSchedule,
    ) -> Self {
        let optim = make_optim(&model);
        TrainStepper {
            model: Some(model),
            optim,
            objective,
            schedule,
            scaler: (cfg.precision == Precision::F16).then(LossScaler::default),
            grad_clip: cfg.grad_clip,
            upcast: cfg.precision.is_half().then_some(FloatDType::F32),
            step: 0,
            nodes: None,
        }
    }

    /// Sum every step's gradients over the nodes of `nodes` (see [`crate::distributed`]).
    pub fn on_nodes(mut self, nodes: NodeGroup) -> Self {
        self.nodes = Some(nodes);
        self
    }

    /// The model as trained so far.
    pub fn model(&self) -> &RelationClassifier<B> {
        self.model.as_ref().expect("the model is back in place after every step")
    }

    /// The trained model.
    pub fn into_model(self) -> RelationClassifier<B> {
        self.model.expect("the model is back in place after every step")
    }

    /// Optimiser steps taken (the next step's index).
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// One optimiser step on the examples `idx` (data parallel over `devices`): forward, loss, backward, global
    /// gradient norm, clipping to `grad_clip`, the f16 overflow check, AdamW at the scheduled learning rate.
    pub fn step(
        &mut self,
        examples: &[EncodedExample],
        idx: &[usize],
        pad: u32,
        devices: &[B::Device],
    ) -> Result<StepOutcome> {
        let prep = GradPrep { loss_scale: self.scaler.as_ref().map_or(1.0, |s| s.scale), upcast: self.upcast };
        let model = self.model();
        let batch =
            batch_gradients_on_nodes(model, &self.objective, examples, idx, pad, devices, prep, self.nodes.as_ref())
                .map_err(|e| match e {
                    TrainError::Peer(m) => TrainError::Peer(format!("step {}: {m}", self.step)),
                    e => e,
                })?;
        if !batch.loss.is_finite() {
            return Err(TrainError::Other(format!(
                "loss became {} at step {} (lower --lr or enable --grad-clip)",
                batch.loss, self.step
            )));
        }
        let mut grads = batch.grads;
        // The norm before clipping; it also tells whether scaled f16 gradients overflowed.
        let grad_norm = clip_global_norm::<B, _>(self.model(), &mut grads, self.grad_clip);
        let applied = match self.scaler.as_mut() {
            Some(s) => {
                let ok = s.update(grad_norm.is_finite());
                if !ok {
                    tracing::debug!("f16 gradients overflowed at step {}; skipped, loss scale {}", self.step, s.scale);
                }
                ok
            }
            None => true,
        };
        let lr = self.schedule.lr_at(self.step);
        if applied {
            let model = self.model.take().expect("the model is back in place after every step");
            self.model = Some(self.optim.step(lr, model, grads));
        }
        self.step += 1;
        Ok(StepOutcome { loss: batch.loss, grad_norm, lr, applied, fallbacks: batch.fallbacks })
    }

    /// Writes the optimiser state (and the f16 loss scale) into a `last/` directory being written.
    pub fn save_optimizer(&self, dir: &Path) -> Result<()> {
        recorder()
            .record(self.optim.to_record(), dir.join(OPTIMIZER_FILE))
            .map_err(|e| TrainError::checkpoint(dir, e))?;
        if let Some(s) = &self.scaler {
            write_json(&dir.join(LOSS_SCALE_FILE), s)?;
        }
        Ok(())
    }

    /// Continues from a `last/` directory: its optimiser state and loss scale, `steps_done` steps in. The model must
    /// be the one saved there (see [`load_model`]), so that parameter ids match the optimiser state.
    pub fn restore_optimizer(mut self, dir: &Path, steps_done: usize, device: &B::Device) -> Result<Self> {
        let path = dir.join(format!("{OPTIMIZER_FILE}.mpk"));
        let record = recorder().load(dir.join(OPTIMIZER_FILE), device).map_err(|e| TrainError::checkpoint(&path, e))?;
        self.optim = self.optim.load_record(record);
        if let Some(s) = self.scaler.as_mut() {
            let path = dir.join(LOSS_SCALE_FILE);
            if path.exists() {
                *s = read_json(&path)?;
            }
        }
        self.step = steps_done;
        Ok(self)
    }
}

/// Train according to `cfg` on `device`. With `cfg.resume` and a `last/` checkpoint in `cfg.out`, training
/// continues after the last completed epoch and ends exactly as an uninterrupted run would.
pub fn train<B: AutodiffBackend>(
    cfg: &TrainConfig,
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary> {
    train_on::<B>(cfg, std::slice::from_ref(device), observer)
}

/// [`train`]/[`train_on`] with the dev evaluation at the end of each epoch run by `engine`
/// ([`InferenceEngine::Fused`] when training on the CPU: the engine is rebuilt from the current weights each
/// epoch, which costs far less than the evaluation it speeds up). [`train_on`] evaluates with burn.
pub fn train_with<B: AutodiffBackend>(
    cfg: &TrainConfig,
    devices: &[B::Device],
    observer: &mut dyn TrainObserver,
    engine: InferenceEngine,
) -> Result<TrainSummary> {
    train_impl::<B>(cfg, devices, None, observer, engine)
}

/// [`train_with`] as node `nodes.rank()` of a multi-node run ([`crate::distributed`]): every node runs this with
/// the same configuration and as many devices; each batch is split over all devices of all nodes and the
/// gradients summed over them, the dev evaluation is split over the nodes, and only rank 0 writes the run
/// directory (`metrics.jsonl`, `best/`, `last/`). With `cfg.resume`, rank 0 sends its `last/` to the others.
/// The coordinator (burn-collective's global orchestrator) must already run at `nodes.coordinator()`.
pub fn train_on_nodes<B: AutodiffBackend>(
    cfg: &TrainConfig,
    devices: &[B::Device],
    nodes: &NodeGroup,
    observer: &mut dyn TrainObserver,
    engine: InferenceEngine,
) -> Result<TrainSummary> {
    train_impl::<B>(cfg, devices, Some(nodes), observer, engine)
}

/// Train on one or several devices (data parallel, see [`crate::parallel`]); the model, the optimiser and the
/// evaluation live on `devices[0]`. One device is exactly [`train`].
///
/// The backend's float type must match `cfg.precision`: `f32` needs an f32 (or f64) backend, `bf16`/`f16` the
/// backend of that type (e.g. `Autodiff<Cuda<bf16>>`). Half precision trains with [`MasterAdamW`] (f32 master
/// weights) and, for f16, a [`LossScaler`].
pub fn train_on<B: AutodiffBackend>(
    cfg: &TrainConfig,
    devices: &[B::Device],
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary> {
    train_impl::<B>(cfg, devices, None, observer, InferenceEngine::Burn)
}

fn train_impl<B: AutodiffBackend>(
    cfg: &TrainConfig,
    devices: &[B::Device],
    nodes: Option<&NodeGroup>,
    observer: &mut dyn TrainObserver,
    engine: InferenceEngine,
) -> Result<TrainSummary> {
    // Model-dependent defaults (the learning rate) are fixed here: the run uses, prints and saves the same values.
    let resolved = cfg.resolved();
    let cfg = &resolved;
    cfg.validate()?;
    tracing::info!("training with {}", cfg.describe());
    if devices.is_empty() {
        return Err(TrainError::Config("no device to train on".into()));
    }
    let backend_dtype = <B::FloatElem as Element>::dtype();
    let half = is_half_backend::<B>();
    if half != cfg.precision.is_half() || (half && backend_dtype != cfg.precision.dtype()) {
        return Err(TrainError::Config(format!(
            "precision {} does not match the backend's float type {backend_dtype:?}",
            cfg.precision
        )));
    }
    if half {
        run::<B, MasterAdamW>(cfg, devices, nodes, observer, engine, |m| {
            GroupedAdamW::with_master(m, cfg.weight_decay, FloatDType::F32)
        })
    } else {
        run::<B, FusedAdamW>(cfg, devices, nodes, observer, engine, |m| GroupedAdamW::new(m, cfg.weight_decay))
    }
}

/// The training loop, for one optimiser type (burn's AdamW for f32, [`MasterAdamW`] for half precision).
fn run<B: AutodiffBackend, O: SimpleOptimizer<B::InnerBackend>>(
    cfg: &TrainConfig,
    devices: &[B::Device],
    nodes: Option<&NodeGroup>,
    observer: &mut dyn TrainObserver,
    engine: InferenceEngine,
    make_optim: impl FnOnce(&RelationClassifier<B>) -> GroupedAdamW<B, RelationClassifier<B>, O>,
) -> Result<TrainSummary> {
    let device = &devices[0];
    // Only rank 0 of a multi-node run writes; the others read `last/` when resuming.
    let writes = nodes.is_none_or(NodeGroup::is_leader);
    let run_dir = cfg.out.clone();
    let last_dir = run_dir.join("last");
    // Where `last/` is read from when resuming: the run directory, or on the other nodes of a multi-node run a
    // temporary copy of rank 0's (rank 0 alone decides whether the run resumes).
    let (resuming, resume_dir, _received) = match nodes {
        Some(n) if cfg.resume => resume_from_leader::<B::InnerBackend>(n, &last_dir, device)?,
        _ => (cfg.resume && last_dir.join(STATE_FILE).exists(), last_dir.clone(), None),
    };
    if writes {
        std::fs::create_dir_all(&run_dir).map_err(|e| TrainError::io(&run_dir, e))?;
        check_or_write_config(cfg, &run_dir, resuming)?;
    }

    let labels = match &cfg.label_map {
        Some(p) => LabelMap::load(p)?,
        None => LabelMap::klue(),
    };
    let no_rel =
        labels.no_relation_id().ok_or_else(|| TrainError::Config("the label map has no `no_relation`".into()))?;
    let mut train_records = load_records(&cfg.train, &labels)?;
    if cfg.max_train_records > 0 && train_records.len() > cfg.max_train_records {
        train_records.truncate(cfg.max_train_records);
    }
    let train_gold = label_ids(&train_records, &labels, &cfg.train)?;
    let mut class_counts = vec![0usize; labels.len()];
    for &g in &train_gold {
        class_counts[g] += 1;
    }
    let (objective, smoothing) = Objective::from_config(cfg, &class_counts)?;

    // Tokenizer + model: from the checkpoint when resuming, else from `tiny` or an HF directory.
    let (record_tokenizer, model, spec) = if resuming {
        let (model, spec) = load_model::<B>(&resume_dir, device)?;
        let enc = load_record_tokenizer(&resume_dir, &spec)?;
        (enc, model, spec)
    } else {
        B::seed(device, cfg.seed);
        let fresh = build_fresh::<B>(cfg, &train_records, &labels, device)?;
        // Create every lazily initialised parameter now, in module order, so that its random values do not depend
        // on which code touches it first (one device, several devices, several nodes).
        crate::parallel::materialize(&fresh.1);
        fresh
    };
    let pad = record_tokenizer.pad_id();

    tracing::info!("encoding {} training records", train_records.len());
    let train_examples = encode_records(&record_tokenizer, &train_records, Some(&train_gold))?;
    let truncated = train_examples.iter().filter(|e| e.entity_truncated).count();
    if truncated > 0 {
        tracing::warn!("{truncated} training records have an entity cut by max_length {}", cfg.max_length);
    }
    let dev = match &cfg.dev {
        Some(p) => {
            let recs = load_records(p, &labels)?;
            let gold = label_ids(&recs, &labels, p)?;
            Some(DevSet { examples: encode_records(&record_tokenizer, &recs, Some(&gold))?, gold })
        }
        None => None,
    };

    let steps_per_epoch = train_examples.len().div_ceil(cfg.batch_size);
    let schedule = LrSchedule::new(
        cfg.scheduler,
        cfg.effective_lr(),
        steps_per_epoch * cfg.epochs,
        cfg.warmup_ratio,
        cfg.poly_power,
    );
    let model = match nodes {
        Some(n) => {
            check_device_counts::<B::InnerBackend>(n, devices.len(), device)?;
            broadcast_parameters(model, n, device)?
        }
        None => model,
    };
    let mut stepper = TrainStepper::with_optimizer(model, make_optim, cfg, objective, schedule);
    if let Some(n) = nodes {
        stepper = stepper.on_nodes(n.clone());
    }

    let mut state = RunState {
        epochs_done: 0,
        step: 0,
        best_micro_f1: f64::NEG_INFINITY,
        best_epoch: 0,
        epochs_without_improvement: 0,
    };
    let mut history: Vec<EpochMetrics> = Vec::new();
    if resuming {
        state = read_json(&resume_dir.join(STATE_FILE))?;
        stepper = stepper.restore_optimizer(&resume_dir, state.step, device)?;
        if writes {
            history = read_metrics(&run_dir.join(METRICS_FILE))?;
            history.truncate(state.epochs_done);
            rewrite_metrics(&run_dir.join(METRICS_FILE), &history)?;
        }
        tracing::info!("resuming after epoch {} (step {})", state.epochs_done, state.step);
    } else if writes {
        let _ = std::fs::remove_file(run_dir.join(METRICS_FILE));
    }

    let lengths: Vec<usize> = train_examples.iter().map(|e| e.input_ids.len()).collect();
    let mut stopped_early = false;
    for epoch in state.epochs_done + 1..=cfg.epochs {
        if cfg.patience > 0 && state.epochs_without_improvement >= cfg.patience {
            stopped_early = true;
            break;
        }
        // Reseeding per epoch makes dropout and the shuffle depend only on (seed, epoch): resume = no resume.
        for d in devices {
            B::seed(d, cfg.seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
        }
        let batches =
            epoch_batches(&lengths, cfg.batch_size, cfg.seed.wrapping_add(epoch as u64), cfg.length_bucketing);
        observer.on_epoch_start(epoch, cfg.epochs, batches.len());
        let started = Instant::now();
        let (mut loss_sum, mut seen, mut fallbacks) = (0.0f64, 0usize, 0usize);
        let mut lr = stepper.schedule.lr_at(state.step);
        for (bi, idx) in batches.iter().enumerate() {
            let step = stepper.step(&train_examples, idx, pad, devices)?;
            fallbacks += step.fallbacks;
            lr = step.lr;
            let loss_value = step.loss;
            state.step += 1;
            loss_sum += loss_value * idx.len() as f64;
            seen += idx.len();
            observer.on_step(&StepInfo {
                epoch,
                batch: bi + 1,
                batches: batches.len(),
                loss: loss_sum / seen as f64,
                lr,
                samples_per_sec: seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
            });
        }
        let train_seconds = started.elapsed().as_secs_f64();

        let model = stepper.model();
        let mut m = EpochMetrics {
            epoch,
            step: state.step,
            train_loss: loss_sum / seen.max(1) as f64,
            lr,
            dev_loss: None,
            micro_f1: None,
            auprc: None,
            accuracy: None,
            fallback_spans: fallbacks,
            label_smoothing: smoothing,
            samples_per_sec: seen as f64 / train_seconds.max(1e-9),
            epoch_seconds: 0.0,
        };
        if let Some(dev) = &dev {
            // Built from the current weights each epoch (cheap next to the evaluation it speeds up).
            let predictor = Predictor::new(model.valid(), &spec.encoder_config, engine)?;
            let (probs, fb) = match nodes {
                None => predict_probs(&predictor, &dev.examples, cfg.eval_batch_size, pad, labels.len(), device)?,
                Some(n) => {
                    let eval = DevShare { nodes: n, batch_size: cfg.eval_batch_size, pad, num_labels: labels.len() };
                    eval.predict(&predictor, &dev.examples, device)?
                }
            };
            drop(predictor);
            let k = labels.len();
            let pred = re_metrics::argmax_rows(&probs, k)?;
            m.fallback_spans += fb;
            m.dev_loss = Some(
                dev.gold.iter().enumerate().map(|(i, &g)| -(probs[i * k + g].max(1e-12)).ln()).sum::<f64>()
                    / dev.gold.len().max(1) as f64,
            );
            m.micro_f1 = Some(re_metrics::micro_f1_without_no_relation(&dev.gold, &pred, k, no_rel)?);
            m.auprc = Some(re_metrics::auprc(&dev.gold, &probs, k)?);
            m.accuracy =
                Some(dev.gold.iter().zip(&pred).filter(|(a, b)| a == b).count() as f64 / dev.gold.len().max(1) as f64);
        }
        m.epoch_seconds = started.elapsed().as_secs_f64();

        // Best model: by dev micro-F1, or the latest epoch without a dev set. Every node keeps the same state (the
        // dev probabilities are the same everywhere); only rank 0 writes.
        let score = m.micro_f1.unwrap_or(epoch as f64);
        if score > state.best_micro_f1 {
            state.best_micro_f1 = score;
            state.best_epoch = epoch;
            state.epochs_without_improvement = 0;
            if writes {
                write_dir_atomic(&run_dir.join("best"), |d| {
                    save_model_dir(d, model, &spec, &record_tokenizer, &labels)
                })?;
            }
        } else {
            state.epochs_without_improvement += 1;
        }
        state.epochs_done = epoch;
        if writes {
            append_metrics(&run_dir.join(METRICS_FILE), &m)?;
            write_dir_atomic(&last_dir, |d| {
                save_model_dir(d, model, &spec, &record_tokenizer, &labels)?;
                stepper.save_optimizer(d)?;
                write_json(&d.join(STATE_FILE), &state)
            })?;
        }
        observer.on_epoch_end(&m);
        let stop = observer.should_stop(&m);
        history.push(m);
        if stop {
            stopped_early = true;
            break;
        }
    }

    Ok(TrainSummary {
        run_dir,
        best_micro_f1: state.best_micro_f1,
        best_epoch: state.best_epoch,
        epochs: history,
        stopped_early,
    })
}

/// A fresh model: `tiny` (train a WordPiece tokenizer, random RoBERTa-style encoder) or an HF directory.
pub fn build_fresh<B: Backend>(
    cfg: &TrainConfig,
    train_records: &[RelationRecord],
    labels: &LabelMap,
    device: &B::Device,
) -> Result<(RecordTokenizer, RelationClassifier<B>, ModelSpec)> {
    let scheme = cfg.markers.clone();
    let (record_tokenizer, added, encoder, encoder_config) = match &cfg.model {
        ModelSource::Tiny(tiny) => {
            let sentences: Vec<&str> = train_records.iter().map(|r| r.sentence.as_str()).collect();
            let tokenizer = crate::tiny::train_wordpiece(&sentences, tiny.vocab_size)?;
            let (enc, added) = RecordTokenizer::new(tokenizer, scheme, cfg.max_length)?;
            let config = crate::tiny::tiny_encoder_config(tiny, enc.vocab_size(), enc.pad_id(), cfg.max_length);
            let encoder = config.init::<B>(device);
            (enc, added, encoder, config)
        }
        ModelSource::Hub(dir) => {
            let tokenizer = re_models::hub::load_tokenizer(dir)?;
            let (enc, added) = RecordTokenizer::new(tokenizer, scheme, cfg.max_length)?;
            let (encoder, config, report) = re_models::hub::load_encoder::<B>(dir, device)?;
            if !report.missing.is_empty() {
                tracing::warn!(
                    "{}: {} encoder weights left at init: {:?}",
                    dir.display(),
                    report.missing.len(),
                    report.missing
                );
            }
            let encoder = if added > 0 { encoder.resize_token_embeddings(enc.vocab_size(), device) } else { encoder };
            (enc, added, encoder, config)
        }
    };
    if added > 0 {
        tracing::info!("added {added} marker tokens to the tokenizer (vocabulary {})", record_tokenizer.vocab_size());
    }
    // The saved configuration must rebuild the module: its vocabulary includes the added marker tokens.
    let vocab_size = record_tokenizer.vocab_size().max(encoder_config.vocab_size());
    let spec = ModelSpec {
        encoder_config: encoder_config.with_vocab_size(vocab_size),
        pooling: cfg.pooling,
        concat_cls: cfg.concat_cls,
        dropout: cfg.dropout,
        num_labels: labels.len(),
        markers: cfg.markers.clone(),
        max_length: cfg.max_length,
        labels: labels.names().to_vec(),
        entity_type_pairs: Some(entity_type_pairs(train_records)),
    };
    let head = RelationHeadConfig::new(encoder.hidden_size(), labels.len(), cfg.pooling)
        .with_concat_cls(cfg.concat_cls)
        .with_dropout(cfg.dropout)
        .init(device);
    Ok((record_tokenizer, RelationClassifier { encoder, head }, spec))
}

/// The sorted, distinct (subject type, object type) combinations of `records`.
pub fn entity_type_pairs(records: &[RelationRecord]) -> Vec<(EntityType, EntityType)> {
    let set: std::collections::BTreeSet<_> =
        records.iter().map(|r| (r.subject.entity_type.clone(), r.object.entity_type.clone())).collect();
    set.into_iter().collect()
}

/// With `resuming`, refuse a configuration that differs from the saved one; then (re)write it.
fn check_or_write_config(cfg: &TrainConfig, run_dir: &Path, resuming: bool) -> Result<()> {
    let path = run_dir.join(CONFIG_FILE);
    if resuming {
        if let Ok(saved) = std::fs::read_to_string(&path) {
            let saved: TrainConfig =
                toml::from_str(&saved).map_err(|e| TrainError::checkpoint(&path, e.to_string()))?;
            // Everything but the epoch budget, patience and the devices must match, or resuming would silently
            // change the run. The devices may change (an interrupted 2-GPU run can continue on one): the
            // arithmetic is the same up to float rounding. Both sides are resolved, so a default learning rate
            // compares by its value.
            let comparable = |c: &TrainConfig| TrainConfig {
                epochs: 0,
                patience: 0,
                resume: false,
                device: DeviceSpec::Cpu,
                ..c.resolved()
            };
            let differing = differing_keys(&comparable(&saved), &comparable(cfg));
            if !differing.is_empty() {
                return Err(TrainError::Config(format!(
                    "--resume: the configuration differs from the one saved in {} in {} (only epochs, patience and \
                     device may change; `--config {}` continues it as saved)",
                    path.display(),
                    differing.join(", "),
                    path.display()
                )));
            }
        }
    }
    write_train_config(run_dir, cfg)?;
    Ok(())
}

/// The top-level keys whose values differ between two configurations (for error messages).
fn differing_keys(a: &TrainConfig, b: &TrainConfig) -> Vec<String> {
    if a == b {
        return Vec::new();
    }
    let fields = |c: &TrainConfig| match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (fa, fb) = (fields(a), fields(b));
    let mut keys: Vec<String> = fa.keys().chain(fb.keys()).filter(|k| fa.get(*k) != fb.get(*k)).cloned().collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        keys.push("(a value that serialises the same)".into());
    }
    keys
}

fn append_metrics(path: &Path, m: &EpochMetrics) -> Result<()> {
    let mut all = read_metrics(path)?;
    all.push(m.clone());
    rewrite_metrics(path, &all)
}

fn rewrite_metrics(path: &Path, all: &[EpochMetrics]) -> Result<()> {
    let mut text = String::new();
    for m in all {
        text.push_str(&serde_json::to_string(m).map_err(|e| TrainError::checkpoint(path, e))?);
        text.push('\n');
    }
    re_data::fsutil::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Read `metrics.jsonl` (missing file = empty).
pub fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| TrainError::checkpoint(path, format!("line {}: {e}", i + 1))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use re_data::record::Entity;

    #[test]
    fn entity_type_pairs_are_sorted_and_distinct() {
        let r = |s: &str, o: &str| RelationRecord {
            id: String::new(),
            sentence: "가나".into(),
            subject: Entity::new("가", 0, 0, s),
            object: Entity::new("나", 1, 1, o),
            label: None,
            source: None,
        };
        let pairs = entity_type_pairs(&[r("PER", "ORG"), r("ORG", "PER"), r("PER", "ORG"), r("ORG", "DAT")]);
        assert_eq!(
            pairs,
            [
                (EntityType::Per, EntityType::Org),
                (EntityType::Org, EntityType::Per),
                (EntityType::Org, EntityType::Dat)
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        assert_eq!(pairs.len(), 3);
    }
}
