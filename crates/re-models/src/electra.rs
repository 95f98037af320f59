//! ELECTRA discriminator encoder (HF `ElectraModel`): BERT embeddings of width `embedding_size`, projected to
//! `hidden_size` by `embeddings_project` when the two differ, then the BERT layer stack.
use crate::bert::{BertConfig, BertEmbeddings, EmbeddingSizes};
use crate::encoder::{read_family_config, FamilyConfig};
use crate::error::Result;
use crate::layers::{
    additive_attention_mask, hf_linear, linear_tokens, resize_embedding, TransformerLayer, BERT_LAYER_REMAP,
};
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Int, Tensor};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `config.json` of an ELECTRA checkpoint: the BERT fields plus `embedding_size` (the width of the embeddings before
/// `embeddings_project`). Missing keys take `transformers.ElectraConfig` defaults, which differ from BERT's in
/// `hidden_size` (256), `num_attention_heads` (4) and `intermediate_size` (1024); `model_type` is always `electra`.
///
/// The BERT fields are reachable directly (`config.hidden_size`) through `Deref`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElectraConfig {
    /// Everything ELECTRA shares with BERT (`model_type` = `electra`).
    #[serde(flatten)]
    pub bert: BertConfig,
    /// Width of the embeddings (before `embeddings_project`).
    pub embedding_size: usize,
}

/// `transformers.ElectraConfig` defaults where they differ from `BertConfig`'s (and `embedding_size`).
const ELECTRA_DEFAULTS: [(&str, u64); 4] =
    [("hidden_size", 256), ("num_attention_heads", 4), ("intermediate_size", 1024), ("embedding_size", 128)];

impl<'de> Deserialize<'de> for ElectraConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(flatten)]
            bert: BertConfig,
            embedding_size: usize,
        }
        // ELECTRA's own defaults go in before the shared BERT fields are read, so BERT's never apply to them.
        let mut fields = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        for (key, value) in ELECTRA_DEFAULTS {
            fields.entry(key).or_insert(value.into());
        }
        fields.insert("model_type".into(), "electra".into());
        let Fields { bert, embedding_size } =
            Fields::deserialize(serde_json::Value::Object(fields)).map_err(serde::de::Error::custom)?;
        Ok(ElectraConfig { bert, embedding_size })
    }
}

impl std::ops::Deref for ElectraConfig {
    type Target = BertConfig;
    fn deref(&self) -> &BertConfig {
        &self.bert
    }
}

impl std::ops::DerefMut for ElectraConfig {
    fn deref_mut(&mut self) -> &mut BertConfig {
        &mut self.bert
    }
}

impl Default for ElectraConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every ElectraConfig field has a default")
    }
}

impl ElectraConfig {
    /// Reads and validates `config.json` (see [`crate::encoder::read_family_config`]).
    pub fn from_file(path: &Path) -> Result<Self> {
        read_family_config(path)
    }

    /// Checks the options this port implements.
    pub fn validate(&self, path: &Path) -> Result<()> {
        self.bert.validate_shape(path)
    }

    /// A randomly initialised encoder.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Electra<B> {
        let spec = self.bert.layer_spec();
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

impl FamilyConfig for ElectraConfig {
    fn validate(&self, path: &Path) -> Result<()> {
        ElectraConfig::validate(self, path)
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
