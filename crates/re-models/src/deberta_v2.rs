//! DeBERTa-v2 / DeBERTa-v3 encoder: a port of Hugging Face `transformers`' `modeling_deberta_v2.py`
//! (`DebertaV2Model`, checked against transformers 5.23).
//!
//! What the port covers, all driven by `config.json`:
//! - **Embeddings** (v2 layout): word embeddings of width `embedding_size` (projected to `hidden_size` by `embed_proj`
//!   when the two differ), absolute position embeddings only if `position_biased_input`, token-type embeddings only if
//!   `type_vocab_size > 0`, LayerNorm, then multiplication by the attention mask (padding rows become zero).
//! - **Disentangled self-attention**: content→content plus content→position (`c2p`) and position→content (`p2c`) terms
//!   as listed in `pos_att_type`, scaled by `1/√(d·(1 + |pos_att_type|))`; the position projections either share the
//!   content `query_proj`/`key_proj` (`share_att_key`, v3) or have their own `pos_key_proj`/`pos_query_proj` (v2).
//! - **Relative positions**: `q − k`, log-bucketed (`make_log_bucket_position`) when `position_buckets > 0`;
//!   `max_relative_positions < 1` means `max_position_embeddings`; `rel_embeddings` optionally layer-normed
//!   (`norm_rel_ebd = "layer_norm"`).
//! - The optional **ConvLayer** after the first layer (`conv_kernel_size > 0`, `conv_act`, `conv_groups`).
//! - **Padding** exactly as transformers 5.x: the pairwise mask `m_i·m_j` fills the scores with the most negative float
//!   before the softmax, so a padded query row attends uniformly (transformers ≤ 4.45's `XSoftmax` zeroed those rows;
//!   both agree on every non-padded position).
//!
//! # Tokenization of DeBERTa-v3 checkpoints
//! DeBERTa-v2/v3 checkpoints from Microsoft ship a SentencePiece model (`spm.model`) and no `tokenizer.json`; the
//! Python `DebertaV2TokenizerFast` converts `spm.model` on the fly (needs `sentencepiece` + `protobuf`). kre reads
//! `tokenizer.json` only (see [`crate::hub::load_tokenizer`]; `vocab.txt` is WordPiece, which DeBERTa-v3 is not), so
//! for such a checkpoint create it once with
//! `python -c "from transformers import AutoTokenizer as T; T.from_pretrained('DIR').save_pretrained('DIR')"` —
//! the saved `tokenizer.json` reproduces HF's ids (`[CLS]`=1, `[SEP]`=2, `[PAD]`=0 for `microsoft/deberta-v3-*`).
//! Korean community checkpoints such as `team-lucid/deberta-v3-base-korean` already ship a `tokenizer.json`.
//! DeBERTa-v3 uses `type_vocab_size = 0`, so `token_type_ids` are ignored.
//!
//! ```no_run
//! use burn::backend::NdArray;
//! use burn::tensor::{Int, Tensor};
//! use re_models::deberta_v2::DebertaV2Config;
//!
//! let config = DebertaV2Config::from_file(std::path::Path::new("ckpt/config.json"))?;
//! let device = Default::default();
//! let model = config.init::<NdArray>(&device);
//! let ids = Tensor::<NdArray, 2, Int>::from_ints([[1, 2012, 2]], &device);
//! let hidden = model.forward(ids.clone(), ids.ones_like(), None); // [1, 3, hidden_size]
//! # Ok::<(), re_models::ModelError>(())
//! ```

use std::path::Path;

use burn::module::{Initializer, Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor, TensorData};
use serde::{Deserialize, Deserializer, Serialize};

use crate::activation::Activation;
use crate::encoder::{read_family_config, FamilyConfig};
use crate::error::{ModelError, Result};
use crate::layers::{hf_embedding, hf_linear, linear_tokens, most_negative, resize_embedding};

/// HF checkpoint key → module path rewrites for [`DebertaV2`], applied in order by [`crate::hub::load_weights`].
///
/// `deberta.` is stripped (task-head checkpoints such as `DebertaV2ForSequenceClassification` nest the encoder under
/// it); `LayerNorm` → `layer_norm` (the `weight/bias` → `gamma/beta` spelling is handled by burn-store's PyTorch
/// adapter); `attention.self` → `attention.self_attention` (`self` is a Rust keyword); `encoder.layer.N` →
/// `encoder.layers.N`. Everything else keeps its HF name: `embeddings.{word,position,token_type}_embeddings`,
/// `embeddings.embed_proj`, `encoder.rel_embeddings`, `encoder.LayerNorm`, `…self.{query,key,value}_proj`,
/// `…self.pos_key_proj`/`pos_query_proj` (only when `share_att_key` is false), `encoder.conv.conv`,
/// `encoder.conv.LayerNorm`.
pub const DEBERTA_V2_REMAP: &[(&str, &str)] = &[
    (r"^deberta\.", ""),
    (r"^encoder\.layer\.(\d+)\.", "encoder.layers.$1."),
    (r"\.attention\.self\.", ".attention.self_attention."),
    (r"(^|\.)LayerNorm\.", "${1}layer_norm."),
];

/// The key remap table as owned pairs (see [`DEBERTA_V2_REMAP`]).
pub fn key_remap() -> Vec<(&'static str, &'static str)> {
    DEBERTA_V2_REMAP.to_vec()
}

/// Checkpoint keys that belong to HF task heads or buffers, not to the encoder (reported as left out, not as errors).
pub const DEBERTA_V2_IGNORED_KEYS: &[&str] = &[
    r"^(deberta\.)?embeddings\.position_ids$",
    r"^lm_predictions\.",
    r"^pooler\.",
    r"^classifier\.",
    r"^mask_predictions\.",
];

/// Which relative-attention terms a layer adds (`pos_att_type`).
fn deserialize_pos_att_type<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    // HF accepts `"p2c|c2p"`, `["p2c", "c2p"]` or null (no relative terms).
    let raw = Option::<Raw>::deserialize(deserializer)?;
    let items = match raw {
        None => Vec::new(),
        Some(Raw::One(joined)) => joined.split('|').map(str::to_string).collect(),
        Some(Raw::Many(items)) => items,
    };
    Ok(items.into_iter().map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
}

macro_rules! default_fns {
    ($($name:ident: $ty:ty = $value:expr;)*) => { $(fn $name() -> $ty { $value })* };
}
default_fns! {
    default_vocab_size: usize = 128_100;
    default_hidden_size: usize = 1536;
    default_num_hidden_layers: usize = 24;
    default_num_attention_heads: usize = 24;
    default_intermediate_size: usize = 6144;
    default_dropout: f64 = 0.1;
    default_max_position_embeddings: usize = 512;
    default_initializer_range: f64 = 0.02;
    default_layer_norm_eps: f64 = 1e-7;
    default_minus_one: i64 = -1;
    default_pad_token_id: Option<i64> = Some(0);
    default_true: bool = true;
    default_norm_rel_ebd: String = "none".to_string();
    default_conv_groups: usize = 1;
    default_conv_act: String = "tanh".to_string();
}

/// `config.json` of a DeBERTa-v2/v3 checkpoint (`model_type: "deberta-v2"`). Absent keys take transformers' defaults
/// (`DebertaV2Config` and the `getattr(config, …, default)` fallbacks in the modeling code); unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DebertaV2Config {
    /// Vocabulary size (rows of the word embedding).
    #[serde(default = "default_vocab_size")]
    pub vocab_size: usize,
    /// Hidden width.
    #[serde(default = "default_hidden_size")]
    pub hidden_size: usize,
    /// Number of transformer layers.
    #[serde(default = "default_num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    #[serde(default = "default_num_attention_heads")]
    pub num_attention_heads: usize,
    /// Per-head width; `hidden_size / num_attention_heads` when absent.
    #[serde(default)]
    pub attention_head_size: Option<usize>,
    /// Feed-forward width.
    #[serde(default = "default_intermediate_size")]
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default)]
    pub hidden_act: Activation,
    /// Dropout on hidden states (and on `rel_embeddings`).
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Rows of the absolute position embedding; also the default relative range.
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Token-type vocabulary; 0 (the DeBERTa default) means no token-type embedding.
    #[serde(default)]
    pub type_vocab_size: usize,
    /// Std of the normal initialiser (also used for rows added by [`DebertaV2::resize_token_embeddings`]).
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Whether disentangled relative attention is used at all.
    #[serde(default)]
    pub relative_attention: bool,
    /// Relative range `k`; `< 1` means `max_position_embeddings`.
    #[serde(default = "default_minus_one")]
    pub max_relative_positions: i64,
    /// Padding token id (its word-embedding row is zero at initialisation).
    #[serde(default = "default_pad_token_id")]
    pub pad_token_id: Option<i64>,
    /// Add absolute position embeddings to the input (v2 base: true; v3: false).
    #[serde(default = "default_true")]
    pub position_biased_input: bool,
    /// Relative terms: any of `c2p`, `p2c` (`"p2c|c2p"` or a list in `config.json`).
    #[serde(default, deserialize_with = "deserialize_pos_att_type")]
    pub pos_att_type: Vec<String>,
    /// Width of the word embeddings; `hidden_size` when absent (otherwise `embed_proj` maps it to `hidden_size`).
    #[serde(default)]
    pub embedding_size: Option<usize>,
    /// Number of log-position buckets; `<= 0` disables bucketing.
    #[serde(default = "default_minus_one")]
    pub position_buckets: i64,
    /// Use the content `query_proj`/`key_proj` for the relative embeddings too (v3).
    #[serde(default)]
    pub share_att_key: bool,
    /// `"layer_norm"` normalises `rel_embeddings` with `encoder.LayerNorm`; `"none"` does not.
    #[serde(default = "default_norm_rel_ebd")]
    pub norm_rel_ebd: String,
    /// Kernel of the ConvLayer after the first layer; 0 means no ConvLayer.
    #[serde(default)]
    pub conv_kernel_size: usize,
    /// Groups of that convolution.
    #[serde(default = "default_conv_groups")]
    pub conv_groups: usize,
    /// Activation of that convolution (`tanh` by default).
    #[serde(default = "default_conv_act")]
    pub conv_act: String,
}

impl Default for DebertaV2Config {
    /// transformers' `DebertaV2Config()` defaults (the `deberta-v2-xlarge` shape).
    fn default() -> Self {
        serde_json::from_str("{}").unwrap_or_else(|_| unreachable!("every field has a serde default"))
    }
}

impl FamilyConfig for DebertaV2Config {
    fn validate(&self, path: &Path) -> Result<()> {
        DebertaV2Config::validate(self, path)
    }
}

/// The conv layer's activation (`ACT2FN[conv_act]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConvActivation {
    Tanh,
    Hidden(Activation),
}

impl ConvActivation {
    fn parse(name: &str) -> Option<Self> {
        if name == "tanh" {
            return Some(ConvActivation::Tanh);
        }
        serde_json::from_value::<Activation>(serde_json::Value::String(name.to_string()))
            .ok()
            .map(ConvActivation::Hidden)
    }

    fn forward<B: Backend, const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            ConvActivation::Tanh => x.tanh(),
            ConvActivation::Hidden(activation) => activation.forward(x),
        }
    }
}

impl DebertaV2Config {
    /// Reads and validates `config.json` (see [`crate::encoder::read_family_config`]).
    pub fn from_file(path: &Path) -> Result<Self> {
        read_family_config(path)
    }

    /// Checks the combinations the modeling code cannot run (`path` names the config file in the error).
    pub fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |message: String| Err(ModelError::Config { path: path.into(), message });
        let unsupported = |what: String| Err(ModelError::Unsupported { path: path.into(), what });
        if self.num_attention_heads == 0 || self.hidden_size % self.num_attention_heads != 0 {
            return invalid(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.attention_head_size() * self.num_attention_heads != self.hidden_size {
            return unsupported(format!(
                "attention_head_size {} × {} heads ≠ hidden_size {}",
                self.attention_head_size(),
                self.num_attention_heads,
                self.hidden_size
            ));
        }
        if let Some(other) = self.pos_att_type.iter().find(|t| *t != "c2p" && *t != "p2c") {
            return unsupported(format!("pos_att_type `{other}` (expected c2p and/or p2c)"));
        }
        if self.relative_attention && self.position_buckets > 0 && self.position_buckets < 2 {
            return invalid(format!("position_buckets {} must be ≥ 2", self.position_buckets));
        }
        if self.relative_attention && self.position_buckets > 0 && self.max_relative_span() < 2 {
            return invalid("max_relative_positions must be ≥ 2 with position_buckets".to_string());
        }
        if self.conv_kernel_size > 0 {
            if self.conv_kernel_size % 2 == 0 {
                // HF pads by (k-1)/2 on both sides, so an even kernel shortens the sequence and fails there too.
                return unsupported(format!("even conv_kernel_size {}", self.conv_kernel_size));
            }
            if self.conv_groups == 0 || self.hidden_size % self.conv_groups != 0 {
                return invalid(format!("conv_groups {} does not divide hidden_size", self.conv_groups));
            }
            if ConvActivation::parse(&self.conv_act).is_none() {
                return unsupported(format!("conv_act `{}`", self.conv_act));
            }
        }
        let norms: Vec<String> = self.norm_rel_ebd.split('|').map(|s| s.trim().to_ascii_lowercase()).collect();
        if let Some(other) = norms.iter().find(|n| *n != "none" && *n != "layer_norm") {
            return unsupported(format!("norm_rel_ebd `{other}`"));
        }
        if self.position_biased_input && self.max_position_embeddings == 0 {
            return invalid("position_biased_input needs max_position_embeddings > 0".to_string());
        }
        Ok(())
    }

    /// Per-head width.
    pub fn attention_head_size(&self) -> usize {
        self.attention_head_size.unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Word-embedding width.
    pub fn embedding_size(&self) -> usize {
        self.embedding_size.unwrap_or(self.hidden_size)
    }

    /// Whether the c2p term is used.
    pub fn uses_c2p(&self) -> bool {
        self.pos_att_type.iter().any(|t| t == "c2p")
    }

    /// Whether the p2c term is used.
    pub fn uses_p2c(&self) -> bool {
        self.pos_att_type.iter().any(|t| t == "p2c")
    }

    /// Whether `rel_embeddings` go through `encoder.LayerNorm`.
    pub fn norm_rel_embeddings(&self) -> bool {
        self.norm_rel_ebd.split('|').any(|n| n.trim().eq_ignore_ascii_case("layer_norm"))
    }

    /// The effective relative range (`max_relative_positions`, or `max_position_embeddings` when `< 1`).
    pub fn max_relative_span(&self) -> i64 {
        if self.max_relative_positions < 1 {
            self.max_position_embeddings as i64
        } else {
            self.max_relative_positions
        }
    }

    /// `att_span` of the modeling code: `position_buckets` if positive, else the relative range. The relative
    /// embedding has `2 · att_span` rows.
    pub fn attention_span(&self) -> usize {
        if self.position_buckets > 0 {
            self.position_buckets as usize
        } else {
            self.max_relative_span().max(0) as usize
        }
    }

    /// A randomly initialised encoder (HF `_init_weights`: linear/embedding weights `N(0, initializer_range)`, biases
    /// zero, the padding row of the word embedding zero, LayerNorms identity).
    ///
    /// Call [`DebertaV2Config::validate`] first (done by [`DebertaV2Config::from_file`]); an invalid config panics
    /// here the way burn's layer constructors do.
    pub fn init<B: Backend>(&self, device: &B::Device) -> DebertaV2<B> {
        let std = self.initializer_range;
        let hidden = self.hidden_size;
        let embedding_size = self.embedding_size();
        let layer_norm = |width: usize| LayerNormConfig::new(width).with_epsilon(self.layer_norm_eps).init(device);

        let mut word_embeddings = hf_embedding(self.vocab_size, embedding_size, std, device);
        if let Some(pad) = self.pad_token_id.filter(|&p| p >= 0 && (p as usize) < self.vocab_size) {
            let pad = pad as usize;
            // detach: a parameter must be a leaf of the autodiff graph (the fill is an op on it).
            let weight = word_embeddings.weight.val().slice_fill([pad..pad + 1, 0..embedding_size], 0.0).detach();
            word_embeddings.weight = Param::from_tensor(weight);
        }
        let embeddings = DebertaV2Embeddings {
            word_embeddings,
            position_embeddings: self
                .position_biased_input
                .then(|| hf_embedding(self.max_position_embeddings, embedding_size, std, device)),
            token_type_embeddings: (self.type_vocab_size > 0)
                .then(|| hf_embedding(self.type_vocab_size, embedding_size, std, device)),
            embed_proj: (embedding_size != hidden).then(|| {
                LinearConfig::new(embedding_size, hidden)
                    .with_bias(false)
                    .with_initializer(Initializer::Normal { mean: 0.0, std })
                    .init(device)
            }),
            layer_norm: layer_norm(hidden),
            dropout: DropoutConfig::new(self.hidden_dropout_prob).init(),
        };

        let all_head_size = self.attention_head_size() * self.num_attention_heads;
        let relative = self.relative_attention;
        let separate_pos = relative && !self.share_att_key;
        let layers = (0..self.num_hidden_layers)
            .map(|_| DebertaV2Layer {
                attention: DebertaV2Attention {
                    self_attention: DisentangledSelfAttention {
                        query_proj: hf_linear(hidden, all_head_size, std, device),
                        key_proj: hf_linear(hidden, all_head_size, std, device),
                        value_proj: hf_linear(hidden, all_head_size, std, device),
                        pos_key_proj: (separate_pos && self.uses_c2p())
                            .then(|| hf_linear(hidden, all_head_size, std, device)),
                        pos_query_proj: (separate_pos && self.uses_p2c())
                            .then(|| hf_linear(hidden, all_head_size, std, device)),
                        dropout: DropoutConfig::new(self.attention_probs_dropout_prob).init(),
                        pos_dropout: DropoutConfig::new(self.hidden_dropout_prob).init(),
                        num_heads: self.num_attention_heads,
                        head_size: self.attention_head_size(),
                        relative_attention: relative,
                        share_att_key: self.share_att_key,
                        c2p: self.uses_c2p(),
                        p2c: self.uses_p2c(),
                        attention_span: self.attention_span(),
                    },
                    output: DenseLayerNorm {
                        dense: hf_linear(hidden, hidden, std, device),
                        layer_norm: layer_norm(hidden),
                        dropout: DropoutConfig::new(self.hidden_dropout_prob).init(),
                    },
                },
                intermediate: Intermediate {
                    dense: hf_linear(hidden, self.intermediate_size, std, device),
                    activation: self.hidden_act,
                },
                output: DenseLayerNorm {
                    dense: hf_linear(self.intermediate_size, hidden, std, device),
                    layer_norm: layer_norm(hidden),
                    dropout: DropoutConfig::new(self.hidden_dropout_prob).init(),
                },
            })
            .collect();

        let conv = (self.conv_kernel_size > 0).then(|| {
            let kernel = self.conv_kernel_size;
            let pad = (kernel - 1) / 2;
            ConvLayer {
                conv: Conv1dConfig::new(hidden, hidden, kernel)
                    .with_groups(self.conv_groups.max(1))
                    .with_padding(PaddingConfig1d::Explicit(pad, pad))
                    .with_initializer(Initializer::Normal { mean: 0.0, std })
                    .init(device),
                layer_norm: layer_norm(hidden),
                dropout: DropoutConfig::new(self.hidden_dropout_prob).init(),
                activation: ConvActivation::parse(&self.conv_act).unwrap_or(ConvActivation::Tanh),
            }
        });

        let encoder = DebertaV2Encoder {
            layers,
            rel_embeddings: relative.then(|| hf_embedding(2 * self.attention_span(), hidden, std, device)),
            layer_norm: (relative && self.norm_rel_embeddings()).then(|| layer_norm(hidden)),
            conv,
            position_buckets: self.position_buckets,
            max_relative_positions: self.max_relative_span(),
        };
        DebertaV2 { embeddings, encoder, config: self.clone() }
    }
}

/// DeBERTa-v2/v3 encoder (HF `DebertaV2Model` without heads). Build with [`DebertaV2Config::init`] and load weights
/// with [`crate::hub::load_weights`] + [`key_remap`].
#[derive(Module, Debug)]
pub struct DebertaV2<B: Backend> {
    /// Input embeddings (`embeddings.*`).
    pub embeddings: DebertaV2Embeddings<B>,
    /// Layer stack, relative embeddings and optional conv (`encoder.*`).
    pub encoder: DebertaV2Encoder<B>,
    #[module(skip)]
    config: DebertaV2Config,
}

/// Word (+ position, + token-type) embeddings → optional projection → LayerNorm → × mask.
#[derive(Module, Debug)]
pub struct DebertaV2Embeddings<B: Backend> {
    /// `[vocab, embedding_size]`.
    pub word_embeddings: Embedding<B>,
    /// `[max_position_embeddings, embedding_size]`, only with `position_biased_input`.
    pub position_embeddings: Option<Embedding<B>>,
    /// `[type_vocab_size, embedding_size]`, only with `type_vocab_size > 0`.
    pub token_type_embeddings: Option<Embedding<B>>,
    /// `embedding_size → hidden_size` without bias, only when they differ.
    pub embed_proj: Option<Linear<B>>,
    /// `embeddings.LayerNorm`.
    pub layer_norm: LayerNorm<B>,
    /// Hidden dropout.
    pub dropout: Dropout,
}

impl<B: Backend> DebertaV2Embeddings<B> {
    fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        mask: Tensor<B, 2>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> Tensor<B, 3> {
        let [batch, seq] = input_ids.dims();
        let device = input_ids.device();
        let mut embeddings = self.word_embeddings.forward(input_ids);
        if let Some(position_embeddings) = &self.position_embeddings {
            let positions = Tensor::<B, 1, Int>::arange(0..seq as i64, &device).reshape([1, seq]);
            embeddings = embeddings + position_embeddings.forward(positions);
        }
        if let Some(token_type_embeddings) = &self.token_type_embeddings {
            let types = token_type_ids.unwrap_or_else(|| Tensor::zeros([batch, seq], &device));
            embeddings = embeddings + token_type_embeddings.forward(types);
        }
        if let Some(embed_proj) = &self.embed_proj {
            embeddings = linear_tokens(embed_proj, embeddings);
        }
        let embeddings = self.layer_norm.forward(embeddings) * mask.unsqueeze_dim::<3>(2);
        self.dropout.forward(embeddings)
    }
}

/// The layer stack with the shared relative-position embedding.
#[derive(Module, Debug)]
pub struct DebertaV2Encoder<B: Backend> {
    /// `encoder.layer.N`.
    pub layers: Vec<DebertaV2Layer<B>>,
    /// `[2·att_span, hidden]`, only with `relative_attention`.
    pub rel_embeddings: Option<Embedding<B>>,
    /// `encoder.LayerNorm` over `rel_embeddings`, only with `norm_rel_ebd = "layer_norm"`.
    pub layer_norm: Option<LayerNorm<B>>,
    /// ConvLayer applied after the first layer, only with `conv_kernel_size > 0`.
    pub conv: Option<ConvLayer<B>>,
    position_buckets: i64,
    max_relative_positions: i64,
}

impl<B: Backend> DebertaV2Encoder<B> {
    fn forward(&self, embeddings: Tensor<B, 3>, attention_mask: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, seq, _] = embeddings.dims();
        let device = embeddings.device();
        // HF `get_attention_mask`: mask[i, j] = m_i · m_j, [b, 1, s, s].
        let valid = attention_mask.clone().not_equal_elem(0);
        let rows = valid.clone().reshape([batch, 1, seq, 1]).expand([batch, 1, seq, seq]);
        let cols = valid.reshape([batch, 1, 1, seq]).expand([batch, 1, seq, seq]);
        let pair_mask = rows.bool_and(cols);

        let relative = self.rel_embeddings.as_ref().map(|rel_embeddings| {
            let weight = rel_embeddings.weight.val();
            let weight = match &self.layer_norm {
                Some(layer_norm) => layer_norm.forward(weight),
                None => weight,
            };
            let positions =
                relative_position_tensor::<B>(seq, self.position_buckets, self.max_relative_positions, &device);
            (weight, positions)
        });

        let mut hidden = embeddings.clone();
        for (index, layer) in self.layers.iter().enumerate() {
            hidden = layer.forward(hidden, pair_mask.clone(), relative.as_ref());
            if index == 0 {
                if let Some(conv) = &self.conv {
                    hidden = conv.forward(embeddings.clone(), hidden, attention_mask.clone());
                }
            }
        }
        hidden
    }
}

/// One transformer layer: disentangled attention block, then the feed-forward block.
#[derive(Module, Debug)]
pub struct DebertaV2Layer<B: Backend> {
    /// `attention.*`.
    pub attention: DebertaV2Attention<B>,
    /// `intermediate.dense` + activation.
    pub intermediate: Intermediate<B>,
    /// `output.dense` + `output.LayerNorm`.
    pub output: DenseLayerNorm<B>,
}

impl<B: Backend> DebertaV2Layer<B> {
    fn forward(
        &self,
        hidden: Tensor<B, 3>,
        pair_mask: Tensor<B, 4, Bool>,
        relative: Option<&(Tensor<B, 2>, Tensor<B, 2, Int>)>,
    ) -> Tensor<B, 3> {
        let context = self.attention.self_attention.forward(hidden.clone(), pair_mask, relative);
        let attended = self.attention.output.forward(context, hidden);
        let intermediate = self.intermediate.forward(attended.clone());
        self.output.forward(intermediate, attended)
    }
}

/// `attention.self` + `attention.output`.
#[derive(Module, Debug)]
pub struct DebertaV2Attention<B: Backend> {
    /// HF `attention.self`.
    pub self_attention: DisentangledSelfAttention<B>,
    /// HF `attention.output` (dense + LayerNorm with residual).
    pub output: DenseLayerNorm<B>,
}

/// `LayerNorm(dropout(dense(x)) + residual)` (HF `DebertaV2SelfOutput` / `DebertaV2Output`).
#[derive(Module, Debug)]
pub struct DenseLayerNorm<B: Backend> {
    /// `dense`.
    pub dense: Linear<B>,
    /// `LayerNorm`.
    pub layer_norm: LayerNorm<B>,
    /// Hidden dropout.
    pub dropout: Dropout,
}

impl<B: Backend> DenseLayerNorm<B> {
    fn forward(&self, x: Tensor<B, 3>, residual: Tensor<B, 3>) -> Tensor<B, 3> {
        self.layer_norm.forward(self.dropout.forward(linear_tokens(&self.dense, x)) + residual)
    }
}

/// `intermediate.dense` followed by `hidden_act`.
#[derive(Module, Debug)]
pub struct Intermediate<B: Backend> {
    /// `dense`.
    pub dense: Linear<B>,
    activation: Activation,
}

impl<B: Backend> Intermediate<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.activation.forward(linear_tokens(&self.dense, x))
    }
}

/// Disentangled self-attention (HF `DisentangledSelfAttention`), all heads and batch rows at once.
#[derive(Module, Debug)]
pub struct DisentangledSelfAttention<B: Backend> {
    /// Content query projection.
    pub query_proj: Linear<B>,
    /// Content key projection.
    pub key_proj: Linear<B>,
    /// Value projection.
    pub value_proj: Linear<B>,
    /// Key projection of the relative embeddings (c2p, only without `share_att_key`).
    pub pos_key_proj: Option<Linear<B>>,
    /// Query projection of the relative embeddings (p2c, only without `share_att_key`).
    pub pos_query_proj: Option<Linear<B>>,
    /// Dropout on attention probabilities.
    pub dropout: Dropout,
    /// Dropout on the relative embeddings.
    pub pos_dropout: Dropout,
    num_heads: usize,
    head_size: usize,
    relative_attention: bool,
    share_att_key: bool,
    c2p: bool,
    p2c: bool,
    attention_span: usize,
}

impl<B: Backend> DisentangledSelfAttention<B> {
    /// `[b, s, n·d]` → `[b, n, s, d]`.
    fn heads(&self, x: Tensor<B, 3>) -> Tensor<B, 4> {
        let [batch, seq, _] = x.dims();
        x.reshape([batch, seq, self.num_heads, self.head_size]).swap_dims(1, 2)
    }

    /// Relative embeddings `[2A, hidden]` through a projection → `[1, n, 2A, d]`.
    fn position_heads(&self, projection: &Linear<B>, rel_embeddings: Tensor<B, 2>) -> Tensor<B, 4> {
        let [rows, _] = rel_embeddings.dims();
        projection.forward(rel_embeddings).reshape([1, rows, self.num_heads, self.head_size]).swap_dims(1, 2)
    }

    fn forward(
        &self,
        hidden: Tensor<B, 3>,
        pair_mask: Tensor<B, 4, Bool>,
        relative: Option<&(Tensor<B, 2>, Tensor<B, 2, Int>)>,
    ) -> Tensor<B, 3> {
        let [batch, seq, _] = hidden.dims();
        let query = self.heads(linear_tokens(&self.query_proj, hidden.clone()));
        let key = self.heads(linear_tokens(&self.key_proj, hidden.clone()));
        let value = self.heads(linear_tokens(&self.value_proj, hidden));

        let scale_factor = 1 + usize::from(self.c2p) + usize::from(self.p2c);
        // torch computes sqrt(float32(d) * factor) and divides the keys before the product.
        let scale = ((self.head_size * scale_factor) as f32).sqrt();
        let mut scores = query.clone().matmul(key.clone().swap_dims(2, 3).div_scalar(scale));

        if let (true, Some((rel_embeddings, relative_pos))) = (self.relative_attention, relative) {
            let rel_embeddings = self.pos_dropout.forward(rel_embeddings.clone());
            scores = scores + self.disentangled_bias(query, key, relative_pos.clone(), rel_embeddings, scale);
        }

        let [_, heads, _, _] = scores.dims();
        let masked = pair_mask.bool_not().expand([batch, heads, seq, seq]);
        let fill = most_negative(scores.dtype());
        let scores = scores.mask_fill(masked, fill);
        let probs = self.dropout.forward(softmax(scores, 3));
        probs.matmul(value).swap_dims(1, 2).reshape([batch, seq, self.num_heads * self.head_size])
    }

    /// c2p + p2c terms `[b, n, s, s]`, each divided by `scale`.
    fn disentangled_bias(
        &self,
        query: Tensor<B, 4>,
        key: Tensor<B, 4>,
        relative_pos: Tensor<B, 2, Int>,
        rel_embeddings: Tensor<B, 2>,
        scale: f32,
    ) -> Tensor<B, 4> {
        let [batch, heads, seq, head_size] = query.dims();
        let span = self.attention_span as i64;
        let rows = (2 * self.attention_span).min(rel_embeddings.dims()[0]);
        let rel_embeddings = rel_embeddings.narrow(0, 0, rows);
        let index_shape = [batch, heads, seq, seq];
        let mut bias = Tensor::<B, 4>::zeros(index_shape, &query.device());

        if self.c2p {
            let projection = if self.share_att_key { Some(&self.key_proj) } else { self.pos_key_proj.as_ref() };
            if let Some(projection) = projection {
                let pos_key =
                    self.position_heads(projection, rel_embeddings.clone()).expand([batch, heads, rows, head_size]);
                let c2p = query.matmul(pos_key.swap_dims(2, 3)); // [b, n, s, 2A]
                let index = (relative_pos.clone() + span).clamp(0, 2 * span - 1);
                let index = index.reshape([1, 1, seq, seq]).expand(index_shape);
                bias = bias + c2p.gather(3, index).div_scalar(scale);
            }
        }
        if self.p2c {
            let projection = if self.share_att_key { Some(&self.query_proj) } else { self.pos_query_proj.as_ref() };
            if let Some(projection) = projection {
                let pos_query = self.position_heads(projection, rel_embeddings).expand([batch, heads, rows, head_size]);
                let p2c = key.matmul(pos_query.swap_dims(2, 3)); // [b, n, s(key), 2A]
                let index = (relative_pos.neg() + span).clamp(0, 2 * span - 1);
                let index = index.reshape([1, 1, seq, seq]).expand(index_shape);
                bias = bias + p2c.gather(3, index).swap_dims(2, 3).div_scalar(scale);
            }
        }
        bias
    }
}

/// HF `ConvLayer`: `LN(residual + act(conv(x) masked)) × mask`.
#[derive(Module, Debug)]
pub struct ConvLayer<B: Backend> {
    /// `encoder.conv.conv` (`[hidden, hidden/groups, k]`, padding `(k−1)/2`).
    pub conv: Conv1d<B>,
    /// `encoder.conv.LayerNorm`.
    pub layer_norm: LayerNorm<B>,
    /// Hidden dropout.
    pub dropout: Dropout,
    #[module(skip)]
    activation: ConvActivation,
}

impl<B: Backend> ConvLayer<B> {
    fn forward(&self, input: Tensor<B, 3>, residual: Tensor<B, 3>, attention_mask: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, seq, hidden] = input.dims();
        let out = self.conv.forward(input.swap_dims(1, 2)).swap_dims(1, 2);
        let padded = attention_mask.clone().equal_elem(0).reshape([batch, seq, 1]).expand([batch, seq, hidden]);
        let out = self.activation.forward(self.dropout.forward(out.mask_fill(padded, 0.0)));
        let mask = attention_mask.float().reshape([batch, seq, 1]);
        self.layer_norm.forward(residual + out) * mask
    }
}

impl<B: Backend> DebertaV2<B> {
    /// Last hidden state `[batch, seq, hidden]`.
    ///
    /// `attention_mask` is 1 for real tokens and 0 for padding; `token_type_ids` is only read when the checkpoint has a
    /// token-type embedding (`type_vocab_size > 0`; zeros when `None`).
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> Tensor<B, 3> {
        let mask = attention_mask.clone().float();
        let embeddings = self.embeddings.forward(input_ids, mask, token_type_ids);
        self.encoder.forward(embeddings, attention_mask)
    }

    /// Width of the hidden states.
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// The configuration the model was built from (`vocab_size` follows [`DebertaV2::resize_token_embeddings`]).
    pub fn config(&self) -> &DebertaV2Config {
        &self.config
    }

    /// Resizes the word embedding to `new_vocab` rows (e.g. after adding entity-marker tokens): existing rows are kept,
    /// new rows are drawn from `N(0, initializer_range)` — HF's `_init_weights` rule, i.e.
    /// `resize_token_embeddings(n, mean_resizing=False)`; see [`crate::layers::resize_embedding`].
    pub fn resize_token_embeddings(mut self, new_vocab: usize, device: &B::Device) -> Self {
        self.embeddings.word_embeddings =
            resize_embedding(self.embeddings.word_embeddings, new_vocab, self.config.initializer_range, device);
        self.config.vocab_size = new_vocab;
        self
    }
}

/// HF `make_log_bucket_position` for one relative distance, with the same float32 arithmetic as torch.
fn log_bucket_position(relative: i64, bucket_size: i64, max_position: i64) -> i64 {
    let mid = bucket_size / 2;
    let abs = if relative < mid && relative > -mid { mid - 1 } else { relative.abs() };
    if abs <= mid {
        return relative;
    }
    // torch: ceil(log(abs / mid) / log(tensor((max_position - 1) / mid)) * (mid - 1)) + mid, all float32.
    let ratio = abs as f32 / mid as f32;
    let max_ratio = ((max_position - 1) as f64 / mid as f64) as f32;
    let log_pos = (ratio.ln() / max_ratio.ln() * (mid - 1) as f32).ceil() + mid as f32;
    (log_pos * relative.signum() as f32) as i64
}

/// HF `build_relative_position(q, q)`: `rel[i][j] = i − j`, log-bucketed when `bucket_size > 0` and
/// `max_position > 0`. Row-major `[seq, seq]`.
pub fn build_relative_position(seq: usize, bucket_size: i64, max_position: i64) -> Vec<i64> {
    let mut out = Vec::with_capacity(seq * seq);
    for i in 0..seq as i64 {
        for j in 0..seq as i64 {
            let relative = i - j;
            out.push(if bucket_size > 0 && max_position > 0 {
                log_bucket_position(relative, bucket_size, max_position)
            } else {
                relative
            });
        }
    }
    out
}

fn relative_position_tensor<B: Backend>(
    seq: usize,
    bucket_size: i64,
    max_position: i64,
    device: &B::Device,
) -> Tensor<B, 2, Int> {
    let values = build_relative_position(seq, bucket_size, max_position);
    Tensor::from_data(TensorData::new(values, [seq, seq]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_pos_att_type_forms() {
        let config = DebertaV2Config::default();
        assert_eq!((config.vocab_size, config.hidden_size, config.layer_norm_eps), (128_100, 1536, 1e-7));
        assert!(config.position_biased_input && !config.relative_attention && config.pos_att_type.is_empty());
        let joined: DebertaV2Config = serde_json::from_str(r#"{"pos_att_type": "p2c|c2p"}"#).unwrap();
        let listed: DebertaV2Config = serde_json::from_str(r#"{"pos_att_type": ["p2c", "c2p"]}"#).unwrap();
        let null: DebertaV2Config = serde_json::from_str(r#"{"pos_att_type": null}"#).unwrap();
        assert_eq!(joined.pos_att_type, vec!["p2c", "c2p"]);
        assert_eq!(listed.pos_att_type, joined.pos_att_type);
        assert!(null.pos_att_type.is_empty());
        assert!(joined.uses_c2p() && joined.uses_p2c());
    }

    #[test]
    fn validate_rejects_what_hf_cannot_run() {
        let path = Path::new("config.json");
        let bad_heads: DebertaV2Config =
            serde_json::from_str(r#"{"hidden_size": 30, "num_attention_heads": 4}"#).unwrap();
        assert!(matches!(bad_heads.validate(path), Err(ModelError::Config { .. })));
        let bad_type: DebertaV2Config = serde_json::from_str(r#"{"pos_att_type": "c2p|p2p"}"#).unwrap();
        assert!(matches!(bad_type.validate(path), Err(ModelError::Unsupported { .. })));
        let even_conv: DebertaV2Config = serde_json::from_str(r#"{"conv_kernel_size": 4}"#).unwrap();
        assert!(matches!(even_conv.validate(path), Err(ModelError::Unsupported { .. })));
    }

    #[test]
    fn log_buckets_match_hand_computation() {
        // bucket_size 8 → mid 4, max_position 16: |r| ≤ 4 unchanged; |r| = 5 → ceil(ln(5/4)/ln(15/4)·3) + 4
        // = ceil(0.1689·3) + 4 = 5; |r| = 15 → ceil(1·3) + 4 = 7; |r| = 9 → ceil(ln(2.25)/ln(3.75)·3) + 4
        // = ceil(0.6135·3) + 4 = 6.
        let cases = [(0, 0), (3, 3), (-4, -4), (5, 5), (-5, -5), (9, 6), (15, 7), (-15, -7), (40, 10)];
        for (relative, expected) in cases {
            assert_eq!(log_bucket_position(relative, 8, 16), expected, "relative {relative}");
        }
        let rel = build_relative_position(3, -1, -1);
        assert_eq!(rel, vec![0, -1, -2, 1, 0, -1, 2, 1, 0]);
    }
}
