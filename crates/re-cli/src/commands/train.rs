//! `kre train`, `kre predict`, `kre search`: argument parsing and backend selection only; the work is in
//! `re-train`.
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use re_train::config::{parse_device, Alpha, LabelSmoothing, LossKind, SchedulerKind, TrainConfig};
use re_train::progress::ProgressBars;

type Cpu = burn::backend::NdArray<f32>;
type CpuAutodiff = burn::backend::Autodiff<Cpu>;
#[cfg(feature = "cuda")]
type Gpu = burn::backend::Cuda<f32, i32>;
#[cfg(feature = "cuda")]
type GpuAutodiff = burn::backend::Autodiff<Gpu>;

#[derive(Args, Debug, Default)]
pub struct TrainArgs {
    /// TOML file with any of the options below (flags override it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// `tiny` (no pretrained weights) or a Hugging Face checkpoint directory.
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long)]
    pub train: Option<PathBuf>,
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// Also predict this file into RUN_DIR/submission.csv after training.
    #[arg(long)]
    pub test: Option<PathBuf>,
    #[arg(long)]
    pub label_map: Option<PathBuf>,
    /// none | entity | typed | typed-punct | mask
    #[arg(long)]
    pub markers: Option<String>,
    /// cls | entity-start | mean | max | attention
    #[arg(long)]
    pub pooling: Option<String>,
    #[arg(long)]
    pub concat_cls: bool,
    /// ce | focal
    #[arg(long)]
    pub loss: Option<String>,
    #[arg(long)]
    pub gamma: Option<f64>,
    /// A number, or a file with one α per class (label-map order).
    #[arg(long)]
    pub alpha: Option<String>,
    /// A number in [0, 1) or `auto` (entropy rule).
    #[arg(long)]
    pub label_smoothing: Option<String>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub max_length: Option<usize>,
    #[arg(long)]
    pub warmup_ratio: Option<f64>,
    /// linear | cosine | polynomial | constant
    #[arg(long)]
    pub scheduler: Option<String>,
    #[arg(long)]
    pub poly_power: Option<f64>,
    /// Global gradient-norm clipping (0 disables).
    #[arg(long)]
    pub grad_clip: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// cpu | cuda | cuda:N[,M…]
    #[arg(long)]
    pub device: Option<String>,
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from RUN_DIR/last if it exists.
    #[arg(long)]
    pub resume: bool,
    /// Early stopping: epochs without dev micro-F1 improvement.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Use at most N training records (quick runs).
    #[arg(long)]
    pub max_train_records: Option<usize>,
    /// Disable length bucketing (batches then mix lengths).
    #[arg(long)]
    pub no_length_bucketing: bool,
}

fn parse_enum<T: serde::de::DeserializeOwned>(flag: &str, v: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| anyhow::anyhow!("--{flag}: unknown value {v:?}"))
}

impl TrainArgs {
    /// The TOML file (if any) with the flags applied on top.
    pub fn to_config(&self) -> anyhow::Result<TrainConfig> {
        let mut c = match &self.config {
            Some(p) => TrainConfig::from_toml_file(p)?,
            None => TrainConfig::default(),
        };
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { c.$f = v.clone(); } )* };
        }
        set!(
            model,
            train,
            markers,
            pooling,
            gamma,
            lr,
            weight_decay,
            batch_size,
            epochs,
            max_length,
            warmup_ratio,
            poly_power,
            grad_clip,
            seed,
            device,
            out,
            patience,
            max_train_records
        );
        if self.dev.is_some() {
            c.dev = self.dev.clone();
        }
        if self.test.is_some() {
            c.test = self.test.clone();
        }
        if self.label_map.is_some() {
            c.label_map = self.label_map.clone();
        }
        if self.concat_cls {
            c.concat_cls = true;
        }
        if self.resume {
            c.resume = true;
        }
        if self.no_length_bucketing {
            c.length_bucketing = false;
        }
        if let Some(v) = &self.loss {
            c.loss = parse_enum::<LossKind>("loss", v)?;
        }
        if let Some(v) = &self.scheduler {
            c.scheduler = parse_enum::<SchedulerKind>("scheduler", v)?;
        }
        if let Some(v) = &self.label_smoothing {
            c.label_smoothing = v.parse::<LabelSmoothing>().map_err(|e| anyhow::anyhow!("--label-smoothing: {e}"))?;
        }
        if let Some(v) = &self.alpha {
            c.alpha = match v.parse::<f64>() {
                Ok(a) => Alpha::Scalar(a),
                Err(_) => {
                    let text = std::fs::read_to_string(v).with_context(|| format!("--alpha: reading {v}"))?;
                    let vals: Result<Vec<f64>, _> = text.split_whitespace().map(|t| t.parse::<f64>()).collect();
                    Alpha::PerClass(vals.map_err(|e| anyhow::anyhow!("--alpha {v}: {e}"))?)
                }
            };
        }
        c.validate()?;
        Ok(c)
    }
}

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let cfg = args.to_config()?;
    let summary = match parse_device(&cfg.device)? {
        None => re_train::trainer::train::<CpuAutodiff>(&cfg, &Default::default(), &mut ProgressBars::default())?,
        Some(ids) => train_cuda(&cfg, &ids)?,
    };
    println!(
        "best dev micro-F1 {:.2} at epoch {} → {}",
        summary.best_micro_f1,
        summary.best_epoch,
        summary.run_dir.join("best").display()
    );
    if let Some(test) = &cfg.test {
        let out = cfg.out.join("submission.csv");
        let s = match parse_device(&cfg.device)? {
            None => {
                re_train::predict::predict_file::<Cpu>(&cfg.out, test, &out, cfg.eval_batch_size, &Default::default())?
            }
            Some(ids) => predict_cuda(&cfg.out, test, &out, cfg.eval_batch_size, &ids)?,
        };
        println!("wrote {} ({} rows)", out.display(), s.rows);
    }
    Ok(())
}

#[cfg(feature = "cuda")]
fn train_cuda(cfg: &TrainConfig, ids: &[usize]) -> anyhow::Result<re_train::trainer::TrainSummary> {
    if ids.len() > 1 {
        tracing::warn!("several CUDA devices given: training runs on the first one ({})", ids[0]);
    }
    let device = burn::backend::cuda::CudaDevice::new(ids[0]);
    Ok(re_train::trainer::train::<GpuAutodiff>(cfg, &device, &mut ProgressBars::default())?)
}

#[cfg(not(feature = "cuda"))]
fn train_cuda(_cfg: &TrainConfig, _ids: &[usize]) -> anyhow::Result<re_train::trainer::TrainSummary> {
    anyhow::bail!("this kre was built without CUDA; rebuild with `cargo build --release --features cuda`")
}

#[cfg(feature = "cuda")]
fn predict_cuda(
    dir: &std::path::Path,
    data: &std::path::Path,
    out: &std::path::Path,
    bs: usize,
    ids: &[usize],
) -> anyhow::Result<re_train::predict::PredictSummary> {
    let device = burn::backend::cuda::CudaDevice::new(ids[0]);
    Ok(re_train::predict::predict_file::<Gpu>(dir, data, out, bs, &device)?)
}

#[cfg(not(feature = "cuda"))]
fn predict_cuda(
    _dir: &std::path::Path,
    _data: &std::path::Path,
    _out: &std::path::Path,
    _bs: usize,
    _ids: &[usize],
) -> anyhow::Result<re_train::predict::PredictSummary> {
    anyhow::bail!("this kre was built without CUDA; rebuild with `cargo build --release --features cuda`")
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
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

pub fn predict(a: PredictArgs) -> anyhow::Result<()> {
    let s = match parse_device(&a.device)? {
        None => {
            re_train::predict::predict_file::<Cpu>(&a.model_dir, &a.data, &a.out, a.batch_size, &Default::default())?
        }
        Some(ids) => predict_cuda(&a.model_dir, &a.data, &a.out, a.batch_size, &ids)?,
    };
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
pub struct SearchArgs {
    /// search.toml: `[base]` training options, `[space]` ranges, `[pruner]` successive halving.
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub trials: usize,
    /// Study directory (trials.jsonl, one run directory per trial); re-run the same command to resume.
    #[arg(long)]
    pub study: PathBuf,
}

pub fn search(a: SearchArgs) -> anyhow::Result<()> {
    let cfg = re_train::search::SearchConfig::from_toml_file(&a.config)?;
    if parse_device(&cfg.base.device)?.is_some() {
        anyhow::bail!("kre search runs on the CPU backend in this version; set base.device = \"cpu\"");
    }
    let trials = re_train::search::run_study::<CpuAutodiff>(
        &cfg,
        a.trials,
        &a.study,
        &Default::default(),
        &mut ProgressBars::default(),
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
