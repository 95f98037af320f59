//! BERT and RoBERTa encoders (HF `BertModel` / `RobertaModel` without pooler).
//!
//! RoBERTa is the same network with two differences that [`BertConfig::model_type`] switches on: position ids start at
//! `pad_token_id + 1` and skip padding (HF `create_position_ids_from_input_ids`), and `type_vocab_size` is usually 1.
//! klue/roberta pairs this model with a WordPiece (BERT) tokenizer; that is a tokenizer matter only.
use crate::activation::Activation;
use crate::encoder::{read_family_config, FamilyConfig};
use crate::error::{ModelError, Result};
use crate::layers::{
    additive_attention_mask, hf_embedding, resize_embedding, LayerSpec, TransformerLayer, BERT_LAYER_REMAP,
};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, LayerNormConfig};
use burn::tensor::{backend::Backend, Int, Tensor};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `config.json` of a BERT or RoBERTa checkpoint; missing keys take `transformers.BertConfig` defaults
/// (`pad_token_id` defaults to 1 for RoBERTa, as `RobertaConfig` does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// `"bert"`, or `"roberta"` / `"xlm-roberta"` / `"camembert"` for the RoBERTa position scheme.
    #[serde(default = "default_model_type")]
    pub model_type: String,
    /// Vocabulary size (rows of the word embedding).
    #[serde(default = "default_vocab_size")]
    pub vocab_size: usize,
    /// Hidden size.
    #[serde(default = "default_hidden_size")]
    pub hidden_size: usize,
    /// Number of transformer layers.
    #[serde(default = "default_layers")]
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    #[serde(default = "default_heads")]
    pub num_attention_heads: usize,
    /// Feed-forward size.
    #[serde(default = "default_intermediate")]
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default)]
    pub hidden_act: Activation,
    /// Dropout on hidden states.
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Rows of the absolute position embedding.
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    /// Rows of the token-type embedding.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// Std of the normal initialiser (also used for resized embedding rows).
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id; `None` means the family default.
    #[serde(default)]
    pub pad_token_id: Option<usize>,
    /// Only `"absolute"` is supported.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_model_type() -> String {
    "bert".into()
}
fn default_vocab_size() -> usize {
    30522
}
fn default_hidden_size() -> usize {
    768
}
fn default_layers() -> usize {
    12
}
fn default_heads() -> usize {
    12
}
fn default_intermediate() -> usize {
    3072
}
fn default_dropout() -> f64 {
    0.1
}
fn default_max_positions() -> usize {
    512
}
fn default_type_vocab() -> usize {
    2
}
pub(crate) fn default_initializer_range() -> f64 {
    0.02
}
pub(crate) fn default_layer_norm_eps() -> f64 {
    1e-12
}

impl Default for BertConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every BertConfig field has a default")
    }
}

impl BertConfig {
    /// Reads and validates `config.json` (see [`crate::encoder::read_family_config`]).
    pub fn from_file(path: &Path) -> Result<Self> {
        read_family_config(path)
    }

    /// Checks the options this port implements; `path` names the file in the error.
    pub fn validate(&self, path: &Path) -> Result<()> {
        if !matches!(self.model_type.as_str(), "bert" | "roberta" | "xlm-roberta" | "camembert") {
            return Err(ModelError::Unsupported {
                path: path.into(),
                what: format!("model_type {:?} for the BERT encoder", self.model_type),
            });
        }
        self.validate_shape(path)
    }

    /// The checks BERT and ELECTRA share: absolute positions only, heads dividing the hidden size.
    pub(crate) fn validate_shape(&self, path: &Path) -> Result<()> {
        if let Some(kind) = &self.position_embedding_type {
            if kind != "absolute" {
                return Err(ModelError::Unsupported {
                    path: path.into(),
                    what: format!("position_embedding_type {kind:?} (only \"absolute\")"),
                });
            }
        }
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return Err(ModelError::Config {
                path: path.into(),
                message: format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            });
        }
        Ok(())
    }

    /// Whether positions follow the RoBERTa scheme (start after the padding id).
    pub fn is_roberta(&self) -> bool {
        matches!(self.model_type.as_str(), "roberta" | "xlm-roberta" | "camembert")
    }

    /// The padding id: `pad_token_id`, else 1 for RoBERTa and 0 for BERT.
    pub fn pad_token_id(&self) -> usize {
        self.pad_token_id.unwrap_or(if self.is_roberta() { 1 } else { 0 })
    }

    pub(crate) fn layer_spec(&self) -> LayerSpec {
        LayerSpec {
            hidden: self.hidden_size,
            heads: self.num_attention_heads,
            intermediate: self.intermediate_size,
            activation: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            hidden_dropout: self.hidden_dropout_prob,
            attention_dropout: self.attention_probs_dropout_prob,
            initializer_range: self.initializer_range,
        }
    }

    /// A randomly initialised encoder (HF `_init_weights`: normal(0, initializer_range), zero biases, unit LayerNorms).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Bert<B> {
        let position_padding_idx = self.is_roberta().then(|| self.pad_token_id());
        Bert {
            embeddings: BertEmbeddings::new(
                EmbeddingSizes {
                    vocab: self.vocab_size,
                    dim: self.hidden_size,
                    positions: self.max_position_embeddings,
                    token_types: self.type_vocab_size,
                },
                position_padding_idx,
                self.layer_norm_eps,
                self.hidden_dropout_prob,
                self.initializer_range,
                device,
            ),
            layers: (0..self.num_hidden_layers).map(|_| TransformerLayer::new(&self.layer_spec(), device)).collect(),
            hidden_size: self.hidden_size,
            initializer_range: self.initializer_range,
        }
    }
}

impl FamilyConfig for BertConfig {
    fn validate(&self, path: &Path) -> Result<()> {
        BertConfig::validate(self, path)
    }
}

/// Checkpoint key → module path rewrites for BERT/RoBERTa (prefix `bert.`/`roberta.` stripped, layer names mapped).
pub fn key_remap() -> Vec<(&'static str, &'static str)> {
    BERT_LAYER_REMAP.to_vec()
}

/// Row counts and width of [`BertEmbeddings`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddingSizes {
    pub vocab: usize,
    pub dim: usize,
    pub positions: usize,
    pub token_types: usize,
}

/// Word + position + token-type embeddings, LayerNorm, dropout (HF `BertEmbeddings` / `RobertaEmbeddings` /
/// `ElectraEmbeddings`, whose width is `embedding_size`).
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    /// `embeddings.word_embeddings`.
    pub word_embeddings: Embedding<B>,
    /// `embeddings.position_embeddings`.
    pub position_embeddings: Embedding<B>,
    /// `embeddings.token_type_embeddings`.
    pub token_type_embeddings: Embedding<B>,
    /// `embeddings.LayerNorm`.
    pub layer_norm: LayerNorm<B>,
    /// Hidden dropout.
    pub dropout: Dropout,
    /// `Some(pad)` for RoBERTa: positions are `pad + 1 + index among non-padding tokens`, padding gets `pad`.
    pub(crate) position_padding_idx: Option<usize>,
}

impl<B: Backend> BertEmbeddings<B> {
    pub(crate) fn new(
        sizes: EmbeddingSizes,
        position_padding_idx: Option<usize>,
        layer_norm_eps: f64,
        dropout: f64,
        std: f64,
        device: &B::Device,
    ) -> Self {
        Self {
            word_embeddings: hf_embedding(sizes.vocab, sizes.dim, std, device),
            position_embeddings: hf_embedding(sizes.positions, sizes.dim, std, device),
            token_type_embeddings: hf_embedding(sizes.token_types, sizes.dim, std, device),
            layer_norm: LayerNormConfig::new(sizes.dim).with_epsilon(layer_norm_eps).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            position_padding_idx,
        }
    }

    /// Position ids `[batch, seq]`: `0..seq` (BERT) or HF `create_position_ids_from_input_ids` (RoBERTa):
    /// `cumsum(ids != pad) * (ids != pad) + pad`.
    pub fn position_ids(&self, input_ids: &Tensor<B, 2, Int>) -> Tensor<B, 2, Int> {
        let [batch, seq] = input_ids.dims();
        match self.position_padding_idx {
            Some(pad) => {
                let not_pad = input_ids.clone().not_equal_elem(pad as i64).int();
                not_pad.clone().cumsum(1) * not_pad + pad as i64
            }
            None => {
                Tensor::<B, 1, Int>::arange(0..seq as i64, &input_ids.device()).reshape([1, seq]).repeat_dim(0, batch)
            }
        }
    }

    /// `LN(E_word[ids] + E_pos[positions] + E_type[types])`, then dropout; `[batch, seq, dim]`.
    pub fn forward(&self, input_ids: Tensor<B, 2, Int>, token_type_ids: Option<Tensor<B, 2, Int>>) -> Tensor<B, 3> {
        let position_ids = self.position_ids(&input_ids);
        let token_type_ids = token_type_ids.unwrap_or_else(|| input_ids.zeros_like());
        let embedded = self.word_embeddings.forward(input_ids)
            + self.position_embeddings.forward(position_ids)
            + self.token_type_embeddings.forward(token_type_ids);
        self.dropout.forward(self.layer_norm.forward(embedded))
    }
}

/// The BERT/RoBERTa encoder: embeddings followed by `num_hidden_layers` [`TransformerLayer`]s.
#[derive(Module, Debug)]
pub struct Bert<B: Backend> {
    /// Input embeddings.
    pub embeddings: BertEmbeddings<B>,
    /// The layer stack (`encoder.layer.N` in HF checkpoints).
    pub layers: Vec<TransformerLayer<B>>,
    hidden_size: usize,
    initializer_range: f64,
}

impl<B: Backend> Bert<B> {
    /// Last hidden state `[batch, seq, hidden]` for `input_ids` and a 0/1 `attention_mask` (both `[batch, seq]`);
    /// `token_type_ids` default to 0.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> Tensor<B, 3> {
        let mask_bias = additive_attention_mask(attention_mask);
        let x = self.embeddings.forward(input_ids, token_type_ids);
        self.layers.iter().fold(x, |x, layer| layer.forward(x, mask_bias.clone()))
    }

    /// Hidden size.
    pub fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    /// Vocabulary size (rows of the word embedding).
    pub fn vocab_size(&self) -> usize {
        self.embeddings.word_embeddings.weight.dims()[0]
    }

    /// Grows (or cuts) the word embedding to `new_vocab` rows; new rows ~ N(0, initializer_range)
    /// (see [`crate::layers::resize_embedding`]).
    pub fn resize_token_embeddings(mut self, new_vocab: usize, device: &B::Device) -> Self {
        self.embeddings.word_embeddings =
            resize_embedding(self.embeddings.word_embeddings, new_vocab, self.initializer_range, device);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn config_defaults_and_roberta_padding() {
        let bert: BertConfig = serde_json::from_str(r#"{"model_type":"bert","architectures":["BertModel"]}"#).unwrap();
        assert_eq!(bert.hidden_size, 768);
        assert_eq!(bert.pad_token_id(), 0);
        assert!(!bert.is_roberta());
        let roberta: BertConfig = serde_json::from_str(r#"{"model_type":"roberta","hidden_act":"gelu_new"}"#).unwrap();
        assert_eq!(roberta.pad_token_id(), 1);
        assert_eq!(roberta.hidden_act, Activation::GeluNew);
        let rel: BertConfig = serde_json::from_str(r#"{"position_embedding_type":"relative_key"}"#).unwrap();
        assert!(rel.validate(Path::new("config.json")).is_err());
    }

    #[test]
    fn roberta_positions_skip_padding() {
        let device = Default::default();
        let config = BertConfig {
            model_type: "roberta".into(),
            vocab_size: 20,
            hidden_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            intermediate_size: 16,
            max_position_embeddings: 16,
            ..BertConfig::default()
        };
        let model = config.init::<NdArray>(&device);
        let ids = Tensor::<NdArray, 2, Int>::from_ints([[0, 5, 6, 2, 1, 1], [0, 7, 8, 9, 10, 2]], &device);
        let positions: Vec<i64> = model.embeddings.position_ids(&ids).into_data().convert::<i64>().to_vec().unwrap();
        // HF create_position_ids_from_input_ids with padding_idx 1, computed by hand.
        assert_eq!(positions, vec![2, 3, 4, 5, 1, 1, 2, 3, 4, 5, 6, 7]);
        let resized = model.resize_token_embeddings(23, &device);
        assert_eq!(resized.vocab_size(), 23);
    }
}
