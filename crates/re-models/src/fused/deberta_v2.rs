//! DeBERTa-v2/v3 in the fused engine: the same arithmetic as [`crate::deberta_v2::DebertaV2`].
//!
//! Besides the content scores `Q Kᵀ`, each head adds the content→position term `c2p[i][j] = Q_i · Kr_δ(i,j)` and
//! the position→content term `p2c[i][j] = K_j · Qr_δ'(j,i)`, where `Kr`/`Qr` are the (LayerNorm-ed) relative
//! embeddings through the layer's key/query projection and `δ` the clamped, log-bucketed relative distance. `Kr`
//! and `Qr` depend on the weights only, so they are computed once when the engine is built; per head, the two terms
//! are one `[seq, d] × [d, 2·span]` product each, gathered into the scores. Padding is masked per query-key pair.
use burn::tensor::backend::Backend;
use gemm::Parallelism;

use super::{dense, floats, fuse_qkv, norm, param_floats, Dense, FusedEngine, Layer};
use crate::deberta_v2::{build_relative_position, DebertaV2, DebertaV2Config};
use crate::error::Result;

/// What DeBERTa does differently from BERT in the engine.
#[derive(Debug, Clone)]
pub(super) struct DebertaParts {
    /// `1 + [c2p] + [p2c]`: scores are divided by `√(d · scale_factor)`.
    pub scale_factor: usize,
    /// Relative attention; `None` without `relative_attention`.
    pub relative: Option<Relative>,
}

/// The relative-position settings of the encoder.
#[derive(Debug, Clone)]
pub(super) struct Relative {
    buckets: i64,
    max_relative: i64,
    /// `att_span`: the relative embedding has `2 · span` rows.
    span: usize,
}

/// Per sequence length: the column of `c2p` (`[seq, 2·span]`) and of `p2c` each score `[i][j]` takes.
pub(super) struct RelativeIndex {
    c2p: Vec<u32>,
    p2c: Vec<u32>,
    rows: usize,
}

impl Relative {
    /// HF's gather indices: `c2p[i][j] = clamp(δ(i, j) + span)` and, after its transpose, `p2c[i][j] =
    /// clamp(−δ(j, i) + span)`, both in `0..2·span`.
    pub fn indices(&self, seq: usize) -> RelativeIndex {
        let relative = build_relative_position(seq, self.buckets, self.max_relative);
        let (span, top) = (self.span as i64, 2 * self.span as i64 - 1);
        let at = |d: i64| (d + span).clamp(0, top) as u32;
        let mut c2p = Vec::with_capacity(seq * seq);
        let mut p2c = Vec::with_capacity(seq * seq);
        for i in 0..seq {
            for j in 0..seq {
                c2p.push(at(relative[i * seq + j]));
                p2c.push(at(-relative[j * seq + i]));
            }
        }
        RelativeIndex { c2p, p2c, rows: 2 * self.span }
    }
}

/// One head's Q and K rows inside the fused `qkv` buffer.
#[derive(Clone, Copy)]
pub(super) struct HeadRows {
    pub q: *const f32,
    pub k: *const f32,
    /// Distance between consecutive rows (3 · hidden).
    pub row_stride: usize,
    /// The head's first column within Kr/Qr rows (head · d).
    pub offset: usize,
    /// d.
    pub width: usize,
    /// Row stride of Kr/Qr (hidden).
    pub hidden: usize,
}

/// Per-task buffers for the `[seq, 2·span]` products.
#[derive(Default)]
pub(super) struct RelativeScratch {
    c2p: Vec<f32>,
    p2c: Vec<f32>,
}

/// `scores[i][j] += scale · (c2p + p2c)` for one (batch row, head).
pub(super) fn add_relative_bias(
    scores: &mut [f32],
    scratch: &mut RelativeScratch,
    layer: &Layer,
    index: &RelativeIndex,
    head: HeadRows,
    seq: usize,
    scale: f32,
) {
    let rows = index.rows;
    if !layer.pos_key.is_empty() {
        scratch.c2p.resize(seq * rows, 0.0);
        // SAFETY: `head.q` addresses `seq` rows of `width` values at `row_stride`; `pos_key` is [rows, hidden].
        unsafe { product_with_positions(&mut scratch.c2p, head.q, &layer.pos_key, head, seq, rows, scale) };
        for ((row, c2p), index) in scores.chunks_mut(seq).zip(scratch.c2p.chunks(rows)).zip(index.c2p.chunks(seq)) {
            for (s, &at) in row.iter_mut().zip(index) {
                *s += c2p[at as usize];
            }
        }
    }
    if !layer.pos_query.is_empty() {
        scratch.p2c.resize(seq * rows, 0.0);
        // SAFETY: as above, with the K rows and `pos_query`.
        unsafe { product_with_positions(&mut scratch.p2c, head.k, &layer.pos_query, head, seq, rows, scale) };
        for (row, index) in scores.chunks_mut(seq).zip(index.p2c.chunks(seq)) {
            for (j, (s, &at)) in row.iter_mut().zip(index).enumerate() {
                *s += scratch.p2c[j * rows + at as usize];
            }
        }
    }
}

/// `dst[seq, rows] = scale · X_head · P_headᵀ`, `X` rows strided in `qkv`, `P` = `positions[rows, hidden]`.
///
/// # Safety
/// `x` must address `seq` rows of `head.width` floats at `head.row_stride`, and `positions` hold `rows` rows.
unsafe fn product_with_positions(
    dst: &mut [f32],
    x: *const f32,
    positions: &[f32],
    head: HeadRows,
    seq: usize,
    rows: usize,
    scale: f32,
) {
    debug_assert!(positions.len() >= rows * head.hidden && dst.len() >= seq * rows);
    gemm::gemm(
        seq,
        rows,
        head.width,
        dst.as_mut_ptr(),
        1,
        rows as isize,
        false,
        x,
        1,
        head.row_stride as isize,
        positions.as_ptr().add(head.offset),
        head.hidden as isize,
        1,
        0.0,
        scale,
        false,
        false,
        false,
        Parallelism::None,
    );
}

impl FusedEngine {
    /// Copies a DeBERTa-v2/v3 encoder; `Ok(None)` with the convolution layer (v2 checkpoints with
    /// `conv_kernel_size > 0`), which stays on burn.
    pub(super) fn from_deberta_v2<B: Backend>(model: &DebertaV2<B>, config: &DebertaV2Config) -> Result<Option<Self>> {
        if model.encoder.conv.is_some() {
            return Ok(None);
        }
        let embeddings = &model.embeddings;
        let [vocab, embed_dim] = embeddings.word_embeddings.weight.dims();
        let (hidden, heads) = (config.hidden_size, config.num_attention_heads);
        let (c2p, p2c) = (config.uses_c2p(), config.uses_p2c());
        // The relative embeddings as every layer sees them: LayerNorm-ed, the first 2·span rows.
        let relative = match (&model.encoder.rel_embeddings, config.relative_attention) {
            (Some(table), true) => {
                let weight = table.weight.val();
                let weight = match &model.encoder.layer_norm {
                    Some(ln) => ln.forward(weight),
                    None => weight,
                };
                let span = config.attention_span();
                if weight.dims()[0] < 2 * span {
                    return Ok(None); // burn's gather would fail on such a checkpoint too
                }
                let settings =
                    Relative { buckets: config.position_buckets, max_relative: config.max_relative_span(), span };
                Some((weight.narrow(0, 0, 2 * span), settings))
            }
            _ => None,
        };
        let positions_through = |projection: Option<&burn::nn::Linear<B>>| -> Result<Vec<f32>> {
            match (&relative, projection) {
                (Some((weight, _)), Some(p)) => floats::<B, 2>(p.forward(weight.clone())),
                _ => Ok(Vec::new()),
            }
        };
        let mut layers = Vec::with_capacity(model.encoder.layers.len());
        for l in &model.encoder.layers {
            let a = &l.attention.self_attention;
            let (key_side, query_side) = match config.share_att_key {
                true => (Some(&a.key_proj), Some(&a.query_proj)),
                false => (a.pos_key_proj.as_ref(), a.pos_query_proj.as_ref()),
            };
            layers.push(Layer {
                qkv: fuse_qkv(dense(&a.query_proj)?, dense(&a.key_proj)?, dense(&a.value_proj)?),
                attention_output: dense(&l.attention.output.dense)?,
                attention_norm: norm(&l.attention.output.layer_norm)?,
                intermediate: dense(&l.intermediate.dense)?,
                output: dense(&l.output.dense)?,
                output_norm: norm(&l.output.layer_norm)?,
                pos_key: positions_through(key_side.filter(|_| c2p))?,
                pos_query: positions_through(query_side.filter(|_| p2c))?,
            });
        }
        let table = |e: &Option<burn::nn::Embedding<B>>| -> Result<(Option<Vec<f32>>, usize)> {
            match e {
                Some(e) => Ok((Some(param_floats(&e.weight)?), e.weight.dims()[0])),
                None => Ok((None, 0)),
            }
        };
        let (position, max_positions) = table(&embeddings.position_embeddings)?;
        let (token_type, type_vocab) = table(&embeddings.token_type_embeddings)?;
        let project: Option<Dense> = embeddings.embed_proj.as_ref().map(dense).transpose()?;
        Ok(Some(FusedEngine {
            hidden,
            heads,
            embed_dim,
            eps: config.layer_norm_eps as f32,
            activation: config.hidden_act,
            position_padding_idx: None,
            word: param_floats(&embeddings.word_embeddings.weight)?,
            vocab,
            position,
            max_positions,
            token_type,
            type_vocab,
            embed_norm: norm(&embeddings.layer_norm)?,
            project,
            layers,
            deberta: Some(DebertaParts {
                scale_factor: 1 + usize::from(c2p) + usize::from(p2c),
                relative: relative.map(|(_, settings)| settings),
            }),
        }))
    }
}
