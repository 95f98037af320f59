//! Deterministic KLUE-like score matrices from a 64-bit LCG, reproducible bit for bit in Python
//! (`tools/make_metric_fixtures.py`, `scripts/bench/sklearn_metrics.py` implement the same generator). Used by
//! the parity fixtures and the benchmark, so Rust and scikit-learn score the very same input without shipping it.
//!
//! Only exactly-rounded IEEE operations are used (`*`, `+`, `/`, no `exp`), so both languages agree bit for bit.

/// A generated evaluation set: gold ids and a row-major `[n, num_labels]` probability matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticScores {
    /// Gold label ids; class 0 (think `no_relation`) is the most frequent.
    pub gold: Vec<usize>,
    /// Row-major probabilities; each row sums to 1 (up to rounding) and favours the gold class.
    pub probs: Vec<f64>,
}

/// Knuth's MMIX LCG; `uniform()` takes the top 53 bits, exactly representable.
struct Lcg(u64);

impl Lcg {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / 9007199254740992.0
    }
}

/// Generates `n` rows over `num_labels` classes from `seed`. Per row: `u` → gold `min(k-1, ⌊u·u·k⌋)` (skewed to
/// class 0); weights `v⁴` per class from fresh uniforms, the gold weight plus `0.25 + 2b`; probabilities = weights
/// divided by their left-to-right sum.
pub fn klue_like_scores(seed: u64, n: usize, num_labels: usize) -> SyntheticScores {
    let mut rng = Lcg(seed);
    let k = num_labels.max(1);
    let mut gold = Vec::with_capacity(n);
    let mut probs = Vec::with_capacity(n * k);
    let mut weights = vec![0.0f64; k];
    for _ in 0..n {
        let u = rng.uniform();
        let g = ((u * u * k as f64).floor() as usize).min(k - 1);
        for w in weights.iter_mut() {
            let v = rng.uniform();
            *w = v * v * v * v;
        }
        let boost = rng.uniform();
        weights[g] += 0.25 + 2.0 * boost;
        let mut sum = 0.0;
        for &w in &weights {
            sum += w;
        }
        probs.extend(weights.iter().map(|&w| w / sum));
        gold.push(g);
    }
    SyntheticScores { gold, probs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_normalised() {
        let a = klue_like_scores(7, 100, 30);
        assert_eq!(a, klue_like_scores(7, 100, 30));
        assert_ne!(a.probs, klue_like_scores(8, 100, 30).probs);
        for row in a.probs.chunks_exact(30) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let zeros = a.gold.iter().filter(|&&g| g == 0).count();
        assert!(zeros > 10, "class 0 should be the most frequent, got {zeros}");
    }
}
