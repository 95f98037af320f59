//! `kre predict`: a trained run directory + a data file → `submission.csv` (probabilities in label-map order).
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use re_data::io::submission::{Submission, SubmissionRow};

use re_data::encode::RecordTokenizer;
use re_data::record::RelationRecord;

use crate::checkpoint::{ModelSpec, SPEC_FILE};
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
    let model = TrainedModel::<B>::load(model_dir, engine, device)?;
    tracing::debug!("model loaded for the {} engine in {:.2?}", model.engine(), started.elapsed());
    // Labels in the file (if any) are not needed; test files may carry `100` or none.
    let options = re_data::io::ReadOptions { labels: re_data::io::LabelSource::Infer, validation: Default::default() };
    let dataset = re_data::io::read_records(data, &options)?;
    // submission.csv has one row per record, keyed by id: an empty file or a repeated id would give a useless one.
    dataset.require_records()?;
    dataset.require_unique_ids("submission.csv has one row per id, so ids must be unique")?;
    let records = dataset.records;
    let predictions = model.predict(&records, batch_size).map_err(|e| match e {
        TrainError::Data(e) => TrainError::Data(e.in_file(data)),
        other => other,
    })?;
    tracing::debug!("predicted at {:.2?}", started.elapsed());
    let labels = model.labels();
    let rows = records
        .iter()
        .enumerate()
        .map(|(i, r)| SubmissionRow {
            id: r.id.clone(),
            pred_label: labels[predictions.label_index(i)].clone(),
            probs: predictions.row(i).to_vec(),
        })
        .collect::<Vec<_>>();
    let n = rows.len();
    Submission { rows }.write(out)?;
    Ok(PredictSummary {
        rows: n,
        fallback_spans: predictions.fallback_spans,
        truncated_entities: predictions.truncated_entities,
    })
}

/// A trained model directory loaded for inference: the [`Predictor`] (encoder on its engine + head), the record
/// tokenizer (tokenizer + entity markers) and the label names it was saved with. `kre predict`, `kre extract` and
/// `kre serve` all predict through this one type.
#[derive(Debug)]
pub struct TrainedModel<B: Backend> {
    dir: PathBuf,
    spec: ModelSpec,
    predictor: Predictor<B>,
    tokenizer: RecordTokenizer,
    device: B::Device,
}

/// Class probabilities for a batch of records, row-major `[records, labels]` in the model's label order.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    pub num_labels: usize,
    pub probs: Vec<f64>,
    /// Records whose entity span was cut off by `max_length`, pooled from CLS instead.
    pub fallback_spans: usize,
    /// Records with an entity (partly) past `max_length`.
    pub truncated_entities: usize,
}

impl Predictions {
    pub fn len(&self) -> usize {
        self.probs.len().checked_div(self.num_labels).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Probabilities of record `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.probs[i * self.num_labels..(i + 1) * self.num_labels]
    }

    /// Index of the most probable label of record `i` (the first on ties).
    pub fn label_index(&self, i: usize) -> usize {
        let row = self.row(i);
        let mut best = 0;
        for (j, &p) in row.iter().enumerate() {
            if p > row[best] {
                best = j;
            }
        }
        best
    }
}

impl<B: Backend> TrainedModel<B> {
    /// Loads `model_dir` (a run directory, whose `best/` is used, or a model directory) onto `device`, with the
    /// encoder run by `engine`.
    pub fn load(model_dir: &Path, engine: InferenceEngine, device: &B::Device) -> Result<Self> {
        let dir = resolve_model_dir(model_dir)?;
        let (model, spec) = load_model::<B>(&dir, device)?;
        let predictor = Predictor::for_spec(model, &spec, engine)?;
        let tokenizer = load_record_tokenizer(&dir, &spec)?;
        Ok(TrainedModel { dir, spec, predictor, tokenizer, device: device.clone() })
    }

    /// The model directory actually loaded (`RUN_DIR/best` for a run directory).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Label names, in the order of [`Predictions`]' columns.
    pub fn labels(&self) -> &[String] {
        &self.spec.labels
    }

    /// The engine actually running the encoder (burn after a fallback).
    pub fn engine(&self) -> InferenceEngine {
        self.predictor.engine()
    }

    pub fn tokenizer(&self) -> &RecordTokenizer {
        &self.tokenizer
    }

    /// Class probabilities of `records` (their labels are ignored), in input order; batches of `batch_size` sorted
    /// by length. An error names the record that could not be encoded.
    pub fn predict(&self, records: &[RelationRecord], batch_size: usize) -> Result<Predictions> {
        let num_labels = self.spec.labels.len();
        if records.is_empty() {
            return Ok(Predictions { num_labels, probs: Vec::new(), fallback_spans: 0, truncated_entities: 0 });
        }
        let examples = self.tokenizer.encode_all(records, None)?;
        let truncated_entities = examples.iter().filter(|e| e.entity_truncated).count();
        let pad = self.tokenizer.pad_id();
        let (probs, fallback_spans) =
            predict_probs(&self.predictor, &examples, batch_size.max(1), pad, num_labels, &self.device)?;
        Ok(Predictions { num_labels, probs, fallback_spans, truncated_entities })
    }
}
