//! A fused f32 inference engine for the encoders on CPU: BERT, RoBERTa, ELECTRA and DeBERTa-v2/v3 (its
//! disentangled attention in [`deberta_v2`]).
//!
//! Why it exists: burn's CPU backends run every tensor op as its own pass over its own freshly allocated buffer
//! (bias add, reshape/permute copies, a broadcast mask, five passes of softmax, scalar `erf`), which left encoder
//! inference several times slower than PyTorch on the same two cores (docs/performance.md). This engine does the
//! same arithmetic as [`crate::bert::Bert`] / [`crate::electra::Electra`] with the weights copied out of the burn
//! module once:
//!
//! - every projection is one `gemm` call over all `batch × seq` rows (AVX-512/AVX2 kernels picked at run time),
//!   with the bias (and the residual) pre-loaded into the output so the add is free;
//!   Q, K and V come from a single fused `[hidden, 3·hidden]` matrix;
//! - attention runs per (batch row, head) in parallel: two small gemms reading Q/K/V in place (strided, no
//!   permute copies) and an in-place masked softmax with a vectorisable `exp`;
//! - residual + LayerNorm and bias + GELU are single passes over each row.
//!
//! It is inference only (no dropout, no autodiff) and f32, except that [`FusedEngine::quantize_int8`] switches the
//! encoder layers' projections to dynamic int8 ([`crate::int8`]); then everything after attention (output
//! projection, LayerNorm, feed-forward, LayerNorm) runs one block of rows at a time per thread, so a block's
//! intermediate activations stay in cache. Parity with the burn modules and with
//! transformers is tested in `tests/it/fused_parity.rs`. Callers normally reach it through
//! [`crate::inference::InferenceEncoder`], which also owns the fallback to burn for the families it does not cover;
//! using it directly looks like this:
//!
//! ```no_run
//! use re_models::fused::FusedEngine;
//! use re_models::hub::load_encoder;
//! type B = burn::backend::NdArray<f32>;
//! let (encoder, config, _) = load_encoder::<B>("models/minilm".as_ref(), &Default::default())?;
//! let engine = FusedEngine::from_encoder(&encoder, &config)?.expect("BERT-family encoder");
//! let ids = [101i64, 7592, 102];
//! let hidden = engine.forward(&ids, &[1, 1, 1], None, 1, 3)?; // [1 × 3 × hidden], row-major
//! # Ok::<(), anyhow::Error>(())
//! ```
use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use gemm::Parallelism;
use rayon::prelude::*;

use crate::activation::Activation;
use crate::bert::BertEmbeddings;
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::{ModelError, Result};
use crate::int8::{ActivationPrecision, Int8Kernel, Int8Matrix, Int8Scratch, Output};
use crate::layers::TransformerLayer;
use crate::simd::{dispatch_simd, fast_erf, fast_exp, lane_sum, softmax_rows, SharedMut, LANES};

mod deberta_v2;

/// `y = x · W + b` with `W` stored `[d_in, d_out]` row-major (burn's `Linear` layout), or quantized to int8
/// ([`FusedEngine::quantize_int8`]: `weight` is then empty).
#[derive(Debug, Clone)]
struct Dense {
    weight: Vec<f32>,
    int8: Option<Int8Matrix>,
    bias: Vec<f32>,
    d_in: usize,
    d_out: usize,
}

impl Layer {
    /// The int8 matrices of everything after attention (`W_o`, `W_1`, `W_2`), when the layer was quantized.
    fn int8_after_attention(&self) -> Option<[&Int8Matrix; 3]> {
        Some([self.attention_output.int8.as_ref()?, self.intermediate.int8.as_ref()?, self.output.int8.as_ref()?])
    }
}

impl Dense {
    fn quantize_int8(&mut self) {
        if self.int8.is_none() {
            self.int8 = Some(Int8Matrix::new(&self.weight, self.d_in, self.d_out));
            self.weight = Vec::new();
        }
    }
}

#[derive(Debug, Clone)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Layer {
    /// Q, K and V projections side by side: `[hidden, 3·hidden]`.
    qkv: Dense,
    attention_output: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
    /// DeBERTa: the relative embeddings through this layer's key / query projections, `[2·span, hidden]` (empty
    /// when the term is off). They depend on the weights only, so they are computed once, when the engine is built.
    pos_key: Vec<f32>,
    pos_query: Vec<f32>,
}

/// A BERT/RoBERTa/ELECTRA/DeBERTa-v2 encoder ready for fast CPU inference. Built from a loaded burn [`Encoder`] with
/// [`FusedEngine::from_encoder`]; `forward` gives the same last hidden state as the burn module.
#[derive(Debug, Clone)]
pub struct FusedEngine {
    hidden: usize,
    heads: usize,
    embed_dim: usize,
    eps: f32,
    activation: Activation,
    position_padding_idx: Option<usize>,
    word: Vec<f32>,
    vocab: usize,
    /// Absolute position embeddings (absent in DeBERTa-v3).
    position: Option<Vec<f32>>,
    max_positions: usize,
    /// Token-type embeddings (absent in DeBERTa-v3).
    token_type: Option<Vec<f32>>,
    type_vocab: usize,
    embed_norm: Norm,
    project: Option<Dense>,
    layers: Vec<Layer>,
    /// What DeBERTa-v2/v3 does differently (`None` for BERT, RoBERTa and ELECTRA).
    deberta: Option<deberta_v2::DebertaParts>,
}

fn floats<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| ModelError::Input(format!("cannot read a weight tensor as f32: {e:?}")))
}

fn dense<B: Backend>(linear: &Linear<B>) -> Result<Dense> {
    let [d_in, d_out] = linear.weight.dims();
    let bias = match &linear.bias {
        Some(b) => floats(b.val())?,
        None => vec![0.0; d_out],
    };
    Ok(Dense { weight: floats(linear.weight.val())?, int8: None, bias, d_in, d_out })
}

fn norm<B: Backend>(ln: &LayerNorm<B>) -> Result<Norm> {
    let gamma = floats(ln.gamma.val())?;
    let beta = match &ln.beta {
        Some(b) => floats(b.val())?,
        None => vec![0.0; gamma.len()],
    };
    Ok(Norm { gamma, beta })
}

fn param_floats<B: Backend, const D: usize>(p: &Param<Tensor<B, D>>) -> Result<Vec<f32>> {
    floats(p.val())
}

fn layer<B: Backend>(l: &TransformerLayer<B>) -> Result<Layer> {
    Ok(Layer {
        qkv: fuse_qkv(dense(&l.attention.query)?, dense(&l.attention.key)?, dense(&l.attention.value)?),
        attention_output: dense(&l.attention_output)?,
        attention_norm: norm(&l.attention_norm)?,
        intermediate: dense(&l.intermediate)?,
        output: dense(&l.output)?,
        output_norm: norm(&l.output_norm)?,
        pos_key: Vec::new(),
        pos_query: Vec::new(),
    })
}

/// Q, K and V side by side in one `[d_in, 3·h]` matrix: row i is `[q_i | k_i | v_i]`.
fn fuse_qkv(q: Dense, k: Dense, v: Dense) -> Dense {
    let (d_in, h) = (q.d_in, q.d_out);
    let mut weight = Vec::with_capacity(d_in * 3 * h);
    for i in 0..d_in {
        for part in [&q, &k, &v] {
            weight.extend_from_slice(&part.weight[i * h..(i + 1) * h]);
        }
    }
    let bias = [q.bias, k.bias, v.bias].concat();
    Dense { weight, int8: None, bias, d_in, d_out: 3 * h }
}

impl FusedEngine {
    /// Copies the weights of a BERT, RoBERTa, ELECTRA or DeBERTa-v2/v3 encoder; `Ok(None)` for what the engine
    /// does not cover (DeBERTa-v2's convolution layer, `conv_kernel_size > 0`), which
    /// [`crate::inference::InferenceEncoder`] then runs on burn.
    pub fn from_encoder<B: Backend>(encoder: &Encoder<B>, config: &EncoderConfig) -> Result<Option<Self>> {
        let (embeddings, project, layers, eps): (&BertEmbeddings<B>, Option<&Linear<B>>, &[TransformerLayer<B>], f64) =
            match (encoder, config) {
                (Encoder::Bert(m), EncoderConfig::Bert(c)) => (&m.embeddings, None, &m.layers, c.layer_norm_eps),
                (Encoder::Electra(m), EncoderConfig::Electra(c)) => {
                    (&m.embeddings, m.embeddings_project.as_ref(), &m.layers, c.layer_norm_eps)
                }
                (Encoder::DebertaV2(m), EncoderConfig::DebertaV2(c)) => return FusedEngine::from_deberta_v2(m, c),
                _ => return Ok(None),
            };
        let Some(first) = layers.first() else {
            return Err(ModelError::Input("encoder without layers".into()));
        };
        let [vocab, embed_dim] = embeddings.word_embeddings.weight.dims();
        let [max_positions, _] = embeddings.position_embeddings.weight.dims();
        let [type_vocab, _] = embeddings.token_type_embeddings.weight.dims();
        let heads = first.attention.num_heads;
        let hidden = first.attention.query.weight.dims()[1];
        if heads == 0 || hidden % heads != 0 {
            return Err(ModelError::Input(format!("hidden size {hidden} is not a multiple of {heads} heads")));
        }
        Ok(Some(FusedEngine {
            hidden,
            heads,
            embed_dim,
            eps: eps as f32,
            activation: first.activation,
            position_padding_idx: embeddings.position_padding_idx,
            word: param_floats(&embeddings.word_embeddings.weight)?,
            vocab,
            position: Some(param_floats(&embeddings.position_embeddings.weight)?),
            max_positions,
            token_type: Some(param_floats(&embeddings.token_type_embeddings.weight)?),
            type_vocab,
            embed_norm: norm(&embeddings.layer_norm)?,
            project: project.map(dense).transpose()?,
            layers: layers.iter().map(layer).collect::<Result<_>>()?,
            deberta: None,
        }))
    }

    /// Switches the encoder layers' projections (Q/K/V, attention output, both feed-forward matrices: nearly all
    /// of the arithmetic) to dynamic int8 ([`crate::int8`]); embeddings, LayerNorm, softmax·V and the relation
    /// head stay f32. Returns the int8 kernel this CPU runs. Hidden states then differ from f32 by about 1 %
    /// (docs/performance.md measures what that does to predicted labels).
    pub fn quantize_int8(&mut self) -> Int8Kernel {
        self.quantize_int8_with(ActivationPrecision::Int8)
    }

    /// [`FusedEngine::quantize_int8`] with activations quantized as `precision` says
    /// ([`ActivationPrecision::TwoPassInt8`]: closer to f32, twice the integer products).
    pub fn quantize_int8_with(&mut self, precision: ActivationPrecision) -> Int8Kernel {
        for l in &mut self.layers {
            for d in [&mut l.qkv, &mut l.attention_output, &mut l.intermediate, &mut l.output] {
                d.quantize_int8();
                if let Some(int8) = &mut d.int8 {
                    int8.set_activation_precision(precision);
                }
            }
        }
        Int8Kernel::detect()
    }

    /// Whether [`FusedEngine::quantize_int8`] was applied.
    pub fn is_int8(&self) -> bool {
        self.int8_activations().is_some()
    }

    /// How the int8 projections quantize activations; `None` when the engine is f32.
    pub fn int8_activations(&self) -> Option<ActivationPrecision> {
        self.layers.first().and_then(|l| l.qkv.int8.as_ref()).map(Int8Matrix::activation_precision)
    }

    /// Hidden size of the output.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Last hidden state, row-major `[batch, seq, hidden]`, for row-major `[batch, seq]` ids, a 0/1 attention mask
    /// and optional token-type ids (default 0). Runs on the current rayon pool.
    pub fn forward(
        &self,
        input_ids: &[i64],
        attention_mask: &[i64],
        token_type_ids: Option<&[i64]>,
        batch: usize,
        seq: usize,
    ) -> Result<Vec<f32>> {
        let rows = batch * seq;
        if input_ids.len() != rows || attention_mask.len() != rows || token_type_ids.is_some_and(|t| t.len() != rows) {
            return Err(ModelError::Input(format!(
                "expected {batch}×{seq} = {rows} ids, mask values and token types; got {}, {} and {}",
                input_ids.len(),
                attention_mask.len(),
                token_type_ids.map_or(rows, <[i64]>::len)
            )));
        }
        let mut x = self.embed(input_ids, attention_mask, token_type_ids, batch, seq)?;
        // ELECTRA projects after the embedding LayerNorm (DeBERTa before it, inside `embed`).
        if let (Some(project), None) = (&self.project, &self.deberta) {
            let mut projected = vec![0.0; rows * self.hidden];
            linear_into(&mut projected, &x, rows, project, None);
            x = projected;
        }
        let h = self.hidden;
        let mut qkv = vec![0.0; rows * 3 * h];
        let mut context = vec![0.0; rows * h];
        let mut attended = vec![0.0; rows * h];
        let inter_size = self.layers.first().map_or(0, |l| l.intermediate.d_out);
        let mut inter = vec![0.0; rows * inter_size];
        for layer in &self.layers {
            linear_into(&mut qkv, &x, rows, &layer.qkv, None);
            self.attention(layer, &qkv, attention_mask, &mut context, batch, seq);
            if let Some(int8) = layer.int8_after_attention() {
                self.after_attention_int8(layer, int8, &context, &mut x);
                continue;
            }
            // a = LN(x + W_o·context + b_o): the residual and bias are loaded first, gemm accumulates onto them.
            linear_into(&mut attended, &context, rows, &layer.attention_output, Some(&x));
            layer_norm_rows(&mut attended, h, &layer.attention_norm, self.eps);
            // y = LN(a + W_2·act(W_1·a + b_1) + b_2)
            linear_into(&mut inter, &attended, rows, &layer.intermediate, None);
            activate_rows(&mut inter, inter_size, self.activation);
            linear_into(&mut x, &inter, rows, &layer.output, Some(&attended));
            layer_norm_rows(&mut x, h, &layer.output_norm, self.eps);
        }
        Ok(x)
    }

    /// `LN(E_word[ids] + E_pos[positions] + E_type[types])`, positions as [`BertEmbeddings::position_ids`];
    /// DeBERTa: `LN(P·(E_word[ids] (+ E_pos) (+ E_type))) × mask`, with the projection `P` when it has one.
    fn embed(&self, ids: &[i64], mask: &[i64], types: Option<&[i64]>, batch: usize, seq: usize) -> Result<Vec<f32>> {
        let e = self.embed_dim;
        let mut positions = vec![0usize; batch * seq];
        for b in 0..batch {
            let mut count = 0;
            for j in 0..seq {
                let i = b * seq + j;
                positions[i] = match self.position_padding_idx {
                    Some(pad) if ids[i] == pad as i64 => pad,
                    Some(pad) => {
                        count += 1;
                        pad + count
                    }
                    None => j,
                };
            }
        }
        let bad = |what: &str, value: i64, limit: usize, i: usize| {
            ModelError::Input(format!(
                "{what} {value} at batch row {}, position {} is outside the embedding table (size {limit})",
                i / seq.max(1),
                i % seq.max(1)
            ))
        };
        for (i, &id) in ids.iter().enumerate() {
            if id < 0 || id as usize >= self.vocab {
                return Err(bad("token id", id, self.vocab, i));
            }
            if self.position.is_some() && positions[i] >= self.max_positions {
                return Err(bad("position", positions[i] as i64, self.max_positions, i));
            }
            let t = types.map_or(0, |t| t[i]);
            if self.token_type.is_some() && (t < 0 || t as usize >= self.type_vocab) {
                return Err(bad("token type", t, self.type_vocab, i));
            }
        }
        let deberta = self.deberta.is_some();
        let mut out = vec![0.0f32; batch * seq * e];
        out.par_chunks_mut(e).enumerate().for_each(|(i, row)| {
            row.copy_from_slice(&self.word[ids[i] as usize * e..][..e]);
            if let Some(position) = &self.position {
                row.iter_mut().zip(&position[positions[i] * e..][..e]).for_each(|(o, p)| *o += p);
            }
            if let Some(token_type) = &self.token_type {
                let t = types.map_or(0, |t| t[i] as usize);
                row.iter_mut().zip(&token_type[t * e..][..e]).for_each(|(o, t)| *o += t);
            }
            if !deberta {
                layer_norm_row(row, &self.embed_norm, self.eps);
            }
        });
        if !deberta {
            return Ok(out);
        }
        if let Some(project) = &self.project {
            let mut projected = vec![0.0; batch * seq * self.hidden];
            linear_into(&mut projected, &out, batch * seq, project, None);
            out = projected;
        }
        out.par_chunks_mut(self.hidden).zip(mask.par_iter()).for_each(|(row, &m)| {
            layer_norm_row(row, &self.embed_norm, self.eps);
            if m == 0 {
                row.fill(0.0);
            }
        });
        Ok(out)
    }

    /// The rest of an int8 layer, `a = LN(x + W_o·context + b_o)`, `x ← LN(a + W_2·act(W_1·a + b_1) + b_2)`, one
    /// block of rows at a time on each thread: a block's `a` and intermediate activations (96 × 3,072 floats at
    /// roberta-base size) stay in that core's cache instead of making four trips through memory per layer.
    fn after_attention_int8(&self, layer: &Layer, [w_o, w_1, w_2]: [&Int8Matrix; 3], context: &[f32], x: &mut [f32]) {
        let (h, inter_size) = (self.hidden, layer.intermediate.d_out);
        let block = crate::int8::BLOCK_ROWS;
        x.par_chunks_mut(block * h).zip(context.par_chunks(block * h)).for_each(|(x, context)| {
            BLOCK_BUFFERS.with_borrow_mut(|(scratch, attended, inter)| {
                let rows = x.len() / h;
                if attended.len() < rows * h {
                    attended.resize(rows * h, 0.0);
                }
                if inter.len() < rows * inter_size {
                    inter.resize(rows * inter_size, 0.0);
                }
                let (attended, inter) = (&mut attended[..rows * h], &mut inter[..rows * inter_size]);
                let output = Output::Bias { bias: &layer.attention_output.bias, residual: Some(x) };
                w_o.product_on_this_thread(scratch, attended, context, rows, output);
                attended.chunks_mut(h).for_each(|row| layer_norm_row(row, &layer.attention_norm, self.eps));
                let output = Output::Bias { bias: &layer.intermediate.bias, residual: None };
                w_1.product_on_this_thread(scratch, inter, attended, rows, output);
                activate(inter, self.activation);
                let output = Output::Bias { bias: &layer.output.bias, residual: Some(attended) };
                w_2.product_on_this_thread(scratch, x, inter, rows, output);
                x.chunks_mut(h).for_each(|row| layer_norm_row(row, &layer.output_norm, self.eps));
            })
        });
    }

    /// Multi-head attention over the fused `qkv` rows `[batch·seq, 3·hidden]` into `context` `[batch·seq, hidden]`.
    fn attention(&self, layer: &Layer, qkv: &[f32], mask: &[i64], context: &mut [f32], batch: usize, seq: usize) {
        let (h, heads) = (self.hidden, self.heads);
        let d = h / heads;
        // DeBERTa divides by √(d · (1 + #relative terms)).
        let scale_factor = self.deberta.as_ref().map_or(1, |p| p.scale_factor);
        let scale = 1.0 / ((d * scale_factor) as f32).sqrt();
        let relative = self.deberta.as_ref().and_then(|p| p.relative.as_ref()).map(|r| r.indices(seq));
        let out = SharedMut::new(context);
        // HF's additive mask: 0 for kept keys, the most negative f32 for padding (exp underflows to exactly 0).
        let key_bias: Vec<f32> = mask.iter().map(|&m| if m != 0 { 0.0 } else { f32::MIN }).collect();
        (0..batch * heads).into_par_iter().for_each_init(
            || (vec![0.0f32; seq * seq], deberta_v2::RelativeScratch::default()),
            |(scores, scratch), task| {
                let (b, head) = (task / heads, task % heads);
                let base = b * seq * 3 * h + head * d;
                let (q, k, v) = (qkv[base..].as_ptr(), qkv[base + h..].as_ptr(), qkv[base + 2 * h..].as_ptr());
                // scores = scale · Q Kᵀ  ([seq, d] × [d, seq]; K read transposed through its strides)
                // SAFETY: all pointers address `seq` rows of stride 3h inside `qkv`, and `scores` holds seq².
                unsafe {
                    gemm::gemm(
                        seq,
                        seq,
                        d,
                        scores.as_mut_ptr(),
                        1,
                        seq as isize,
                        false,
                        q,
                        1,
                        (3 * h) as isize,
                        k,
                        (3 * h) as isize,
                        1,
                        0.0,
                        scale,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                }
                let key_bias = &key_bias[b * seq..(b + 1) * seq];
                if let Some(relative) = &relative {
                    let qk = deberta_v2::HeadRows { q, k, row_stride: 3 * h, offset: head * d, width: d, hidden: h };
                    deberta_v2::add_relative_bias(scores, scratch, layer, relative, qk, seq, scale);
                }
                if self.deberta.is_some() {
                    // DeBERTa masks query-key pairs: a padding query masks its whole row, which softmax then
                    // spreads evenly over all positions (HF fills the most negative value everywhere).
                    let mask = &mask[b * seq..(b + 1) * seq];
                    for (row, &m) in scores.chunks_mut(seq).zip(mask) {
                        if m == 0 {
                            row.fill(1.0 / seq as f32);
                        } else {
                            softmax_rows(row, key_bias);
                        }
                    }
                } else {
                    softmax_rows(scores, key_bias);
                }
                // context[b, :, head] = P V  ([seq, seq] × [seq, d])
                // SAFETY: each (b, head) task writes its own [seq, d] block of `context` (row stride h), so the
                // parallel writes never overlap; `v` rows have stride 3h.
                unsafe {
                    let dst = out.at(b * seq * h + head * d);
                    gemm::gemm(
                        seq,
                        d,
                        seq,
                        dst,
                        1,
                        h as isize,
                        false,
                        scores.as_ptr(),
                        1,
                        seq as isize,
                        v,
                        1,
                        (3 * h) as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                }
            },
        );
    }
}

/// `dst[rows, d_out] = (residual or 0) + bias + src[rows, d_in] · W` in one gemm over all rows.
fn linear_into(dst: &mut [f32], src: &[f32], rows: usize, layer: &Dense, residual: Option<&[f32]>) {
    let (k, n) = (layer.d_in, layer.d_out);
    let dst = &mut dst[..rows * n];
    if let Some(int8) = &layer.int8 {
        // The bias and residual are added as the products are written (no separate pass over `dst`).
        let output = Output::Bias { bias: &layer.bias, residual: residual.map(|r| &r[..rows * n]) };
        int8.product(dst, &src[..rows * k], rows, output);
        return;
    }
    match residual {
        Some(res) => dst.par_chunks_mut(n).zip(res.par_chunks(n)).for_each(|(o, r)| {
            for ((o, r), b) in o.iter_mut().zip(r).zip(&layer.bias) {
                *o = r + b;
            }
        }),
        None => dst.par_chunks_mut(n).for_each(|o| o.copy_from_slice(&layer.bias)),
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: dst is [rows, n], src [rows, k], weight [k, n], all row-major and in bounds.
    unsafe {
        gemm::gemm(
            rows,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            src.as_ptr(),
            1,
            k as isize,
            layer.weight.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

thread_local! {
    /// A thread's buffers for [`FusedEngine::after_attention_int8`], kept between blocks, layers and calls: fresh
    /// ones would cost page faults and zeroing at every block.
    static BLOCK_BUFFERS: std::cell::RefCell<(Int8Scratch, Vec<f32>, Vec<f32>)> = Default::default();
}

fn layer_norm_rows(x: &mut [f32], width: usize, norm: &Norm, eps: f32) {
    x.par_chunks_mut(width).for_each(|row| layer_norm_row(row, norm, eps));
}

fn activate_rows(x: &mut [f32], width: usize, activation: Activation) {
    x.par_chunks_mut(width.max(1) * 16).for_each(|chunk| activate(chunk, activation));
}

fn activate(x: &mut [f32], activation: Activation) {
    match activation {
        Activation::Gelu => gelu_slice(x),
        Activation::GeluNew => gelu_tanh_slice(x),
        Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
    }
}

dispatch_simd!(gelu_slice(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu(*v);
    }
});

dispatch_simd!(gelu_tanh_slice(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu_tanh(*v);
    }
});

dispatch_simd!(layer_norm_row(row: &mut [f32], norm: &Norm, eps: f32) {
    // (x − mean) / √(var + eps) · γ + β, biased variance in two passes as torch computes it.
    let n = row.len() as f32;
    let mean = lane_sum(row) / n;
    let mut acc = [0.0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += (c[i] - mean) * (c[i] - mean);
        }
    }
    let var = (acc.iter().sum::<f32>() + rest) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
        *v = (*v - mean) * inv * g + b;
    }
});

/// Exact GELU `x · Φ(x) = x/2 · (1 + erf(x/√2))` (HF `gelu`).
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + fast_erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// The tanh approximation (HF `gelu_new`): `x/2 · (1 + tanh(√(2/π)(x + 0.044715x³)))`, with
/// `tanh(u) = 1 − 2/(e^{2u} + 1)`.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // √(2/π)
    let u = C * (x + 0.044_715 * x * x * x);
    let tanh = 1.0 - 2.0 / (fast_exp(2.0 * u) + 1.0);
    0.5 * x * (1.0 + tanh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_ignores_masked_keys_and_sums_to_one() {
        let bias = [0.0, 0.0, f32::MIN, 0.0];
        let mut rows = [1.0f32, 2.0, 30.0, 0.5, 0.0, 0.0, 0.0, 0.0];
        softmax_rows(&mut rows, &bias);
        let z = 1f32.exp() + 2f32.exp() + 0.5f32.exp();
        assert_eq!(rows[2], 0.0);
        assert!((rows[1] - 2f32.exp() / z).abs() < 1e-6);
        assert!((rows[4..].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // All keys masked: uniform, as HF's additive mask gives.
        let mut row = [3.0f32, -1.0];
        softmax_rows(&mut row, &[f32::MIN, f32::MIN]);
        assert!((row[0] - 0.5).abs() < 1e-7 && (row[1] - 0.5).abs() < 1e-7);
    }
}
