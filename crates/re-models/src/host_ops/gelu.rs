//! Exact GELU `x · Φ(x)` in one pass forward and one backward.
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ndarray::NdArrayTensor;
use burn::tensor::backend::Backend;
use burn::tensor::{activation, Tensor, TensorPrimitive};
use rayon::prelude::*;

use super::{cast, float_primitive, host_tensor, same, values, Tape, CHUNK};
use crate::simd::{dispatch_simd, fast_erf, fast_exp};

/// Exact GELU `x · Φ(x) = x/2 · (1 + erf(x/√2))`, with the exact derivative `Φ(x) + x · φ(x)` under autodiff.
///
/// Under burn-ndarray f32 autodiff this is one fused kernel (one autodiff node). Other autodiff backends get the
/// composition `x · Φ(x)` of burn ops: burn 0.21's own `gelu` back-propagates the derivative of the *tanh*
/// approximation (up to ~1e-3 off the exact one PyTorch uses). Without autodiff, burn's `gelu`.
pub fn gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    if !B::ad_enabled(&x.device()) {
        return activation::gelu(x);
    }
    match cast::<_, Tensor<Tape, D>>(x) {
        Ok(x) => same(tape_forward(x)),
        Err(x) => {
            let cdf = (x.clone() * std::f64::consts::FRAC_1_SQRT_2).erf().add_scalar(1.0).mul_scalar(0.5);
            x * cdf
        }
    }
}

dispatch_simd!(gelu_forward(out: &mut [f32], x: &[f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = 0.5 * x * (1.0 + fast_erf(x * std::f32::consts::FRAC_1_SQRT_2));
    }
});

dispatch_simd!(gelu_backward(d: &mut [f32], grad: &[f32], x: &[f32]) {
    // d/dx x·Φ(x) = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π).
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    for ((d, &g), &x) in d.iter_mut().zip(grad).zip(x) {
        let cdf = 0.5 * (1.0 + fast_erf(x * std::f32::consts::FRAC_1_SQRT_2));
        let pdf = INV_SQRT_2PI * fast_exp(-0.5 * x * x);
        *d = g * (cdf + x * pdf);
    }
});

/// Runs `kernel(out, a, b)` over `out` in parallel blocks; `b` is empty or as long as `out`.
fn blocks(out: &mut [f32], a: &[f32], b: &[f32], kernel: fn(&mut [f32], &[f32], &[f32])) {
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(index, out)| {
        let range = index * CHUNK..index * CHUNK + out.len();
        kernel(out, &a[range.clone()], if b.is_empty() { b } else { &b[range] });
    });
}

/// The autodiff node of one call.
#[derive(Debug)]
struct GeluBackward;

#[derive(Debug, Clone)]
struct GeluState {
    /// The input (shared with the op that made it, not a copy).
    x: NdArrayTensor,
    shape: Vec<usize>,
}

impl Backward<super::Host, 1> for GeluBackward {
    type State = GeluState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<super::Host>(&ops.node);
        if let [Some(x)] = &ops.parents {
            let (grad, input) = (values(&grad), values(&ops.state.x));
            let mut d = vec![0.0f32; grad.len()];
            blocks(&mut d, &grad, &input, gelu_backward);
            grads.register::<super::Host>(x.id, host_tensor(d, ops.state.shape.clone()));
        }
    }
}

fn tape_forward<const D: usize>(x: Tensor<Tape, D>) -> Tensor<Tape, D> {
    let shape = x.dims().to_vec();
    let x = float_primitive(x);
    let run = || {
        let input = values(&x.primitive);
        let mut out = vec![0.0f32; input.len()];
        blocks(&mut out, &input, &[], |out, x, _| gelu_forward(out, x));
        host_tensor(out, shape.clone())
    };
    let output = match GeluBackward.prepare::<NoCheckpointing>([x.node.clone()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = run();
            prep.finish(GeluState { x: x.primitive.clone(), shape: shape.clone() }, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(run()),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn matches_the_composition_in_values_and_gradients() {
        let device = Default::default();
        let x = Tensor::<Tape, 2>::random([70, 531], Distribution::Normal(0.0, 3.0), &device).require_grad();
        let weights = Tensor::<Tape, 2>::random([70, 531], Distribution::Normal(0.0, 1.0), &device);
        // Its own leaf: burn frees a graph's nodes when it runs its backward.
        let ref_x = Tensor::<Tape, 2>::from_data(x.to_data(), &device).require_grad();
        let fused = gelu(x.clone());
        let cdf = (ref_x.clone() * std::f64::consts::FRAC_1_SQRT_2).erf().add_scalar(1.0).mul_scalar(0.5);
        let reference = ref_x.clone() * cdf;
        let flat = |t: Tensor<Tape, 2>| t.into_data().to_vec::<f32>().unwrap();
        let worst = |a: Vec<f32>, b: Vec<f32>| a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst(flat(fused.clone()), flat(reference.clone())) <= 1e-5);
        let fused_grads = (fused * weights.clone()).sum().backward();
        let reference_grads = (reference * weights).sum().backward();
        let grad = |x: &Tensor<Tape, 2>, g| x.grad(g).unwrap().into_data().to_vec::<f32>().unwrap();
        let difference = worst(grad(&x, &fused_grads), grad(&ref_x, &reference_grads));
        assert!(difference <= 1e-5, "worst gradient difference {difference}");
    }
}
