//! ELECTRA discriminator encoder (HF `ElectraModel`): BERT embeddings of width `embedding_size`, projected to
//! `hidden_size` by `embeddings_project` when the two differ, then the BERT layer stack.
use crate::activation::Activation;
use crate::bert::{default_initializer_range, default_layer_norm_eps, BertEmbeddings, EmbeddingSizes};
use crate::error::{ModelError, Result};
use crate::layers::{
    additive_attention_mask, hf_linear, linear_tokens, resize_embedding, LayerSpec, TransformerLayer, BERT_LAYER_REMAP,
};
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Int, Tensor};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `config.json` of an ELECTRA checkpoint; missing keys take `transformers.ElectraConfig` defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElectraConfig {
    /// Vocabulary size.
    #[serde(default = "default_vocab_size")]
    pub vocab_size: usize,
    /// Width of the embeddings (before `embeddings_project`).
    #[serde(default = "default_embedding_size")]
    pub embedding_size: usize,
    /// Hidden size of the transformer layers.
    #[serde(default = "default_hidden_size")]
    pub hidden_size: usize,
    /// Number of layers.
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
    /// Std of the normal initialiser.
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id.
    #[serde(default)]
    pub pad_token_id: usize,
    /// Only `"absolute"` is supported.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_vocab_size() -> usize {
    30522
}
fn default_embedding_size() -> usize {
    128
}
fn default_hidden_size() -> usize {
    256
}
fn default_layers() -> usize {
    12
}
fn default_heads() -> usize {
    4
}
fn default_intermediate() -> usize {
    1024
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

impl Default for ElectraConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every ElectraConfig field has a default")
    }
}

impl ElectraConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.into(), source })?;
        let config: Self = serde_json::from_str(&text)
            .map_err(|e| ModelError::Config { path: path.into(), message: e.to_string() })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks the options this port implements.
    pub fn validate(&self, path: &Path) -> Result<()> {
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

    /// A randomly initialised encoder.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Electra<B> {
        let spec = LayerSpec {
            hidden: self.hidden_size,
            heads: self.num_attention_heads,
            intermediate: self.intermediate_size,
            activation: self.hidden_act,
            layer_norm_eps: self.layer_norm_eps,
            hidden_dropout: self.hidden_dropout_prob,
            attention_dropout: self.attention_probs_dropout_prob,
            initializer_range: self.initializer_range,
        };
        Electra {
            embeddings: BertEmbeddings::new(
                EmbeddingSizes {
                    vocab: self.vocab_size,
                    dim: self.embedding_size,
                    positions: self.max_position_embeddings,
                    token_types: self.type_vocab_size,
                },
                None,
                self.layer_norm_eps,
                self.hidden_dropout_prob,
                self.initializer_range,
                device,
            ),
            embeddings_project: (self.embedding_size != self.hidden_size)
                .then(|| hf_linear(self.embedding_size, self.hidden_size, self.initializer_range, device)),
            layers: (0..self.num_hidden_layers).map(|_| TransformerLayer::new(&spec, device)).collect(),
            hidden_size: self.hidden_size,
            initializer_range: self.initializer_range,
        }
    }
}

/// Checkpoint key → module path rewrites for ELECTRA (`electra.` stripped; `embeddings_project` keeps its name).
pub fn key_remap() -> Vec<(&'static str, &'static str)> {
    BERT_LAYER_REMAP.to_vec()
}

/// The ELECTRA discriminator encoder (no prediction head).
#[derive(Module, Debug)]
pub struct Electra<B: Backend> {
    /// Input embeddings of width `embedding_size`.
    pub embeddings: BertEmbeddings<B>,
    /// `embedding_size → hidden_size` projection, present when the two differ.
    pub embeddings_project: Option<Linear<B>>,
    /// The layer stack.
    pub layers: Vec<TransformerLayer<B>>,
    hidden_size: usize,
    initializer_range: f64,
}

impl<B: Backend> Electra<B> {
    /// Last hidden state `[batch, seq, hidden]`.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> Tensor<B, 3> {
        let mask_bias = additive_attention_mask(attention_mask);
        let embedded = self.embeddings.forward(input_ids, token_type_ids);
        let x = match &self.embeddings_project {
            Some(project) => linear_tokens(project, embedded),
            None => embedded,
        };
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

    /// Grows (or cuts) the word embedding; new rows ~ N(0, initializer_range).
    pub fn resize_token_embeddings(mut self, new_vocab: usize, device: &B::Device) -> Self {
        self.embeddings.word_embeddings =
            resize_embedding(self.embeddings.word_embeddings, new_vocab, self.initializer_range, device);
        self
    }
}
