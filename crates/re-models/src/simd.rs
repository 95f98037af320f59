//! Small vectorisable f32 helpers shared by the CPU kernels (the fused inference engine and the fused training
//! kernels of [`crate::host_ops`]): run-time SIMD dispatch, lane-parallel reductions, `exp` and `erf` without libm
//! calls.

/// Runs `$body` compiled for AVX-512 or AVX2+FMA when the CPU has them (checked once per call, cheap), else for
/// the baseline target: the loops inside are written so that LLVM vectorises them for whichever it gets.
macro_rules! dispatch_simd {
    ($vis:vis $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports the enabled features (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use dispatch_simd;

/// A raw output pointer shared by parallel tasks that each write their own disjoint block of one buffer (one
/// (example, head) block per task in the attention kernels).
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(*mut f32);
// SAFETY: only used for disjoint writes, which every user documents at its call.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    pub(crate) fn new(values: &mut [f32]) -> Self {
        Self(values.as_mut_ptr())
    }

    // A method (not field access) so closures capture the whole Sync wrapper, not the raw pointer.
    pub(crate) fn at(self, offset: usize) -> *mut f32 {
        // Computing the address is safe; writing through it is the caller's `unsafe`, inside the buffer.
        self.0.wrapping_add(offset)
    }
}

pub(crate) const LANES: usize = 16;

/// Max of a slice with 16 independent lanes (a plain `fold(f32::max)` is a serial chain LLVM will not vectorise).
#[inline(always)]
pub(crate) fn lane_max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    rest.iter().chain(&acc).fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// Sum of a slice with 16 independent lanes.
#[inline(always)]
pub(crate) fn lane_sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// Dot product of two equally long slices with 16 independent lanes.
#[inline(always)]
pub(crate) fn lane_dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (xs, ys) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let rest: f32 = xs.remainder().iter().zip(ys.remainder()).map(|(a, b)| a * b).sum();
    for (a, b) in xs.zip(ys) {
        for i in 0..LANES {
            acc[i] += a[i] * b[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Dot product with four independent 16-lane accumulators summed as a tree: for long rows (hundreds of values)
/// where [`lane_dot`]'s one chain of vector adds, then sixteen serial lane adds, is the bound rather than the loads.
#[inline(always)]
pub(crate) fn wide_dot(x: &[f32], y: &[f32]) -> f32 {
    const WIDE: usize = 4 * LANES;
    let mut acc = [0.0f32; WIDE];
    let (xs, ys) = (x.chunks_exact(WIDE), y.chunks_exact(WIDE));
    let rest = lane_dot(xs.remainder(), ys.remainder());
    for (a, b) in xs.zip(ys) {
        for i in 0..WIDE {
            acc[i] += a[i] * b[i];
        }
    }
    let mut width = WIDE / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0] + rest
}

/// `exp(x)` for f32 without a libm call, so loops over it vectorise: `2ⁿ · e^r` with `n = round(x·log₂e)`,
/// `|r| ≤ ln2/2` and a degree-6 Taylor polynomial (relative error below 2·10⁻⁷). Inputs below −87.3 give 0
/// (true value < 1.2·10⁻³⁸), above 88.7 clamp to ≈ 3·10³⁸.
#[inline(always)]
pub(crate) fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5·2²³ rounds to the nearest integer without a call to `round`, and leaves that integer in the low
    // mantissa bits: reading it from there (not `as i32`, whose saturating conversion LLVM does one lane at a
    // time) keeps the whole function in vector registers.
    const ROUND: f32 = 12_582_912.0;
    let underflow = x < -87.3;
    let x = x.max(-87.3).min(88.7);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let y = p * f32::from_bits(((n_int + 127) << 23) as u32);
    if underflow {
        0.0
    } else {
        y
    }
}

dispatch_simd!(pub(crate) softmax_rows(scores: &mut [f32], key_bias: &[f32]) {
    // Row-wise softmax of `scores + key_bias`. Masked keys carry f32::MIN: their exp is exactly 0 when the row
    // keeps any key, and an all-masked row becomes uniform — what HF's additive mask gives in both cases.
    let seq = key_bias.len();
    for row in scores.chunks_mut(seq) {
        for (s, b) in row.iter_mut().zip(key_bias) {
            *s += b;
        }
        let max = lane_max(row);
        for s in row.iter_mut() {
            *s = fast_exp(*s - max);
        }
        let inv = 1.0 / lane_sum(row);
        for s in row.iter_mut() {
            *s *= inv;
        }
    }
});

/// `erf(x)` as a rational function (Eigen's/XLA's f32 approximation, error ≈ 1 ulp); vectorisable.
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub(crate) fn fast_erf(x: f32) -> f32 {
    let x = x.max(-4.0).min(4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_258_013_06e-10 + 2.770_681_424_959_02e-8;
    p = x2 * p + -2.101_024_020_825_08e-6;
    p = x2 * p + -5.692_506_394_623_46e-5;
    p = x2 * p + -7.349_906_303_268_55e-4;
    p = x2 * p + -2.954_599_808_540_25e-3;
    p = x2 * p + -1.609_603_332_624_15e-2;
    p *= x;
    let mut q = x2 * -1.456_607_184_649_96e-5 + -2.133_740_552_789_05e-4;
    q = x2 * q + -1.682_826_974_382_03e-3;
    q = x2 * q + -7.373_329_167_204_68e-3;
    q = x2 * q + -1.426_473_905_141_89e-2;
    p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_std_exp() {
        let mut worst = 0.0f32;
        let mut x = -80.0f32;
        while x < 80.0 {
            let rel = (fast_exp(x) - x.exp()).abs() / x.exp();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(fast_exp(-1e4), 0.0);
        assert_eq!(fast_exp(f32::MIN), 0.0);
    }

    #[test]
    fn fast_erf_matches_a_series_reference() {
        // erf(x) = 2/√π Σ (−1)ⁿ x^{2n+1} / (n! (2n+1)), summed in f64 (converges for the range tested).
        fn erf_series(x: f64) -> f64 {
            let (mut term, mut sum) = (x, x);
            for n in 1..200 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        }
        let mut worst = 0.0f64;
        let mut x = -3.5f64;
        while x < 3.5 {
            worst = worst.max((fast_erf(x as f32) as f64 - erf_series(x)).abs());
            x += 0.001;
        }
        assert!(worst < 1e-6, "worst absolute error {worst}");
        assert_eq!(fast_erf(10.0), fast_erf(4.0));
        assert!((fast_erf(10.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn lane_reductions_match_serial_ones() {
        let x: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 - 50.0).collect();
        assert_eq!(lane_max(&x), x.iter().cloned().fold(f32::MIN, f32::max));
        assert!((lane_sum(&x) - x.iter().sum::<f32>()).abs() < 1e-3);
        assert_eq!(lane_max(&[]), f32::NEG_INFINITY);
        let y: Vec<f32> = (0..37).map(|i| (i % 5) as f32 - 2.0).collect();
        let serial: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((lane_dot(&x, &y) - serial).abs() < 1e-3);
        // 37, 64 (one wide chunk, no rest) and 150 (two wide chunks and a rest longer than one 16-lane chunk).
        for n in [37, 64, 150] {
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 101) as f32 / 10.0 - 5.0).collect();
            let y: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
            let serial: f64 = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
            assert!((wide_dot(&x, &y) as f64 - serial).abs() < 1e-3, "n = {n}");
        }
        assert_eq!(wide_dot(&[], &[]), 0.0);
    }
}
