//! One inference path for a loaded encoder: [`InferenceEncoder`] runs it either as the burn module or through the
//! [`FusedEngine`], and [`InferenceEngine`] names that choice.
//!
//! Everything that only runs the encoder forward — `kre encode`, `kre predict`, the dev evaluation during training,
//! the examples and benches — builds one [`InferenceEncoder`] and calls [`InferenceEncoder::forward`] (or
//! [`InferenceEncoder::sentence_embeddings`]). The rule that sends the families the fused engine does not cover
//! (DeBERTa-v2/v3) back to burn, and its log line, live only here.
//!
//! ```no_run
//! use re_models::inference::{InferenceEncoder, InferenceEngine, PaddedIds};
//! use re_models::pooling::SentencePooling;
//! type B = burn::backend::NdArray<f32>;
//! let device = Default::default();
//! let dir = std::path::Path::new("models/minilm");
//! let (encoder, config, _) = re_models::hub::load_encoder::<B>(dir, &device)?;
//! let encoder = InferenceEncoder::new(encoder, &config, InferenceEngine::Fused)?;
//! let tokenizer = re_models::hub::load_tokenizer(dir)?;
//! let batch = re_models::tokenizer::encode_batch(&tokenizer, &["이순신은 조선의 무신이다."], None)?;
//! let embeddings = encoder.sentence_embeddings(PaddedIds::from(&batch), SentencePooling::Mean, &device)?;
//! # Ok::<(), anyhow::Error>(())
//! ```
use std::fmt;
use std::str::FromStr;

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use crate::encoder::{Encoder, EncoderConfig};
use crate::error::{ModelError, Result};
use crate::fused::FusedEngine;
use crate::int8::ActivationPrecision;
use crate::pooling::SentencePooling;
use crate::tokenizer::TokenBatch;

/// What runs the encoder at inference time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InferenceEngine {
    /// The burn module on its backend (CPU or CUDA).
    #[default]
    Burn,
    /// The fused f32 CPU engine ([`FusedEngine`]) for BERT/RoBERTa/ELECTRA/DeBERTa-v2/v3 encoders.
    Fused,
    /// The fused CPU engine with its encoder-layer projections in dynamic int8 ([`FusedEngine::quantize_int8`]):
    /// faster, labels nearly always equal to f32's (docs/performance.md).
    FusedInt8,
    /// [`InferenceEngine::FusedInt8`] with each activation row quantized in two 8-bit passes
    /// ([`ActivationPrecision::TwoPassInt8`]): closer to f32, twice the integer products.
    FusedW8A16,
}

impl InferenceEngine {
    /// `burn` or `fused`, as the `--engine` flag spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            InferenceEngine::Burn => "burn",
            InferenceEngine::Fused => "fused",
            InferenceEngine::FusedInt8 => "fused-int8",
            InferenceEngine::FusedW8A16 => "fused-w8a16",
        }
    }

    /// How the engine quantizes activations for its int8 projections; `None` for the f32 engines.
    pub fn int8_activations(self) -> Option<ActivationPrecision> {
        match self {
            InferenceEngine::FusedInt8 => Some(ActivationPrecision::Int8),
            InferenceEngine::FusedW8A16 => Some(ActivationPrecision::TwoPassInt8),
            InferenceEngine::Burn | InferenceEngine::Fused => None,
        }
    }
}

impl fmt::Display for InferenceEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InferenceEngine {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "burn" => Ok(InferenceEngine::Burn),
            // `fused-cpu` was the engine's earlier name; still accepted so old scripts keep working.
            "fused" | "fused-cpu" => Ok(InferenceEngine::Fused),
            "fused-int8" => Ok(InferenceEngine::FusedInt8),
            "fused-w8a16" => Ok(InferenceEngine::FusedW8A16),
            other => Err(ModelError::Input(format!(
                "unknown inference engine {other:?} (burn | fused | fused-int8 | fused-w8a16)"
            ))),
        }
    }
}

/// A padded batch of token ids, borrowed: row-major `[batch_size, seq_len]` ids, 0/1 attention mask and optional
/// token-type ids (zeros when absent). Built from a [`TokenBatch`] with `From`, or from any other batch's slices.
#[derive(Clone, Copy, Debug)]
pub struct PaddedIds<'a> {
    /// Token ids.
    pub input_ids: &'a [i64],
    /// 1 for tokens, 0 for padding.
    pub attention_mask: &'a [i64],
    /// Segment ids; `None` means all zeros.
    pub token_type_ids: Option<&'a [i64]>,
    /// Rows.
    pub batch_size: usize,
    /// Columns (the longest sequence, padding included).
    pub seq_len: usize,
}

impl<'a> From<&'a TokenBatch> for PaddedIds<'a> {
    fn from(batch: &'a TokenBatch) -> Self {
        PaddedIds {
            input_ids: &batch.input_ids,
            attention_mask: &batch.attention_mask,
            token_type_ids: Some(&batch.token_type_ids),
            batch_size: batch.batch_size,
            seq_len: batch.seq_len,
        }
    }
}

impl PaddedIds<'_> {
    /// Every slice holds `batch_size × seq_len` values (checked before any tensor is built, so a malformed batch
    /// is an error rather than a panic inside burn).
    fn check(&self) -> Result<()> {
        let cells = self.batch_size * self.seq_len;
        let types = self.token_type_ids.map_or(cells, <[i64]>::len);
        if self.input_ids.len() != cells || self.attention_mask.len() != cells || types != cells {
            return Err(ModelError::Input(format!(
                "expected {}×{} = {cells} ids, mask values and token types; got {}, {} and {types}",
                self.batch_size,
                self.seq_len,
                self.input_ids.len(),
                self.attention_mask.len(),
            )));
        }
        Ok(())
    }

    fn tensor<B: Backend>(&self, values: &[i64], device: &B::Device) -> Tensor<B, 2, Int> {
        Tensor::from_data(TensorData::new(values.to_vec(), [self.batch_size, self.seq_len]), device)
    }
}

/// A loaded encoder ready for inference on the engine that will actually run it.
// Built once per prediction run, evaluation or `kre encode`, never moved around: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum InferenceEncoder<B: Backend> {
    /// The burn module on its device.
    Burn(Encoder<B>),
    /// The fused engine, holding its own copy of the weights (the burn module is dropped).
    Fused(FusedEngine),
}

impl<B: Backend> InferenceEncoder<B> {
    /// Prepares `encoder` (built from `config`) for `engine`. [`InferenceEngine::Fused`] falls back to burn, with a
    /// `debug` log line, for what the fused engine does not cover (DeBERTa-v2's convolution layer); it copies the
    /// weights out of the module once. [`InferenceEngine::FusedInt8`] and [`InferenceEngine::FusedW8A16`] also
    /// quantize them.
    pub fn new(encoder: Encoder<B>, config: &EncoderConfig, engine: InferenceEngine) -> Result<Self> {
        match engine {
            InferenceEngine::Burn => Ok(InferenceEncoder::Burn(encoder)),
            InferenceEngine::Fused | InferenceEngine::FusedInt8 | InferenceEngine::FusedW8A16 => {
                match FusedEngine::from_encoder(&encoder, config)? {
                    Some(mut fused) => {
                        if let Some(precision) = engine.int8_activations() {
                            let kernel = fused.quantize_int8_with(precision);
                            tracing::debug!("int8 projections on the {} kernel ({precision:?})", kernel.as_str());
                        }
                        Ok(InferenceEncoder::Fused(fused))
                    }
                    None => {
                        tracing::debug!(
                            "the fused engine does not cover this {} encoder; running it on burn",
                            config.family()
                        );
                        Ok(InferenceEncoder::Burn(encoder))
                    }
                }
            }
        }
    }

    /// The engine actually in use (burn after a fallback).
    pub fn engine(&self) -> InferenceEngine {
        match self {
            InferenceEncoder::Burn(_) => InferenceEngine::Burn,
            InferenceEncoder::Fused(f) => match f.int8_activations() {
                Some(ActivationPrecision::Int8) => InferenceEngine::FusedInt8,
                Some(ActivationPrecision::TwoPassInt8) => InferenceEngine::FusedW8A16,
                None => InferenceEngine::Fused,
            },
        }
    }

    /// Hidden size of the output.
    pub fn hidden_size(&self) -> usize {
        match self {
            InferenceEncoder::Burn(encoder) => encoder.hidden_size(),
            InferenceEncoder::Fused(fused) => fused.hidden_size(),
        }
    }

    /// Last hidden state `[batch_size, seq_len, hidden]` on `device` (the fused engine computes on the CPU and its
    /// result is copied there).
    pub fn forward(&self, ids: PaddedIds<'_>, device: &B::Device) -> Result<Tensor<B, 3>> {
        ids.check()?;
        match self {
            InferenceEncoder::Burn(encoder) => {
                let types = ids.token_type_ids.map(|t| ids.tensor(t, device));
                Ok(encoder.forward(ids.tensor(ids.input_ids, device), ids.tensor(ids.attention_mask, device), types))
            }
            InferenceEncoder::Fused(fused) => {
                let (batch, seq) = (ids.batch_size, ids.seq_len);
                let hidden = fused.forward(ids.input_ids, ids.attention_mask, ids.token_type_ids, batch, seq)?;
                let data = TensorData::new(hidden, [batch, seq, fused.hidden_size()]).convert::<B::FloatElem>();
                Ok(Tensor::from_data(data, device))
            }
        }
    }

    /// One vector per row of `ids`, in order: the last hidden state pooled by `pooling` (padding excluded).
    pub fn sentence_embeddings(
        &self,
        ids: PaddedIds<'_>,
        pooling: SentencePooling,
        device: &B::Device,
    ) -> Result<Vec<Vec<f32>>> {
        let hidden = self.forward(ids, device)?;
        let pooled = pooling.pool(hidden, ids.tensor(ids.attention_mask, device));
        let values = pooled
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| ModelError::Input(format!("cannot read the pooled embeddings as f32: {e:?}")))?;
        let dim = self.hidden_size().max(1);
        Ok(values.chunks(dim).map(<[f32]>::to_vec).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bert::BertConfig;
    use crate::deberta_v2::DebertaV2Config;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    /// Two rows of 7 tokens, the second with 3 padding positions, and non-zero token types.
    fn padded_batch() -> (Vec<i64>, Vec<i64>, Vec<i64>) {
        let ids = vec![2, 17, 33, 41, 5, 60, 3, 2, 88, 9, 3, 0, 0, 0];
        let mask = vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
        let types = vec![0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0];
        (ids, mask, types)
    }

    fn view<'a>(ids: &'a [i64], mask: &'a [i64], types: &'a [i64]) -> PaddedIds<'a> {
        PaddedIds { input_ids: ids, attention_mask: mask, token_type_ids: Some(types), batch_size: 2, seq_len: 7 }
    }

    fn tiny_bert() -> EncoderConfig {
        EncoderConfig::Bert(BertConfig {
            vocab_size: 100,
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 64,
            max_position_embeddings: 16,
            ..Default::default()
        })
    }

    fn floats(t: Tensor<B, 3>) -> Vec<f32> {
        t.into_data().to_vec().expect("f32 tensor")
    }

    #[test]
    fn fused_and_burn_give_the_same_hidden_states() {
        let device = Default::default();
        let config = tiny_bert();
        let (ids, mask, types) = padded_batch();
        let burn = InferenceEncoder::new(config.init::<B>(&device), &config, InferenceEngine::Burn).expect("burn");
        assert_eq!(burn.engine(), InferenceEngine::Burn);
        let a = burn.forward(view(&ids, &mask, &types), &device).expect("burn forward");
        // burn initialises parameters lazily, and a clone taken before that draws weights of its own: the fused
        // engine gets a clone of the module the burn forward above has initialised.
        let InferenceEncoder::Burn(module) = &burn else { panic!("burn was requested") };
        let fused = InferenceEncoder::new(module.clone(), &config, InferenceEngine::Fused).expect("fused");
        assert_eq!(fused.engine(), InferenceEngine::Fused);
        assert_eq!(fused.hidden_size(), 32);
        let b = fused.forward(view(&ids, &mask, &types), &device).expect("fused forward");
        assert_eq!(a.dims(), [2, 7, 32]);
        assert_eq!(b.dims(), [2, 7, 32]);
        let diff = floats(a).iter().zip(floats(b)).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(diff <= 1e-5, "max |Δ| {diff}");

        for pooling in [SentencePooling::Mean, SentencePooling::Cls] {
            let a = burn.sentence_embeddings(view(&ids, &mask, &types), pooling, &device).expect("burn pooled");
            let b = fused.sentence_embeddings(view(&ids, &mask, &types), pooling, &device).expect("fused pooled");
            assert_eq!(a.len(), 2);
            assert!(a.iter().chain(&b).all(|row| row.len() == 32));
            let diff = a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(diff <= 1e-5, "{pooling:?}: max |Δ| {diff}");
        }
    }

    #[test]
    fn deberta_v2_with_a_convolution_layer_falls_back_to_burn() {
        let device = Default::default();
        let config = EncoderConfig::DebertaV2(DebertaV2Config {
            vocab_size: 100,
            hidden_size: 32,
            num_hidden_layers: 1,
            num_attention_heads: 4,
            intermediate_size: 64,
            max_position_embeddings: 16,
            conv_kernel_size: 3,
            ..Default::default()
        });
        let encoder = InferenceEncoder::new(config.init::<B>(&device), &config, InferenceEngine::Fused).expect("new");
        assert_eq!(encoder.engine(), InferenceEngine::Burn);
        let (ids, mask, types) = padded_batch();
        let hidden = encoder.forward(view(&ids, &mask, &types), &device).expect("burn forward");
        assert_eq!(hidden.dims(), [2, 7, 32]);
    }

    #[test]
    fn malformed_batches_are_errors_on_both_engines() {
        let device = Default::default();
        let config = tiny_bert();
        let encoder = config.init::<B>(&device);
        for engine in [InferenceEngine::Burn, InferenceEngine::Fused] {
            let encoder = InferenceEncoder::new(encoder.clone(), &config, engine).expect("new");
            let ids = [2i64, 5, 3];
            let short_mask = [1i64, 1];
            let batch = PaddedIds {
                input_ids: &ids,
                attention_mask: &short_mask,
                token_type_ids: None,
                batch_size: 1,
                seq_len: 3,
            };
            let err = encoder.forward(batch, &device).unwrap_err().to_string();
            assert!(err.contains("expected 1×3"), "{engine}: {err}");
        }
    }

    #[test]
    fn engine_names_round_trip() {
        for engine in [InferenceEngine::Burn, InferenceEngine::Fused] {
            assert_eq!(engine.to_string().parse::<InferenceEngine>().expect("parse"), engine);
        }
        assert_eq!("fused-cpu".parse::<InferenceEngine>().expect("old name"), InferenceEngine::Fused);
        assert!("gpu".parse::<InferenceEngine>().is_err());
    }
}
