//! `kre predict`: a trained run directory + a data file → `submission.csv` (probabilities in label-map order).
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use re_data::io::submission::{Submission, SubmissionRow};

use crate::checkpoint::SPEC_FILE;
use crate::error::{Result, TrainError};
use crate::trainer::{load_encoder, load_model, predict_probs};

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

/// Predict every record of `data` and write `out` atomically. Labels in `data` are ignored (test files may
/// carry `100` or no label).
pub fn predict_file<B: Backend>(
    model_dir: &Path,
    data: &Path,
    out: &Path,
    batch_size: usize,
    device: &B::Device,
) -> Result<PredictSummary> {
    let dir = resolve_model_dir(model_dir)?;
    let (model, spec) = load_model::<B>(&dir, device)?;
    let enc = load_encoder(&dir, &spec)?;
    let labels = re_data::labels::LabelMap::new(spec.labels.clone())?;
    // Labels in the file (if any) are not needed; test files may carry `100` or none.
    let options = re_data::io::ReadOptions { labels: re_data::io::LabelSource::Infer, validation: Default::default() };
    let records = re_data::io::read_records(data, &options)?.records;
    let examples = enc.encode_all(&records, None)?;
    let truncated = examples.iter().filter(|e| e.entity_truncated).count();
    let pad = enc.pad_id();
    let k = labels.len();
    let (probs, fallbacks) = predict_probs(&model, &examples, batch_size.max(1), pad, k, device);
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
