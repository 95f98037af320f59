//! Building blocks shared by the BERT-style encoders (BERT, RoBERTa, ELECTRA): multi-head self-attention, the
//! post-LayerNorm transformer layer, the additive padding mask, and embedding resizing.
use crate::activation::Activation;
use crate::host_ops::{attention_context, residual_layer_norm};
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Embedding, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{backend::Backend, DType, Distribution, Int, Tensor};

/// A `Linear` initialised as Hugging Face's `_init_weights` does: weight ~ N(0, std), bias = 0.
pub fn hf_linear<B: Backend>(d_input: usize, d_output: usize, std: f64, device: &B::Device) -> Linear<B> {
    let mut linear =
        LinearConfig::new(d_input, d_output).with_initializer(Initializer::Normal { mean: 0.0, std }).init(device);
    linear.bias = Some(Param::from_tensor(Tensor::zeros([d_output], device)));
    linear
}

/// An `Embedding` initialised as Hugging Face does: weight ~ N(0, std).
pub fn hf_embedding<B: Backend>(n: usize, d: usize, std: f64, device: &B::Device) -> Embedding<B> {
    burn::nn::EmbeddingConfig::new(n, d).with_initializer(Initializer::Normal { mean: 0.0, std }).init(device)
}

/// Resizes an embedding matrix to `new_rows` rows, as `PreTrainedModel.resize_token_embeddings` does: existing rows are
/// kept, extra rows are cut, and new rows are drawn from N(0, `std`) — the `_init_weights` rule with
/// `std = config.initializer_range`.
///
/// Note: transformers ≥ 4.46 defaults to `mean_resizing=True` (new rows sampled around the mean of the old ones);
/// this port follows the classic `_init_weights` rule (`mean_resizing=False`), which is what the seed code relied on.
pub fn resize_embedding<B: Backend>(
    embedding: Embedding<B>,
    new_rows: usize,
    std: f64,
    device: &B::Device,
) -> Embedding<B> {
    let weight = embedding.weight.val();
    let [rows, dim] = weight.dims();
    let weight = if new_rows <= rows {
        weight.slice([0..new_rows, 0..dim])
    } else {
        let extra = Tensor::<B, 2>::random([new_rows - rows, dim], Distribution::Normal(0.0, std), device);
        Tensor::cat(vec![weight, extra], 0)
    };
    // detach: a parameter must be a leaf of the autodiff graph (slice/cat are ops on the old one).
    Embedding { weight: Param::from_tensor(weight.detach()) }
}

/// `linear` applied to every token of `x` `[batch, seq, d_in]` as one `[batch·seq, d_in]` matrix product.
///
/// burn 0.21's default `linear` broadcasts a 3-D input into a batched matmul, whose weight gradient is one
/// `[d_in, d_out]` product per batch row, summed afterwards (a `batch`-times larger buffer and `batch` short gemms).
/// As one matrix the forward pass and both gradients are single large gemms; on burn-ndarray under autodiff the
/// product is [`crate::host_ops::linear`] (no flattening copies, gradients without transposed copies).
pub fn linear_tokens<B: Backend>(linear: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    crate::host_ops::linear(linear, x)
}

/// Turns a `[batch, seq]` 0/1 attention mask into the additive bias `[batch, 1, 1, seq]` that HF adds to the
/// attention scores: 0 where attended, the most negative finite value of the float type where padded.
pub fn additive_attention_mask<B: Backend>(attention_mask: Tensor<B, 2, Int>) -> Tensor<B, 4> {
    let [batch, seq] = attention_mask.dims();
    let device = attention_mask.device();
    let padded = attention_mask.equal_elem(0);
    let bias = Tensor::<B, 2>::zeros([batch, seq], &device);
    // finfo(dtype).min as HF uses; mask_fill (not multiplication) so a half-precision -inf never meets a 0.
    let min = most_negative(bias.dtype());
    bias.mask_fill(padded, min).reshape([batch, 1, 1, seq])
}

/// The most negative finite value of a float dtype (`torch.finfo(dtype).min`). A mask fill must use this rather
/// than `f32::MIN`, which becomes `-inf` in f16: a row masked everywhere then softmaxes to NaN instead of a
/// uniform row.
pub fn most_negative(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => -65504.0,
        DType::BF16 => -3.389_531_4e38,
        DType::F64 => f64::MIN,
        _ => f32::MIN as f64,
    }
}

/// Multi-head scaled dot-product self-attention with separate query/key/value projections (HF `BertSelfAttention`).
#[derive(Module, Debug)]
pub struct SelfAttention<B: Backend> {
    /// Query projection.
    pub query: Linear<B>,
    /// Key projection.
    pub key: Linear<B>,
    /// Value projection.
    pub value: Linear<B>,
    /// Dropout on the attention probabilities (identity outside training).
    pub dropout: Dropout,
    pub(crate) num_heads: usize,
}

impl<B: Backend> SelfAttention<B> {
    /// A randomly initialised attention block.
    pub fn new(hidden: usize, num_heads: usize, dropout: f64, std: f64, device: &B::Device) -> Self {
        Self {
            query: hf_linear(hidden, hidden, std, device),
            key: hf_linear(hidden, hidden, std, device),
            value: hf_linear(hidden, hidden, std, device),
            dropout: DropoutConfig::new(dropout).init(),
            num_heads,
        }
    }

    /// `softmax(Q Kᵀ / √d + mask) V` per head; `x` is `[batch, seq, hidden]`, `mask_bias` `[batch, 1, 1, seq]`.
    pub fn forward(&self, x: Tensor<B, 3>, mask_bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let [batch, seq, hidden] = x.dims();
        let training = B::ad_enabled(&x.device()) && self.dropout.prob > 0.0;
        let head_dim = hidden / self.num_heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let (q, k, v) =
            (linear_tokens(&self.query, x.clone()), linear_tokens(&self.key, x.clone()), linear_tokens(&self.value, x));
        if training {
            // Training: the backend's fused op has no attention dropout; on burn-ndarray this is one kernel.
            return attention_context(q, k, v, mask_bias, self.num_heads, scale, &self.dropout);
        }
        // Inference: one fused call (burn-flex runs it as two gemms with an in-place softmax; CUDA may use flash
        // attention) instead of four separate tensor ops and their intermediate buffers.
        let heads = |t: Tensor<B, 3>| t.reshape([batch, seq, self.num_heads, head_dim]).swap_dims(1, 2);
        let options = AttentionModuleOptions { scale: Some(scale), softcap: None, is_causal: false };
        let context = attention(heads(q), heads(k), heads(v), None, Some(mask_bias), options);
        context.swap_dims(1, 2).reshape([batch, seq, hidden])
    }
}

/// One post-LayerNorm transformer layer (HF `BertLayer`):
/// `a = LN(x + Dropout(W_o · Attn(x)))`, `y = LN(a + Dropout(W_2 · act(W_1 · a)))`.
#[derive(Module, Debug)]
pub struct TransformerLayer<B: Backend> {
    /// Self-attention (`attention.self.*`).
    pub attention: SelfAttention<B>,
    /// Attention output projection (`attention.output.dense`).
    pub attention_output: Linear<B>,
    /// LayerNorm after attention (`attention.output.LayerNorm`).
    pub attention_norm: LayerNorm<B>,
    /// First feed-forward projection (`intermediate.dense`).
    pub intermediate: Linear<B>,
    /// Second feed-forward projection (`output.dense`).
    pub output: Linear<B>,
    /// LayerNorm after the feed-forward block (`output.LayerNorm`).
    pub output_norm: LayerNorm<B>,
    /// Hidden dropout.
    pub dropout: Dropout,
    pub(crate) activation: Activation,
    /// Epsilon of both LayerNorms (burn keeps a `LayerNorm`'s own private); not part of the record.
    #[module(skip)]
    pub(crate) layer_norm_eps: f64,
}

/// Sizes of a [`TransformerLayer`].
#[derive(Debug, Clone, Copy)]
pub struct LayerSpec {
    /// Hidden size.
    pub hidden: usize,
    /// Number of attention heads.
    pub heads: usize,
    /// Feed-forward size.
    pub intermediate: usize,
    /// Feed-forward activation.
    pub activation: Activation,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Hidden dropout probability.
    pub hidden_dropout: f64,
    /// Attention-probability dropout.
    pub attention_dropout: f64,
    /// Std of the normal initialiser.
    pub initializer_range: f64,
}

impl<B: Backend> TransformerLayer<B> {
    /// A randomly initialised layer.
    pub fn new(spec: &LayerSpec, device: &B::Device) -> Self {
        let std = spec.initializer_range;
        Self {
            attention: SelfAttention::new(spec.hidden, spec.heads, spec.attention_dropout, std, device),
            attention_output: hf_linear(spec.hidden, spec.hidden, std, device),
            attention_norm: LayerNormConfig::new(spec.hidden).with_epsilon(spec.layer_norm_eps).init(device),
            intermediate: hf_linear(spec.hidden, spec.intermediate, std, device),
            output: hf_linear(spec.intermediate, spec.hidden, std, device),
            output_norm: LayerNormConfig::new(spec.hidden).with_epsilon(spec.layer_norm_eps).init(device),
            dropout: DropoutConfig::new(spec.hidden_dropout).init(),
            activation: spec.activation,
            layer_norm_eps: spec.layer_norm_eps,
        }
    }

    /// The layer applied to `x` `[batch, seq, hidden]` with the additive mask `[batch, 1, 1, seq]`.
    pub fn forward(&self, x: Tensor<B, 3>, mask_bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let eps = self.layer_norm_eps;
        let attended = linear_tokens(&self.attention_output, self.attention.forward(x.clone(), mask_bias));
        let a = residual_layer_norm(&self.attention_norm, eps, &self.dropout, attended, x);
        let ff = linear_tokens(&self.output, self.activation.forward(linear_tokens(&self.intermediate, a.clone())));
        residual_layer_norm(&self.output_norm, eps, &self.dropout, ff, a)
    }
}

/// HF checkpoint key → module path rewrites for the BERT-style layer stack, shared by BERT, RoBERTa and ELECTRA.
/// Applied in order by [`crate::hub::load_weights`]; the `LayerNorm.weight/bias` vs `gamma/beta` spelling is handled
/// by burn-store's PyTorch adapter.
pub const BERT_LAYER_REMAP: &[(&str, &str)] = &[
    (r"^(bert|roberta|electra)\.", ""),
    (r"^embeddings\.LayerNorm\.", "embeddings.layer_norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.", "layers.$1.attention."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", "layers.$1.attention_output."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", "layers.$1.attention_norm."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", "layers.$1.intermediate."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", "layers.$1.output."),
    (r"^encoder\.layer\.(\d+)\.output\.LayerNorm\.", "layers.$1.output_norm."),
];
