//! `kre encode`: embed texts with a Hugging Face checkpoint directory (pooled last hidden state, one JSON line each).
//!
//! Runs on the CPU through [`InferenceEncoder`]: the fused engine (`re_models::fused`, default) or the burn module
//! on NdArray (`--engine burn`); pooling is burn's either way.
use anyhow::Context;
use burn::backend::NdArray;
use re_models::hub::{load_encoder, load_tokenizer};
use re_models::inference::{InferenceEncoder, InferenceEngine, PaddedIds};
use re_models::pooling::SentencePooling;
use re_models::tokenizer::encode_batch;
use std::io::Write;
use std::path::PathBuf;

use super::train::EngineArg;

/// Pooling of the last hidden state.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default)]
pub enum PoolingArg {
    /// Average over non-padding tokens, [CLS]/[SEP] included.
    #[default]
    Mean,
    /// The [CLS] (first) token.
    Cls,
}

/// Output format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default)]
pub enum FormatArg {
    /// One JSON object per line: `text`, `tokens`, `embedding`.
    #[default]
    Json,
}

/// `kre encode` arguments.
#[derive(clap::Args, Debug)]
pub struct EncodeArgs {
    /// Checkpoint directory (config.json, model.safetensors or pytorch_model.bin, tokenizer.json or vocab.txt).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// How token states become one vector.
    #[arg(long, value_enum, default_value_t = PoolingArg::Mean)]
    pub pooling: PoolingArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    /// A text to embed (repeatable).
    #[arg(long = "text", value_name = "T", required = true)]
    pub texts: Vec<String>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// What runs the encoder: `fused` (the fused f32 CPU engine: BERT, RoBERTa, ELECTRA, DeBERTa-v2/v3; several
    /// times faster, same embeddings within ~1e-5; DeBERTa-v2 with a convolution layer falls back to burn),
    /// `fused-int8` (the same engine with int8 projections), `fused-w8a16` (int8 projections with activations
    /// quantized in two 8-bit passes) or `burn` (the burn module on NdArray).
    #[arg(long, value_enum, default_value_t = EngineArg::Fused)]
    pub engine: EngineArg,
}

/// Runs `kre encode`: loads the checkpoint, embeds the texts in batches and prints one JSON line per text.
pub fn encode(args: EncodeArgs) -> anyhow::Result<()> {
    type B = NdArray<f32>;
    let device = Default::default();
    let (encoder, config, report) =
        load_encoder::<B>(&args.model, &device).with_context(|| format!("loading {}", args.model.display()))?;
    if !report.unexpected.is_empty() {
        tracing::info!(ignored = report.unexpected.len(), "checkpoint keys not used by the encoder");
    }
    let engine = InferenceEngine::from(args.engine);
    let encoder = InferenceEncoder::new(encoder, &config, engine)?;
    let tokenizer = load_tokenizer(&args.model)?;
    let pooling = match args.pooling {
        PoolingArg::Mean => SentencePooling::Mean,
        PoolingArg::Cls => SentencePooling::Cls,
    };
    let max_length = config.max_sequence_length();
    let progress = indicatif::ProgressBar::new(args.texts.len() as u64);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for chunk in args.texts.chunks(args.batch_size.max(1)) {
        let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let batch = encode_batch(&tokenizer, &texts, Some(max_length))?;
        let embeddings = encoder.sentence_embeddings(PaddedIds::from(&batch), pooling, &device)?;
        for ((text, embedding), tokens) in chunk.iter().zip(&embeddings).zip(&batch.lengths) {
            let line = serde_json::json!({ "text": text, "tokens": tokens, "embedding": embedding });
            writeln!(out, "{line}")?;
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok(())
}
