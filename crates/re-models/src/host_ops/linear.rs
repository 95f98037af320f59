//! `x W + b` on a token matrix, with its three gradients as BLAS products over the layouts the tensors already have.
//!
//! burn 0.21's `linear` on burn-ndarray is a matmul, then a broadcast bias add (another pass and buffer), and its
//! backward multiplies by `Wᵀ` and `xᵀ`: transposed views that burn-ndarray's matmul first copies into standard
//! layout, element by element (`reshape` of a strided array), before calling the gemm. That copy of `x` for every
//! weight gradient was 5 % of a roberta-base training step on 2 cores. Here the forward starts from the bias rows
//! and accumulates the product into them (`β = 1`), and the backward hands the transposed views straight to the
//! gemm (a BLAS `trans` flag, or matrixmultiply's strides without OpenBLAS), with the bias gradient as one pass of
//! column sums. The node takes the tokens in their own shape (`[batch, seq, d_in]` or `[n, d_in]`) and views them
//! as one matrix: burn-ndarray 0.21's `reshape` copies the whole tensor (`to_shape` borrows, `into_shared` then
//! owns a copy), and flattening around each projection, forward and backward, was ~5 % of a training step.
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ndarray::NdArrayTensor;
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorMetadata, TensorPrimitive};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Ix2};

use super::{cast, float_primitive, host_tensor, same, values, Host, Tape};

/// `x W + b` for `x [.., d_in]` (every leading index a token) and a burn `Linear` (`W [d_in, d_out]`, optional
/// `b [d_out]`): one `[tokens, d_in] × [d_in, d_out]` product, the output shaped `[.., d_out]`.
///
/// Under burn-ndarray f32 autodiff this is one autodiff node whose backward runs two gemms and a column sum (see the
/// module doc); other backends, and burn-ndarray without autodiff, flatten the tokens and run burn's
/// `Linear::forward` (a rank-3 input there would be a batched matmul, whose weight gradient is a product per batch
/// row summed afterwards).
pub fn linear<B: Backend, const D: usize>(linear: &Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    if B::ad_enabled(&x.device()) {
        match cast::<_, Tensor<Tape, D>>(x) {
            Ok(x) => {
                let weight: Tensor<Tape, 2> = same(linear.weight.val());
                let bias: Option<Tensor<Tape, 1>> = linear.bias.as_ref().map(|b| same(b.val()));
                return same(tape_forward(x, weight, bias));
            }
            Err(x) => return flattened(linear, x),
        }
    }
    flattened(linear, x)
}

/// burn's `Linear::forward` on the tokens as one `[tokens, d_in]` matrix.
fn flattened<B: Backend, const D: usize>(linear: &Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    let dims = x.dims();
    if D == 2 {
        return linear.forward(x);
    }
    let d_in = dims[D - 1];
    let y = linear.forward(x.reshape([dims[..D - 1].iter().product::<usize>(), d_in]));
    let mut out = dims;
    out[D - 1] = y.dims()[1];
    y.reshape(out)
}

/// Runs `f` on `tensor` as a `[rows, cols]` f32 view: a 2-D tensor in whatever layout it is stored (transposed
/// views included), a higher-rank one in standard layout (its leading dimensions as rows) without a copy; anything
/// else (another element type, a strided higher-rank view) is copied first.
fn with_matrix<R>(tensor: &NdArrayTensor, rows: usize, cols: usize, f: impl FnOnce(ArrayView2<'_, f32>) -> R) -> R {
    if let NdArrayTensor::F32(storage) = tensor {
        let view = storage.view();
        if let Ok(matrix) = view.clone().into_dimensionality::<Ix2>() {
            return f(matrix);
        }
        if view.is_standard_layout() {
            if let Ok(matrix) = view.into_shape_with_order((rows, cols)) {
                return f(matrix);
            }
        }
    }
    let owned = Array2::from_shape_vec((rows, cols), values(tensor).into_owned()).expect("a [rows, cols] tensor");
    f(owned.view())
}

/// `x W + b` as a fresh tensor of `x`'s shape with `d_out` as its last dimension.
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
    let mut shape = x.shape().to_vec();
    if let Some(last) = shape.last_mut() {
        *last = d_out;
    }
    host_tensor(y, shape)
}

/// The autodiff node of one call.
#[derive(Debug)]
struct LinearBackward;

/// `x [n, d_in]` (the tokens as rows), `W [d_in, d_out]`.
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
            // ∂x = g Wᵀ, added onto the zeroed buffer (β = 1): with β = 0 OpenBLAS first zero-fills the output in a
            // pass of its own, which the fresh buffer makes redundant.
            let mut d_x = Array2::<f32>::zeros((n, d_in));
            with_matrix(&state.weight, d_in, d_out, |w| general_mat_mul(1.0, &g, &w.t(), 1.0, &mut d_x));
            host_tensor(d_x.into_raw_vec_and_offset().0, state.x.shape().to_vec())
        });
        let d_weight = want[1].then(|| {
            // ∂W = xᵀ g (β = 1 as above)
            let mut d_w = Array2::<f32>::zeros((d_in, d_out));
            with_matrix(&state.x, n, d_in, |x| general_mat_mul(1.0, &x.t(), &g, 1.0, &mut d_w));
            host_tensor(d_w.into_raw_vec_and_offset().0, vec![d_in, d_out])
        });
        let d_bias = want[2].then(|| {
            // ∂b = Σ_rows g, row by row so each pass is a contiguous add (on slices: ndarray's row iterators
            // do not vectorise, and that loop was 2 % of a training step).
            let mut d_b = vec![0.0f32; d_out];
            let add = |d_b: &mut [f32], row: &[f32]| d_b.iter_mut().zip(row).for_each(|(d, &v)| *d += v);
            match g.as_slice() {
                Some(values) => values.chunks_exact(d_out).for_each(|row| add(&mut d_b, row)),
                None => g.rows().into_iter().for_each(|row| add(&mut d_b, &row.to_vec())),
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

fn tape_forward<const D: usize>(
    x: Tensor<Tape, D>,
    weight: Tensor<Tape, 2>,
    bias: Option<Tensor<Tape, 1>>,
) -> Tensor<Tape, D> {
    let (x_shape, [d_in, d_out]) = (x.dims(), weight.dims());
    let dims = Dims { n: x_shape[..D - 1].iter().product(), d_in, d_out };
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
    /// (`tokens_in_their_own_shape_match_the_flattened_product` covers rank-3 inputs.)
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

    /// `x [batch, seq, d_in]` straight into the node (viewed as one matrix, no flattening copy) gives the values
    /// and gradients of the same tokens flattened to `[batch·seq, d_in]` first, in the input's own shapes; a strided
    /// rank-3 input (a transposed view) is copied and gives them too.
    #[test]
    fn tokens_in_their_own_shape_match_the_flattened_product() {
        let device = Default::default();
        let module = LinearConfig::new(19, 23).init::<Tape>(&device);
        let x = Tensor::<Tape, 3>::random([3, 11, 19], Distribution::Normal(0.0, 1.0), &device);
        let weights = Tensor::<Tape, 3>::random([3, 11, 23], Distribution::Normal(0.0, 1.0), &device);
        // The same values stored `[seq, batch, d_in]` and viewed back as `[batch, seq, d_in]`.
        let strided = Tensor::<Tape, 3>::from_data(x.clone().swap_dims(0, 1).into_data(), &device).swap_dims(0, 1);
        let NdArrayTensor::F32(storage) = float_primitive(strided.clone()).primitive else { panic!("f32") };
        assert!(!storage.view().is_standard_layout(), "the input should be a strided view");
        for (what, input) in [("contiguous", x), ("strided view", strided)] {
            let x = input.require_grad();
            let run = |rank3: bool| {
                let y = if rank3 {
                    super::linear(&module, x.clone())
                } else {
                    super::linear(&module, x.clone().reshape([33, 19])).reshape([3, 11, 23])
                };
                let grads = (y.clone() * weights.clone()).sum().backward();
                let d_x = x.grad(&grads).expect("∂x");
                let d_w = GradientsParams::from_grads(grads, &module).get::<Host, 2>(module.weight.id).expect("∂W");
                (y.inner(), d_x, d_w)
            };
            let (y, d_x, d_w) = run(true);
            let (y_ref, d_x_ref, d_w_ref) = run(false);
            assert_eq!((y.dims(), d_x.dims()), ([3, 11, 23], [3, 11, 19]), "{what}");
            assert_eq!(y.into_data(), y_ref.into_data(), "{what}: values");
            assert_eq!(d_x.into_data(), d_x_ref.into_data(), "{what}: ∂x");
            assert_eq!(d_w.into_data(), d_w_ref.into_data(), "{what}: ∂W");
        }
    }
}
