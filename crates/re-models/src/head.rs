//! Relation classification heads over encoder outputs.
//!
//! A [`RelationHead`] turns the last hidden state of an encoder (`[batch, seq, hidden]`) plus the token positions of the
//! subject and object entities into relation logits. The entity representation is chosen by [`SpanPooling`]:
//!
//! | pooling        | features                                                            | width            |
//! |----------------|---------------------------------------------------------------------|------------------|
//! | `cls`          | the first token's state                                             | `h`              |
//! | `entity-start` | states at the subject and object start markers (Zhou & Chen, 2021)  | `2h` (`3h` + CLS)|
//! | `mean`         | mean of each entity span's token states                             | `2h` (`3h` + CLS)|
//! | `max`          | element-wise max over each span                                     | `2h` (`3h` + CLS)|
//! | `attention`    | softmax(h·w) over each span's tokens, one learnable `w` per entity  | `2h` (`3h` + CLS)|
//!
//! Everything is batched, with no per-example loop: `mean`/`max`/`attention` gather only the span tokens of both
//! entities (one `gather_nd` of the `Σ span lengths` rows) and reduce them per span ([`SpanSegments`], module
//! [`crate::span_pool`]); [`span_mask`]/[`masked_mean`]/... offer the same over full-length masks. A span that is empty
//! (`start >= end`) or lies outside the sequence (cut by truncation) falls back to the CLS vector, as the seed
//! implementation did, and is counted in [`HeadOutput::fallback_count`] so training can
//! report how often that happens.
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::{Int, Tensor};
//! use re_models::head::{RelationHeadConfig, SpanPooling};
//!
//! type B = NdArray<f32>;
//! let device = Default::default();
//! let head = RelationHeadConfig::new(8, 30, SpanPooling::Mean).with_concat_cls(true).init::<B>(&device);
//! let hidden = Tensor::<B, 3>::zeros([2, 5, 8], &device);
//! let starts = Tensor::<B, 1, Int>::from_ints([1, 2], &device);
//! let subject_span = Tensor::<B, 2, Int>::from_ints([[1, 3], [2, 4]], &device);
//! let object_span = Tensor::<B, 2, Int>::from_ints([[3, 4], [4, 4]], &device); // second one is empty
//! let out = head.forward(hidden, starts.clone(), starts, subject_span, object_span);
//! assert_eq!(out.logits.dims(), [2, 30]);
//! assert_eq!(out.fallback_count, 1);
//! ```

use std::fmt;
use std::str::FromStr;

use burn::module::{Initializer, Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, ElementConversion, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::layers::most_negative;
pub use crate::span_pool::SpanSegments;

/// How an entity (or the whole sentence) is turned into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SpanPooling {
    /// The first token (`[CLS]`/`<s>`) only; entity spans are ignored.
    Cls,
    /// The hidden states at the subject and object start markers, concatenated (Zhou & Chen, 2021).
    #[default]
    EntityStart,
    /// Mean over each entity span's tokens.
    Mean,
    /// Element-wise maximum over each entity span's tokens.
    Max,
    /// Attention pooling: scores `h_t · w` over the span's tokens, softmax over the span, weighted sum; one learnable
    /// vector `w` per entity (subject, object).
    Attention,
}

impl SpanPooling {
    /// All variants, in the order of [`SpanPooling::NAMES`].
    pub const ALL: [SpanPooling; 5] =
        [SpanPooling::Cls, SpanPooling::EntityStart, SpanPooling::Mean, SpanPooling::Max, SpanPooling::Attention];
    /// The accepted names (`cls|entity-start|mean|max|attention`).
    pub const NAMES: [&'static str; 5] = ["cls", "entity-start", "mean", "max", "attention"];

    /// Parses `cls|entity-start|mean|max|attention` (case-insensitive; `_` accepted for `-`).
    pub fn parse(name: &str) -> Result<Self, ModelError> {
        let normalised = name.trim().to_ascii_lowercase().replace('_', "-");
        Self::NAMES.iter().position(|candidate| *candidate == normalised).map(|index| Self::ALL[index]).ok_or_else(
            || {
                ModelError::Input(format!(
                    "unknown span pooling `{name}` (expected one of cls, entity-start, mean, max, attention)"
                ))
            },
        )
    }

    /// The canonical name, as accepted by [`SpanPooling::parse`].
    pub fn as_str(&self) -> &'static str {
        match self {
            SpanPooling::Cls => "cls",
            SpanPooling::EntityStart => "entity-start",
            SpanPooling::Mean => "mean",
            SpanPooling::Max => "max",
            SpanPooling::Attention => "attention",
        }
    }

    /// Whether this pooling reads the entity spans/markers (everything except `cls`).
    pub fn uses_entities(&self) -> bool {
        !matches!(self, SpanPooling::Cls)
    }
}

impl fmt::Display for SpanPooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpanPooling {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Configuration of a [`RelationHead`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationHeadConfig {
    /// Width of the encoder's hidden states.
    pub hidden_size: usize,
    /// Number of relation labels (30 for KLUE-RE).
    pub num_labels: usize,
    /// How entities are pooled.
    pub pooling: SpanPooling,
    /// Concatenate the CLS vector in front of the two entity vectors (ignored for `cls` pooling).
    #[serde(default)]
    pub concat_cls: bool,
    /// Dropout probability applied to the pooled features before the classifier (only active on autodiff backends).
    #[serde(default = "default_dropout")]
    pub dropout: f64,
}

fn default_dropout() -> f64 {
    0.1
}

/// Standard deviation of the normal initialisation of the classifier and the attention vectors (HF's
/// `initializer_range` default; the classifier bias starts at zero as in HF `_init_weights`).
const INIT_STD: f64 = 0.02;

impl RelationHeadConfig {
    /// A config with `concat_cls = false` and `dropout = 0.1`.
    pub fn new(hidden_size: usize, num_labels: usize, pooling: SpanPooling) -> Self {
        Self { hidden_size, num_labels, pooling, concat_cls: false, dropout: default_dropout() }
    }

    /// Sets `concat_cls`.
    pub fn with_concat_cls(mut self, concat_cls: bool) -> Self {
        self.concat_cls = concat_cls;
        self
    }

    /// Sets the dropout probability.
    pub fn with_dropout(mut self, dropout: f64) -> Self {
        self.dropout = dropout;
        self
    }

    /// Width of the pooled feature vector the classifier sees: `h` for `cls`, `2h` for two spans, `3h` with CLS.
    pub fn feature_size(&self) -> usize {
        match (self.pooling, self.concat_cls) {
            (SpanPooling::Cls, _) => self.hidden_size,
            (_, false) => 2 * self.hidden_size,
            (_, true) => 3 * self.hidden_size,
        }
    }

    /// Builds the head: classifier weights `N(0, 0.02)`, bias 0; attention vectors (attention pooling only) `N(0, 0.02)`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> RelationHead<B> {
        let mut classifier = LinearConfig::new(self.feature_size(), self.num_labels)
            .with_initializer(Initializer::Normal { mean: 0.0, std: INIT_STD })
            .init(device);
        classifier.bias = Some(Initializer::Zeros.init([self.num_labels], device));
        let attention_vector = || -> Param<Tensor<B, 1>> {
            Initializer::Normal { mean: 0.0, std: INIT_STD }.init([self.hidden_size], device)
        };
        let (subject_attention, object_attention) = if self.pooling == SpanPooling::Attention {
            (Some(attention_vector()), Some(attention_vector()))
        } else {
            (None, None)
        };
        RelationHead {
            subject_attention,
            object_attention,
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier,
            pooling: self.pooling,
            concat_cls: self.concat_cls,
        }
    }
}

/// Relation classifier: pooled entity features → dropout → linear. Built with [`RelationHeadConfig::init`].
#[derive(Module, Debug)]
pub struct RelationHead<B: Backend> {
    /// Learnable attention vector `w` of the subject span (attention pooling only), `[hidden]`.
    pub subject_attention: Option<Param<Tensor<B, 1>>>,
    /// Learnable attention vector `w` of the object span (attention pooling only), `[hidden]`.
    pub object_attention: Option<Param<Tensor<B, 1>>>,
    /// Dropout over the pooled features.
    pub dropout: Dropout,
    /// Linear layer `feature_size → num_labels`.
    pub classifier: Linear<B>,
    #[module(skip)]
    pooling: SpanPooling,
    concat_cls: bool,
}

/// Logits plus how many entity spans fell back to the CLS vector in this batch.
#[derive(Debug, Clone)]
pub struct HeadOutput<B: Backend> {
    /// `[batch, num_labels]`.
    pub logits: Tensor<B, 2>,
    /// Number of entity spans (subject and object counted separately) that were empty or outside the sequence and
    /// were replaced by the CLS vector. Always 0 for `cls` pooling.
    pub fallback_count: usize,
}

/// Pooled features before dropout and the classifier.
#[derive(Debug, Clone)]
pub struct PooledFeatures<B: Backend> {
    /// `[batch, feature_size]`: `[cls]`, `[subject, object]` or `[cls, subject, object]`.
    pub features: Tensor<B, 2>,
    /// See [`HeadOutput::fallback_count`].
    pub fallback_count: usize,
}

impl<B: Backend> RelationHead<B> {
    /// The configured pooling.
    pub fn pooling(&self) -> SpanPooling {
        self.pooling
    }

    /// Whether CLS is concatenated to the entity features.
    pub fn concat_cls(&self) -> bool {
        self.concat_cls
    }

    /// Classifies a batch.
    ///
    /// - `hidden`: encoder output `[b, s, h]`;
    /// - `subject_start`, `object_start`: `[b]` token index of each entity's start marker (used by `entity-start`);
    /// - `subject_span`, `object_span`: `[b, 2]` token ranges `(start, end)`, end exclusive (used by
    ///   `mean`/`max`/`attention`).
    ///
    /// Returns logits `[b, num_labels]` and the number of spans that fell back to CLS.
    pub fn forward(
        &self,
        hidden: Tensor<B, 3>,
        subject_start: Tensor<B, 1, Int>,
        object_start: Tensor<B, 1, Int>,
        subject_span: Tensor<B, 2, Int>,
        object_span: Tensor<B, 2, Int>,
    ) -> HeadOutput<B> {
        let pooled = self.pool(hidden, subject_start, object_start, subject_span, object_span);
        let logits = self.classifier.forward(self.dropout.forward(pooled.features));
        HeadOutput { logits, fallback_count: pooled.fallback_count }
    }

    /// The pooled features the classifier sees (same arguments as [`RelationHead::forward`]).
    pub fn pool(
        &self,
        hidden: Tensor<B, 3>,
        subject_start: Tensor<B, 1, Int>,
        object_start: Tensor<B, 1, Int>,
        subject_span: Tensor<B, 2, Int>,
        object_span: Tensor<B, 2, Int>,
    ) -> PooledFeatures<B> {
        let cls = cls_vector(hidden.clone());
        let (subject, subject_ok, object, object_ok) = match self.pooling {
            SpanPooling::Cls => return PooledFeatures { features: cls, fallback_count: 0 },
            SpanPooling::Mean | SpanPooling::Max | SpanPooling::Attention => {
                return self.pool_spans(hidden, cls, subject_span, object_span);
            }
            SpanPooling::EntityStart => {
                let (subject, subject_ok) = gather_positions(hidden.clone(), subject_start);
                let (object, object_ok) = gather_positions(hidden, object_start);
                (subject, subject_ok, object, object_ok)
            }
        };
        let fallback_count = count_false(subject_ok.clone()) + count_false(object_ok.clone());
        let subject = fallback_to(subject, subject_ok, cls.clone());
        let object = fallback_to(object, object_ok, cls.clone());
        let features = if self.concat_cls {
            Tensor::cat(vec![cls, subject, object], 1)
        } else {
            Tensor::cat(vec![subject, object], 1)
        };
        PooledFeatures { features, fallback_count }
    }

    /// `mean`/`max`/`attention`: both entities' span tokens in one gather, one segment reduction (see
    /// [`SpanSegments`]); an empty span pools to CLS inside the reduction.
    fn pool_spans(
        &self,
        hidden: Tensor<B, 3>,
        cls: Tensor<B, 2>,
        subject_span: Tensor<B, 2, Int>,
        object_span: Tensor<B, 2, Int>,
    ) -> PooledFeatures<B> {
        let [batch, seq_len, width] = hidden.dims();
        let segments = SpanSegments::new(&[subject_span, object_span], seq_len);
        let pooled = match (self.pooling, &self.subject_attention, &self.object_attention) {
            (SpanPooling::Max, _, _) => segments.max(hidden),
            (SpanPooling::Attention, Some(subject_w), Some(object_w)) => {
                segments.attention(hidden, Tensor::stack(vec![subject_w.val(), object_w.val()], 0))
            }
            // Mean, and attention without its vectors (which `init` never builds): pool by mean, never panic.
            _ => segments.mean(hidden),
        };
        // Segment i·2 + g is example i's subject (g = 0) or object (g = 1): rows of [subject_i, object_i].
        let entities = pooled.reshape([batch, 2 * width]);
        let features = if self.concat_cls { Tensor::cat(vec![cls, entities], 1) } else { entities };
        PooledFeatures { features, fallback_count: segments.fallback_count() }
    }
}

/// The first token's state: `[b, s, h] → [b, h]`.
pub fn cls_vector<B: Backend>(hidden: Tensor<B, 3>) -> Tensor<B, 2> {
    let [batch, _, width] = hidden.dims();
    hidden.narrow(1, 0, 1).reshape([batch, width])
}

/// `mask[i, t] = start_i <= t < end_i` for spans `[b, 2]` (start, end-exclusive); out-of-range parts are simply absent.
pub fn span_mask<B: Backend>(span: Tensor<B, 2, Int>, seq_len: usize) -> Tensor<B, 2, Bool> {
    let [batch, _] = span.dims();
    let device = span.device();
    let positions =
        Tensor::<B, 1, Int>::arange(0..seq_len as i64, &device).reshape([1, seq_len]).expand([batch, seq_len]);
    let start = span.clone().narrow(1, 0, 1).expand([batch, seq_len]);
    let end = span.narrow(1, 1, 1).expand([batch, seq_len]);
    positions.clone().greater_equal(start).bool_and(positions.lower(end))
}

/// Mean of `hidden [b, s, h]` over the positions where `mask [b, s]` is true → `[b, h]` (zeros for an empty mask).
pub fn masked_mean<B: Backend>(hidden: Tensor<B, 3>, mask: Tensor<B, 2, Bool>) -> Tensor<B, 2> {
    let [batch, seq_len, width] = hidden.dims();
    let weights = mask.float();
    let counts = weights.clone().sum_dim(1).clamp_min(1.0);
    // [b, 1, s] @ [b, s, h]: one batched matmul instead of a masked sum.
    (weights / counts).reshape([batch, 1, seq_len]).matmul(hidden).reshape([batch, width])
}

/// Element-wise maximum of `hidden [b, s, h]` over the positions where `mask [b, s]` is true → `[b, h]`
/// (`-inf` for an empty mask; callers replace those rows).
pub fn masked_max<B: Backend>(hidden: Tensor<B, 3>, mask: Tensor<B, 2, Bool>) -> Tensor<B, 2> {
    let [batch, seq_len, width] = hidden.dims();
    let outside = mask.bool_not().reshape([batch, seq_len, 1]).expand([batch, seq_len, width]);
    hidden.mask_fill(outside, f32::NEG_INFINITY).max_dim(1).reshape([batch, width])
}

/// Attention pooling: `score_t = hidden_t · w`, softmax over the masked positions, weighted sum → `[b, h]`
/// (zeros for an empty mask).
pub fn masked_attention<B: Backend>(hidden: Tensor<B, 3>, mask: Tensor<B, 2, Bool>, w: Tensor<B, 1>) -> Tensor<B, 2> {
    let [batch, seq_len, width] = hidden.dims();
    let scores = hidden.clone().matmul(w.reshape([1, width, 1])).reshape([batch, seq_len]);
    // A finite fill (in the tensor's own dtype: f32::MIN is -inf in f16) keeps rows without any span token
    // NaN-free (uniform softmax, zeroed by the mask below).
    let fill = most_negative(scores.dtype());
    let scores = scores.mask_fill(mask.clone().bool_not(), fill);
    let weights = softmax(scores, 1) * mask.float();
    weights.reshape([batch, 1, seq_len]).matmul(hidden).reshape([batch, width])
}

/// States at `positions [b]` → `[b, h]`, and whether each position lay inside the sequence.
fn gather_positions<B: Backend>(
    hidden: Tensor<B, 3>,
    positions: Tensor<B, 1, Int>,
) -> (Tensor<B, 2>, Tensor<B, 1, Bool>) {
    let [batch, seq_len, width] = hidden.dims();
    let in_range = positions.clone().greater_equal_elem(0).bool_and(positions.clone().lower_elem(seq_len as i64));
    let index = positions.clamp(0, seq_len.saturating_sub(1) as i64).reshape([batch, 1, 1]).expand([batch, 1, width]);
    (hidden.gather(1, index).reshape([batch, width]), in_range)
}

/// Rows of `pooled` where `ok` is false are replaced by the matching row of `cls`.
fn fallback_to<B: Backend>(pooled: Tensor<B, 2>, ok: Tensor<B, 1, Bool>, cls: Tensor<B, 2>) -> Tensor<B, 2> {
    let [batch, width] = pooled.dims();
    let replace = ok.bool_not().reshape([batch, 1]).expand([batch, width]);
    pooled.mask_where(replace, cls)
}

fn count_false<B: Backend>(ok: Tensor<B, 1, Bool>) -> usize {
    let missing: i64 = ok.bool_not().int().sum().into_scalar().elem();
    missing.max(0) as usize
}
