//! Floating-point summation exactly as NumPy does it, so reference paths reproduce scikit-learn bit for bit.

/// NumPy's pairwise summation (`DOUBLE_pairwise_sum` in `numpy/_core/src/umath/loops_utils.h.src`): blocks of at
/// most 128 values summed with 8 interleaved accumulators, larger arrays split in two halves (rounded to a
/// multiple of 8). Port of the C code, including the `-0.0` start value of the short case.
pub(crate) fn numpy_pairwise_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        let mut res = -0.0;
        for &v in values {
            res += v;
        }
        res
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&values[..8]);
        let mut i = 8;
        let end = n - (n % 8);
        while i < end {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += values[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += values[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum(&values[..n2]) + numpy_pairwise_sum(&values[n2..])
    }
}

/// `np.sum(values)` for a contiguous float64 array: the reduction starts from the identity `0.0`.
pub(crate) fn numpy_sum(values: &[f64]) -> f64 {
    0.0 + numpy_pairwise_sum(values)
}

/// `np.mean(values)` / `np.average(values)` (no weights). `values` must not be empty.
pub(crate) fn numpy_mean(values: &[f64]) -> f64 {
    numpy_sum(values) / values.len() as f64
}

/// Neumaier-compensated sum: used where the terms are a subset of NumPy's (zero terms dropped), so the result
/// stays within an ulp or two of NumPy's pairwise sum whatever the order.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    pub(crate) fn add(&mut self, value: f64) {
        let t = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - t) + value;
        } else {
            self.compensation += (value - t) + self.sum;
        }
        self.sum = t;
    }

    pub(crate) fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_groups_like_numpy() {
        // With 9 values NumPy sums the first 8 in a balanced tree, then adds the 9th.
        let values = [1e16, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let tree = ((1e16 + 1.0) + (1.0 + 1.0)) + ((1.0 + 1.0) + (1.0 + 1.0));
        assert_eq!(numpy_pairwise_sum(&values), tree + 1.0);
        // A plain left-to-right sum loses every 1.0 against 1e16; the tree keeps the pairs.
        let sequential = values.iter().fold(0.0, |a, b| a + b);
        assert_ne!(numpy_pairwise_sum(&values), sequential);
    }

    #[test]
    fn short_sum_keeps_negative_zero() {
        assert!(numpy_pairwise_sum(&[-0.0, -0.0]).is_sign_negative());
        assert!(numpy_sum(&[-0.0, -0.0]).is_sign_positive());
        assert_eq!(numpy_mean(&[1.0, 2.0, 4.0]), 7.0 / 3.0);
    }

    #[test]
    fn compensated_sum_recovers_small_terms() {
        let mut s = CompensatedSum::default();
        for v in [1e16, 1.0, -1e16, 1.0] {
            s.add(v);
        }
        assert_eq!(s.value(), 2.0);
    }
}
