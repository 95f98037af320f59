//! `kre train`, `kre predict`, `kre search`: argument parsing and backend selection only; the work is in
//! `re-train`.
//!
//! Backend selection: `--device cpu` → the CPU backend below; `--device cuda[:N[,M…]]` → burn's CUDA backend
//! with the float type `--precision` names (f32, bf16, f16), on every listed GPU (several = data parallel,
//! `re_train::parallel`). [`on_backend`] makes that choice once for all three commands.
//!
//! Inference engine: on the CPU, `kre predict` and the dev evaluation / `--test` prediction of `kre train` run the
//! encoder through the fused f32 engine (`re_models::fused`) and the relation head on burn; on CUDA everything
//! runs on burn. `kre predict --engine burn|fused` overrides the choice ([`EngineArg`]).
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use re_data::markers::MarkerScheme;
use re_models::head::SpanPooling;
use re_train::config::{
    DeviceSpec, LabelSmoothing, LossKind, ModelSource, Precision, SchedulerKind, TinyConfig, TrainConfig,
};
use re_train::distributed::NodeGroup;
use re_train::predict::PredictSummary;
use re_train::progress::TrainObserver;
use re_train::search::{Pruner, SamplerKind, WorkerOptions};
use re_train::trainer::TrainSummary;
use re_train::{InferenceEngine, TrainError};

use crate::progress::ProgressBars;

type Cpu = burn::backend::NdArray<f32>;
type CpuAutodiff = burn::backend::Autodiff<Cpu>;
#[cfg(feature = "cuda")]
type Gpu = burn::backend::Cuda<f32, i32>;
#[cfg(feature = "cuda")]
type GpuAutodiff = burn::backend::Autodiff<Gpu>;
/// Half-precision CUDA backends: weights, activations and gradients in bf16/f16 (burn 0.21 has no autocast).
#[cfg(feature = "cuda")]
type GpuBf16Autodiff = burn::backend::Autodiff<burn::backend::Cuda<burn::tensor::bf16, i32>>;
#[cfg(feature = "cuda")]
type GpuF16Autodiff = burn::backend::Autodiff<burn::backend::Cuda<burn::tensor::f16, i32>>;

const DEVICE_HELP: &str =
    "cpu | cuda | cuda:N | cuda:N,M,… — several GPUs train data-parallel: each step's batch is split \
     across them and their gradients all-reduced (burn-collective)";
const PRECISION_HELP: &str = "f32 | bf16 | f16 (bf16/f16 need --device cuda). Half precision means bf16/f16 \
     weights, activations and gradients, with f32 master weights and f32 AdamW state kept by the optimiser; it is \
     not PyTorch-style autocast (burn 0.21 has none), so softmax, LayerNorm and the loss run in half precision too. \
     f16 adds dynamic loss scaling; prefer bf16";

pub(crate) const ENGINE_HELP: &str =
    "What runs the encoder. `fused`: the fused f32 CPU engine (several times faster than \
     burn's CPU backend, same output within ~1e-5; BERT, RoBERTa, ELECTRA and DeBERTa-v2/v3 encoders; DeBERTa-v2 \
     with a convolution layer falls back to burn), \
     with the relation head on burn; CPU only. `fused-int8`: the same engine with the encoder layers' projections in \
     dynamic int8 (AMX, AVX-512 VNNI or AVX2 kernels picked at run time): faster, labels nearly always equal to \
     f32's (docs/performance.md). `fused-w8a16`: `fused-int8` with each activation row quantized in two 8-bit \
     passes (about 16 bits): closer still to f32, twice the integer products. `burn`: the burn module on the selected device. Default: fused with --device cpu, burn \
     with CUDA";

/// `--engine`: what runs the encoder at inference time.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineArg {
    /// The burn module on the selected device.
    Burn,
    /// The fused f32 CPU engine (CPU only).
    Fused,
    /// The fused CPU engine with int8 encoder projections: faster, labels nearly always as f32's (CPU only).
    FusedInt8,
    /// `fused-int8` with activations quantized in two 8-bit passes (~16 bits): closer to f32, slower (CPU only).
    #[value(name = "fused-w8a16")]
    FusedW8A16,
}

impl From<EngineArg> for InferenceEngine {
    fn from(e: EngineArg) -> Self {
        match e {
            EngineArg::Burn => InferenceEngine::Burn,
            EngineArg::Fused => InferenceEngine::Fused,
            EngineArg::FusedInt8 => InferenceEngine::FusedInt8,
            EngineArg::FusedW8A16 => InferenceEngine::FusedW8A16,
        }
    }
}

/// The engine for `device`: `requested`, or fused on the CPU and burn on CUDA when none was asked for.
pub fn resolve_engine(device: &DeviceSpec, requested: Option<EngineArg>) -> re_train::Result<InferenceEngine> {
    match (requested, device.is_cpu()) {
        (Some(EngineArg::Burn), _) | (None, false) => Ok(InferenceEngine::Burn),
        (None, true) => Ok(InferenceEngine::Fused),
        (Some(e), true) => Ok(e.into()),
        (Some(e), false) => {
            let e = InferenceEngine::from(e);
            Err(TrainError::Config(format!(
                "--engine {e} runs on the CPU; use --device cpu or --engine burn with --device {device}"
            )))
        }
    }
}

/// Work that runs on whichever backend `--device`/`--precision` select; `devices` are that backend's devices
/// (one for `cpu`, one per listed ordinal for CUDA).
pub(crate) trait BackendJob {
    type Output;
    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> re_train::Result<Self::Output>;
}

/// Pick the backend for `device` + `precision` and run `job` on it: the one place a device becomes a backend.
pub(crate) fn on_backend<J: BackendJob>(
    device: &DeviceSpec,
    precision: Precision,
    job: J,
) -> re_train::Result<J::Output> {
    match device {
        DeviceSpec::Cpu if precision.is_half() => Err(TrainError::Config(format!(
            "--precision {precision} needs --device cuda (the CPU backend computes in f32 only)"
        ))),
        DeviceSpec::Cpu => job.run::<CpuAutodiff>(&[Default::default()]),
        DeviceSpec::Cuda(ids) => on_cuda(ids, precision, job),
        DeviceSpec::Wgpu(adapter) => on_wgpu(*adapter, precision, job),
    }
}

#[cfg(feature = "wgpu")]
fn on_wgpu<J: BackendJob>(adapter: Option<usize>, precision: Precision, job: J) -> re_train::Result<J::Output> {
    use burn::backend::wgpu::WgpuDevice;
    let device = adapter.map_or(WgpuDevice::DefaultDevice, WgpuDevice::DiscreteGpu);
    match precision {
        Precision::F32 => job.run::<burn::backend::Autodiff<burn::backend::Wgpu<f32, i32>>>(&[device]),
        Precision::F16 => job.run::<burn::backend::Autodiff<burn::backend::Wgpu<burn::tensor::f16, i32>>>(&[device]),
        Precision::Bf16 => Err(TrainError::Config(
            "--precision bf16 is not available on wgpu (WGSL has no bf16); use f16 or f32".into(),
        )),
    }
}

#[cfg(not(feature = "wgpu"))]
fn on_wgpu<J: BackendJob>(_adapter: Option<usize>, _precision: Precision, _job: J) -> re_train::Result<J::Output> {
    Err(TrainError::Config(
        "this kre was built without wgpu; rebuild with `cargo build --release --features wgpu`".into(),
    ))
}

/// `kre --version`: the version and the backends compiled into this binary.
pub fn version_line() -> &'static str {
    match (cfg!(feature = "cuda"), cfg!(feature = "wgpu")) {
        (false, false) => concat!(env!("CARGO_PKG_VERSION"), " (backends: cpu)"),
        (true, false) => concat!(env!("CARGO_PKG_VERSION"), " (backends: cpu, cuda)"),
        (false, true) => concat!(env!("CARGO_PKG_VERSION"), " (backends: cpu, wgpu)"),
        (true, true) => concat!(env!("CARGO_PKG_VERSION"), " (backends: cpu, cuda, wgpu)"),
    }
}

#[cfg(feature = "cuda")]
fn on_cuda<J: BackendJob>(ids: &[usize], precision: Precision, job: J) -> re_train::Result<J::Output> {
    let devices: Vec<burn::backend::cuda::CudaDevice> =
        ids.iter().map(|&i| burn::backend::cuda::CudaDevice::new(i)).collect();
    for (&id, device) in ids.iter().zip(&devices) {
        probe_cuda(id, device)?;
    }
    match precision {
        Precision::F32 => job.run::<GpuAutodiff>(&devices),
        Precision::Bf16 => job.run::<GpuBf16Autodiff>(&devices),
        Precision::F16 => job.run::<GpuF16Autodiff>(&devices),
    }
}

/// One small kernel on `device` before any work. Without the NVIDIA driver's `libcuda` or CUDA's `libnvrtc` on the
/// loader path, or without that GPU, burn-cuda panics in its device thread; caught here, that becomes an error
/// naming the device (the panic's own message, printed above it, names the library it looked for).
#[cfg(feature = "cuda")]
fn probe_cuda(id: usize, device: &burn::backend::cuda::CudaDevice) -> re_train::Result<()> {
    let device = device.clone();
    let sum = std::panic::catch_unwind(move || {
        burn::tensor::Tensor::<Gpu, 1>::from_floats([1.0, 2.0], &device).sum().into_scalar()
    });
    match sum {
        Ok(s) if s == 3.0 => Ok(()),
        Ok(s) => Err(TrainError::Other(format!("--device cuda:{id}: a test kernel computed 1 + 2 = {s}"))),
        Err(_) => Err(TrainError::Other(format!(
            "--device cuda:{id}: CUDA could not be used (see the message above); kre needs an NVIDIA GPU with that \
             index, the driver's libcuda.so and CUDA's libnvrtc.so on the loader path (LD_LIBRARY_PATH)"
        ))),
    }
}

#[cfg(not(feature = "cuda"))]
fn on_cuda<J: BackendJob>(_ids: &[usize], _precision: Precision, _job: J) -> re_train::Result<J::Output> {
    Err(TrainError::Config(
        "this kre was built without CUDA; rebuild with `cargo build --release --features cuda`".into(),
    ))
}

const LR_HELP: &str = "Peak learning rate [default: 1e-3 with --model tiny (a randomly initialised encoder barely \
     moves at fine-tuning rates), 5e-5 with a checkpoint directory (fine-tuning)]";
const MARKERS_HELP: &str =
    "How entities are marked: none | entity | typed | typed-punct[:en|:ko][:object=DELIM] | mask \
     [default: typed-punct]";

/// A flag whose values are a fixed list of names, parsed into the library type: the list shows in `--help` and a
/// wrong value fails while the arguments are parsed.
fn choice<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    PossibleValuesParser::new(names.iter().copied()).try_map(|name| name.parse::<T>())
}

/// `--heartbeat-*`: seconds, fractions allowed.
fn seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("expected a positive number of seconds, got `{s}`")),
    }
}

pub(crate) fn precision_parser() -> impl TypedValueParser<Value = Precision> {
    PossibleValuesParser::new([
        PossibleValue::new("f32").alias("fp32"),
        PossibleValue::new("bf16"),
        PossibleValue::new("f16").alias("fp16"),
    ])
    .try_map(|name| name.parse::<Precision>())
}

fn parse_markers(s: &str) -> Result<MarkerScheme, String> {
    MarkerScheme::parse(s).map_err(|e| e.to_string())
}

/// `kre train` flags: every key of the TOML configuration has one (`--tiny-*` for its `[tiny]` table).
#[derive(Args, Debug, Default)]
pub struct TrainArgs {
    /// TOML file with any of the options below (flags override it); a run's `train_config.toml` reproduces it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// `tiny` (a small encoder trained from scratch, no pretrained weights) or a Hugging Face checkpoint
    /// directory [default: tiny].
    #[arg(long, value_name = "tiny|DIR")]
    pub model: Option<ModelSource>,
    /// `--model tiny`: WordPiece vocabulary size to train [default: 8000].
    #[arg(long, value_name = "N")]
    pub tiny_vocab_size: Option<usize>,
    /// `--model tiny`: hidden size [default: 256].
    #[arg(long, value_name = "N")]
    pub tiny_hidden_size: Option<usize>,
    /// `--model tiny`: number of layers [default: 4].
    #[arg(long, value_name = "N")]
    pub tiny_layers: Option<usize>,
    /// `--model tiny`: attention heads [default: 4].
    #[arg(long, value_name = "N")]
    pub tiny_heads: Option<usize>,
    /// `--model tiny`: feed-forward size [default: 1024].
    #[arg(long, value_name = "N")]
    pub tiny_intermediate_size: Option<usize>,
    /// `--model tiny`: the encoder's hidden and attention dropout [default: 0.1].
    #[arg(long, value_name = "P")]
    pub tiny_dropout: Option<f64>,
    /// Training data (KLUE JSON, competition CSV, parquet or JSONL) [default: the shipped synthetic train.json].
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Dev data, evaluated after every epoch [default: the shipped synthetic dev.json].
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// Also predict this file into RUN_DIR/submission.csv after training.
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Label map JSON or pickle [default: the KLUE-RE map].
    #[arg(long)]
    pub label_map: Option<PathBuf>,
    #[arg(long, value_parser = parse_markers, value_name = "SCHEME", help = MARKERS_HELP)]
    pub markers: Option<MarkerScheme>,
    /// How the entity states become the relation feature [default: entity-start].
    #[arg(long, value_parser = choice::<SpanPooling>(&SpanPooling::NAMES))]
    pub pooling: Option<SpanPooling>,
    /// Concatenate the CLS state to the pooled entity states (`--concat-cls false` turns a file's `true` off).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub concat_cls: Option<bool>,
    /// [default: ce]
    #[arg(long, value_parser = choice::<LossKind>(&LossKind::NAMES))]
    pub loss: Option<LossKind>,
    /// Focal-loss γ [default: 1].
    #[arg(long)]
    pub gamma: Option<f64>,
    /// Focal-loss α: a number, or a file with one α per class (label-map order) [default: 1].
    #[arg(long)]
    pub alpha: Option<String>,
    /// A number in [0, 1) or `auto` (entropy rule) [default: 0].
    #[arg(long, value_name = "EPS|auto")]
    pub label_smoothing: Option<LabelSmoothing>,
    #[arg(long, help = LR_HELP)]
    pub lr: Option<f64>,
    /// AdamW weight decay (not on biases and LayerNorm) [default: 0.01].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// [default: 32]
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Batch size of the dev evaluation and the --test prediction [default: 64].
    #[arg(long)]
    pub eval_batch_size: Option<usize>,
    /// [default: 3]
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Tokens per example, markers included [default: 128].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Fraction of the steps with linear warmup [default: 0.1].
    #[arg(long)]
    pub warmup_ratio: Option<f64>,
    /// Learning-rate schedule after the warmup [default: linear].
    #[arg(long, value_parser = choice::<SchedulerKind>(&SchedulerKind::NAMES))]
    pub scheduler: Option<SchedulerKind>,
    /// Power of the polynomial schedule [default: 1].
    #[arg(long)]
    pub poly_power: Option<f64>,
    /// Global gradient-norm clipping, 0 disables [default: 1].
    #[arg(long)]
    pub grad_clip: Option<f64>,
    /// Dropout before the relation classifier (the encoder keeps its own) [default: 0.1].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// [default: 42]
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, help = DEVICE_HELP)]
    pub device: Option<DeviceSpec>,
    #[arg(long, value_parser = precision_parser(), help = PRECISION_HELP)]
    pub precision: Option<Precision>,
    /// Run directory [default: runs/klue-re].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from RUN_DIR/last if it exists.
    #[arg(long)]
    pub resume: bool,
    /// Early stopping: epochs without dev micro-F1 improvement, 0 = never [default: 0].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Use at most N training records, 0 = all (quick runs) [default: 0].
    #[arg(long)]
    pub max_train_records: Option<usize>,
    /// Group examples of similar length into batches (less padding) [default: true].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub length_bucketing: Option<bool>,
    /// Same as `--length-bucketing false`.
    #[arg(long, conflicts_with = "length_bucketing")]
    pub no_length_bucketing: bool,
    #[command(flatten)]
    pub nodes: NodeArgs,
}

/// `kre train` on several machines: one process per node, the same flags on every node but the rank.
#[derive(Args, Debug, Default)]
#[command(next_help_heading = "Training on several machines (docs/distributed.md)")]
pub struct NodeArgs {
    /// Number of nodes, one `kre train` process each [default: 1].
    #[arg(long, env = "KRE_NODES", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub nodes: Option<u32>,
    /// This node's rank, 0..N; rank 0 runs the coordinator and writes the run directory [default: 0].
    #[arg(long, env = "KRE_NODE_RANK", value_name = "R")]
    pub node_rank: Option<u32>,
    /// Where rank 0 runs the coordinator (burn-collective's orchestrator); it listens on that port, all
    /// interfaces.
    #[arg(long, env = "KRE_COORDINATOR", value_name = "HOST:PORT", value_parser = socket_address)]
    pub coordinator: Option<SocketAddr>,
    /// Where the other nodes reach this node's tensor service [default: this machine's address towards the
    /// coordinator, port = coordinator port + 1 + rank].
    #[arg(long, env = "KRE_NODE_ADDRESS", value_name = "HOST:PORT", value_parser = socket_address)]
    pub node_address: Option<SocketAddr>,
    /// Seconds to wait for the other nodes in one step before stopping with an error naming them [default: 60].
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub peer_timeout: Option<Duration>,
}

impl NodeArgs {
    /// The node group, or `None` for a single-node run; checked before anything runs.
    pub fn group(&self) -> anyhow::Result<Option<NodeGroup>> {
        let nodes = self.nodes.unwrap_or(1);
        if nodes == 1 {
            if self.node_rank.unwrap_or(0) != 0 || self.coordinator.is_some() {
                anyhow::bail!("--node-rank and --coordinator need --nodes N with N > 1");
            }
            return Ok(None);
        }
        let coordinator = self.coordinator.with_context(|| {
            format!("--nodes {nodes} needs --coordinator HOST:PORT (or KRE_COORDINATOR), the same on every node")
        })?;
        let rank = self.node_rank.with_context(|| format!("--nodes {nodes} needs --node-rank R (or KRE_NODE_RANK)"))?;
        let mut group = NodeGroup::new(nodes, rank, coordinator)?;
        if let Some(a) = self.node_address {
            group = group.with_node_address(a);
        }
        if let Some(t) = self.peer_timeout {
            group = group.with_peer_timeout(t);
        }
        Ok(Some(group))
    }
}

/// `HOST:PORT`, resolved now (the first address the name resolves to).
fn socket_address(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()
        .map_err(|e| format!("`{s}` is not a HOST:PORT address ({e})"))?
        .next()
        .ok_or_else(|| format!("`{s}` resolves to no address"))
}

/// burn-communication 0.21 panics inside its own tokio tasks when a peer's connection breaks (a node that was
/// killed mid-transfer). The runtime catches that panic and kre's all-reduce then fails with an error naming the
/// node, so the default hook's message and backtrace are only noise: print one warning line instead. Panics
/// anywhere else keep the default report.
fn report_peer_panics_as_warnings() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_collective = info.location().is_some_and(|l| {
            let f = l.file();
            f.contains("burn-communication") || f.contains("burn-collective")
        });
        if !in_collective {
            return default(info);
        }
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        tracing::warn!("connection to another node lost: {message}");
    }));
}

/// Rank 0: run burn-collective's global orchestrator on `port` for the rest of this process. Its server binds
/// all interfaces (burn-communication 0.21 gives no choice) and installs the SIGINT/SIGTERM handlers, so when it
/// stops on a signal this process exits too, as it would have without it.
fn start_coordinator(port: u16) -> anyhow::Result<()> {
    // Fail now with a clear message rather than have every node wait out its timeout.
    std::net::TcpListener::bind(("0.0.0.0", port))
        .with_context(|| format!("the coordinator cannot listen on port {port}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the coordinator's runtime")?;
    std::thread::Builder::new().name("kre-coordinator".into()).spawn(move || {
        runtime.block_on(burn_collective::start_global_orchestrator(port));
        eprintln!("kre train: the coordinator stopped (interrupted); exiting");
        std::process::exit(130);
    })?;
    Ok(())
}

impl TrainArgs {
    /// The TOML file (if any) with the flags applied on top, checked: a bad value fails here, before anything is
    /// written. Model-dependent defaults (`lr`) stay unresolved until [`TrainConfig::resolved`].
    pub fn to_config(&self) -> anyhow::Result<TrainConfig> {
        let mut c = match &self.config {
            Some(p) => TrainConfig::from_toml_file(p)?,
            None => TrainConfig::default(),
        };
        // `--model tiny` keeps the file's `[tiny]` sizes; anything else replaces the model.
        match (&self.model, &c.model) {
            (Some(ModelSource::Tiny(_)), ModelSource::Tiny(_)) | (None, _) => {}
            (Some(model), _) => c.model = model.clone(),
        }
        self.apply_tiny_flags(&mut c.model)?;
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { c.$f = v.clone(); } )* };
        }
        set!(
            train,
            markers,
            pooling,
            concat_cls,
            loss,
            gamma,
            label_smoothing,
            weight_decay,
            batch_size,
            eval_batch_size,
            epochs,
            max_length,
            warmup_ratio,
            scheduler,
            poly_power,
            grad_clip,
            dropout,
            seed,
            device,
            precision,
            out,
            patience,
            max_train_records,
            length_bucketing
        );
        if self.lr.is_some() {
            c.lr = self.lr;
        }
        if self.dev.is_some() {
            c.dev = self.dev.clone();
        }
        if self.test.is_some() {
            c.test = self.test.clone();
        }
        if self.label_map.is_some() {
            c.label_map = self.label_map.clone();
        }
        if self.resume {
            c.resume = true;
        }
        if self.no_length_bucketing {
            c.length_bucketing = false;
        }
        if let Some(v) = &self.alpha {
            c.alpha = re_train::loss::parse_alpha_arg(v).with_context(|| format!("--alpha {v}"))?;
        }
        c.validate()?;
        Ok(c)
    }

    /// `--tiny-*` set the tiny encoder's sizes; with a checkpoint they would be silently ignored, so they are refused.
    fn apply_tiny_flags(&self, model: &mut ModelSource) -> anyhow::Result<()> {
        let sizes = [
            self.tiny_vocab_size,
            self.tiny_hidden_size,
            self.tiny_layers,
            self.tiny_heads,
            self.tiny_intermediate_size,
        ];
        if sizes.iter().all(Option::is_none) && self.tiny_dropout.is_none() {
            return Ok(());
        }
        let ModelSource::Tiny(tiny) = model else {
            anyhow::bail!("--tiny-* flags shape the `tiny` encoder; the model is the checkpoint {model}");
        };
        let TinyConfig { vocab_size, hidden_size, num_layers, num_heads, intermediate_size, dropout } = tiny;
        let targets = [vocab_size, hidden_size, num_layers, num_heads, intermediate_size];
        for (target, flag) in targets.into_iter().zip(sizes) {
            if let Some(v) = flag {
                *target = v;
            }
        }
        if let Some(p) = self.tiny_dropout {
            *dropout = p;
        }
        Ok(())
    }
}

/// Train on every device of the backend, then (with `--test`) predict on the first one with the same backend:
/// burn fixes a CUDA device's default float type for the whole process, so a bf16 run predicts in bf16.
struct TrainJob<'a> {
    cfg: &'a TrainConfig,
    observer: &'a mut dyn TrainObserver,
    predict_test: bool,
    /// Runs the dev evaluation and the `--test` prediction.
    engine: InferenceEngine,
    /// Multi-node training (`--nodes`); `--test` is then predicted by rank 0 only.
    nodes: Option<NodeGroup>,
}

impl BackendJob for TrainJob<'_> {
    type Output = (TrainSummary, Option<(PathBuf, PredictSummary)>);
    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> re_train::Result<Self::Output> {
        let summary = match &self.nodes {
            None => re_train::trainer::train_with::<B>(self.cfg, devices, self.observer, self.engine)?,
            Some(n) => re_train::trainer::train_on_nodes::<B>(self.cfg, devices, n, self.observer, self.engine)?,
        };
        let leader = self.nodes.as_ref().is_none_or(NodeGroup::is_leader);
        let predicted = match (&self.cfg.test, self.predict_test && leader) {
            (Some(test), true) => {
                let out = self.cfg.out.join("submission.csv");
                let s = re_train::predict::predict_file_with::<B::InnerBackend>(
                    &self.cfg.out,
                    test,
                    &out,
                    self.cfg.eval_batch_size,
                    self.engine,
                    &devices[0],
                )?;
                Some((out, s))
            }
            _ => None,
        };
        Ok((summary, predicted))
    }
}

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let cfg = args.to_config()?;
    let nodes = args.nodes.group()?;
    // The effective hyper-parameters (saying which came from the model's defaults); RUN_DIR/train_config.toml
    // gets the same values, resolved.
    eprintln!("kre train: {}", cfg.describe());
    let cfg = cfg.resolved();
    let mut bars = ProgressBars::default();
    let engine = resolve_engine(&cfg.device, None)?;
    if let Some(n) = &nodes {
        eprintln!(
            "kre train: node {} of {}, coordinator {}, this node's tensor service {}",
            n.rank(),
            n.nodes(),
            n.coordinator(),
            n.node_address()
        );
        report_peer_panics_as_warnings();
        if n.is_leader() {
            start_coordinator(n.coordinator().port())?;
        }
    }
    let leader = nodes.as_ref().is_none_or(NodeGroup::is_leader);
    let job = TrainJob { cfg: &cfg, observer: &mut bars, predict_test: true, engine, nodes };
    let (summary, predicted) = on_backend(&cfg.device, cfg.precision, job)?;
    if !leader {
        println!("node finished; rank 0 wrote {}", summary.run_dir.display());
        return Ok(());
    }
    println!(
        "best dev micro-F1 {:.2} at epoch {} → {}",
        summary.best_micro_f1,
        summary.best_epoch,
        summary.run_dir.join("best").display()
    );
    if let Some((out, s)) = predicted {
        println!("wrote {} ({} rows)", out.display(), s.rows);
    }
    Ok(())
}

/// Predict on the first device of the backend (one GPU is plenty for inference).
struct PredictJob<'a> {
    model_dir: &'a Path,
    data: &'a Path,
    out: &'a Path,
    batch_size: usize,
    engine: InferenceEngine,
}

impl BackendJob for PredictJob<'_> {
    type Output = PredictSummary;
    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> re_train::Result<PredictSummary> {
        if devices.len() > 1 {
            tracing::info!("prediction runs on the first listed device");
        }
        re_train::predict::predict_file_with::<B::InnerBackend>(
            self.model_dir,
            self.data,
            self.out,
            self.batch_size,
            self.engine,
            &devices[0],
        )
    }
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A run directory (uses RUN_DIR/best) or a saved model directory.
    #[arg(long)]
    pub model_dir: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// cpu | cuda | cuda:N (with several GPUs listed, the first one predicts).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// The float type of the forward pass (bf16/f16 need --device cuda).
    #[arg(long, default_value = "f32", value_parser = precision_parser())]
    pub precision: Precision,
    #[arg(long, value_enum, help = ENGINE_HELP)]
    pub engine: Option<EngineArg>,
}

pub fn predict(a: PredictArgs) -> anyhow::Result<()> {
    let engine = resolve_engine(&a.device, a.engine)?;
    let job = PredictJob { model_dir: &a.model_dir, data: &a.data, out: &a.out, batch_size: a.batch_size, engine };
    let s = on_backend(&a.device, a.precision, job)?;
    println!("wrote {} ({} rows)", a.out.display(), s.rows);
    if s.truncated_entities > 0 {
        eprintln!(
            "note: {} records had an entity cut by max_length (their spans fall back to CLS)",
            s.truncated_entities
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SearchArgs {
    /// `report` / `export` a study instead of running one.
    #[command(subcommand)]
    pub action: Option<super::study::StudyCommand>,
    /// search.toml: `[base]` training options, `[space]` ranges, `[sampler]` (TPE or random), `[pruner]`
    /// (successive halving, median or none); see docs/search.md.
    #[arg(long, required = true)]
    pub config: Option<PathBuf>,
    /// The study's size: workers stop once trials 0..N are complete or pruned (failed ones run again).
    #[arg(long, default_value_t = 10)]
    pub trials: usize,
    #[command(flatten)]
    pub source: super::study::StudySource,
    /// Seconds between heartbeats of the running trial (database storages).
    #[arg(long, default_value = "30", value_parser = seconds)]
    pub heartbeat_interval: Duration,
    /// A running trial without a heartbeat for this many seconds is marked failed by another worker and run
    /// again. Default: twice --heartbeat-interval.
    #[arg(long, value_parser = seconds)]
    pub heartbeat_grace: Option<Duration>,
    /// Overrides `[base] device` of search.toml. Trials run one after another, each on all listed devices.
    #[arg(long, help = DEVICE_HELP)]
    pub device: Option<DeviceSpec>,
    /// Overrides `[base] precision` of search.toml.
    #[arg(long, value_parser = precision_parser(), help = PRECISION_HELP)]
    pub precision: Option<Precision>,
    /// Overrides `[sampler] kind` of search.toml (default tpe). A resumed study needs the same sampler.
    #[arg(long, value_parser = choice::<SamplerKind>(&SamplerKind::NAMES))]
    pub sampler: Option<SamplerKind>,
    /// Overrides `[pruner] kind` of search.toml (default halving); the table's settings are kept when it names
    /// the same kind, otherwise the pruner's defaults apply (median: Optuna's MedianPruner()).
    #[arg(long, value_parser = PossibleValuesParser::new(Pruner::NAMES))]
    pub pruner: Option<String>,
}

pub fn search(a: SearchArgs) -> anyhow::Result<()> {
    if let Some(cmd) = a.action {
        return super::study::run(cmd);
    }
    // clap requires --config when no subcommand is given.
    let Some(config) = &a.config else { anyhow::bail!("--config is required") };
    let mut cfg = re_train::search::SearchConfig::from_toml_file(config)?;
    if let Some(kind) = a.sampler {
        cfg.sampler.kind = kind;
    }
    if let Some(name) = &a.pruner {
        let p = Pruner::from_name(name).map_err(anyhow::Error::msg)?;
        if std::mem::discriminant(&p) != std::mem::discriminant(&cfg.pruner) {
            cfg.pruner = p;
        }
    }
    if let Some(d) = &a.device {
        cfg.base.device = d.clone();
    }
    if let Some(p) = a.precision {
        cfg.base.precision = p;
    }
    cfg.base.validate()?;
    // Each trial goes through the same backend selection as `kre train` (its device and precision are the
    // base's; the search space does not vary them).
    let mut train_trial = |tc: &TrainConfig, observer: &mut dyn TrainObserver| {
        let engine = resolve_engine(&tc.device, None)?;
        let job = TrainJob { cfg: tc, observer, predict_test: false, engine, nodes: None };
        on_backend(&tc.device, tc.precision, job).map(|(summary, _)| summary)
    };
    let super::study::ResolvedStudy { spec, name, runs } = a.source.resolve()?;
    let worker = WorkerOptions::with_heartbeat(a.heartbeat_interval, a.heartbeat_grace);
    worker.check().map_err(anyhow::Error::msg)?;
    let storage = spec.open(&name)?;
    let trials = re_train::search::run_study_in(
        &*storage,
        &cfg,
        a.trials,
        &runs,
        &worker,
        &mut ProgressBars::default(),
        &mut train_trial,
    )?;
    println!("{:>5}  {:>8}  {:>9}  {:>5}", "trial", "status", "micro-F1", "epoch");
    for t in &trials {
        println!(
            "{:>5}  {:>8}  {:>9.2}  {:>5}",
            t.trial,
            format!("{:?}", t.status).to_lowercase(),
            t.best_micro_f1,
            t.best_epoch
        );
    }
    if let Some(best) = trials.first() {
        println!(
            "\nbest trial {} (dev micro-F1 {:.2}); reproduce with:\n  {}",
            best.trial, best.best_micro_f1, best.command
        );
    }
    Ok(())
}
