//! `dropout(softmax(scores · scale + mask))` in one pass forward and one backward.
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
use rayon::prelude::*;

use super::{cast, float_primitive, host_tensor, runs_on, same, values, DropoutMask, Host, Tape, CHUNK};
use crate::simd::{dispatch_simd, fast_exp, lane_dot, lane_max, lane_sum};

/// Attention probabilities `dropout(softmax(scores · scale + mask_bias))` over the keys: `scores` `[batch, heads,
/// queries, keys]`, `mask_bias` the additive padding mask `[batch, 1, 1, keys]` (a constant: no gradient flows to
/// it).
///
/// Dropout applies, as burn's `Dropout` does, only under autodiff. On burn-ndarray f32 this is one fused kernel
/// (one autodiff node); elsewhere, or for another mask shape or a tracked mask, burn's ops.
pub fn attention_probabilities<B: Backend>(
    scores: Tensor<B, 4>,
    mask_bias: Tensor<B, 4>,
    scale: f64,
    dropout: &Dropout,
) -> Tensor<B, 4> {
    let [batch, _, _, keys] = scores.dims();
    if !runs_on::<B>() || mask_bias.dims() != [batch, 1, 1, keys] || mask_bias.is_require_grad() {
        return dropout.forward(softmax(scores.mul_scalar(scale) + mask_bias, 3));
    }
    let shape = scores.dims().to_vec();
    match cast::<_, Tensor<Tape, 4>>(scores) {
        Ok(scores) => same(tape_forward(scores, same(mask_bias), scale as f32, dropout.prob)),
        Err(scores) => {
            let scores = float_primitive::<Host, 4>(same(scores));
            let mask_bias = float_primitive::<Host, 4>(same(mask_bias));
            let (out, _) = forward(&values(&scores), &values(&mask_bias), &shape, scale as f32, None);
            same(Tensor::<Host, 4>::from_primitive(TensorPrimitive::Float(host_tensor(out, shape))))
        }
    }
}

/// Rows (of `keys` scores) per parallel task.
fn rows_per_task(keys: usize) -> usize {
    (CHUNK / keys.max(1)).max(1)
}

/// The forward pass: the output, and the probabilities before dropout when there is dropout.
fn forward(
    scores: &[f32],
    mask_bias: &[f32],
    shape: &[usize],
    scale: f32,
    mask: Option<&DropoutMask>,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let keys = shape[3];
    let rows_per_example = shape[1] * shape[2];
    let task = rows_per_task(keys);
    let mut out = vec![0.0f32; scores.len()];
    let mut probabilities = if mask.is_some() { vec![0.0f32; scores.len()] } else { Vec::new() };
    // Softmax into `out`, one task per block of rows.
    out.par_chunks_mut(task * keys).enumerate().for_each(|(index, out)| {
        let first_row = index * task;
        for (r, row) in out.chunks_exact_mut(keys).enumerate() {
            let row_index = first_row + r;
            let example = row_index / rows_per_example;
            let start = row_index * keys;
            softmax_row(row, &scores[start..start + keys], &mask_bias[example * keys..(example + 1) * keys], scale);
        }
    });
    if let Some(mask) = mask {
        // Keep the probabilities for the backward pass, then drop in place.
        probabilities.copy_from_slice(&out);
        out.par_chunks_mut(CHUNK).zip(mask.keep.par_chunks(CHUNK)).for_each(|(out, keep)| {
            for (o, &k) in out.iter_mut().zip(keep) {
                *o *= f32::from(k) * mask.scale;
            }
        });
        return (out, Some(probabilities));
    }
    (out, None)
}

dispatch_simd!(softmax_row(out: &mut [f32], scores: &[f32], bias: &[f32], scale: f32) {
    // Padded keys carry the most negative f32: their exp is exactly 0 when the row keeps any key, and an
    // all-padded row becomes uniform, as the composed ops give.
    for ((o, &s), &b) in out.iter_mut().zip(scores).zip(bias) {
        *o = s * scale + b;
    }
    let max = lane_max(out);
    for o in out.iter_mut() {
        *o = fast_exp(*o - max);
    }
    let inv = 1.0 / lane_sum(out);
    for o in out.iter_mut() {
        *o *= inv;
    }
});

/// The scores' gradient from the output gradient `grad`. With `o = p ⊙ c` (`c` the dropout scale, 0 where dropped)
/// and `p = softmax(z)`: `∂z = o ⊙ g − p · (o · g)`, and `∂scores = scale · ∂z`.
fn backward(grad: &[f32], out: &[f32], probabilities: Option<&[f32]>, keys: usize, scale: f32) -> Vec<f32> {
    let mut d_scores = vec![0.0f32; grad.len()];
    let task = rows_per_task(keys);
    d_scores.par_chunks_mut(task * keys).enumerate().for_each(|(index, d)| {
        let range = index * task * keys..index * task * keys + d.len();
        let p = probabilities.map(|p| &p[range.clone()]);
        softmax_rows_backward(d, &grad[range.clone()], &out[range], p.unwrap_or(&[]), keys, scale);
    });
    d_scores
}

dispatch_simd!(softmax_rows_backward(
    d: &mut [f32],
    grad: &[f32],
    out: &[f32],
    probabilities: &[f32],
    keys: usize,
    scale: f32
) {
    for (r, ((d, g), o)) in d.chunks_exact_mut(keys).zip(grad.chunks_exact(keys)).zip(out.chunks_exact(keys)).enumerate() {
        let og = lane_dot(o, g);
        let p = if probabilities.is_empty() { o } else { &probabilities[r * keys..(r + 1) * keys] };
        for (((d, &g), &o), &p) in d.iter_mut().zip(g).zip(o).zip(p) {
            *d = scale * (o * g - p * og);
        }
    }
});

/// The autodiff node of one call.
#[derive(Debug)]
struct SoftmaxBackward;

#[derive(Debug, Clone)]
struct SoftmaxState {
    /// The output (shared with the next op, not a copy).
    out: NdArrayTensor,
    /// The probabilities before dropout, when there is dropout.
    probabilities: Option<Arc<Vec<f32>>>,
    shape: Vec<usize>,
    scale: f32,
}

impl Backward<Host, 1> for SoftmaxBackward {
    type State = SoftmaxState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Host>(&ops.node);
        let state = ops.state;
        if let [Some(scores)] = &ops.parents {
            let d = backward(
                &values(&grad),
                &values(&state.out),
                state.probabilities.as_deref().map(Vec::as_slice),
                state.shape[3],
                state.scale,
            );
            grads.register::<Host>(scores.id, host_tensor(d, state.shape.clone()));
        }
    }
}

fn tape_forward(scores: Tensor<Tape, 4>, mask_bias: Tensor<Tape, 4>, scale: f32, dropout: f64) -> Tensor<Tape, 4> {
    let shape = scores.dims().to_vec();
    let scores = float_primitive(scores);
    let mask_bias = float_primitive(mask_bias).primitive;
    let mask = (dropout > 0.0).then(|| DropoutMask::draw(shape.iter().product(), dropout));
    let run = || forward(&values(&scores.primitive), &values(&mask_bias), &shape, scale, mask.as_ref());
    let output = match SoftmaxBackward.prepare::<NoCheckpointing>([scores.node.clone()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (out, probabilities) = run();
            let out = host_tensor(out, shape.clone());
            let state = SoftmaxState { out: out.clone(), probabilities: probabilities.map(Arc::new), shape, scale };
            prep.finish(state, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(host_tensor(run().0, shape)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::additive_attention_mask;
    use burn::nn::DropoutConfig;
    use burn::tensor::{Distribution, Int, TensorData};

    fn inputs<B: Backend>(device: &B::Device) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let scores = Tensor::random([2, 3, 4, 7], Distribution::Normal(0.0, 3.0), device);
        // The second example pads its last three keys.
        let mask = Tensor::<B, 2, Int>::from_data(
            TensorData::new(vec![1i64; 7].into_iter().chain([1, 1, 1, 1, 0, 0, 0]).collect::<Vec<_>>(), [2, 7]),
            device,
        );
        (scores, additive_attention_mask(mask))
    }

    fn flat<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().convert::<f32>().to_vec().unwrap()
    }

    /// A copy of `t` that is a leaf of its own graph (burn frees a graph's nodes when it runs its backward).
    fn leaf(t: &Tensor<Tape, 4>) -> Tensor<Tape, 4> {
        Tensor::from_data(t.to_data(), &t.device()).require_grad()
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len());
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{what}: worst difference {worst}");
    }

    #[test]
    fn matches_burn_values_and_gradients_without_dropout() {
        let device = Default::default();
        let (scores, mask_bias) = inputs::<Tape>(&device);
        let scores = scores.require_grad();
        let off = DropoutConfig::new(0.0).init();
        let weights = Tensor::<Tape, 4>::random([2, 3, 4, 7], Distribution::Normal(0.0, 1.0), &device);
        let ref_scores = leaf(&scores);
        let fused = attention_probabilities(scores.clone(), mask_bias.clone(), 0.35, &off);
        let reference = softmax(ref_scores.clone().mul_scalar(0.35) + mask_bias, 3);
        let fused_values = flat(fused.clone());
        assert_close(&fused_values, &flat(reference.clone()), "values");
        // Padded keys get exactly 0.
        assert!(fused_values[4 * 7 * 3..].chunks(7).all(|row| row[4..].iter().all(|&p| p == 0.0)));
        let fused_grads = (fused * weights.clone()).sum().backward();
        let reference_grads = (reference * weights).sum().backward();
        assert_close(
            &flat(scores.grad(&fused_grads).unwrap()),
            &flat(ref_scores.grad(&reference_grads).unwrap()),
            "d scores",
        );
    }

    #[test]
    fn dropout_matches_burn_with_the_same_mask() {
        let device = Default::default();
        let (scores, mask_bias) = inputs::<Tape>(&device);
        let scores = scores.require_grad();
        let dropout = DropoutConfig::new(0.3).init();
        let weights = Tensor::<Tape, 4>::random([2, 3, 4, 7], Distribution::Normal(0.0, 1.0), &device);
        let ref_scores = leaf(&scores);
        let fused = attention_probabilities(scores.clone(), mask_bias.clone(), 0.35, &dropout);
        let probabilities = softmax(ref_scores.clone().mul_scalar(0.35) + mask_bias, 3);
        // The mask the kernel drew: kept entries are p / 0.7, dropped ones 0 (p itself is never 0 on unpadded keys).
        let (fused_values, p) = (flat(fused.clone()), flat(probabilities.clone()));
        let mask: Vec<f32> = fused_values.iter().map(|&o| if o == 0.0 { 0.0 } else { 1.0 }).collect();
        let dropped = mask.iter().zip(&p).filter(|(&m, &p)| m == 0.0 && p > 0.0).count();
        assert!((20..=80).contains(&dropped), "{dropped} of 168 dropped at p = 0.3");
        let mask = Tensor::<Tape, 4>::from_data(TensorData::new(mask, [2, 3, 4, 7]), &device);
        let reference = probabilities * mask / 0.7;
        assert_close(&fused_values, &flat(reference.clone()), "values");
        let fused_grads = (fused * weights.clone()).sum().backward();
        let reference_grads = (reference * weights).sum().backward();
        assert_close(
            &flat(scores.grad(&fused_grads).unwrap()),
            &flat(ref_scores.grad(&reference_grads).unwrap()),
            "d scores",
        );
    }

    #[test]
    fn plain_ndarray_matches_burn_and_ignores_dropout() {
        let device = Default::default();
        let (scores, mask_bias) = inputs::<Host>(&device);
        let dropout = DropoutConfig::new(0.5).init();
        let fused = attention_probabilities(scores.clone(), mask_bias.clone(), 0.35, &dropout);
        assert_close(&flat(fused), &flat(softmax(scores.mul_scalar(0.35) + mask_bias, 3)), "values");
    }
}
