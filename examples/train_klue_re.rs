//! End to end on KLUE-RE-format data: train → dev micro-F1/AUPRC → `submission.csv` for the test file.
//!
//! ```sh
//! # Out of the box: the shipped SYNTHETIC set and the `tiny` encoder (no pretrained weights), CPU.
//! cargo run --release --example train_klue_re
//! # Real data and weights you bring (KLUE-RE JSON + an HF checkpoint directory):
//! cargo run --release --example train_klue_re -- --model /models/klue-roberta-base \
//!     --train klue-re-v1.1_train.json --dev klue-re-v1.1_dev.json --test klue-re-v1.1_dev.json --epochs 3
//! ```
//! Flags: `--model tiny|DIR`, `--train F`, `--dev F`, `--test F`, `--epochs N`, `--out DIR`, `--max-train-records N`.
use std::path::PathBuf;
use std::time::Instant;

use re_train::config::{ModelSource, TinyConfig, TrainConfig};

mod common;

type Cpu = burn::backend::NdArray<f32>;
type CpuAutodiff = burn::backend::Autodiff<Cpu>;

// mimalloc keeping freed pages (see `common::retain_freed_memory`): 12–15 % of a CPU training step.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    common::retain_freed_memory();
    let data = PathBuf::from("datasets/synthetic-klue-re");
    // Small enough to finish in a few minutes on 2 CPU cores; pass --model DIR for a real checkpoint.
    let tiny = TinyConfig {
        vocab_size: 4000,
        hidden_size: 128,
        num_layers: 2,
        num_heads: 4,
        intermediate_size: 512,
        dropout: 0.1,
    };
    let mut cfg = TrainConfig {
        model: ModelSource::Tiny(tiny),
        train: data.join("train.json"),
        dev: Some(data.join("dev.json")),
        test: Some(data.join("test.json")),
        out: PathBuf::from("runs/train_klue_re"),
        epochs: 3,
        batch_size: 32,
        // No `lr`: the model's default (1e-3 for tiny, 5e-5 for a checkpoint), see ModelSource::default_lr.
        warmup_ratio: 0.1,
        max_length: 128,
        ..TrainConfig::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => {
                // `tiny` keeps the small sizes above; a directory is a checkpoint.
                let model: ModelSource = value()?.parse().map_err(anyhow::Error::msg)?;
                if !matches!((&model, &cfg.model), (ModelSource::Tiny(_), ModelSource::Tiny(_))) {
                    cfg.model = model;
                }
            }
            "--train" => cfg.train = value()?.into(),
            "--dev" => cfg.dev = Some(value()?.into()),
            "--test" => cfg.test = Some(value()?.into()),
            "--epochs" => cfg.epochs = value()?.parse()?,
            "--out" => cfg.out = value()?.into(),
            "--lr" => cfg.lr = Some(value()?.parse()?),
            "--max-train-records" => cfg.max_train_records = value()?.parse()?,
            "-h" | "--help" => {
                println!("train_klue_re [--model tiny|DIR] [--train F] [--dev F] [--test F] [--epochs N] [--lr X] [--out DIR] [--max-train-records N]");
                return Ok(());
            }
            other => anyhow::bail!("unknown flag {other} (see --help)"),
        }
    }
    if cfg.train.starts_with("datasets/synthetic-klue-re") {
        eprintln!("note: training on the shipped SYNTHETIC data set (made by `kre synth`); its scores say nothing about KLUE.");
    }

    let cfg = cfg.resolved();
    eprintln!("{}", cfg.describe());
    let started = Instant::now();
    let device = Default::default();
    let summary = re_train::trainer::train::<CpuAutodiff>(&cfg, &device, &mut common::EpochLines)?;
    let best = summary.epochs.iter().find(|m| m.epoch == summary.best_epoch);
    println!(
        "best epoch {}: dev micro-F1 {:.2}, AUPRC {:.2}",
        summary.best_epoch,
        best.and_then(|m| m.micro_f1).unwrap_or(f64::NAN),
        best.and_then(|m| m.auprc).unwrap_or(f64::NAN)
    );
    if let Some(test) = &cfg.test {
        let out = cfg.out.join("submission.csv");
        // Inference on CPU goes through the fused engine (docs/performance.md); training stays on burn.
        let engine = re_train::InferenceEngine::Fused;
        let s = re_train::predict::predict_file_with::<Cpu>(&cfg.out, test, &out, 64, engine, &device)?;
        println!("wrote {} ({} rows)", out.display(), s.rows);
    }
    println!("total wall-clock {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}
