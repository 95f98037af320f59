//! The family dispatch: [`EncoderConfig`] chosen by `model_type` in `config.json`, and [`Encoder`], one forward for
//! every family.
use crate::bert::{Bert, BertConfig};
use crate::deberta_v2::{DebertaV2, DebertaV2Config};
use crate::electra::{Electra, ElectraConfig};
use crate::error::{ModelError, Result};
use burn::module::Module;
use burn::tensor::{backend::Backend, Int, Tensor};
use std::path::Path;

/// The configuration of a supported encoder family.
#[derive(Debug, Clone, PartialEq)]
pub enum EncoderConfig {
    /// `model_type` `bert`, `roberta`, `xlm-roberta`, `camembert`.
    Bert(BertConfig),
    /// `model_type` `electra`.
    Electra(ElectraConfig),
    /// `model_type` `deberta-v2` (DeBERTa-v2 and v3).
    DebertaV2(DebertaV2Config),
}

impl EncoderConfig {
    /// Reads `dir/config.json`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_file(&dir.join("config.json"))
    }

    /// Reads a `config.json` and picks the family from its `model_type`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.into(), source })?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ModelError::Config { path: path.into(), message: e.to_string() })?;
        Self::from_json_value_at(value, path)
    }

    /// The configuration held in an already parsed `config.json` value (errors name `<config>`).
    pub fn from_json_value(value: serde_json::Value) -> Result<Self> {
        Self::from_json_value_at(value, Path::new("<config>"))
    }

    fn from_json_value_at(value: serde_json::Value, path: &Path) -> Result<Self> {
        let model_type = value.get("model_type").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let parse_err = |e: serde_json::Error| ModelError::Config { path: path.into(), message: e.to_string() };
        match model_type.as_str() {
            "bert" | "roberta" | "xlm-roberta" | "camembert" => {
                let config: BertConfig = serde_json::from_value(value).map_err(parse_err)?;
                config.validate(path)?;
                Ok(Self::Bert(config))
            }
            "electra" => {
                let config: ElectraConfig = serde_json::from_value(value).map_err(parse_err)?;
                config.validate(path)?;
                Ok(Self::Electra(config))
            }
            "deberta-v2" => {
                let config: DebertaV2Config = serde_json::from_value(value).map_err(parse_err)?;
                config.validate(path)?;
                Ok(Self::DebertaV2(config))
            }
            "" => Err(ModelError::Config { path: path.into(), message: "no \"model_type\" key".into() }),
            other => Err(ModelError::Unsupported {
                path: path.into(),
                what: format!("model_type {other:?} (supported: bert, roberta, xlm-roberta, electra, deberta-v2)"),
            }),
        }
    }

    /// The `model_type` family name.
    pub fn family(&self) -> &'static str {
        match self {
            Self::Bert(c) if c.is_roberta() => "roberta",
            Self::Bert(_) => "bert",
            Self::Electra(_) => "electra",
            Self::DebertaV2(_) => "deberta-v2",
        }
    }

    /// Hidden size of the encoder output.
    pub fn hidden_size(&self) -> usize {
        match self {
            Self::Bert(c) => c.hidden_size,
            Self::Electra(c) => c.hidden_size,
            Self::DebertaV2(c) => c.hidden_size,
        }
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Bert(c) => c.vocab_size,
            Self::Electra(c) => c.vocab_size,
            Self::DebertaV2(c) => c.vocab_size,
        }
    }

    /// Most tokens a sequence may have (`max_position_embeddings`; RoBERTa loses `pad_token_id + 1` positions).
    pub fn max_sequence_length(&self) -> usize {
        match self {
            Self::Bert(c) if c.is_roberta() => c.max_position_embeddings.saturating_sub(c.pad_token_id() + 1),
            Self::Bert(c) => c.max_position_embeddings,
            Self::Electra(c) => c.max_position_embeddings,
            Self::DebertaV2(c) => c.max_position_embeddings,
        }
    }

    /// A randomly initialised encoder of this family.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Encoder<B> {
        match self {
            Self::Bert(c) => Encoder::Bert(c.init(device)),
            Self::Electra(c) => Encoder::Electra(c.init(device)),
            Self::DebertaV2(c) => Encoder::DebertaV2(c.init(device)),
        }
    }
}

/// Any supported encoder; every variant maps `[batch, seq]` ids and mask to the last hidden state `[batch, seq, hidden]`.
#[derive(Module, Debug)]
pub enum Encoder<B: Backend> {
    /// BERT or RoBERTa.
    Bert(Bert<B>),
    /// ELECTRA discriminator.
    Electra(Electra<B>),
    /// DeBERTa-v2/v3.
    DebertaV2(DebertaV2<B>),
}

impl<B: Backend> Encoder<B> {
    /// Last hidden state `[batch, seq, hidden]`; `attention_mask` is 1 for tokens, 0 for padding; `token_type_ids`
    /// default to zeros.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> Tensor<B, 3> {
        match self {
            Self::Bert(m) => m.forward(input_ids, attention_mask, token_type_ids),
            Self::Electra(m) => m.forward(input_ids, attention_mask, token_type_ids),
            Self::DebertaV2(m) => m.forward(input_ids, attention_mask, token_type_ids),
        }
    }

    /// Hidden size.
    pub fn hidden_size(&self) -> usize {
        match self {
            Self::Bert(m) => m.hidden_size(),
            Self::Electra(m) => m.hidden_size(),
            Self::DebertaV2(m) => m.hidden_size(),
        }
    }

    /// Grows the word embedding to `new_vocab` rows (e.g. after adding marker tokens); new rows ~ N(0,
    /// initializer_range) as HF `_init_weights`.
    pub fn resize_token_embeddings(self, new_vocab: usize, device: &B::Device) -> Self {
        match self {
            Self::Bert(m) => Self::Bert(m.resize_token_embeddings(new_vocab, device)),
            Self::Electra(m) => Self::Electra(m.resize_token_embeddings(new_vocab, device)),
            Self::DebertaV2(m) => Self::DebertaV2(m.resize_token_embeddings(new_vocab, device)),
        }
    }
}
