//! The family dispatch: [`EncoderConfig`] chosen by `model_type` in `config.json`, and [`Encoder`], one forward for
//! every family.
use crate::bert::{Bert, BertConfig};
use crate::deberta_v2::{DebertaV2, DebertaV2Config};
use crate::electra::{Electra, ElectraConfig};
use crate::error::{ModelError, Result};
use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Int, Tensor};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A family's `config.json` structure: deserialised from the HF file, then checked by [`FamilyConfig::validate`].
pub trait FamilyConfig: DeserializeOwned {
    /// Checks the options the port implements; `path` names the file in the error.
    fn validate(&self, path: &Path) -> Result<()>;
}

/// Reads, parses and validates one family's `config.json`: the one reader behind `BertConfig::from_file`,
/// `ElectraConfig::from_file`, `DebertaV2Config::from_file` and [`EncoderConfig::from_file`].
pub fn read_family_config<T: FamilyConfig>(path: &Path) -> Result<T> {
    parse_family_config(read_json_value(path)?, path)
}

fn read_json_value(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.into(), source })?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config { path: path.into(), message: e.to_string() })
}

fn parse_family_config<T: FamilyConfig>(value: serde_json::Value, path: &Path) -> Result<T> {
    let config: T =
        serde_json::from_value(value).map_err(|e| ModelError::Config { path: path.into(), message: e.to_string() })?;
    config.validate(path)?;
    Ok(config)
}

/// The configuration of a supported encoder family, read once from `config.json` and passed around typed.
///
/// Serialises as the Hugging Face `config.json` object, tagged by its `model_type` (`bert`, `roberta`,
/// `xlm-roberta`, `camembert`, `electra`, `deberta-v2`), so a saved model directory's `config.json` loads like a
/// checkpoint's. Keys the ports do not read are not kept.
#[derive(Debug, Clone, PartialEq)]
pub enum EncoderConfig {
    /// `model_type` `bert`, `roberta`, `xlm-roberta`, `camembert` (kept in [`BertConfig::model_type`]).
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
        Self::from_json_value_at(read_json_value(path)?, path)
    }

    /// The configuration held in an already parsed `config.json` value (errors name `<config>`).
    pub fn from_json_value(value: serde_json::Value) -> Result<Self> {
        Self::from_json_value_at(value, Path::new("<config>"))
    }

    fn from_json_value_at(value: serde_json::Value, path: &Path) -> Result<Self> {
        let model_type = value.get("model_type").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        match model_type.as_str() {
            "bert" | "roberta" | "xlm-roberta" | "camembert" => Ok(Self::Bert(parse_family_config(value, path)?)),
            "electra" => Ok(Self::Electra(parse_family_config(value, path)?)),
            "deberta-v2" => Ok(Self::DebertaV2(parse_family_config(value, path)?)),
            "" => Err(ModelError::Config { path: path.into(), message: "no \"model_type\" key".into() }),
            other => Err(ModelError::Unsupported {
                path: path.into(),
                what: format!("model_type {other:?} (supported: bert, roberta, xlm-roberta, electra, deberta-v2)"),
            }),
        }
    }

    /// The HF `config.json` object of this configuration (`model_type` included).
    pub fn to_json_value(&self) -> Result<serde_json::Value> {
        let to_value = |v: serde_json::Result<serde_json::Value>| {
            v.map_err(|e| ModelError::Config { path: "<config>".into(), message: e.to_string() })
        };
        let mut value = match self {
            Self::Bert(c) => to_value(serde_json::to_value(c))?,
            Self::Electra(c) => to_value(serde_json::to_value(c))?,
            Self::DebertaV2(c) => to_value(serde_json::to_value(c))?,
        };
        // BERT keeps its exact model_type (roberta, xlm-roberta …); the other families have one each.
        let model_type = match self {
            Self::Bert(c) => c.model_type.clone(),
            Self::Electra(_) => "electra".to_string(),
            Self::DebertaV2(_) => "deberta-v2".to_string(),
        };
        if let Some(fields) = value.as_object_mut() {
            fields.insert("model_type".into(), model_type.into());
        }
        Ok(value)
    }

    /// The same configuration with a word embedding of `vocab_size` rows (e.g. after adding marker tokens).
    pub fn with_vocab_size(mut self, vocab_size: usize) -> Self {
        match &mut self {
            Self::Bert(c) => c.vocab_size = vocab_size,
            Self::Electra(c) => c.vocab_size = vocab_size,
            Self::DebertaV2(c) => c.vocab_size = vocab_size,
        }
        self
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

impl Serialize for EncoderConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_json_value().map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EncoderConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_json_value(value).map_err(serde::de::Error::custom)
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

    /// Replaces the word-embedding rows `from..from + rows` with `rows` (`[n, embedding size]`), e.g. to give added
    /// marker tokens the initial values another implementation used.
    pub fn with_token_embedding_rows(mut self, from: usize, rows: Tensor<B, 2>) -> Self {
        let embedding = match &mut self {
            Self::Bert(m) => &mut m.embeddings.word_embeddings,
            Self::Electra(m) => &mut m.embeddings.word_embeddings,
            Self::DebertaV2(m) => &mut m.embeddings.word_embeddings,
        };
        let [n, width] = rows.dims();
        // detach: a parameter must be a leaf of the autodiff graph.
        let weight = embedding.weight.val().slice_assign([from..from + n, 0..width], rows).detach();
        embedding.weight = Param::from_tensor(weight);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(config: &EncoderConfig) -> EncoderConfig {
        let text = serde_json::to_string(config).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn serialises_as_the_hf_config_tagged_by_model_type() {
        let roberta = EncoderConfig::from_json_value(serde_json::json!({
            "model_type": "roberta", "hidden_size": 64, "num_attention_heads": 2, "architectures": ["RobertaModel"]
        }))
        .unwrap();
        let value = roberta.to_json_value().unwrap();
        assert_eq!(value["model_type"], "roberta");
        assert_eq!(value["hidden_size"], 64);
        assert_eq!(round_trip(&roberta), roberta);
        assert_eq!(roberta.family(), "roberta");

        let electra = EncoderConfig::from_json_value(serde_json::json!({"model_type": "electra"})).unwrap();
        let EncoderConfig::Electra(c) = &electra else { panic!("{electra:?}") };
        // ELECTRA's own defaults, not BERT's.
        assert_eq!((c.hidden_size, c.num_attention_heads, c.intermediate_size, c.embedding_size), (256, 4, 1024, 128));
        let value = electra.to_json_value().unwrap();
        assert_eq!(value["model_type"], "electra");
        assert_eq!(value["embedding_size"], 128);
        assert_eq!(round_trip(&electra), electra);
        assert_eq!(ElectraConfig::default(), *c);

        let deberta = EncoderConfig::DebertaV2(DebertaV2Config::default());
        assert_eq!(deberta.to_json_value().unwrap()["model_type"], "deberta-v2");
        assert_eq!(round_trip(&deberta), deberta);

        assert!(serde_json::from_str::<EncoderConfig>(r#"{"model_type": "gpt2"}"#).is_err());
        assert!(serde_json::from_str::<EncoderConfig>(r#"{"hidden_size": 8}"#).is_err());
    }

    #[test]
    fn with_vocab_size_changes_only_the_vocabulary() {
        let base = EncoderConfig::Bert(BertConfig::default());
        let grown = base.clone().with_vocab_size(40_000);
        assert_eq!(grown.vocab_size(), 40_000);
        assert_eq!(grown.hidden_size(), base.hidden_size());
        assert_eq!(EncoderConfig::Electra(ElectraConfig::default()).with_vocab_size(7).vocab_size(), 7);
    }
}
