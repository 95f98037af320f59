//! The kre side of the side-by-side performance harness (`scripts/bench/run.sh` runs it next to
//! `scripts/bench/torch_rows.py` and prints the ratio table; see `scripts/bench/README.md`).
//!
//! ```sh
//! python scripts/bench/make_bench_inputs.py            # shared weights and inputs under $KRE_CACHE/bench
//! cargo run --release --example perf_rows -- --out target/bench-results/kre-ndarray.json
//! cargo run --release --example perf_rows --features flex -- --backend flex --out kre-flex.json
//! ```
//! Rows (ids shared with the PyTorch script):
//! - `encoder_minilm_b32_s128`: all-MiniLM-L6-v2 (real weights) forward, batch 32 × 128, inference.
//! - `encoder_roberta_base_b32_s128`: a random roberta-base-size checkpoint forward, batch 32 × 128.
//! - `encoder_deberta_v3_base_b32_s128`: a DeBERTa-v3-base-shaped encoder with random weights built in place,
//!   batch 32 × 128 (kre only: burn vs the fused engine).
//! - `train_step_roberta_base_b16_s128`: relation classifier (encoder + entity-start head, 30 labels) forward,
//!   cross-entropy, backward, global-norm clipping at 1.0 and AdamW (no decay on biases/LayerNorm), batch 16 × 128.
//! - `tokenize_markers_32470`: typed-punct markers + tokenization of 32,470 KLUE-format records (rayon).
//! - `evaluate_7765x30`: KLUE micro-F1 + AUPRC on 7,765 × 30 probabilities.
//!
//! Flags: `--backend ndarray|flex|candle|fused|fused-int8|fused-w8a16` (flex and candle need the cargo feature of the same name;
//! `fused` is the fused engine of `re_models::fused`, encoder rows only, `engine` its old spelling; `fused-int8` the
//! same engine with dynamic int8 projections),
//! `--rows a,b`, `--reps N`, `--threads N` (rayon pool size; default 2), `--out FILE`.
//! Every encoder row runs through `re_models::inference::InferenceEncoder`, the type `kre` itself infers with.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use re_data::encode::RecordTokenizer;
use re_data::markers::MarkerScheme;
use re_models::encoder::EncoderConfig;
use re_models::head::{RelationHeadConfig, SpanPooling};
use re_models::hub::load_encoder;
use re_models::inference::{InferenceEncoder, InferenceEngine, PaddedIds};
use re_models::int8::Int8Kernel;
use re_train::model::{BatchTensors, RelationClassifier};
use re_train::optim::{clip_global_norm, GroupedAdamW};
use serde_json::{json, Value};

mod common;

// mimalloc keeping freed pages (see `common::retain_freed_memory`), as in `kre`, so the rows measure what kre runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ALL_ROWS: [&str; 6] = [
    "encoder_minilm_b32_s128",
    "encoder_roberta_base_b32_s128",
    "encoder_deberta_v3_base_b32_s128",
    "train_step_roberta_base_b16_s128",
    "tokenize_markers_32470",
    "evaluate_7765x30",
];

struct Opts {
    backend: String,
    rows: Vec<String>,
    reps: usize,
    threads: usize,
    out: Option<PathBuf>,
    cache: PathBuf,
}

fn main() -> anyhow::Result<()> {
    common::retain_freed_memory();
    let opts = parse_args()?;
    // Same thread count as the PyTorch side: rayon (ndarray/flex/tokenization) and any BLAS pool.
    rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build_global().ok();
    std::env::set_var("OPENBLAS_NUM_THREADS", opts.threads.to_string());
    let rows = match opts.backend.as_str() {
        "fused" | "engine" => fused_rows(&opts, InferenceEngine::Fused)?,
        "fused-int8" => fused_rows(&opts, InferenceEngine::FusedInt8)?,
        "fused-w8a16" => fused_rows(&opts, InferenceEngine::FusedW8A16)?,
        "ndarray" => run_rows::<burn::backend::NdArray<f32>>(&opts, &Default::default())?,
        #[cfg(feature = "flex")]
        "flex" => run_rows::<burn::backend::Flex<f32>>(&opts, &Default::default())?,
        #[cfg(feature = "candle")]
        #[allow(deprecated)] // burn-candle is deprecated upstream; compared here because it builds offline.
        "candle" => run_rows::<burn::backend::Candle<f32>>(&opts, &Default::default())?,
        #[cfg(feature = "cuda")]
        "cuda" => run_rows::<burn::backend::Cuda<f32, i32>>(&opts, &Default::default())?,
        other => {
            bail!("backend {other:?} is not built in (rebuild with `--features {other}`; ndarray is always there)")
        }
    };
    let report = json!({
        "side": "kre",
        "backend": backend_label(&opts.backend),
        "threads": opts.threads,
        "machine": machine(),
        "date": date(),
        "versions": {"burn": "0.21.0", "kre": env!("CARGO_PKG_VERSION")},
        "rows": rows,
    });
    let text = serde_json::to_string_pretty(&report)?;
    match &opts.out {
        Some(path) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            re_data::fsutil::write_atomic(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}

fn backend_label(name: &str) -> String {
    match name {
        "ndarray" => {
            if cfg!(feature = "openblas") {
                "burn-ndarray (OpenBLAS, system)".into()
            } else {
                "burn-ndarray (matrixmultiply, simd, rayon)".into()
            }
        }
        "flex" => "burn-flex (gemm, simd, rayon)".into(),
        "cuda" => "burn-cuda (f32)".into(),
        "fused" | "engine" => "fused engine (re_models::fused, gemm)".into(),
        "fused-int8" => format!("fused engine int8 (re_models::int8, {})", Int8Kernel::detect().as_str()),
        "fused-w8a16" => {
            format!("fused engine int8, two-pass activations (re_models::int8, {})", Int8Kernel::detect().as_str())
        }
        "candle" => "burn-candle (CPU)".into(),
        other => other.into(),
    }
}

fn parse_args() -> anyhow::Result<Opts> {
    let cache = std::env::var_os("KRE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kre"));
    let mut opts = Opts {
        backend: "ndarray".into(),
        rows: ALL_ROWS.iter().map(|s| s.to_string()).collect(),
        reps: 5,
        threads: 2,
        out: None,
        cache,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => opts.backend = value()?,
            "--rows" => {
                opts.rows = value()?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                for r in &opts.rows {
                    if !ALL_ROWS.contains(&r.as_str()) {
                        bail!("unknown row {r:?}; rows: {}", ALL_ROWS.join(", "));
                    }
                }
            }
            "--reps" => opts.reps = value()?.parse().context("--reps")?,
            "--threads" => opts.threads = value()?.parse().context("--threads")?,
            "--out" => opts.out = Some(value()?.into()),
            "--cache" => opts.cache = value()?.into(),
            "-h" | "--help" => {
                println!(
                    "perf_rows [--backend ndarray|flex|candle|fused|fused-int8|fused-w8a16] [--rows {}] [--reps N] [--threads N] [--out FILE]",
                    ALL_ROWS.join(",")
                );
                std::process::exit(0);
            }
            other => bail!("unknown flag {other} (see --help)"),
        }
    }
    if opts.reps == 0 || opts.threads == 0 {
        bail!("--reps and --threads must be at least 1");
    }
    Ok(opts)
}

/// Runs `f` `warm_ups` times untimed, then `reps` times; returns the row's JSON.
fn time_row(
    row: &str,
    items: usize,
    (warm_ups, reps): (usize, usize),
    note: &str,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> Value {
    let t = Instant::now();
    for _ in 0..warm_ups {
        if let Err(e) = f() {
            eprintln!("{row}: {e:#}; skipped");
            return json!({"row": row, "error": format!("{e:#}")});
        }
    }
    eprintln!("{row}: {warm_ups} warm-up run(s) {:.3}s", t.elapsed().as_secs_f64());
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        if let Err(e) = f() {
            return json!({"row": row, "error": format!("{e:#}")});
        }
        samples.push(t.elapsed().as_secs_f64());
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    eprintln!("{row}: median {median:.4}s over {reps}");
    json!({
        "row": row, "median_s": median, "min_s": sorted[0], "reps": reps, "warm_ups": warm_ups, "items": items,
        "items_per_s": items as f64 / median, "samples_s": samples, "note": note,
    })
}

struct Inputs {
    ids_b32: Vec<Vec<i64>>,
    labels_b16: Vec<i64>,
    subject_start_b16: Vec<i64>,
    object_start_b16: Vec<i64>,
}

fn read_inputs(cache: &Path) -> anyhow::Result<Inputs> {
    let path = cache.join("bench/inputs.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run scripts/bench/make_bench_inputs.py)", path.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let ints = |key: &str| -> anyhow::Result<Vec<i64>> {
        v[key]
            .as_array()
            .with_context(|| format!("{}: missing {key}", path.display()))?
            .iter()
            .map(|x| x.as_i64().with_context(|| format!("{}: {key} holds a non-integer", path.display())))
            .collect()
    };
    let ids_b32 = v["ids_b32_s128"]
        .as_array()
        .with_context(|| format!("{}: missing ids_b32_s128", path.display()))?
        .iter()
        .map(|row| {
            row.as_array()
                .context("ids row is not a list")?
                .iter()
                .map(|x| x.as_i64().context("id is not an integer"))
                .collect::<anyhow::Result<Vec<i64>>>()
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Inputs {
        ids_b32,
        labels_b16: ints("labels_b16")?,
        subject_start_b16: ints("subject_start_b16")?,
        object_start_b16: ints("object_start_b16")?,
    })
}

fn ids_tensor<B: Backend>(rows: &[Vec<i64>], device: &B::Device) -> Tensor<B, 2, Int> {
    let (b, s) = (rows.len(), rows.first().map_or(0, Vec::len));
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [b, s]), device)
}

/// The two encoder rows (MiniLM, random roberta-base) run by `engine`; a checkpoint the engine does not cover is
/// an error rather than a silent fallback, so a row is always measured on the engine it is labelled with.
fn encoder_rows<B: Backend>(
    opts: &Opts,
    inputs: &Inputs,
    engine: InferenceEngine,
    device: &B::Device,
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let (batch_size, seq_len) = (inputs.ids_b32.len(), inputs.ids_b32.first().map_or(0, Vec::len));
    let ids: Vec<i64> = inputs.ids_b32.iter().flatten().copied().collect();
    let mask = vec![1i64; ids.len()];
    let padded = PaddedIds { input_ids: &ids, attention_mask: &mask, token_type_ids: None, batch_size, seq_len };
    let note = match engine {
        InferenceEngine::Burn => "inference, no autodiff",
        InferenceEngine::Fused => "inference, fused engine",
        InferenceEngine::FusedInt8 => "inference, fused engine, dynamic int8 projections",
        InferenceEngine::FusedW8A16 => "inference, fused engine, dynamic int8 projections, two-pass activations",
    };
    for (row, dir) in [
        ("encoder_minilm_b32_s128", Some(opts.cache.join("all-minilm-l6-v2"))),
        ("encoder_roberta_base_b32_s128", Some(opts.cache.join("bench/roberta-base-random"))),
        ("encoder_deberta_v3_base_b32_s128", None),
    ] {
        if !opts.rows.iter().any(|r| r == row) {
            continue;
        }
        let (encoder, config) = match &dir {
            Some(dir) => {
                let (encoder, config, _) =
                    load_encoder::<B>(dir, device).with_context(|| format!("loading {}", dir.display()))?;
                (encoder, config)
            }
            None => deberta_v3_base_random::<B>(device),
        };
        let dir = dir.unwrap_or_else(|| "deberta-v3-base shape, random weights".into());
        // int8: how far its last hidden state is from the f32 engine's on the same input (ort_rows.py reports the
        // same for ONNX Runtime's int8 against fp32). The int8 engine is the f32 one quantized, so both hold the
        // same weights even for the randomly initialised (lazily materialised) DeBERTa row.
        let (encoder, f32_hidden) = match engine.int8_activations() {
            Some(precision) => {
                let mut encoder = InferenceEncoder::new(encoder, &config, InferenceEngine::Fused)?;
                let hidden = encoder.forward(padded, device)?.into_data();
                if let InferenceEncoder::Fused(fused) = &mut encoder {
                    fused.quantize_int8_with(precision);
                }
                (encoder, Some(hidden.to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?))
            }
            None => (InferenceEncoder::new(encoder, &config, engine)?, None),
        };
        if encoder.engine() != engine {
            bail!("{}: the {engine} engine does not cover {} encoders", dir.display(), config.family());
        }
        let mut timed = time_row(row, batch_size, (1, opts.reps), note, || {
            // Reading the result back forces lazy backends to finish the work.
            let _ = encoder.forward(padded, device)?.into_data();
            Ok(())
        });
        if let Some(reference) = f32_hidden {
            let hidden =
                encoder.forward(padded, device)?.into_data().to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let diffs = hidden.iter().zip(&reference).map(|(a, b)| f64::from((a - b).abs()));
            let (sum, max) = diffs.fold((0.0, 0.0f64), |(s, m), d| (s + d, m.max(d)));
            let mean = sum / hidden.len().max(1) as f64;
            eprintln!("{row}: int8 vs f32 last hidden state: mean |Δ| {mean:.4}, max |Δ| {max:.3}");
            timed["mean_abs_diff_vs_f32"] = json!(mean);
            timed["max_abs_diff_vs_f32"] = json!(max);
        }
        out.push(timed);
    }
    Ok(out)
}

/// A DeBERTa-v3-base-shaped encoder (768 hidden, 12 layers, 12 heads, 3072 intermediate, 256 position buckets,
/// c2p + p2c, shared attention keys) with random weights, built in place: speed does not depend on the values, and
/// no checkpoint of that size can be downloaded here. kre-side only (no PyTorch column).
fn deberta_v3_base_random<B: Backend>(device: &B::Device) -> (re_models::encoder::Encoder<B>, EncoderConfig) {
    let config = re_models::deberta_v2::DebertaV2Config {
        relative_attention: true,
        norm_rel_ebd: "layer_norm".into(),
        layer_norm_eps: 1e-7,
        vocab_size: 128_100,
        hidden_size: 768,
        num_hidden_layers: 12,
        num_attention_heads: 12,
        intermediate_size: 3072,
        max_position_embeddings: 512,
        type_vocab_size: 0,
        position_biased_input: false,
        position_buckets: 256,
        max_relative_positions: -1,
        share_att_key: true,
        conv_kernel_size: 0,
        pos_att_type: vec!["p2c".into(), "c2p".into()],
        ..Default::default()
    };
    let config = EncoderConfig::DebertaV2(config);
    (config.init::<B>(device), config)
}

fn run_rows<B: Backend>(opts: &Opts, device: &B::Device) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let want = |r: &str| opts.rows.iter().any(|x| x == r);
    let needs_inputs = ALL_ROWS[..4].iter().any(|r| want(r));
    let inputs = if needs_inputs { Some(read_inputs(&opts.cache)?) } else { None };
    if let Some(inputs) = &inputs {
        out.extend(encoder_rows::<B>(opts, inputs, InferenceEngine::Burn, device)?);
        if want("train_step_roberta_base_b16_s128") {
            out.push(train_step_row::<burn::backend::Autodiff<B>>(opts, inputs, device)?);
        }
    }
    if want("tokenize_markers_32470") {
        out.push(tokenize_row(opts)?);
    }
    if want("evaluate_7765x30") {
        let data = re_metrics::synthetic::klue_like_scores(42, 7765, 30);
        let pred = re_metrics::argmax_rows(&data.probs, 30)?;
        out.push(time_row("evaluate_7765x30", 7765, (1, opts.reps.max(20)), "micro-F1 + AUPRC, in memory", || {
            let f1 = re_metrics::micro_f1_without_no_relation(&data.gold, &pred, 30, 0)?;
            let area = re_metrics::auprc(&data.gold, &data.probs, 30)?;
            std::hint::black_box((f1, area));
            Ok(())
        }));
    }
    Ok(out)
}

/// Encoder rows through the fused engine, f32 or int8 (weights loaded with burn on NdArray, then copied out once).
fn fused_rows(opts: &Opts, engine: InferenceEngine) -> anyhow::Result<Vec<Value>> {
    let inputs = read_inputs(&opts.cache)?;
    encoder_rows::<burn::backend::NdArray<f32>>(opts, &inputs, engine, &Default::default())
}

/// Untimed steps before the timed ones. Two: the first step creates AdamW's moments (one parameter-sized buffer
/// each), so only from the second on does a step run at its steady memory peak; on a VM every first touch of a page
/// is a fault with zeroing (measured: 14.0 s for the first step after one warm-up, 8.6 and 8.4 s for the next two).
/// `scripts/bench/torch_rows.py` does the same.
const TRAIN_WARM_UPS: usize = 2;

fn train_step_row<B: AutodiffBackend>(opts: &Opts, inputs: &Inputs, device: &B::Device) -> anyhow::Result<Value> {
    let dir = opts.cache.join("bench/roberta-base-random");
    let (encoder, config, _) = load_encoder::<B>(&dir, device).with_context(|| format!("loading {}", dir.display()))?;
    let head =
        RelationHeadConfig::new(config.hidden_size(), 30, SpanPooling::EntityStart).with_dropout(0.1).init::<B>(device);
    let mut model = Some(RelationClassifier { encoder, head });
    let mut optim = GroupedAdamW::new(model.as_ref().context("model")?, 0.01);
    let rows: Vec<Vec<i64>> = inputs.ids_b32.iter().take(16).cloned().collect();
    let b = rows.len();
    let span = |starts: &[i64]| {
        let flat: Vec<i64> = starts.iter().flat_map(|&s| [s, s + 1]).collect();
        Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [b, 2]), device)
    };
    let vec1 = |v: &[i64]| Tensor::<B, 1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
    let ids = ids_tensor::<B>(&rows, device);
    let x = BatchTensors {
        attention_mask: ids.ones_like(),
        token_type_ids: ids.zeros_like(),
        input_ids: ids,
        subject_start: vec1(&inputs.subject_start_b16),
        object_start: vec1(&inputs.object_start_b16),
        subject_span: span(&inputs.subject_start_b16),
        object_span: span(&inputs.object_start_b16),
        labels: Some(vec1(&inputs.labels_b16)),
    };
    let labels = x.labels.clone().context("labels")?;
    let note = "forward + CE + backward + clip 1.0 + AdamW (2 param groups), dropout 0.1";
    // Per call: forward (with the loss), backward, clip, optimizer seconds. Exact on the eager CPU backends only
    // (a lazy backend's work lands wherever it is next read).
    let mut phases: Vec<[f64; 4]> = Vec::new();
    let mut row =
        time_row("train_step_roberta_base_b16_s128", b, (TRAIN_WARM_UPS, opts.reps.min(3).max(1)), note, || {
            let m = model.take().context("model lost in a failed step")?;
            let t0 = Instant::now();
            let logits = m.forward(&x).logits;
            let loss = burn::tensor::loss::cross_entropy_with_logits(logits, labels.clone().one_hot(30).float()).mean();
            let t1 = Instant::now();
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            let mut grads = grads;
            let t2 = Instant::now();
            clip_global_norm::<B, _>(&m, &mut grads, 1.0);
            let t3 = Instant::now();
            let m = optim.step(5e-5, m, grads);
            // Force the update to finish (lazy backends) by reading one parameter back.
            let _ = m.head.classifier.weight.val().into_data();
            let t4 = Instant::now();
            phases.push([t1 - t0, t2 - t1, t3 - t2, t4 - t3].map(|d| d.as_secs_f64()));
            model = Some(m);
            Ok(())
        });
    if row.get("error").is_none() && phases.len() > TRAIN_WARM_UPS {
        // The warm-up calls left out.
        let timed = &phases[TRAIN_WARM_UPS..];
        let median = |i: usize| {
            let mut v: Vec<f64> = timed.iter().map(|p| p[i]).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        row["phases_median_s"] = json!({
            "forward": median(0), "backward": median(1), "clip": median(2), "optimizer": median(3),
        });
    }
    Ok(row)
}

fn tokenize_row(opts: &Opts) -> anyhow::Result<Value> {
    let path = opts.cache.join("bench/synth-32470.json");
    if !path.exists() {
        // The KLUE-sized synthetic set: 32,470 records of `kre synth` (seed 1), all in one file.
        let cfg = re_data::synth::klue::SynthConfig { n: 32470, seed: 1, dev_ratio: 0.0, test_ratio: 0.0 };
        let data = re_data::synth::klue::generate(&cfg)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        re_data::io::klue_json::write(&path, &data.train)?;
    }
    let records = re_data::io::klue_json::read(&path, &re_data::labels::LabelMap::klue())?;
    let tokenizer_file = PathBuf::from("crates/re-data/tests/fixtures/encode/korean-wordpiece.json");
    let (record_tokenizer, _) = RecordTokenizer::from_file(&tokenizer_file, MarkerScheme::parse("typed-punct")?, 128)?;
    let n = records.len();
    Ok(time_row(
        "tokenize_markers_32470",
        n,
        (1, opts.reps),
        "typed-punct markers + WordPiece, max_length 128, rayon",
        || {
            let examples = record_tokenizer.encode_all(&records, None)?;
            std::hint::black_box(examples.len());
            Ok(())
        },
    ))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{} {cpu}, {cores} cores", std::env::consts::ARCH)
}

fn date() -> String {
    std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
