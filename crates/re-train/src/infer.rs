//! Inference without training: a [`Predictor`] pairs the encoder, run by the engine of
//! [`re_models::inference::InferenceEncoder`], with the burn [`RelationHead`].
//!
//! - [`InferenceEngine::Burn`]: the encoder runs as the burn module on the backend it was loaded on (the only
//!   choice on CUDA).
//! - [`InferenceEngine::Fused`]: the encoder runs through the fused engine ([`re_models::fused::FusedEngine`], fused
//!   f32 kernels, several times faster than burn's NdArray backend, equal to it within ~3e-6), which copies the
//!   weights out of the model once per [`Predictor`]; what it does not cover (DeBERTa-v2's convolution layer)
//!   falls back to burn inside [`InferenceEncoder::new`]. [`InferenceEngine::FusedInt8`] is the same engine with
//!   int8 projections.
//!
//! Either way the head runs on burn. The caller picks the engine explicitly (`kre predict --engine`,
//! `--device cpu` → fused); nothing here inspects the backend type.
use burn::tensor::backend::Backend;
use re_data::encode::EncodedBatch;
use re_models::encoder::EncoderConfig;
use re_models::head::{HeadOutput, RelationHead};
use re_models::inference::{InferenceEncoder, PaddedIds};

use crate::error::Result;
use crate::model::{BatchTensors, RelationClassifier};

pub use re_models::inference::InferenceEngine;

/// A classifier ready for inference: the encoder on the engine that actually runs it, and the relation head.
/// Owns the model (with the fused engine only the head's burn weights are kept).
#[derive(Debug)]
pub struct Predictor<B: Backend> {
    encoder: InferenceEncoder<B>,
    head: RelationHead<B>,
}

impl<B: Backend> Predictor<B> {
    /// Prepares `model` (built from `encoder_config`) for `engine`; see [`InferenceEncoder::new`] for the fallback
    /// to burn.
    pub fn new(model: RelationClassifier<B>, encoder_config: &EncoderConfig, engine: InferenceEngine) -> Result<Self> {
        let RelationClassifier { encoder, head } = model;
        Ok(Predictor { encoder: InferenceEncoder::new(encoder, encoder_config, engine)?, head })
    }

    /// Everything on burn; needs no encoder configuration.
    pub fn burn(model: RelationClassifier<B>) -> Self {
        let RelationClassifier { encoder, head } = model;
        Predictor { encoder: InferenceEncoder::Burn(encoder), head }
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
        self.encoder.engine()
    }

    /// Logits `[batch, num_labels]` and the CLS fallback count for one padded batch; tensors live on `device`.
    pub fn forward(&self, batch: &EncodedBatch, device: &B::Device) -> Result<HeadOutput<B>> {
        let ids = PaddedIds {
            input_ids: &batch.input_ids,
            attention_mask: &batch.attention_mask,
            token_type_ids: Some(&batch.token_type_ids),
            batch_size: batch.batch_size,
            seq_len: batch.seq_len,
        };
        let hidden = self.encoder.forward(ids, device)?;
        let x = BatchTensors::<B>::from_batch(batch, device);
        Ok(self.head.forward(hidden, x.subject_start, x.object_start, x.subject_span, x.object_span))
    }
}
