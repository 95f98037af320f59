//! `x W + b` on a token matrix, with its three gradients as BLAS products over the layouts the tensors already have.
//!
//! burn 0.21's `linear` on burn-ndarray is a matmul, then a broadcast bias add (another pass and buffer), and its
//! backward multiplies by `Wᵀ` and `xᵀ`: transposed views that burn-ndarray's matmul first copies into standard
//! layout, element by element (`reshape` of a strided array), before calling the gemm. That copy of `x` for every
//! weight gradient was 5 % of a roberta-base training step on 2 cores. Here the forward starts from the bias rows
//! and accumulates the product into them (`β = 1`), and the backward hands the transposed views straight to the
//! gemm (a BLAS `trans` flag, or matrixmultiply's strides without OpenBLAS), with the bias gradient as one pass of
//! column sums.
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ndarray::NdArrayTensor;
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Ix2};

use super::{cast, float_primitive, host_tensor, same, values, Host, Tape};

/// `x W + b` for `x [n, d_in]` and a burn `Linear` (`W [d_in, d_out]`, optional `b [d_out]`).
///
/// Under burn-ndarray f32 autodiff this is one autodiff node whose backward runs two gemms and a column sum (see the
/// module doc); other backends, and burn-ndarray without autodiff, run burn's `Linear::forward`.
pub fn linear<B: Backend>(linear: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    if !B::ad_enabled(&x.device()) {
        return linear.forward(x);
    }
    match cast::<_, Tensor<Tape, 2>>(x) {
        Ok(x) => {
            let weight: Tensor<Tape, 2> = same(linear.weight.val());
            let bias: Option<Tensor<Tape, 1>> = linear.bias.as_ref().map(|b| same(b.val()));
            same(tape_forward(x, weight, bias))
        }
        Err(x) => linear.forward(x),
    }
}

/// Runs `f` on `tensor` as a 2-D f32 view in whatever layout it is stored (transposed views included); a tensor of
/// another element type is converted first.
fn with_matrix<R>(tensor: &NdArrayTensor, rows: usize, cols: usize, f: impl FnOnce(ArrayView2<'_, f32>) -> R) -> R {
    if let NdArrayTensor::F32(storage) = tensor {
        if let Ok(view) = storage.view().into_dimensionality::<Ix2>() {
            return f(view);
        }
    }
    let owned = Array2::from_shape_vec((rows, cols), values(tensor).into_owned()).expect("a [rows, cols] tensor");
    f(owned.view())
}

/// `x W + b` as a fresh `[n, d_out]` tensor.
fn forward(x: &NdArrayTensor, weight: &NdArrayTensor, bias: Option<&NdArrayTensor>, dims: Dims) -> NdArrayTensor {
    let Dims { n, d_in, d_out } = dims;
    // Start from the bias rows (or zeros) and let the gemm add the product to them.
    let mut y = match bias {
        Some(bias) => {
            let bias = values(bias);
            let mut y = Vec::with_capacity(n * d_out);
            for _ in 0..n {
                y.extend_from_slice(&bias);
            }
            y
        }
        None => vec![0.0f32; n * d_out],
    };
    with_matrix(x, n, d_in, |x| {
        with_matrix(weight, d_in, d_out, |w| {
            let mut out = ArrayViewMut2::from_shape((n, d_out), &mut y).expect("n · d_out values");
            general_mat_mul(1.0, &x, &w, 1.0, &mut out);
        })
    });
    host_tensor(y, vec![n, d_out])
}

/// The autodiff node of one call.
#[derive(Debug)]
struct LinearBackward;

/// `x [n, d_in]`, `W [d_in, d_out]`.
#[derive(Debug, Clone, Copy)]
struct Dims {
    n: usize,
    d_in: usize,
    d_out: usize,
}

/// The inputs the gradients read (shared with the ops that made them, not copies), and their sizes.
#[derive(Debug, Clone)]
struct LinearState {
    x: NdArrayTensor,
    weight: NdArrayTensor,
    dims: Dims,
}

/// `[∂x, ∂W, ∂b]`, each only when asked for.
fn gradients(grad: &NdArrayTensor, state: &LinearState, want: [bool; 3]) -> [Option<NdArrayTensor>; 3] {
    let Dims { n, d_in, d_out } = state.dims;
    with_matrix(grad, n, d_out, |g| {
        let d_x = want[0].then(|| {
            // ∂x = g Wᵀ
            let mut d_x = Array2::<f32>::zeros((n, d_in));
            with_matrix(&state.weight, d_in, d_out, |w| general_mat_mul(1.0, &g, &w.t(), 0.0, &mut d_x));
            host_tensor(d_x.into_raw_vec_and_offset().0, vec![n, d_in])
        });
        let d_weight = want[1].then(|| {
            // ∂W = xᵀ g
            let mut d_w = Array2::<f32>::zeros((d_in, d_out));
            with_matrix(&state.x, n, d_in, |x| general_mat_mul(1.0, &x.t(), &g, 0.0, &mut d_w));
            host_tensor(d_w.into_raw_vec_and_offset().0, vec![d_in, d_out])
        });
        let d_bias = want[2].then(|| {
            // ∂b = Σ_rows g, row by row so each pass is a contiguous add.
            let mut d_b = vec![0.0f32; d_out];
            for row in g.rows() {
                for (d, &v) in d_b.iter_mut().zip(row) {
                    *d += v;
                }
            }
            host_tensor(d_b, vec![d_out])
        });
        [d_x, d_weight, d_bias]
    })
}

/// Computes the gradients of the parents that are tracked and registers them; shared by the node with and without a
/// bias.
fn register_gradients<const N: usize>(ops: Ops<LinearState, N>, grads: &mut Gradients) {
    let grad = grads.consume::<Host>(&ops.node);
    let mut want = [false; 3];
    for (w, parent) in want.iter_mut().zip(&ops.parents) {
        *w = parent.is_some();
    }
    for (parent, gradient) in ops.parents.iter().zip(gradients(&grad, &ops.state, want)) {
        if let (Some(parent), Some(gradient)) = (parent, gradient) {
            grads.register::<Host>(parent.id, gradient);
        }
    }
}

impl Backward<Host, 2> for LinearBackward {
    type State = LinearState;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        register_gradients(ops, grads);
    }
}

impl Backward<Host, 3> for LinearBackward {
    type State = LinearState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        register_gradients(ops, grads);
    }
}

fn tape_forward(x: Tensor<Tape, 2>, weight: Tensor<Tape, 2>, bias: Option<Tensor<Tape, 1>>) -> Tensor<Tape, 2> {
    let ([n, d_in], [_, d_out]) = (x.dims(), weight.dims());
    let dims = Dims { n, d_in, d_out };
    let (x, weight, bias) = (float_primitive(x), float_primitive(weight), bias.map(float_primitive));
    let run = || forward(&x.primitive, &weight.primitive, bias.as_ref().map(|b| &b.primitive), dims);
    let state = || LinearState { x: x.primitive.clone(), weight: weight.primitive.clone(), dims };
    // One node over `x`, `W` and (when there is one) `b`.
    macro_rules! record {
        ($parents:literal, $nodes:expr) => {
            match <LinearBackward as Backward<Host, $parents>>::prepare::<NoCheckpointing>(LinearBackward, $nodes)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(state(), run()),
                OpsKind::UnTracked(prep) => prep.finish(run()),
            }
        };
    }
    let output = match &bias {
        None => record!(2, [x.node.clone(), weight.node.clone()]),
        Some(bias) => record!(3, [x.node.clone(), weight.node.clone(), bias.node.clone()]),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::LinearConfig;
    use burn::optim::GradientsParams;
    use burn::tensor::Distribution;

    /// Values and all three gradients against burn's `Linear::forward`, with `W` stored in standard layout and as a
    /// transposed view (how a `[d_out, d_in]` checkpoint tensor can arrive), with and without a bias.
    #[test]
    fn matches_burns_linear_in_values_and_gradients() {
        type Inner = Host;
        let device = Default::default();
        for (strided, bias) in [(false, true), (true, true), (false, false)] {
            let mut module = LinearConfig::new(67, 45).with_bias(bias).init::<Tape>(&device);
            if strided {
                let stored = Tensor::<Tape, 2>::random([45, 67], Distribution::Normal(0.0, 0.1), &device);
                module.weight = Param::from_tensor(stored.transpose().require_grad());
                let NdArrayTensor::F32(storage) = float_primitive(module.weight.val()).primitive else { panic!("f32") };
                assert!(!storage.view().is_standard_layout(), "the weight should be a strided view");
            }
            let x = Tensor::<Tape, 2>::random([83, 67], Distribution::Normal(0.0, 1.0), &device).require_grad();
            let weights = Tensor::<Tape, 2>::random([83, 45], Distribution::Normal(0.0, 1.0), &device);
            // One graph after the other on the same leaves (each backward frees its own graph's nodes): the
            // output, then ∂x, ∂W and ∂b.
            let run = |fused: bool| {
                let y = if fused { super::linear(&module, x.clone()) } else { module.forward(x.clone()) };
                let grads = (y.clone() * weights.clone()).sum().backward();
                let d_x = x.grad(&grads).expect("∂x");
                let params = GradientsParams::from_grads(grads, &module);
                let d_w = params.get::<Inner, 2>(module.weight.id).expect("∂W");
                let d_b = module.bias.as_ref().map(|b| params.get::<Inner, 1>(b.id).expect("∂b").reshape([1, -1]));
                [Some(y.inner()), Some(d_x), Some(d_w), d_b]
            };
            let reference = run(false);
            let fused = run(true);
            for (what, (a, b)) in ["values", "∂x", "∂W", "∂b"].into_iter().zip(fused.into_iter().zip(reference)) {
                let (Some(a), Some(b)) = (a, b) else {
                    assert!(!bias && what == "∂b", "{strided} {bias}: {what} missing");
                    continue;
                };
                assert_eq!(a.dims(), b.dims(), "{strided} {bias} {what}");
                let (a, b) = (a.into_data().to_vec::<f32>().unwrap(), b.into_data().to_vec::<f32>().unwrap());
                // Relative to the reference's size: these are sums of 67–83 products.
                let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0f32, f32::max);
                assert!(worst <= 1e-5, "{strided} {bias} {what} differs by {worst}");
            }
        }
    }
}
