//! Inference without training: which engine runs the encoder, and a [`Predictor`] that applies it.
//!
//! - [`InferenceEngine::Burn`]: the whole [`RelationClassifier`] runs on the burn backend it was loaded on (the
//!   only choice on CUDA).
//! - [`InferenceEngine::Fused`]: the encoder runs through [`re_models::fused::FusedEngine`] (fused f32 kernels,
//!   several times faster than burn's NdArray backend, equal to it within ~3e-6), and its last hidden state goes
//!   through the same burn [`RelationHead`]. The engine copies the weights out of the model once per
//!   [`Predictor`]; encoder families it does not cover (DeBERTa) fall back to burn.
//!
//! The caller picks the engine explicitly (`kre predict --engine`, `--device cpu` → fused); nothing here inspects
//! the backend type.
use std::fmt;
use std::str::FromStr;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use re_data::encode::EncodedBatch;
use re_models::fused::FusedEngine;
use re_models::encoder::EncoderConfig;
use re_models::head::{HeadOutput, RelationHead};

use crate::error::{Result, TrainError};
use crate::model::{BatchTensors, RelationClassifier};

/// What runs the encoder at inference time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InferenceEngine {
    /// The burn module on its backend (CPU or CUDA).
    #[default]
    Burn,
    /// The fused f32 CPU engine for BERT/RoBERTa/ELECTRA encoders; the relation head stays on burn.
    Fused,
}

impl InferenceEngine {
    /// `burn` or `fused`, as the `--engine` flag spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            InferenceEngine::Burn => "burn",
            InferenceEngine::Fused => "fused",
        }
    }
}

impl fmt::Display for InferenceEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InferenceEngine {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "burn" => Ok(InferenceEngine::Burn),
            "fused" | "fused-cpu" => Ok(InferenceEngine::Fused),
            other => Err(TrainError::Config(format!("unknown inference engine {other:?} (burn | fused)"))),
        }
    }
}

/// A classifier ready for inference with the chosen engine. Owns the model (the fused variant keeps only the head
/// and drops the burn encoder once its weights are copied).
// One per prediction run or dev evaluation, never moved around: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Predictor<B: Backend> {
    /// Everything on burn.
    Burn(RelationClassifier<B>),
    /// The encoder on the fused CPU engine, the head on burn.
    Fused { encoder: FusedEngine, head: RelationHead<B> },
}

impl<B: Backend> Predictor<B> {
    /// Prepare `model` (built from `encoder_config`) for `engine`. [`InferenceEngine::Fused`] falls back to burn,
    /// with a `debug` log line, when the engine does not cover the encoder family.
    pub fn new(model: RelationClassifier<B>, encoder_config: &EncoderConfig, engine: InferenceEngine) -> Result<Self> {
        match engine {
            InferenceEngine::Burn => Ok(Predictor::Burn(model)),
            InferenceEngine::Fused => match FusedEngine::from_encoder(&model.encoder, encoder_config)? {
                Some(encoder) => Ok(Predictor::Fused { encoder, head: model.head }),
                None => {
                    tracing::debug!(
                        "the fused CPU engine does not cover {} encoders; running the encoder on burn",
                        encoder_config.family()
                    );
                    Ok(Predictor::Burn(model))
                }
            },
        }
    }

    /// Like [`Predictor::new`] with the encoder configuration of a saved [`crate::checkpoint::ModelSpec`].
    pub fn for_spec(
        model: RelationClassifier<B>,
        spec: &crate::checkpoint::ModelSpec,
        engine: InferenceEngine,
    ) -> Result<Self> {
        Self::new(model, &spec.encoder_config, engine)
    }

    /// The engine actually in use (burn after a fallback).
    pub fn engine(&self) -> InferenceEngine {
        match self {
            Predictor::Burn(_) => InferenceEngine::Burn,
            Predictor::Fused { .. } => InferenceEngine::Fused,
        }
    }

    /// Logits `[batch, num_labels]` and the CLS fallback count for one padded batch; tensors live on `device`.
    pub fn forward(&self, batch: &EncodedBatch, device: &B::Device) -> Result<HeadOutput<B>> {
        let x = BatchTensors::<B>::from_batch(batch, device);
        match self {
            Predictor::Burn(model) => Ok(model.forward(&x)),
            Predictor::Fused { encoder, head } => {
                let (b, s) = (batch.batch_size, batch.seq_len);
                let hidden =
                    encoder.forward(&batch.input_ids, &batch.attention_mask, Some(&batch.token_type_ids), b, s)?;
                let data = TensorData::new(hidden, [b, s, encoder.hidden_size()]).convert::<B::FloatElem>();
                let hidden = Tensor::<B, 3>::from_data(data, device);
                Ok(head.forward(hidden, x.subject_start, x.object_start, x.subject_span, x.object_span))
            }
        }
    }
}
