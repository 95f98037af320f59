//! `kre predict`: a trained run directory + a data file → `submission.csv` (probabilities in label-map order).
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use re_data::io::submission::{Submission, SubmissionRow};

use crate::checkpoint::SPEC_FILE;
use crate::error::{Result, TrainError};
use crate::infer::{InferenceEngine, Predictor};
use crate::trainer::{load_model, load_record_tokenizer, predict_probs};

/// Where the model lives: `RUN_DIR/best` when given a run directory, or the directory itself.
pub fn resolve_model_dir(dir: &Path) -> Result<PathBuf> {
    if dir.join(SPEC_FILE).exists() {
        return Ok(dir.to_path_buf());
    }
    let best = dir.join("best");
    if best.join(SPEC_FILE).exists() {
        return Ok(best);
    }
    Err(TrainError::checkpoint(
        dir,
        format!("no trained model here (expected {SPEC_FILE} or best/{SPEC_FILE}; run `kre train` first)"),
    ))
}

#[derive(Debug, Clone)]
pub struct PredictSummary {
    pub rows: usize,
    pub fallback_spans: usize,
    pub truncated_entities: usize,
}

/// Predict every record of `data` and write `out` atomically, all on burn. Labels in `data` are ignored (test files
/// may carry `100` or no label). [`predict_file_with`] picks the engine.
pub fn predict_file<B: Backend>(
    model_dir: &Path,
    data: &Path,
    out: &Path,
    batch_size: usize,
    device: &B::Device,
) -> Result<PredictSummary> {
    predict_file_with::<B>(model_dir, data, out, batch_size, InferenceEngine::Burn, device)
}

/// [`predict_file`] with the encoder run by `engine` through a [`Predictor`]: [`InferenceEngine::Fused`] on the CPU
/// (falls back to burn for encoder families it does not cover), [`InferenceEngine::Burn`] elsewhere.
pub fn predict_file_with<B: Backend>(
    model_dir: &Path,
    data: &Path,
    out: &Path,
    batch_size: usize,
    engine: InferenceEngine,
    device: &B::Device,
) -> Result<PredictSummary> {
    let started = std::time::Instant::now();
    let dir = resolve_model_dir(model_dir)?;
    let (model, spec) = load_model::<B>(&dir, device)?;
    let predictor = Predictor::for_spec(model, &spec, engine)?;
    tracing::debug!("model loaded for the {} engine in {:.2?}", predictor.engine(), started.elapsed());
    let record_tokenizer = load_record_tokenizer(&dir, &spec)?;
    let labels = re_data::labels::LabelMap::new(spec.labels.clone())?;
    // Labels in the file (if any) are not needed; test files may carry `100` or none.
    let options = re_data::io::ReadOptions { labels: re_data::io::LabelSource::Infer, validation: Default::default() };
    let dataset = re_data::io::read_records(data, &options)?;
    // submission.csv has one row per record, keyed by id: an empty file or a repeated id would give a useless one.
    dataset.require_records()?;
    dataset.require_unique_ids("submission.csv has one row per id, so ids must be unique")?;
    let records = dataset.records;
    let examples = record_tokenizer.encode_all(&records, None).map_err(|e| e.in_file(data))?;
    tracing::debug!("{} records read and encoded at {:.2?}", examples.len(), started.elapsed());
    let truncated = examples.iter().filter(|e| e.entity_truncated).count();
    let pad = record_tokenizer.pad_id();
    let k = labels.len();
    let (probs, fallbacks) = predict_probs(&predictor, &examples, batch_size.max(1), pad, k, device)?;
    tracing::debug!("predicted at {:.2?}", started.elapsed());
    let best = re_metrics::argmax_rows(&probs, k).map_err(|e| TrainError::Other(e.to_string()))?;
    let rows = records
        .iter()
        .zip(best)
        .enumerate()
        .map(|(i, (r, b))| SubmissionRow {
            id: r.id.clone(),
            pred_label: spec.labels[b].clone(),
            probs: probs[i * k..(i + 1) * k].to_vec(),
        })
        .collect::<Vec<_>>();
    let n = rows.len();
    Submission { rows }.write(out)?;
    Ok(PredictSummary { rows: n, fallback_spans: fallbacks, truncated_entities: truncated })
}
