//! `LN(dropout(y) + residual)` in one pass forward and one backward.
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ndarray::NdArrayTensor;
use burn::nn::{Dropout, LayerNorm};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use rayon::prelude::*;

use super::{cast, float_primitive, host_tensor, runs_on, same, values, DropoutMask, Host, Tape, CHUNK};
use crate::simd::{dispatch_simd, lane_dot, lane_sum, LANES};

/// `LN(dropout(y) + residual)` over the last axis with `norm`'s γ and β (HF `BertSelfOutput`/`BertOutput` after
/// their dense layer). `epsilon` must be the one `norm` was built with (burn keeps it private).
///
/// Dropout applies, as burn's `Dropout` does, only under autodiff. On burn-ndarray f32 this is one fused kernel
/// (one autodiff node); elsewhere, or for a LayerNorm without β, burn's ops.
pub fn residual_layer_norm<B: Backend>(
    norm: &LayerNorm<B>,
    epsilon: f64,
    dropout: &Dropout,
    y: Tensor<B, 3>,
    residual: Tensor<B, 3>,
) -> Tensor<B, 3> {
    let beta = match &norm.beta {
        Some(beta) if runs_on::<B>() && y.dims() == residual.dims() => beta.val(),
        _ => return norm.forward(dropout.forward(y) + residual),
    };
    let gamma = norm.gamma.val();
    let shape = y.dims().to_vec();
    match cast::<_, Tensor<Tape, 3>>(y) {
        Ok(y) => same(tape_forward(y, same(residual), same(gamma), same(beta), epsilon, dropout.prob)),
        Err(y) => {
            let (y, residual) = (float_primitive::<Host, 3>(same(y)), float_primitive::<Host, 3>(same(residual)));
            let (gamma, beta) = (float_primitive::<Host, 1>(same(gamma)), float_primitive::<Host, 1>(same(beta)));
            let (out, _) = forward(&Inputs::of(&y, &residual, &gamma, &beta), None, epsilon as f32, false);
            same(Tensor::<Host, 3>::from_primitive(TensorPrimitive::Float(host_tensor(out, shape))))
        }
    }
}

/// The host values of the four inputs.
struct Inputs<'a> {
    y: std::borrow::Cow<'a, [f32]>,
    residual: std::borrow::Cow<'a, [f32]>,
    gamma: std::borrow::Cow<'a, [f32]>,
    beta: std::borrow::Cow<'a, [f32]>,
}

impl<'a> Inputs<'a> {
    fn of(
        y: &'a NdArrayTensor,
        residual: &'a NdArrayTensor,
        gamma: &'a NdArrayTensor,
        beta: &'a NdArrayTensor,
    ) -> Self {
        Self { y: values(y), residual: values(residual), gamma: values(gamma), beta: values(beta) }
    }
}

/// What the backward pass reads: the normalised rows `x̂` and each row's `1/√(var + ε)`.
#[derive(Debug)]
struct Saved {
    normalized: Vec<f32>,
    inv_std: Vec<f32>,
}

/// Rows per parallel task.
fn rows_per_task(width: usize) -> usize {
    (CHUNK / width.max(1)).max(1)
}

/// `values` cut into `count` pieces of `size` for parallel tasks, or `count` times `None` when it is empty (an
/// output that is not asked for).
fn parts(values: &mut [f32], size: usize, count: usize) -> Vec<Option<&mut [f32]>> {
    if values.is_empty() {
        (0..count).map(|_| None).collect()
    } else {
        values.chunks_mut(size).map(Some).collect()
    }
}

/// The forward pass on host values; `keep_saved` asks for what the backward reads.
fn forward(inputs: &Inputs, mask: Option<&DropoutMask>, eps: f32, keep_saved: bool) -> (Vec<f32>, Option<Saved>) {
    let h = inputs.gamma.len();
    let n = inputs.y.len();
    let rows = n / h;
    let mut out = vec![0.0f32; n];
    let (mut normalized, mut inv_std) =
        if keep_saved { (vec![0.0f32; n], vec![0.0f32; rows]) } else { (Vec::new(), Vec::new()) };
    let task = rows_per_task(h);
    let tasks = n.div_ceil(task * h);
    let (keep, scale) = mask.map_or((&[][..], 1.0), |m| (&m.keep[..], m.scale));
    let normalized_parts = parts(&mut normalized, task * h, tasks);
    let inv_std_parts = parts(&mut inv_std, task, tasks);
    out.par_chunks_mut(task * h).zip(normalized_parts).zip(inv_std_parts).enumerate().for_each(
        |(index, ((out, normalized), inv_std))| {
            let range = index * task * h..index * task * h + out.len();
            let keep = if keep.is_empty() { keep } else { &keep[range.clone()] };
            norm_rows(
                out,
                normalized.unwrap_or(&mut []),
                inv_std.unwrap_or(&mut []),
                &inputs.y[range.clone()],
                &inputs.residual[range],
                keep,
                scale,
                &inputs.gamma,
                &inputs.beta,
                eps,
            )
        },
    );
    (out, keep_saved.then_some(Saved { normalized, inv_std }))
}

dispatch_simd!(norm_rows(
    out: &mut [f32],
    normalized: &mut [f32],
    inv_std: &mut [f32],
    y: &[f32],
    residual: &[f32],
    keep: &[u8],
    scale: f32,
    gamma: &[f32],
    beta: &[f32],
    eps: f32
) {
    let h = gamma.len();
    for (r, ((z, y), residual)) in out.chunks_exact_mut(h).zip(y.chunks_exact(h)).zip(residual.chunks_exact(h)).enumerate() {
        // z = dropout(y) + residual
        if keep.is_empty() {
            for ((z, &y), &res) in z.iter_mut().zip(y).zip(residual) {
                *z = y + res;
            }
        } else {
            for (((z, &y), &res), &k) in z.iter_mut().zip(y).zip(residual).zip(&keep[r * h..(r + 1) * h]) {
                *z = y * (f32::from(k) * scale) + res;
            }
        }
        // Biased variance in two passes, as torch computes it.
        let mean = lane_sum(z) / h as f32;
        let mut acc = [0.0f32; LANES];
        let chunks = z.chunks_exact(LANES);
        let rest: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
        for c in chunks {
            for i in 0..LANES {
                acc[i] += (c[i] - mean) * (c[i] - mean);
            }
        }
        let inv = 1.0 / ((acc.iter().sum::<f32>() + rest) / h as f32 + eps).sqrt();
        if normalized.is_empty() {
            for ((z, &g), &b) in z.iter_mut().zip(gamma).zip(beta) {
                *z = (*z - mean) * inv * g + b;
            }
        } else {
            inv_std[r] = inv;
            for (((z, x), &g), &b) in z.iter_mut().zip(&mut normalized[r * h..(r + 1) * h]).zip(gamma).zip(beta) {
                *x = (*z - mean) * inv;
                *z = *x * g + b;
            }
        }
    }
});

/// Gradients from the output gradient `grad`: `(d_z, d_y, d_γ, d_β)`, where `d_z` is the residual's gradient and
/// `d_y` is only computed (non-empty) under dropout (without it, `d_y = d_z`).
///
/// With `x̂ = (z − μ)/σ`, `out = γ x̂ + β` and `u = γ ⊙ g`:
/// `d_z = (u − mean(u) − x̂ · mean(u ⊙ x̂)) / σ`, `d_γ = Σ_rows g ⊙ x̂`, `d_β = Σ_rows g`.
fn backward(
    grad: &[f32],
    saved: &Saved,
    gamma: &[f32],
    mask: Option<&DropoutMask>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let h = gamma.len();
    let task = rows_per_task(h);
    let mut d_z = vec![0.0f32; grad.len()];
    let mut d_y = if mask.is_some() { vec![0.0f32; grad.len()] } else { Vec::new() };
    let d_y_chunks = parts(&mut d_y, task * h, grad.len().div_ceil(task * h));
    let (keep, scale) = mask.map_or((&[][..], 1.0), |m| (&m.keep[..], m.scale));
    // Each task returns its partial d_γ and d_β; they are summed in task order so results do not depend on
    // scheduling.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = d_z
        .par_chunks_mut(task * h)
        .zip(d_y_chunks)
        .enumerate()
        .map(|(index, (d_z, d_y))| {
            let start = index * task * h;
            let range = start..start + d_z.len();
            let rows = range.start / h..range.end / h;
            let mut d_gamma = vec![0.0f32; h];
            let mut d_beta = vec![0.0f32; h];
            norm_rows_backward(
                d_z,
                &mut d_gamma,
                &mut d_beta,
                &grad[range.clone()],
                &saved.normalized[range.clone()],
                &saved.inv_std[rows],
                gamma,
            );
            if let Some(d_y) = d_y {
                for ((d_y, &d_z), &k) in d_y.iter_mut().zip(d_z.iter()).zip(&keep[range]) {
                    *d_y = d_z * (f32::from(k) * scale);
                }
            }
            (d_gamma, d_beta)
        })
        .collect();
    let mut d_gamma = vec![0.0f32; h];
    let mut d_beta = vec![0.0f32; h];
    for (g, b) in &partials {
        d_gamma.iter_mut().zip(g).for_each(|(t, v)| *t += v);
        d_beta.iter_mut().zip(b).for_each(|(t, v)| *t += v);
    }
    (d_z, d_y, d_gamma, d_beta)
}

dispatch_simd!(norm_rows_backward(
    d_z: &mut [f32],
    d_gamma: &mut [f32],
    d_beta: &mut [f32],
    grad: &[f32],
    normalized: &[f32],
    inv_std: &[f32],
    gamma: &[f32]
) {
    let h = gamma.len();
    let rows = d_z.chunks_exact_mut(h).zip(grad.chunks_exact(h)).zip(normalized.chunks_exact(h)).zip(inv_std);
    for (((d_z, g), x), &inv) in rows {
        for ((((u, &g), &x), &gm), (dg, db)) in
            d_z.iter_mut().zip(g).zip(x).zip(gamma).zip(d_gamma.iter_mut().zip(d_beta.iter_mut()))
        {
            *u = g * gm;
            *dg += g * x;
            *db += g;
        }
        let mean_u = lane_sum(d_z) / h as f32;
        let mean_ux = lane_dot(d_z, x) / h as f32;
        for (u, &x) in d_z.iter_mut().zip(x) {
            *u = (*u - mean_u - x * mean_ux) * inv;
        }
    }
});

/// The autodiff node of one call.
#[derive(Debug)]
struct NormBackward;

#[derive(Debug, Clone)]
struct NormState {
    saved: Arc<Saved>,
    gamma: NdArrayTensor,
    mask: Option<Arc<DropoutMask>>,
    shape: Vec<usize>,
}

impl Backward<Host, 4> for NormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Host>(&ops.node);
        let state = ops.state;
        let gamma = values(&state.gamma);
        let (d_z, d_y, d_gamma, d_beta) = backward(&values(&grad), &state.saved, &gamma, state.mask.as_deref());
        let h = gamma.len();
        let [y, residual, gamma, beta] = &ops.parents;
        if let Some(gamma) = gamma {
            grads.register::<Host>(gamma.id, host_tensor(d_gamma, vec![h]));
        }
        if let Some(beta) = beta {
            grads.register::<Host>(beta.id, host_tensor(d_beta, vec![h]));
        }
        let d_z = host_tensor(d_z, state.shape.clone());
        if let Some(y) = y {
            let d_y = if d_y.is_empty() { d_z.clone() } else { host_tensor(d_y, state.shape.clone()) };
            grads.register::<Host>(y.id, d_y);
        }
        if let Some(residual) = residual {
            grads.register::<Host>(residual.id, d_z);
        }
    }
}

fn tape_forward(
    y: Tensor<Tape, 3>,
    residual: Tensor<Tape, 3>,
    gamma: Tensor<Tape, 1>,
    beta: Tensor<Tape, 1>,
    epsilon: f64,
    dropout: f64,
) -> Tensor<Tape, 3> {
    let shape = y.dims().to_vec();
    let (y, residual, gamma, beta) =
        (float_primitive(y), float_primitive(residual), float_primitive(gamma), float_primitive(beta));
    let mask = (dropout > 0.0).then(|| Arc::new(DropoutMask::draw(shape.iter().product(), dropout)));
    let inputs = Inputs::of(&y.primitive, &residual.primitive, &gamma.primitive, &beta.primitive);
    let nodes = [y.node.clone(), residual.node.clone(), gamma.node.clone(), beta.node.clone()];
    let output = match NormBackward.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let (out, saved) = forward(&inputs, mask.as_deref(), epsilon as f32, true);
            let state = NormState {
                saved: Arc::new(saved.expect("asked for")),
                gamma: gamma.primitive.clone(),
                mask,
                shape: shape.clone(),
            };
            prep.finish(state, host_tensor(out, shape))
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(host_tensor(forward(&inputs, mask.as_deref(), epsilon as f32, false).0, shape))
        }
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::{DropoutConfig, LayerNormConfig};
    use burn::tensor::backend::AutodiffBackend;
    use burn::tensor::Distribution;

    fn inputs<B: Backend>(device: &B::Device) -> (LayerNorm<B>, Tensor<B, 3>, Tensor<B, 3>) {
        let mut norm = LayerNormConfig::new(40).with_epsilon(1e-7).init::<B>(device);
        norm.gamma = Param::from_tensor(Tensor::random([40], Distribution::Uniform(0.5, 1.5), device));
        norm.beta = Some(Param::from_tensor(Tensor::random([40], Distribution::Uniform(-0.5, 0.5), device)));
        let y = Tensor::random([3, 5, 40], Distribution::Normal(0.0, 2.0), device);
        let residual = Tensor::random([3, 5, 40], Distribution::Normal(1.0, 1.0), device);
        (norm, y, residual)
    }

    fn close(a: Tensor<Tape, 1>, b: Tensor<Tape, 1>, what: &str) {
        let (a, b): (Vec<f32>, Vec<f32>) = (a.into_data().to_vec().unwrap(), b.into_data().to_vec().unwrap());
        assert_eq!(a.len(), b.len());
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{what}: worst difference {worst}");
    }

    /// A copy of `t` that is a leaf of its own graph (burn frees a graph's nodes when it runs its backward, so
    /// the fused and the reference computation must not share leaves).
    fn leaf<const D: usize>(t: &Tensor<Tape, D>) -> Tensor<Tape, D> {
        Tensor::from_data(t.to_data(), &t.device()).require_grad()
    }

    /// A LayerNorm with the same values as `norm`, on its own leaves.
    fn twin(norm: &LayerNorm<Tape>) -> LayerNorm<Tape> {
        let mut copy = LayerNormConfig::new(norm.gamma.dims()[0]).with_epsilon(1e-7).init::<Tape>(&Default::default());
        copy.gamma = Param::from_tensor(leaf(&norm.gamma.val()));
        copy.beta = norm.beta.as_ref().map(|b| Param::from_tensor(leaf(&b.val())));
        copy
    }

    /// Gradients of γ and β.
    fn param_grads(norm: &LayerNorm<Tape>, grads: &<Tape as AutodiffBackend>::Gradients) -> [Tensor<Tape, 1>; 2] {
        let gamma = norm.gamma.val().grad(grads).unwrap();
        let beta = norm.beta.as_ref().unwrap().val().grad(grads).unwrap();
        [Tensor::from_inner(gamma), Tensor::from_inner(beta)]
    }

    fn flat_grad(t: &Tensor<Tape, 3>, grads: &<Tape as AutodiffBackend>::Gradients) -> Tensor<Tape, 1> {
        Tensor::from_inner(t.grad(grads).unwrap().flatten(0, 2))
    }

    #[test]
    fn matches_burn_values_and_gradients_without_dropout() {
        let device = Default::default();
        let (norm, y, residual) = inputs::<Tape>(&device);
        let (y, residual) = (y.require_grad(), residual.require_grad());
        let (ref_norm, ref_y, ref_residual) = (twin(&norm), leaf(&y), leaf(&residual));
        let off = DropoutConfig::new(0.0).init();
        let weights = Tensor::<Tape, 3>::random([3, 5, 40], Distribution::Normal(0.0, 1.0), &device);
        let fused = residual_layer_norm(&norm, 1e-7, &off, y.clone(), residual.clone());
        let reference = ref_norm.forward(ref_y.clone() + ref_residual.clone());
        close(fused.clone().flatten(0, 2), reference.clone().flatten(0, 2), "values");
        let fused_grads = (fused * weights.clone()).sum().backward();
        let reference_grads = (reference * weights).sum().backward();
        close(flat_grad(&y, &fused_grads), flat_grad(&ref_y, &reference_grads), "d y");
        close(flat_grad(&residual, &fused_grads), flat_grad(&ref_residual, &reference_grads), "d residual");
        let [gamma, beta] = param_grads(&norm, &fused_grads);
        let [ref_gamma, ref_beta] = param_grads(&ref_norm, &reference_grads);
        close(gamma, ref_gamma, "d gamma");
        close(beta, ref_beta, "d beta");
    }

    #[test]
    fn dropout_scales_kept_values_and_their_gradient() {
        let device = Default::default();
        let (norm, y, residual) = inputs::<Tape>(&device);
        let (y, residual) = (y.require_grad(), residual.require_grad());
        let (ref_norm, ref_y, ref_residual) = (twin(&norm), leaf(&y), leaf(&residual));
        let dropout = DropoutConfig::new(0.25).init();
        let fused = residual_layer_norm(&norm, 1e-7, &dropout, y.clone(), residual.clone());
        // The mask the kernel drew shows in its gradients: d y is 0 where y was dropped, d residual is not. Burn's
        // composition with that mask must then give the same values and gradients.
        let grads = fused.clone().sum().backward();
        let d_y: Vec<f32> = y.grad(&grads).unwrap().into_data().to_vec().unwrap();
        let d_r: Vec<f32> = residual.grad(&grads).unwrap().into_data().to_vec().unwrap();
        let mask: Vec<f32> =
            d_y.iter().zip(&d_r).map(|(&a, &b)| if a == 0.0 && b != 0.0 { 0.0 } else { 1.0 }).collect();
        let dropped = mask.iter().filter(|&&m| m == 0.0).count();
        assert!((100..=200).contains(&dropped), "{dropped} of 600 dropped at p = 0.25");
        let mask = Tensor::<Tape, 3>::from_data(burn::tensor::TensorData::new(mask, [3, 5, 40]), &device);
        let reference = ref_norm.forward(ref_y.clone() * mask / 0.75 + ref_residual.clone());
        close(fused.flatten(0, 2), reference.clone().flatten(0, 2), "values");
        let reference_grads = reference.sum().backward();
        close(
            Tensor::from_data(burn::tensor::TensorData::new(d_y, [600]), &device),
            flat_grad(&ref_y, &reference_grads),
            "d y",
        );
        let [gamma, beta] = param_grads(&norm, &grads);
        let [ref_gamma, ref_beta] = param_grads(&ref_norm, &reference_grads);
        close(gamma, ref_gamma, "d gamma");
        close(beta, ref_beta, "d beta");
    }

    #[test]
    fn plain_ndarray_matches_burn_and_ignores_dropout() {
        let device = Default::default();
        let (norm, y, residual) = inputs::<Host>(&device);
        let dropout = DropoutConfig::new(0.5).init();
        let fused: Vec<f32> =
            residual_layer_norm(&norm, 1e-7, &dropout, y.clone(), residual.clone()).into_data().to_vec().unwrap();
        let reference: Vec<f32> = norm.forward(y + residual).into_data().to_vec().unwrap();
        let worst = fused.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "worst difference {worst}");
    }
}
