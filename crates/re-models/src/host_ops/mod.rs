//! Fused kernels with hand-written gradients for burn-ndarray f32, the backend CPU training runs on.
//!
//! burn 0.21 composes LayerNorm, softmax, dropout and exact GELU out of elementary tensor ops. On a GPU those are
//! cheap launches; on burn-ndarray each is a pass over memory into a fresh buffer, and under autodiff each records
//! a node whose backward makes more passes (a LayerNorm is ~8 ops forward and ~20 backward). Here each block is one
//! pass forward and one pass backward, recorded on the autodiff tape as one node:
//!
//! - [`residual_layer_norm`]: `LN(dropout(y) + residual)`, the "add & norm" closing both halves of a layer;
//! - [`attention_context`]: multi-head `dropout(softmax(Q Kᵀ · scale + mask)) V`, reading and writing the
//!   token-major layout (no head split/merge copies);
//! - [`gelu`]: exact GELU `x · Φ(x)`;
//! - [`linear`]: `x W + b` whose gradients hand transposed views to the gemm instead of copying them.
//!
//! Each function takes any backend and picks the fused kernel at run time (`TypeId`) only on burn-ndarray f32 (with
//! or without `Autodiff`), so the models stay generic and GPU backends keep burn's ops. Tests in each file check the
//! fused values and gradients against the burn composition (≤ 1e-5). Dropout draws its keep/drop decisions from a
//! counter-based generator seeded by burn's backend RNG, so `Backend::seed` still makes a run reproducible.
use std::any::{Any, TypeId};
use std::borrow::Cow;

use burn::backend::ndarray::NdArrayTensor;
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor, TensorData, TensorPrimitive};
use rayon::prelude::*;

mod attention;
mod gelu;
mod linear;
mod norm;

pub use attention::attention_context;
pub use gelu::gelu;
pub use linear::linear;
pub use norm::residual_layer_norm;

/// burn-ndarray f32, the backend the kernels run on.
pub(crate) type Host = NdArray<f32>;
/// burn-ndarray f32 under autodiff.
pub(crate) type Tape = Autodiff<Host>;

/// Whether `B` is a backend these kernels run on.
pub(crate) fn runs_on<B: Backend>() -> bool {
    let id = TypeId::of::<B>();
    id == TypeId::of::<Host>() || id == TypeId::of::<Tape>()
}

/// `value` as a `U` when `T` is `U` (both concrete at the call site), else the value back.
pub(crate) fn cast<T: 'static, U: 'static>(value: T) -> Result<U, T> {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(same) => Ok(same.take().expect("just filled")),
        None => Err(slot.expect("not taken")),
    }
}

/// `value` as a `U`, for a call site that has already checked that `T` is `U`.
pub(crate) fn same<T: 'static, U: 'static>(value: T) -> U {
    cast(value).unwrap_or_else(|_| unreachable!("the backend was checked by the caller"))
}

/// The f32 values of an ndarray tensor in standard (row-major) order: borrowed when its storage is contiguous
/// (encoder activations are), else a copy.
pub(crate) fn values(tensor: &NdArrayTensor) -> Cow<'_, [f32]> {
    match tensor {
        NdArrayTensor::F32(storage) => {
            let view = storage.view();
            match view.to_slice() {
                Some(values) => Cow::Borrowed(values),
                None => Cow::Owned(view.iter().copied().collect()),
            }
        }
        other => {
            let data = Tensor::<Host, 1>::from_primitive(TensorPrimitive::Float(other.clone())).into_data();
            Cow::Owned(data.convert::<f32>().to_vec::<f32>().expect("converted to f32"))
        }
    }
}

/// The values of an integer tensor as `i64` in row-major order. On burn-ndarray (plain or under autodiff, which
/// share the integer primitive) a contiguous tensor is read in place: burn's `into_data` on a tensor whose storage
/// is shared (a clone held by the batch) walks it element by element through dynamic-rank indexing, which for the
/// head's `[b, 2]` spans cost more than pooling a third of the span rows.
pub(crate) fn int_values<B: Backend, const D: usize>(tensor: Tensor<B, D, Int>) -> Vec<i64> {
    if runs_on::<B>() {
        let primitive: NdArrayTensor = same(tensor.clone().into_primitive());
        let in_place = match &primitive {
            NdArrayTensor::I64(storage) => storage.view().to_slice().map(<[i64]>::to_vec),
            NdArrayTensor::I32(storage) => storage.view().to_slice().map(|v| v.iter().map(|&x| i64::from(x)).collect()),
            _ => None,
        };
        if let Some(values) = in_place {
            return values;
        }
    }
    tensor.into_data().iter::<i64>().collect()
}

/// Runs `f` on [`values`] of `tensor`.
pub(crate) fn with_values<R>(tensor: &NdArrayTensor, f: impl FnOnce(&[f32]) -> R) -> R {
    f(&values(tensor))
}

pub(crate) fn float_primitive<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> B::FloatTensorPrimitive {
    tensor.into_primitive().tensor()
}

pub(crate) fn host_tensor(values: Vec<f32>, shape: Vec<usize>) -> NdArrayTensor {
    NdArrayTensor::from_data(TensorData::new(values, shape))
}

/// Elements per parallel task in the element-wise kernels (big enough to amortise rayon's hand-off).
const CHUNK: usize = 1 << 14;

/// Dropout's keep decisions for `len` elements (1 = kept, with probability `1 − prob`) and the scale `1/(1 − prob)`
/// that kept elements get.
///
/// burn's `Dropout` samples a Bernoulli tensor one element at a time from the backend's ChaCha RNG (about a
/// tenth of a CPU training step at roberta-base size). Here one 64-bit seed is drawn from that same RNG and each
/// block of [`CHUNK`] elements runs its own wyrand stream from `seed + block`, so blocks fill in parallel and the
/// result does not depend on the thread count.
#[derive(Debug, Clone)]
pub(crate) struct DropoutMask {
    pub(crate) keep: Vec<u8>,
    pub(crate) scale: f32,
}

impl DropoutMask {
    pub(crate) fn draw(len: usize, prob: f64) -> Self {
        let halves: Vec<i64> =
            Tensor::<Host, 1, Int>::random([2], Distribution::Uniform(0.0, 4_294_967_296.0), &Default::default())
                .into_data()
                .convert::<i64>()
                .to_vec()
                .expect("converted to i64");
        let seed = ((halves[0] as u64) << 32) ^ (halves[1] as u64 & 0xFFFF_FFFF);
        Self::from_seed(len, prob, seed)
    }

    fn from_seed(len: usize, prob: f64, seed: u64) -> Self {
        let keep_prob = 1.0 - prob;
        // Kept when a uniform 32-bit draw is below keep_prob · 2³².
        let threshold = (keep_prob * 4_294_967_296.0).min(4_294_967_295.0) as u64;
        let mut keep = vec![0u8; len];
        keep.par_chunks_mut(CHUNK).enumerate().for_each(|(block, out)| {
            let mut state = seed.wrapping_add((block as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for pair in out.chunks_mut(2) {
                // wyrand: one 64-bit output gives two 32-bit draws.
                state = state.wrapping_add(0xA076_1D64_78BD_642F);
                let t = (state as u128).wrapping_mul((state ^ 0xE703_7ED1_A0B4_28DB) as u128);
                let bits = ((t >> 64) ^ t) as u64;
                for (slot, draw) in pair.iter_mut().zip([bits & 0xFFFF_FFFF, bits >> 32]) {
                    *slot = u8::from(draw < threshold);
                }
            }
        });
        Self { keep, scale: (1.0 / keep_prob) as f32 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_mask_keeps_the_expected_share_and_is_reproducible() {
        let a = DropoutMask::from_seed(200_003, 0.1, 42);
        let b = DropoutMask::from_seed(200_003, 0.1, 42);
        let c = DropoutMask::from_seed(200_003, 0.1, 43);
        assert_eq!(a.keep, b.keep);
        assert_ne!(a.keep, c.keep);
        let kept = a.keep.iter().map(|&k| k as f64).sum::<f64>() / a.keep.len() as f64;
        // Binomial std at n = 200k, p = 0.9 is 6.7e-4: 0.005 is over seven of them.
        assert!((kept - 0.9).abs() < 0.005, "kept share {kept}");
        assert!((a.scale - 1.0 / 0.9).abs() < 1e-7);
        // Neighbouring blocks are not copies of each other.
        assert_ne!(a.keep[..CHUNK], a.keep[CHUNK..2 * CHUNK]);
        let all = DropoutMask::from_seed(1000, 0.0, 7);
        assert!(all.keep.iter().all(|&k| k == 1));
    }

    /// `int_values` reads in place where it can and falls back to `into_data` where it cannot (a strided view, a
    /// backend other than burn-ndarray), with the same row-major values either way.
    #[test]
    fn int_values_match_into_data_for_contiguous_and_strided_tensors() {
        let device = Default::default();
        let values: Vec<i64> = (0..12).map(|v| v * 7 - 20).collect();
        let plain = Tensor::<Host, 2, Int>::from_data(TensorData::new(values.clone(), [3, 4]), &device);
        let shared = plain.clone(); // a clone held elsewhere, as the batch holds the span tensor
        assert_eq!(int_values(plain.clone()), values);
        let strided = shared.clone().swap_dims(0, 1);
        let expected: Vec<i64> = strided.clone().into_data().iter::<i64>().collect();
        assert_eq!(int_values(strided), expected);
        let tape = Tensor::<Tape, 2, Int>::from_data(TensorData::new(values.clone(), [3, 4]), &device);
        assert_eq!(int_values(tape.narrow(1, 1, 2)), [-13, -6, 15, 22, 43, 50]);
        assert_eq!(
            int_values(Tensor::<Host, 1, Int>::from_data(TensorData::new(vec![3i32, -4], [2]), &device)),
            [3, -4]
        );
    }

    /// The generic path's division gradient is exact: burn autodiff computes `∂(a / b)/∂a` with `float_recip`,
    /// which burn-ndarray's `simd` feature runs as `rcp14`/`rcpps` (14 / 12 correct bits, up to 4e-4 relative);
    /// every softmax, LayerNorm and mean left to burn's ops differentiates through it. The workspace keeps that
    /// feature off (root `Cargo.toml`); this fails if feature unification turns it back on.
    #[test]
    fn division_gradients_on_the_generic_path_are_exact() {
        let device = Default::default();
        let divisors: Vec<f32> = (0..4096).map(|i| 0.5 + (i as f32 * 0.618_034).fract() * 3.0).collect();
        let a = Tensor::<Tape, 1>::ones([4096], &device).require_grad();
        let b = Tensor::<Tape, 1>::from_data(TensorData::new(divisors.clone(), [4096]), &device);
        let grads = (a.clone() / b).sum().backward();
        let got: Vec<f32> = a.grad(&grads).expect("a has a gradient").into_data().to_vec().expect("f32");
        let worst = got
            .iter()
            .zip(&divisors)
            .map(|(&g, &d)| ((f64::from(g) - 1.0 / f64::from(d)) * f64::from(d)).abs())
            .fold(0.0f64, f64::max);
        assert!(worst < 1e-6, "∂(a/b)/∂a is {worst:e} off 1/b (relative): an approximate reciprocal is in use");
    }

    /// Attention, GELU and add & norm, forward and backward, at a size the kernels split across threads: two runs
    /// on the same inputs agree to the bit, whatever the scheduling. (Dropout is off: its mask comes from the
    /// process-wide backend RNG, which tests running alongside also draw from; `from_seed` is checked above.)
    #[test]
    fn the_fused_block_is_bitwise_repeatable() {
        use burn::nn::{DropoutConfig, LayerNormConfig};
        let device = Default::default();
        let dropout = DropoutConfig::new(0.0).init();
        let norm = LayerNormConfig::new(64).init::<Tape>(&device);
        let wave = |phase: f32| {
            let values: Vec<f32> = (0..6 * 96 * 64).map(|i| (i as f32 * 0.37 + phase).sin()).collect();
            Tensor::<Tape, 3>::from_data(TensorData::new(values, [6, 96, 64]), &device)
        };
        let run = || {
            let x = wave(0.0).require_grad();
            let mask = Tensor::<Tape, 4>::zeros([6, 1, 1, 96], &device);
            let context = attention_context(x.clone(), x.clone(), x.clone(), mask, 4, 0.25, &dropout);
            let out = residual_layer_norm(&norm, 1e-12, &dropout, gelu(context), x.clone());
            let grads = (out.clone() * wave(1.0)).sum().backward();
            let flat = |t: Tensor<Host, 3>| t.into_data().to_vec::<f32>().expect("f32");
            (flat(out.inner()), flat(x.grad(&grads).expect("x has a gradient")))
        };
        let (first, second) = (run(), run());
        assert!(first.0.iter().zip(&second.0).all(|(a, b)| a.to_bits() == b.to_bits()), "outputs differ");
        assert!(first.1.iter().zip(&second.1).all(|(a, b)| a.to_bits() == b.to_bits()), "gradients differ");
    }
}
