//! Multi-head attention `dropout(softmax(Q Kᵀ · scale + mask)) V`, per (example, head), in one pass forward and
//! one backward, reading Q/K/V and writing the context and the gradients in the token-major `[batch, seq, hidden]`
//! layout: no head split/merge copies, no batched-matmul broadcasts.
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ndarray::NdArrayTensor;
use burn::nn::Dropout;
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use gemm::Parallelism;
use rayon::prelude::*;

use super::{cast, float_primitive, host_tensor, runs_on, same, values, DropoutMask, Host, Tape};
use crate::simd::{dispatch_simd, lane_dot, softmax_rows, SharedMut};

/// Scaled dot-product attention over `heads` heads: `q`, `k`, `v` are `[batch, seq, hidden]` (heads side by side
/// in `hidden`), `mask_bias` the additive padding mask `[batch, 1, 1, seq]` (a constant: no gradient flows to it);
/// the context comes back as `[batch, seq, hidden]`, per head `dropout(softmax(Q Kᵀ · scale + mask)) V`.
///
/// Dropout applies, as burn's `Dropout` does, only under autodiff. On burn-ndarray f32 this is one fused kernel
/// (one autodiff node); elsewhere, or for another mask shape or a tracked mask, burn's ops.
pub fn attention_context<B: Backend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    mask_bias: Tensor<B, 4>,
    heads: usize,
    scale: f64,
    dropout: &Dropout,
) -> Tensor<B, 3> {
    let [batch, seq, hidden] = q.dims();
    let fused = runs_on::<B>()
        && heads > 0
        && hidden % heads == 0
        && k.dims() == q.dims()
        && v.dims() == q.dims()
        && mask_bias.dims() == [batch, 1, 1, seq]
        && !mask_bias.is_require_grad();
    if !fused {
        let split = |t: Tensor<B, 3>| t.reshape([batch, seq, heads, hidden / heads]).swap_dims(1, 2);
        let scores = split(q).matmul(split(k).swap_dims(2, 3)).mul_scalar(scale) + mask_bias;
        let context = dropout.forward(softmax(scores, 3)).matmul(split(v));
        return context.swap_dims(1, 2).reshape([batch, seq, hidden]);
    }
    let shape = Shape { batch, seq, hidden, heads, scale: scale as f32 };
    match cast::<_, Tensor<Tape, 3>>(q) {
        Ok(q) => same(tape_forward(q, same(k), same(v), same(mask_bias), shape, dropout.prob)),
        Err(q) => {
            let [q, k, v] = [q, k, v].map(|t| float_primitive::<Host, 3>(same(t)));
            let mask_bias = float_primitive::<Host, 4>(same(mask_bias));
            let inputs = Inputs { q: &values(&q), k: &values(&k), v: &values(&v) };
            let (context, _) = forward(&inputs, &values(&mask_bias), shape, None, false);
            same(Tensor::<Host, 3>::from_primitive(TensorPrimitive::Float(host_tensor(context, shape.dims()))))
        }
    }
}

#[derive(Clone, Copy)]
struct Shape {
    batch: usize,
    seq: usize,
    hidden: usize,
    heads: usize,
    scale: f32,
}

impl Shape {
    fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    fn dims(&self) -> Vec<usize> {
        vec![self.batch, self.seq, self.hidden]
    }

    /// Offset of (example `b`, head `head`)'s first value in a `[batch, seq, hidden]` buffer.
    fn head_offset(&self, task: usize) -> usize {
        let (b, head) = (task / self.heads, task % self.heads);
        b * self.seq * self.hidden + head * self.head_dim()
    }

    /// The `[seq, seq]` block of task `task` in a `[batch, heads, seq, seq]` buffer.
    fn block(&self, task: usize) -> std::ops::Range<usize> {
        let square = self.seq * self.seq;
        task * square..(task + 1) * square
    }
}

struct Inputs<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
}

/// A matrix operand of [`gemm`]: element (i, j) at `ptr + i·rows + j·cols`.
#[derive(Clone, Copy)]
struct Operand {
    ptr: *const f32,
    rows: isize,
    cols: isize,
}

impl Operand {
    /// Row-major with row stride `stride`.
    fn rows(values: &[f32], stride: usize) -> Self {
        Self { ptr: values.as_ptr(), rows: stride as isize, cols: 1 }
    }

    /// The transpose of [`Operand::rows`].
    fn transposed(values: &[f32], stride: usize) -> Self {
        Self { ptr: values.as_ptr(), rows: 1, cols: stride as isize }
    }
}

#[allow(clippy::too_many_arguments)] // a BLAS-style call: three sizes, three operands, one scale
/// `dst[m, n] = alpha · a[m, k] · b[k, n]` on one thread, `dst` row-major with row stride `dst_stride`.
///
/// # Safety
/// `dst` must address `m` rows of stride `dst_stride` (`n` values each) that no other thread touches, and `a`
/// and `b` must address valid `m × k` and `k × n` matrices.
unsafe fn gemm(m: usize, n: usize, k: usize, dst: *mut f32, dst_stride: usize, a: Operand, b: Operand, alpha: f32) {
    // SAFETY: as the caller promises.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_stride as isize,
            false,
            a.ptr,
            a.cols,
            a.rows,
            b.ptr,
            b.cols,
            b.rows,
            0.0,
            alpha,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// What the backward pass reads: the probabilities, and the dropped ones when there is dropout.
#[derive(Debug)]
struct Saved {
    probabilities: Vec<f32>,
    dropped: Option<Vec<f32>>,
}

/// The forward pass: the context `[batch, seq, hidden]`, and what the backward reads when `keep_saved`.
fn forward(
    inputs: &Inputs,
    mask_bias: &[f32],
    shape: Shape,
    mask: Option<&DropoutMask>,
    keep_saved: bool,
) -> (Vec<f32>, Option<Saved>) {
    let Shape { batch, seq, hidden, heads, scale } = shape;
    let d = shape.head_dim();
    let tasks = batch * heads;
    let mut context = vec![0.0f32; batch * seq * hidden];
    let saved_len = if keep_saved { tasks * seq * seq } else { 0 };
    let mut probabilities = vec![0.0f32; saved_len];
    let mut dropped = vec![0.0f32; if mask.is_some() { saved_len } else { 0 }];
    let out = SharedMut::new(&mut context);
    let (saved_p, saved_dropped) = (SharedMut::new(&mut probabilities), SharedMut::new(&mut dropped));
    (0..tasks).into_par_iter().for_each_init(
        || (vec![0.0f32; seq * seq], vec![0.0f32; if mask.is_some() { seq * seq } else { 0 }]),
        |(p, p_dropped), task| {
            let offset = shape.head_offset(task);
            let b = task / heads;
            // S = Q Kᵀ · scale, then P = softmax(S + mask) row by row.
            // SAFETY: Q/K address `seq` rows of stride `hidden` from `offset`; `p` holds seq².
            unsafe {
                let (q, k) =
                    (Operand::rows(&inputs.q[offset..], hidden), Operand::transposed(&inputs.k[offset..], hidden));
                gemm(seq, seq, d, p.as_mut_ptr(), seq, q, k, scale);
            }
            softmax_rows(p, &mask_bias[b * seq..(b + 1) * seq]);
            let used: &[f32] = match mask {
                Some(mask) => {
                    let keep = &mask.keep[shape.block(task)];
                    for ((o, &p), &k) in p_dropped.iter_mut().zip(p.iter()).zip(keep) {
                        *o = p * (f32::from(k) * mask.scale);
                    }
                    p_dropped
                }
                None => p,
            };
            // context[b, :, head] = P' V
            // SAFETY: each task writes its own [seq, d] block of `context` (row stride `hidden`); V as Q above.
            unsafe {
                gemm(
                    seq,
                    d,
                    seq,
                    out.at(offset),
                    hidden,
                    Operand::rows(used, seq),
                    Operand::rows(&inputs.v[offset..], hidden),
                    1.0,
                );
            }
            if keep_saved {
                let block = shape.block(task);
                // SAFETY: each task copies into its own [seq, seq] block of the saved buffers.
                unsafe {
                    std::ptr::copy_nonoverlapping(p.as_ptr(), saved_p.at(block.start), block.len());
                    if mask.is_some() {
                        std::ptr::copy_nonoverlapping(used.as_ptr(), saved_dropped.at(block.start), block.len());
                    }
                }
            }
        },
    );
    (context, keep_saved.then(|| Saved { probabilities, dropped: mask.map(|_| dropped) }))
}

dispatch_simd!(softmax_rows_backward(d: &mut [f32], probabilities: &[f32], dropped: &[f32], seq: usize, scale: f32) {
    // On entry `d` holds ∂P' (the dropped probabilities' gradient); with P' = P ⊙ c (c the dropout scale, 0 where
    // dropped) and P = softmax(Z): ∂Z = P' ⊙ ∂P' − P · (P' · ∂P'), and ∂S = scale · ∂Z.
    for ((d, p), o) in d.chunks_exact_mut(seq).zip(probabilities.chunks_exact(seq)).zip(dropped.chunks_exact(seq)) {
        let og = lane_dot(o, d);
        for ((d, &p), &o) in d.iter_mut().zip(p).zip(o) {
            *d = scale * (o * *d - p * og);
        }
    }
});

/// Gradients of Q, K and V (`[batch, seq, hidden]` each) from the context's gradient `grad`.
///
/// Per (example, head): `∂P' = ∂C Vᵀ`, `∂V = P'ᵀ ∂C`, `∂S` from the softmax, `∂Q = ∂S K`, `∂K = ∂Sᵀ Q`.
fn backward(grad: &[f32], inputs: &Inputs, saved: &Saved, shape: Shape) -> [Vec<f32>; 3] {
    let Shape { batch, seq, hidden, heads, scale } = shape;
    let d = shape.head_dim();
    let [mut d_q, mut d_k, mut d_v] = [(); 3].map(|_| vec![0.0f32; batch * seq * hidden]);
    let (out_q, out_k, out_v) = (SharedMut::new(&mut d_q), SharedMut::new(&mut d_k), SharedMut::new(&mut d_v));
    (0..batch * heads).into_par_iter().for_each_init(
        || vec![0.0f32; seq * seq],
        |d_s, task| {
            let offset = shape.head_offset(task);
            let block = shape.block(task);
            let p = &saved.probabilities[block.clone()];
            let dropped = saved.dropped.as_ref().map_or(p, |dropped| &dropped[block]);
            let d_context = Operand::rows(&grad[offset..], hidden);
            // SAFETY: every operand addresses `seq` rows of stride `hidden` from `offset` (or a [seq, seq] block);
            // each task writes its own [seq, d] blocks of ∂Q/∂K/∂V and its own scratch.
            unsafe {
                gemm(
                    seq,
                    seq,
                    d,
                    d_s.as_mut_ptr(),
                    seq,
                    d_context,
                    Operand::transposed(&inputs.v[offset..], hidden),
                    1.0,
                );
                gemm(seq, d, seq, out_v.at(offset), hidden, Operand::transposed(dropped, seq), d_context, 1.0);
            }
            softmax_rows_backward(d_s, p, dropped, seq, scale);
            // SAFETY: as above.
            unsafe {
                gemm(
                    seq,
                    d,
                    seq,
                    out_q.at(offset),
                    hidden,
                    Operand::rows(d_s, seq),
                    Operand::rows(&inputs.k[offset..], hidden),
                    1.0,
                );
                gemm(
                    seq,
                    d,
                    seq,
                    out_k.at(offset),
                    hidden,
                    Operand::transposed(d_s, seq),
                    Operand::rows(&inputs.q[offset..], hidden),
                    1.0,
                );
            }
        },
    );
    [d_q, d_k, d_v]
}

/// The autodiff node of one call.
#[derive(Debug)]
struct AttentionBackward;

#[derive(Debug, Clone)]
struct AttentionState {
    /// The inputs (shared with the ops that made them, not copies).
    q: NdArrayTensor,
    k: NdArrayTensor,
    v: NdArrayTensor,
    saved: Arc<Saved>,
    shape: Shape,
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}, {}] × {} heads", self.batch, self.seq, self.hidden, self.heads)
    }
}

impl Backward<Host, 3> for AttentionBackward {
    type State = AttentionState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Host>(&ops.node);
        let state = ops.state;
        let (q, k, v) = (values(&state.q), values(&state.k), values(&state.v));
        let gradients = backward(&values(&grad), &Inputs { q: &q, k: &k, v: &v }, &state.saved, state.shape);
        for (parent, gradient) in ops.parents.iter().zip(gradients) {
            if let Some(parent) = parent {
                grads.register::<Host>(parent.id, host_tensor(gradient, state.shape.dims()));
            }
        }
    }
}

fn tape_forward(
    q: Tensor<Tape, 3>,
    k: Tensor<Tape, 3>,
    v: Tensor<Tape, 3>,
    mask_bias: Tensor<Tape, 4>,
    shape: Shape,
    dropout: f64,
) -> Tensor<Tape, 3> {
    let [q, k, v] = [q, k, v].map(float_primitive);
    let mask_bias = float_primitive(mask_bias).primitive;
    let mask = (dropout > 0.0).then(|| DropoutMask::draw(shape.batch * shape.heads * shape.seq * shape.seq, dropout));
    let nodes = [q.node.clone(), k.node.clone(), v.node.clone()];
    let (q_values, k_values, v_values) = (values(&q.primitive), values(&k.primitive), values(&v.primitive));
    let inputs = Inputs { q: &q_values, k: &k_values, v: &v_values };
    let output = match AttentionBackward.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (context, saved) = forward(&inputs, &values(&mask_bias), shape, mask.as_ref(), true);
            let state = AttentionState {
                q: q.primitive.clone(),
                k: k.primitive.clone(),
                v: v.primitive.clone(),
                saved: Arc::new(saved.expect("asked for")),
                shape,
            };
            prep.finish(state, host_tensor(context, shape.dims()))
        }
        OpsKind::UnTracked(prep) => {
            let (context, _) = forward(&inputs, &values(&mask_bias), shape, mask.as_ref(), false);
            prep.finish(host_tensor(context, shape.dims()))
        }
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::additive_attention_mask;
    use burn::nn::DropoutConfig;
    use burn::tensor::{Distribution, Int, TensorData};

    const SHAPE: Shape = Shape { batch: 2, seq: 7, hidden: 12, heads: 3, scale: 0.5 };

    fn qkv_and_mask<B: Backend>(device: &B::Device) -> ([Tensor<B, 3>; 3], Tensor<B, 4>) {
        let qkv = [(); 3].map(|_| Tensor::random([2, 7, 12], Distribution::Normal(0.0, 1.5), device));
        // The second example pads its last three tokens.
        let ids: Vec<i64> = [1i64; 7].into_iter().chain([1, 1, 1, 1, 0, 0, 0]).collect();
        let mask = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [2, 7]), device);
        (qkv, additive_attention_mask(mask))
    }

    fn flat<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().convert::<f32>().to_vec().unwrap()
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{what}: worst difference {worst}");
    }

    /// The composition of burn ops that the fused kernel replaces, with an optional fixed dropout mask (1/0 per
    /// probability, scaled by `1/keep`).
    fn reference(
        qkv: [Tensor<Tape, 3>; 3],
        mask_bias: Tensor<Tape, 4>,
        dropout: Option<(Tensor<Tape, 4>, f32)>,
    ) -> Tensor<Tape, 3> {
        let [q, k, v] = qkv;
        let split = |t: Tensor<Tape, 3>| t.reshape([2, 7, 3, 4]).swap_dims(1, 2);
        let scores = split(q).matmul(split(k).swap_dims(2, 3)).mul_scalar(0.5) + mask_bias;
        let mut p = softmax(scores, 3);
        if let Some((mask, keep)) = dropout {
            p = p * mask / keep;
        }
        p.matmul(split(v)).swap_dims(1, 2).reshape([2, 7, 12])
    }

    /// Copies of `t` on leaves of their own graph (burn frees a graph's nodes when it runs its backward).
    fn leaves(t: &[Tensor<Tape, 3>; 3]) -> [Tensor<Tape, 3>; 3] {
        t.clone().map(|t| Tensor::from_data(t.to_data(), &t.device()).require_grad())
    }

    #[test]
    fn matches_burn_values_and_gradients_without_dropout() {
        let device = Default::default();
        let (qkv, mask_bias) = qkv_and_mask::<Tape>(&device);
        let (qkv, ref_qkv) = (leaves(&qkv), leaves(&qkv));
        let weights = Tensor::<Tape, 3>::random([2, 7, 12], Distribution::Normal(0.0, 1.0), &device);
        let [q, k, v] = qkv.clone();
        let off = DropoutConfig::new(0.0).init();
        let fused = attention_context(q, k, v, mask_bias.clone(), 3, 0.5, &off);
        let expected = reference(ref_qkv.clone(), mask_bias, None);
        assert_close(&flat(fused.clone()), &flat(expected.clone()), "context");
        let fused_grads = (fused * weights.clone()).sum().backward();
        let reference_grads = (expected * weights).sum().backward();
        for ((name, t), r) in ["d q", "d k", "d v"].iter().zip(&qkv).zip(&ref_qkv) {
            assert_close(&flat(t.grad(&fused_grads).unwrap()), &flat(r.grad(&reference_grads).unwrap()), name);
        }
    }

    #[test]
    fn dropout_matches_burn_with_the_same_mask() {
        let device = Default::default();
        let (qkv, mask_bias) = qkv_and_mask::<Tape>(&device);
        let ref_qkv = leaves(&qkv);
        let drop = DropoutMask::from_seed(2 * 3 * 7 * 7, 0.3, 11);
        let dropped = drop.keep.iter().filter(|&&k| k == 0).count();
        assert!((40..=110).contains(&dropped), "{dropped} of 294 dropped at p = 0.3");
        // The kernel's host functions with that mask…
        let host = qkv.clone().map(flat);
        let inputs = Inputs { q: &host[0], k: &host[1], v: &host[2] };
        let (context, saved) = forward(&inputs, &flat(mask_bias.clone()), SHAPE, Some(&drop), true);
        let grad = flat(Tensor::<Tape, 3>::random([2, 7, 12], Distribution::Normal(0.0, 1.0), &device));
        let gradients = backward(&grad, &inputs, &saved.unwrap(), SHAPE);
        // …against burn's composition with the same mask.
        let mask: Vec<f32> = drop.keep.iter().map(|&k| f32::from(k)).collect();
        let mask = Tensor::<Tape, 4>::from_data(TensorData::new(mask, [2, 3, 7, 7]), &device);
        let expected = reference(ref_qkv.clone(), mask_bias, Some((mask, 0.7)));
        assert_close(&context, &flat(expected.clone()), "context");
        let weights = Tensor::<Tape, 3>::from_data(TensorData::new(grad, [2, 7, 12]), &device);
        let reference_grads = (expected * weights).sum().backward();
        for ((name, got), r) in ["d q", "d k", "d v"].iter().zip(&gradients).zip(&ref_qkv) {
            assert_close(got, &flat(r.grad(&reference_grads).unwrap()), name);
        }
    }

    /// Context and Q/K/V gradients (`[context, ∂Q, ∂K, ∂V]`) in f64 loops, straight from the definitions.
    #[allow(clippy::needless_range_loop)] // indices read like the formulas
    fn naive_f64(host: &[Vec<f32>; 3], mask_bias: &[f32], grad: &[f32], shape: Shape) -> [Vec<f64>; 4] {
        let Shape { batch, seq, hidden, heads, scale } = shape;
        let d = shape.head_dim();
        let at =
            |t: &[f32], b: usize, i: usize, h: usize, c: usize| f64::from(t[b * seq * hidden + i * hidden + h * d + c]);
        let mut out = [(); 4].map(|_| vec![0.0f64; batch * seq * hidden]);
        for b in 0..batch {
            for h in 0..heads {
                let mut p = vec![vec![0.0f64; seq]; seq];
                for i in 0..seq {
                    for j in 0..seq {
                        let dot: f64 = (0..d).map(|c| at(&host[0], b, i, h, c) * at(&host[1], b, j, h, c)).sum();
                        p[i][j] = dot * f64::from(scale) + f64::from(mask_bias[b * seq + j]);
                    }
                    let max = p[i].iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let total: f64 = p[i].iter().map(|s| (s - max).exp()).sum();
                    for j in 0..seq {
                        p[i][j] = (p[i][j] - max).exp() / total;
                    }
                }
                let idx = |i: usize, c: usize| b * seq * hidden + i * hidden + h * d + c;
                let mut d_s = vec![vec![0.0f64; seq]; seq];
                for i in 0..seq {
                    for c in 0..d {
                        out[0][idx(i, c)] = (0..seq).map(|j| p[i][j] * at(&host[2], b, j, h, c)).sum();
                    }
                    let d_p: Vec<f64> = (0..seq)
                        .map(|j| (0..d).map(|c| at(grad, b, i, h, c) * at(&host[2], b, j, h, c)).sum())
                        .collect();
                    let dot: f64 = (0..seq).map(|j| p[i][j] * d_p[j]).sum();
                    for j in 0..seq {
                        d_s[i][j] = f64::from(scale) * p[i][j] * (d_p[j] - dot);
                    }
                }
                for i in 0..seq {
                    for c in 0..d {
                        out[1][idx(i, c)] = (0..seq).map(|j| d_s[i][j] * at(&host[1], b, j, h, c)).sum();
                        out[2][idx(i, c)] = (0..seq).map(|j| d_s[j][i] * at(&host[0], b, j, h, c)).sum();
                        out[3][idx(i, c)] = (0..seq).map(|j| p[j][i] * at(grad, b, j, h, c)).sum();
                    }
                }
            }
        }
        out
    }

    /// The kernel and burn's composition both against f64 loops (the composition is no oracle for the kernel:
    /// with burn-ndarray's `simd` feature its Q/K gradients were 2e-4 off these loops, the kernel's 9e-7).
    #[test]
    fn kernel_and_burn_match_f64_loops() {
        let device = Default::default();
        let (qkv, mask_bias) = qkv_and_mask::<Tape>(&device);
        let ref_qkv = leaves(&qkv);
        let host = qkv.clone().map(flat);
        let mask_host = flat(mask_bias.clone());
        let inputs = Inputs { q: &host[0], k: &host[1], v: &host[2] };
        let (context, saved) = forward(&inputs, &mask_host, SHAPE, None, true);
        let grad = flat(Tensor::<Tape, 3>::random([2, 7, 12], Distribution::Normal(0.0, 1.0), &device));
        let [d_q, d_k, d_v] = backward(&grad, &inputs, &saved.expect("asked for"), SHAPE);
        let expected = reference(ref_qkv.clone(), mask_bias, None);
        let weights = Tensor::<Tape, 3>::from_data(TensorData::new(grad.clone(), [2, 7, 12]), &device);
        let reference_grads = (expected.clone() * weights).sum().backward();
        let burn_grads = ref_qkv.clone().map(|r| flat(r.grad(&reference_grads).expect("a leaf")));
        let truth = naive_f64(&host, &mask_host, &grad, SHAPE);
        let kernel = [context, d_q, d_k, d_v];
        let burn = [flat(expected), burn_grads[0].clone(), burn_grads[1].clone(), burn_grads[2].clone()];
        for (((name, truth), kernel), burn) in
            ["context", "d q", "d k", "d v"].iter().zip(&truth).zip(&kernel).zip(&burn)
        {
            let worst = |got: &[f32]| got.iter().zip(truth).map(|(&x, y)| (f64::from(x) - y).abs()).fold(0.0, f64::max);
            assert!(worst(kernel) <= 1e-5, "{name}: the kernel is {:e} off the f64 loops", worst(kernel));
            assert!(worst(burn) <= 1e-5, "{name}: burn's composition is {:e} off the f64 loops", worst(burn));
        }
    }

    #[test]
    fn plain_ndarray_matches_burn_and_ignores_dropout() {
        let device = Default::default();
        let (qkv, mask_bias) = qkv_and_mask::<Host>(&device);
        let [q, k, v] = qkv.clone();
        let dropout = DropoutConfig::new(0.5).init();
        let fused = flat(attention_context(q, k, v, mask_bias.clone(), 3, 0.5, &dropout));
        let as_tape = qkv.map(|t| Tensor::<Tape, 3>::from_data(t.into_data(), &Default::default()));
        let mask_bias = Tensor::<Tape, 4>::from_data(mask_bias.into_data(), &Default::default());
        assert_close(&fused, &flat(reference(as_tape, mask_bias, None)), "context");
    }
}
