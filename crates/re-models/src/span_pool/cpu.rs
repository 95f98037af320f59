//! Span pooling on burn-ndarray f32 as one host pass over the span rows, with a hand-written backward.
//!
//! The generic plan in the parent module is a handful of burn ops (gather, select, scatter-add, softmax on padded
//! scalars…). On a GPU those are cheap launches; on burn-ndarray each is a pass and a fresh buffer, and under
//! autodiff each records a node whose backward is another scatter. The rows involved are few (Σ span lengths × h),
//! so here the whole reduction is one loop over them, reading the encoder output in place, and under autodiff one
//! graph node whose backward writes the hidden-state gradient straight into a zeroed `[b, s, h]` buffer.
//!
//! The backend is chosen at run time (`TypeId` of `B`), so `RelationHead` stays generic and GPU backends keep the
//! generic ops. [`super::SpanSegments::with_generic_ops`] forces the generic plan (tests compare the two).
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ndarray::NdArrayTensor;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

use super::SpanSegments;
use crate::host_ops::{cast, float_primitive, host_tensor, with_values, Host, Tape};
use crate::simd::{dispatch_simd, wide_dot};

/// The reduction a segment applies to its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reduction {
    Mean,
    Max,
    Attention,
}

/// Pools `hidden [b, s, h]` per segment with `w [G, h]` for attention. Gives the inputs back when `B` is not a
/// backend this module runs on.
#[allow(clippy::type_complexity)]
pub(super) fn pool<B: Backend>(
    plan: &SpanSegments<B>,
    reduction: Reduction,
    hidden: Tensor<B, 3>,
    w: Option<Tensor<B, 2>>,
) -> Result<Tensor<B, 2>, (Tensor<B, 3>, Option<Tensor<B, 2>>)> {
    let hidden = match cast::<_, Tensor<Host, 3>>(hidden) {
        Ok(hidden) => {
            let w = w.map(|w| cast::<_, Tensor<Host, 2>>(w).unwrap_or_else(|_| unreachable!("same backend")));
            let rows = HostRows::new(plan, hidden.dims()[2]);
            return Ok(cast(host_forward(&rows, reduction, hidden, w)).unwrap_or_else(|_| unreachable!()));
        }
        Err(hidden) => hidden,
    };
    match cast::<_, Tensor<Tape, 3>>(hidden) {
        Ok(hidden) => {
            let w = w.map(|w| cast::<_, Tensor<Tape, 2>>(w).unwrap_or_else(|_| unreachable!("same backend")));
            let rows = HostRows::new(plan, hidden.dims()[2]);
            Ok(cast(tape_forward(rows, reduction, hidden, w)).unwrap_or_else(|_| unreachable!()))
        }
        Err(hidden) => Err((hidden, w)),
    }
}

/// The plan in host terms: each segment's rows as flat row numbers (`example·s + token`) of `hidden`.
#[derive(Debug)]
struct HostRows {
    width: usize,
    groups: usize,
    hidden_rows: usize,
    offsets: Vec<usize>,
    lengths: Vec<usize>,
    rows: Vec<usize>,
}

impl HostRows {
    fn new<B: Backend>(plan: &SpanSegments<B>, width: usize) -> Self {
        let rows = plan
            .row_of
            .iter()
            .map(|&distinct| {
                let (example, token) = (plan.distinct[2 * distinct] as usize, plan.distinct[2 * distinct + 1] as usize);
                example * plan.seq_len + token
            })
            .collect();
        Self {
            width,
            groups: plan.groups,
            hidden_rows: plan.batch * plan.seq_len,
            offsets: plan.offsets.clone(),
            lengths: plan.lengths.clone(),
            rows,
        }
    }

    fn segments(&self) -> usize {
        self.lengths.len()
    }

    /// Segment `k`'s row numbers in `hidden`.
    fn of(&self, segment: usize) -> &[usize] {
        &self.rows[self.offsets[segment]..self.offsets[segment] + self.lengths[segment]]
    }
}

/// What the forward pass leaves for the backward one.
#[derive(Debug, Clone)]
enum Saved {
    /// An untracked call: no backward will run.
    Untracked,
    Mean,
    /// For each output value, the flat index in `hidden` of the value it took.
    Max(Vec<usize>),
    /// The softmax weight of each segment row, and the pooled output.
    Attention {
        weights: Vec<f32>,
        pooled: Vec<f32>,
    },
}

// Forward on host values. `w` is the attention vectors `[G, h]` (attention only); `keep` asks for what the
// backward needs. Compiled for AVX-512 / AVX2 when the CPU has them: the row loads and adds are the whole cost,
// and wider registers mean fewer of them.
dispatch_simd!(forward(rows: &HostRows, reduction: Reduction, hidden: &[f32], w: Option<&[f32]>, keep: bool) -> (Vec<f32>, Saved) {
    let h = rows.width;
    // Filled segment by segment (every value written once), so not zeroed first.
    let mut out = Vec::with_capacity(rows.segments() * h);
    let saved = match reduction {
        Reduction::Mean => {
            for segment in 0..rows.segments() {
                let members = rows.of(segment);
                weighted_row_sum(&mut out, hidden, h, members, None, 1.0 / members.len() as f32);
            }
            Saved::Mean
        }
        Reduction::Max => {
            let mut argmax = if keep { Vec::with_capacity(rows.segments() * h) } else { Vec::new() };
            for segment in 0..rows.segments() {
                let members = rows.of(segment);
                out.extend_from_slice(&hidden[members[0] * h..(members[0] + 1) * h]);
                let pooled = &mut out[segment * h..];
                if keep {
                    // Filled by a plain loop (see `weighted_row_sum` on `extend`).
                    argmax.resize((segment + 1) * h, 0);
                    let best = &mut argmax[segment * h..];
                    for (c, b) in best.iter_mut().enumerate() {
                        *b = members[0] * h + c;
                    }
                    for &row in &members[1..] {
                        let values = &hidden[row * h..(row + 1) * h];
                        for (c, ((p, b), &v)) in pooled.iter_mut().zip(best.iter_mut()).zip(values).enumerate() {
                            // Strictly greater: ties keep the first row.
                            if v > *p {
                                *p = v;
                                *b = row * h + c;
                            }
                        }
                    }
                } else {
                    for &row in &members[1..] {
                        for (p, &v) in pooled.iter_mut().zip(&hidden[row * h..(row + 1) * h]) {
                            *p = p.max(v);
                        }
                    }
                }
            }
            Saved::Max(argmax)
        }
        Reduction::Attention => {
            let w = w.expect("attention pooling needs its vectors");
            let mut weights = vec![0.0f32; rows.rows.len()];
            for segment in 0..rows.segments() {
                let vector = &w[(segment % rows.groups) * h..(segment % rows.groups + 1) * h];
                let members = rows.of(segment);
                let scores = &mut weights[rows.offsets[segment]..rows.offsets[segment] + members.len()];
                for (score, &row) in scores.iter_mut().zip(members) {
                    *score = wide_dot(&hidden[row * h..(row + 1) * h], vector);
                }
                softmax_in_place(scores);
                weighted_row_sum(&mut out, hidden, h, members, Some(scores), 1.0);
            }
            Saved::Attention { weights, pooled: if keep { out.clone() } else { Vec::new() } }
        }
    };
    (out, if keep { saved } else { Saved::Untracked })
});

// Gradients of `hidden` (`[b·s·h]`, dense) and of `w` (`[G·h]`, attention only) from the pooled gradient `grad`.
dispatch_simd!(backward(rows: &HostRows, saved: &Saved, grad: &[f32], hidden: &[f32], w: Option<&[f32]>) -> (Vec<f32>, Vec<f32>) {
    let h = rows.width;
    let mut d_hidden = vec![0.0f32; rows.hidden_rows * h];
    let mut d_w = Vec::new();
    match saved {
        Saved::Untracked => unreachable!("an untracked pooling call has no backward"),
        Saved::Mean => {
            for (segment, g) in grad.chunks_exact(h).enumerate() {
                let members = rows.of(segment);
                let scale = 1.0 / members.len() as f32;
                for &row in members {
                    add_to(&mut d_hidden[row * h..(row + 1) * h], g, scale);
                }
            }
        }
        Saved::Max(argmax) => {
            for (&index, &g) in argmax.iter().zip(grad) {
                d_hidden[index] += g;
            }
        }
        Saved::Attention { weights, pooled } => {
            let w = w.expect("attention pooling needs its vectors");
            d_w = vec![0.0f32; rows.groups * h];
            for (segment, g) in grad.chunks_exact(h).enumerate() {
                let group = segment % rows.groups;
                let vector = &w[group * h..(group + 1) * h];
                // o = Σ a_r x_r with a = softmax(x_r · w): ∂/∂x_r = a_r g + a_r (g·x_r − g·o) w, ∂/∂w = Σ a_r (g·x_r − g·o) x_r.
                let g_dot_pooled = wide_dot(g, &pooled[segment * h..(segment + 1) * h]);
                let members = rows.of(segment);
                let segment_weights = &weights[rows.offsets[segment]..rows.offsets[segment] + members.len()];
                for (&weight, &row) in segment_weights.iter().zip(members) {
                    let x = &hidden[row * h..(row + 1) * h];
                    let score_grad = weight * (wide_dot(g, x) - g_dot_pooled);
                    let d_row = &mut d_hidden[row * h..(row + 1) * h];
                    add_to(d_row, g, weight);
                    add_to(d_row, vector, score_grad);
                    add_to(&mut d_w[group * h..(group + 1) * h], x, score_grad);
                }
            }
        }
    }
    (d_hidden, d_w)
});

fn host_forward(
    rows: &HostRows,
    reduction: Reduction,
    hidden: Tensor<Host, 3>,
    w: Option<Tensor<Host, 2>>,
) -> Tensor<Host, 2> {
    let hidden = float_primitive(hidden);
    let w = w.map(|w| with_values(&float_primitive(w), <[f32]>::to_vec));
    let (out, _) = with_values(&hidden, |values| forward(rows, reduction, values, w.as_deref(), false));
    Tensor::from_primitive(TensorPrimitive::Float(host_tensor(out, vec![rows.segments(), rows.width])))
}

/// The autodiff node of one pooling call.
#[derive(Debug)]
struct PoolBackward;

/// The backward's state: the plan, what the forward saved, the inputs attention's gradient reads, and their shapes.
#[derive(Debug, Clone)]
struct PoolState {
    rows: Arc<HostRows>,
    saved: Saved,
    hidden: Option<NdArrayTensor>,
    w: Option<NdArrayTensor>,
    hidden_shape: Vec<usize>,
}

impl PoolState {
    fn gradients(&self, grad: &NdArrayTensor) -> (NdArrayTensor, Option<NdArrayTensor>) {
        let w = self.w.as_ref().map(|w| with_values(w, <[f32]>::to_vec));
        let (d_hidden, d_w) = with_values(grad, |grad| match &self.hidden {
            Some(hidden) => with_values(hidden, |hidden| backward(&self.rows, &self.saved, grad, hidden, w.as_deref())),
            None => backward(&self.rows, &self.saved, grad, &[], None),
        });
        let d_w = (!d_w.is_empty()).then(|| host_tensor(d_w, vec![self.rows.groups, self.rows.width]));
        (host_tensor(d_hidden, self.hidden_shape.clone()), d_w)
    }
}

impl Backward<Host, 1> for PoolBackward {
    type State = PoolState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Host>(&ops.node);
        let (d_hidden, _) = ops.state.gradients(&grad);
        if let [Some(hidden)] = &ops.parents {
            grads.register::<Host>(hidden.id, d_hidden);
        }
    }
}

impl Backward<Host, 2> for PoolBackward {
    type State = PoolState;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Host>(&ops.node);
        let (d_hidden, d_w) = ops.state.gradients(&grad);
        let [hidden, w] = &ops.parents;
        if let Some(hidden) = hidden {
            grads.register::<Host>(hidden.id, d_hidden);
        }
        if let (Some(w), Some(d_w)) = (w, d_w) {
            grads.register::<Host>(w.id, d_w);
        }
    }
}

fn tape_forward(
    rows: HostRows,
    reduction: Reduction,
    hidden: Tensor<Tape, 3>,
    w: Option<Tensor<Tape, 2>>,
) -> Tensor<Tape, 2> {
    let hidden_shape = hidden.dims().to_vec();
    let hidden = float_primitive(hidden);
    let w = w.map(float_primitive);
    let rows = Arc::new(rows);
    let shape = vec![rows.segments(), rows.width];
    // Forward on the inner tensors; `keep` only when the graph will run the backward.
    let run = |keep: bool| {
        let w_values = w.as_ref().map(|w| with_values(&w.primitive, <[f32]>::to_vec));
        with_values(&hidden.primitive, |values| forward(&rows, reduction, values, w_values.as_deref(), keep))
    };
    let state = |saved: Saved| PoolState {
        rows: rows.clone(),
        saved,
        hidden: (reduction == Reduction::Attention).then(|| hidden.primitive.clone()),
        w: w.as_ref().map(|w| w.primitive.clone()),
        hidden_shape: hidden_shape.clone(),
    };
    // One graph node over the tracked inputs (`hidden`, and `w` for attention); the forward keeps what the
    // backward reads only when the node is tracked.
    macro_rules! record {
        ($parents:literal, $nodes:expr) => {
            match <PoolBackward as Backward<Host, $parents>>::prepare::<NoCheckpointing>(PoolBackward, $nodes)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (out, saved) = run(true);
                    prep.finish(state(saved), host_tensor(out, shape))
                }
                OpsKind::UnTracked(prep) => prep.finish(host_tensor(run(false).0, shape)),
            }
        };
    }
    let output = match &w {
        None => record!(1, [hidden.node.clone()]),
        Some(w) => record!(2, [hidden.node.clone(), w.node.clone()]),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}

/// Appends `Σ_k scale · weight_k · hidden[row_k]` (weights 1 when `None`) to `out`, up to four rows per pass over
/// the output row: adding row by row would load and store the partial sums once per row, more memory traffic than
/// the span rows themselves. The first pass writes (no zeroing first), later ones add.
#[inline(always)]
fn weighted_row_sum(
    out: &mut Vec<f32>,
    hidden: &[f32],
    h: usize,
    members: &[usize],
    weights: Option<&[f32]>,
    scale: f32,
) {
    let row = |k: usize| &hidden[members[k] * h..(members[k] + 1) * h];
    let weight = |k: usize| scale * weights.map_or(1.0, |w| w[k]);
    let start = out.len();
    let first = members.len().min(4);
    // The first pass writes into the spare capacity through a plain loop: `Vec::extend` over an iterator goes
    // through a `fold` LLVM does not inline, which then runs compiled for the baseline target (SSE), not for the
    // AVX-512/AVX2 this function is dispatched to.
    out.reserve(h);
    let spare = &mut out.spare_capacity_mut()[..h];
    match first {
        1 => {
            let w0 = weight(0);
            for (t, &a) in spare.iter_mut().zip(row(0)) {
                t.write(w0 * a);
            }
        }
        2 => {
            let (w0, w1) = (weight(0), weight(1));
            for (t, (&a, &b)) in spare.iter_mut().zip(row(0).iter().zip(row(1))) {
                t.write(w0 * a + w1 * b);
            }
        }
        3 => {
            let (w0, w1, w2) = (weight(0), weight(1), weight(2));
            for (t, ((&a, &b), &c)) in spare.iter_mut().zip(row(0).iter().zip(row(1)).zip(row(2))) {
                t.write(w0 * a + w1 * b + w2 * c);
            }
        }
        _ => {
            let (w0, w1, w2, w3) = (weight(0), weight(1), weight(2), weight(3));
            let rows = row(0).iter().zip(row(1)).zip(row(2)).zip(row(3));
            for (t, (((&a, &b), &c), &d)) in spare.iter_mut().zip(rows) {
                t.write(w0 * a + w1 * b + w2 * c + w3 * d);
            }
        }
    }
    // SAFETY: the loop above wrote all `h` values after `start` (every row has `h` values, `spare` has `h`).
    unsafe { out.set_len(start + h) };
    let target = &mut out[start..];
    let mut k = first;
    while k + 4 <= members.len() {
        let (w0, w1, w2, w3) = (weight(k), weight(k + 1), weight(k + 2), weight(k + 3));
        let rows = row(k).iter().zip(row(k + 1)).zip(row(k + 2)).zip(row(k + 3));
        for (t, (((&a, &b), &c), &d)) in target.iter_mut().zip(rows) {
            *t += w0 * a + w1 * b + w2 * c + w3 * d;
        }
        k += 4;
    }
    for k in k..members.len() {
        add_to(target, row(k), weight(k));
    }
}

/// `target += scale · source`.
#[inline(always)]
fn add_to(target: &mut [f32], source: &[f32], scale: f32) {
    for (t, &s) in target.iter_mut().zip(source) {
        *t += scale * s;
    }
}

#[inline(always)]
fn softmax_in_place(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for score in scores.iter_mut() {
        *score = (*score - max).exp();
        total += *score;
    }
    scores.iter_mut().for_each(|s| *s /= total);
}
