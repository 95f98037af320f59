//! `kre extract`: text → relation triples (JSONL) with a trained run directory. Parsing, mention candidates, pairs
//! and triples are `re-extract`'s; this file parses arguments, picks the backend like `kre predict`, draws the
//! progress bar and writes the output atomically.
use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use re_extract::{
    extract_stream, Candidates, ExtractError, ExtractOptions, Extractor, InputFormat, StreamOptions, StreamSummary,
};
use re_train::config::{DeviceSpec, Precision};
use re_train::predict::TrainedModel;
use re_train::InferenceEngine;

use super::train::{on_backend, precision_parser, resolve_engine, BackendJob, EngineArg, ENGINE_HELP};

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// A run directory (uses RUN_DIR/best) or a saved model directory.
    #[arg(long)]
    pub model_dir: PathBuf,
    /// Text to extract from: one sentence or paragraph per line, JSONL ({"text", "entities"?, "id"?}) or inline
    /// markup ([[삼성전자|ORG]]); see --format.
    #[arg(long)]
    pub input: PathBuf,
    /// Triples as JSONL: sentence_id, sentence, subject, object ({word, start, end, type}), relation, probability.
    #[arg(long)]
    pub out: PathBuf,
    /// auto (per line: JSONL when it starts with `{`, markup when it holds `[[…|…]]`, else text) | text | jsonl |
    /// markup.
    #[arg(long, default_value = "auto")]
    pub format: InputFormat,
    /// Minimum probability of a triple's relation: a number, or a JSON file {"label": threshold} (labels not
    /// listed: 0).
    #[arg(long, default_value = "0")]
    pub threshold: String,
    /// Keep the K most probable triples of each sentence.
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Also write pairs whose most probable label is no_relation.
    #[arg(long)]
    pub include_no_relation: bool,
    /// Mention candidates where entities are not given: all (nested spans too: most exact matches, many pairs) |
    /// outermost (spans inside no other: same coverage, about 7× fewer pairs on long sentences).
    #[arg(long, default_value = "all")]
    pub candidates: Candidates,
    /// Candidate pairs per encoder batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Input lines read, scored and written at a time (memory is constant in the input's length) …
    #[arg(long, default_value_t = 256)]
    pub chunk_lines: usize,
    /// … or candidate pairs collected, whichever comes first.
    #[arg(long, default_value_t = 1024)]
    pub chunk_pairs: usize,
    /// cpu | cuda | cuda:N (the first listed device extracts).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// The float type of the forward pass (bf16/f16 need --device cuda).
    #[arg(long, default_value = "f32", value_parser = precision_parser())]
    pub precision: Precision,
    #[arg(long, value_enum, help = ENGINE_HELP)]
    pub engine: Option<EngineArg>,
}

pub fn extract(a: ExtractArgs) -> anyhow::Result<()> {
    let engine = resolve_engine(&a.device, a.engine)?;
    let options = ExtractOptions {
        threshold: re_extract::Threshold::parse_arg(&a.threshold).context("--threshold")?,
        top_k: a.top_k,
        include_no_relation: a.include_no_relation,
    };
    if a.batch_size == 0 {
        anyhow::bail!("--batch-size must be at least 1");
    }
    let input_len =
        std::fs::metadata(&a.input).with_context(|| format!("{}: cannot read the input", a.input.display()))?.len();
    let stream = StreamOptions {
        format: a.format,
        batch_size: a.batch_size,
        chunk_lines: a.chunk_lines.max(1),
        chunk_pairs: a.chunk_pairs.max(1),
    };
    let job = ExtractJob { args: &a, engine, options, stream, input_len };
    let summary = on_backend(&a.device, a.precision, job)??;
    println!(
        "wrote {} ({} triples from {} sentences, {} candidate pairs)",
        a.out.display(),
        summary.triples,
        summary.sentences,
        summary.pairs
    );
    if summary.truncated_entities > 0 {
        eprintln!(
            "note: {} pairs had an entity cut by max_length (their spans fall back to CLS)",
            summary.truncated_entities
        );
    }
    Ok(())
}

struct ExtractJob<'a> {
    args: &'a ExtractArgs,
    engine: InferenceEngine,
    options: ExtractOptions,
    stream: StreamOptions,
    input_len: u64,
}

impl BackendJob for ExtractJob<'_> {
    // The outer result is the backend's (model loading); the inner one extraction's.
    type Output = re_extract::Result<StreamSummary>;
    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> re_train::Result<Self::Output> {
        let model = TrainedModel::<B::InnerBackend>::load(&self.args.model_dir, self.engine, &devices[0])?;
        Ok(run_extraction(&model, self))
    }
}

fn run_extraction<B: burn::tensor::backend::Backend>(
    model: &TrainedModel<B>,
    job: ExtractJob<'_>,
) -> re_extract::Result<StreamSummary> {
    let a = job.args;
    let extractor = Extractor::for_model_with(model, a.candidates)?;
    job.options.check(model.labels())?;
    let file = std::fs::File::open(&a.input).map_err(|e| ExtractError::Io { path: a.input.clone(), source: e })?;
    let reader = std::io::BufReader::new(file);
    let bar = progress_bar(job.input_len);
    let mut result = None;
    // Written to a temporary file renamed over --out at the end: an error leaves an existing --out untouched.
    let written = re_data::fsutil::write_atomic_with(&a.out, |w| {
        let mut progress = |bytes: u64, lines: usize| {
            bar.set_position(bytes);
            bar.set_message(format!("{lines} lines"));
        };
        let r = extract_stream(model, &extractor, &job.options, &job.stream, reader, w, &a.out, &mut progress);
        let failed = r.is_err();
        result = Some(r);
        if failed {
            Err(std::io::Error::other("extraction failed"))
        } else {
            Ok(())
        }
    });
    bar.finish_and_clear();
    match result {
        Some(Err(e)) => Err(e.in_file(&a.input)),
        Some(Ok(summary)) => {
            written?;
            Ok(summary)
        }
        None => Err(ExtractError::Options(format!("{}: nothing was extracted", a.out.display()))),
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("extract [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}
