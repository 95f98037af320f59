//! The Parzen estimator of the TPE sampler (Bergstra et al. 2011) with the choices of Optuna's `TPESampler`
//! defaults: one truncated-Gaussian kernel per observation plus a prior kernel, bandwidths from the distances to the
//! neighbouring observations ("magic clip", endpoints not considered), categorical kernels that put weight 1 on the
//! observed choice over a uniform prior. Numbers agree with Optuna's `_ParzenEstimator` within 1e-9
//! (`tests/fixtures/parzen.json`, made by `tools/make_tpe_fixtures.py`).
//!
//! The truncated-normal functions work in log space on the left tail (as SciPy and Optuna do) so that kernels far
//! from the range, which are common once the bandwidths shrink, keep their precision.
use rand::Rng;

use super::sampler::Distribution;

/// ln √(2π), written as the computation Optuna uses so that both round the same way.
fn ln_sqrt_2pi() -> f64 {
    (2.0 * std::f64::consts::PI).sqrt().ln()
}

/// Φ(a), accurate in both tails (erfc where erf would cancel).
fn ndtr(a: f64) -> f64 {
    let x = a / std::f64::consts::SQRT_2;
    if x < -std::f64::consts::FRAC_1_SQRT_2 {
        0.5 * libm::erfc(-x)
    } else if x < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 + 0.5 * libm::erf(x)
    } else {
        1.0 - 0.5 * libm::erfc(x)
    }
}

/// ln Φ(a); an asymptotic series below −20 where Φ underflows.
fn log_ndtr(a: f64) -> f64 {
    if a > 6.0 {
        // ln(1 − ε) ≈ −ε, and Φ(−a) = ε is exact here while 1 − ε is not.
        return -ndtr(-a);
    }
    if a > -20.0 {
        return ndtr(a).ln();
    }
    let log_lhs = -0.5 * a * a - (-a).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    let (mut last, mut rhs, mut numerator, mut denom_factor, mut sign) = (0.0f64, 1.0f64, 1.0f64, 1.0f64, 1.0f64);
    let denom_cons = 1.0 / (a * a);
    let mut i = 0.0;
    while (last - rhs).abs() > f64::EPSILON {
        i += 1.0;
        last = rhs;
        sign = -sign;
        denom_factor *= denom_cons;
        numerator *= 2.0 * i - 1.0;
        rhs += sign * numerator * denom_factor;
    }
    log_lhs + rhs.ln()
}

/// ln(e^p − e^q) for p ≥ q.
fn log_diff(log_p: f64, log_q: f64) -> f64 {
    log_p + (-(log_q - log_p).exp()).ln_1p()
}

/// ln(e^x + e^y).
fn log_add_exp(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY {
        return y;
    }
    if y == f64::NEG_INFINITY {
        return x;
    }
    let m = x.max(y);
    m + (-(x - y).abs()).exp().ln_1p()
}

/// ln(Φ(b) − Φ(a)): the log mass of a standard Gaussian on [a, b].
pub(crate) fn log_gauss_mass(a: f64, b: f64) -> f64 {
    if b <= 0.0 {
        log_diff(log_ndtr(b), log_ndtr(a))
    } else if a > 0.0 {
        // The right tail mirrored onto the left, where log_ndtr is accurate.
        log_diff(log_ndtr(-a), log_ndtr(-b))
    } else {
        // Around 0 the mass is close to 1: ln1p of the two small tails avoids cancellation. Φ via erf here, as in
        // Optuna, so both agree to the last bits.
        let phi = |x: f64| 0.5 + 0.5 * libm::erf(x / std::f64::consts::SQRT_2);
        (-phi(a) - phi(-b)).ln_1p()
    }
}

/// x with ln Φ(x) = y (y ≤ 0), by Newton's method from an asymptotic or logistic first guess.
fn ndtri_exp(y: f64) -> f64 {
    // Near y = 0 the solution is large and positive; solve for −x in the accurate left tail instead.
    let flipped = y > -1e-2;
    let z = if flipped { (-y.exp_m1()).ln() } else { y };
    let mut x = if z < -5.0 {
        -(-2.0 * (z + ln_sqrt_2pi())).sqrt()
    } else {
        -(3f64.sqrt() / std::f64::consts::PI) * (-z).exp_m1().ln()
    };
    for _ in 0..100 {
        let log_ndtr_x = log_ndtr(x);
        let log_norm_pdf_x = -0.5 * x * x - ln_sqrt_2pi();
        let dx = (log_ndtr_x - z) * (log_ndtr_x - log_norm_pdf_x).exp();
        x -= dx;
        if dx.abs() < 1e-8 * x.abs() {
            break;
        }
    }
    if flipped {
        -x
    } else {
        x
    }
}

/// The q-quantile of a standard Gaussian truncated to [a, b].
pub(crate) fn truncnorm_ppf(q: f64, a: f64, b: f64) -> f64 {
    if a == b {
        return f64::NAN;
    }
    if q == 0.0 {
        return a;
    }
    if q == 1.0 {
        return b;
    }
    let log_mass = log_gauss_mass(a, b);
    if a < 0.0 {
        ndtri_exp(log_add_exp(log_ndtr(a), q.ln() + log_mass))
    } else {
        -ndtri_exp(log_add_exp(log_ndtr(-b), (-q).ln_1p() + log_mass))
    }
}

/// ln of the density at x of N(loc, scale²) truncated to [loc + a·scale, loc + b·scale].
fn truncnorm_logpdf(x: f64, a: f64, b: f64, loc: f64, scale: f64) -> f64 {
    let z = (x - loc) / scale;
    if a == b {
        return f64::NAN;
    }
    if z < a || z > b {
        return f64::NEG_INFINITY;
    }
    -(z * z) / 2.0 - ln_sqrt_2pi() - log_gauss_mass(a, b) - scale.ln()
}

/// Optuna's default observation weights: 1 each for up to 25 observations; beyond that the oldest ones ramp up
/// linearly from 1/n so that the 25 newest keep weight 1. `n` observations in trial-number order.
pub(crate) fn default_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let start = 1.0 / n as f64;
    // np.linspace(start, 1, ramp): start + i·(1 − start)/(ramp − 1), last point exactly 1.
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| if ramp == 1 { start } else { start + i as f64 * ((1.0 - start) / (ramp - 1) as f64) })
        .collect();
    if ramp > 1 {
        w[ramp - 1] = 1.0;
    }
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

/// The kernels of one parameter.
#[derive(Clone, Debug, PartialEq)]
enum Kernels {
    /// Truncated Gaussians in the transformed space (ln x for log parameters; for integers the range widened by
    /// half a step on each side so that the end values get full cells).
    Numeric {
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// Range in the transformed space.
        low: f64,
        high: f64,
        log: bool,
        /// For integer parameters: step and the untransformed bounds that samples are rounded into.
        step: Option<(f64, f64, f64)>,
    },
    /// One probability row per kernel.
    Categorical { probs: Vec<Vec<f64>> },
}

impl Kernels {
    fn new(observations: &[f64], dist: &Distribution, prior_weight: f64) -> Self {
        let n = observations.len();
        match *dist {
            Distribution::Categorical { n: n_choices } => {
                if n == 0 {
                    return Kernels::Categorical { probs: vec![vec![1.0 / n_choices as f64; n_choices]] };
                }
                let n_kernels = (n + 1) as f64;
                let mut probs = vec![vec![prior_weight / n_kernels; n_choices]; n + 1];
                for (row, &o) in probs.iter_mut().zip(observations) {
                    row[o as usize] += 1.0;
                }
                for row in &mut probs {
                    let s: f64 = row.iter().sum();
                    let s = if s == 0.0 { 1.0 } else { s };
                    row.iter_mut().for_each(|p| *p /= s);
                }
                Kernels::Categorical { probs }
            }
            Distribution::Float { low, high, log } => numeric_kernels(observations, low, high, log, None),
            Distribution::Int { low, high, step } => {
                let (low, high, step) = (low as f64, high as f64, step as f64);
                numeric_kernels(observations, low, high, false, Some((step, low, high)))
            }
        }
    }

    /// A draw from kernel `k`, internal representation.
    fn sample(&self, k: usize, rng: &mut impl Rng) -> f64 {
        match self {
            Kernels::Categorical { probs } => pick_weighted(&probs[k], rng.random::<f64>()) as f64,
            Kernels::Numeric { mus, sigmas, low, high, log, step } => {
                let (mu, sigma) = (mus[k], sigmas[k]);
                let q = rng.random::<f64>();
                let x = truncnorm_ppf(q, (low - mu) / sigma, (high - mu) / sigma) * sigma + mu;
                let x = if *log { x.exp() } else { x };
                match step {
                    // Round half to even, as numpy does, then keep it inside the range.
                    Some((step, lo, hi)) => (lo + ((x - lo) / step).round_ties_even() * step).clamp(*lo, *hi),
                    None => x,
                }
            }
        }
    }

    /// ln of kernel `k`'s density (mass, for integers and categoricals) at `x`.
    fn log_pdf(&self, k: usize, x: f64) -> f64 {
        match self {
            Kernels::Categorical { probs } => probs[k][x as usize].ln(),
            Kernels::Numeric { mus, sigmas, low, high, log, step } => {
                let (mu, sigma) = (mus[k], sigmas[k]);
                match step {
                    None => {
                        let xt = if *log { x.ln() } else { x };
                        truncnorm_logpdf(xt, (low - mu) / sigma, (high - mu) / sigma, mu, sigma)
                    }
                    Some((step, _, _)) => {
                        log_gauss_mass((x - step / 2.0 - mu) / sigma, (x + step / 2.0 - mu) / sigma)
                            - log_gauss_mass((low - mu) / sigma, (high - mu) / sigma)
                    }
                }
            }
        }
    }
}

/// A mixture over one or more parameters: kernel k of the mixture is the product of kernel k of every parameter
/// (observation k's values; the last is the prior). With one parameter this is independent TPE's estimator, with
/// several Optuna's multivariate one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ParzenEstimator {
    /// Mixture weights, summing to 1; the prior's is last.
    weights: Vec<f64>,
    dims: Vec<Kernels>,
}

impl ParzenEstimator {
    /// `columns[d]` holds parameter d's observations (internal representation; categoricals: the choice index),
    /// all columns in the same trial-number order (the weights favour newer observations beyond 25).
    pub(crate) fn new(columns: &[Vec<f64>], dists: &[Distribution], prior_weight: f64) -> Self {
        debug_assert_eq!(columns.len(), dists.len());
        let n = columns.first().map_or(0, Vec::len);
        let mut weights = if n == 0 {
            vec![1.0]
        } else {
            let mut w = default_weights(n);
            w.push(prior_weight);
            w
        };
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let dims = columns.iter().zip(dists).map(|(obs, d)| Kernels::new(obs, d, prior_weight)).collect();
        ParzenEstimator { weights, dims }
    }

    /// One parameter.
    #[cfg(test)]
    pub(crate) fn univariate(observations: &[f64], dist: &Distribution, prior_weight: f64) -> Self {
        Self::new(&[observations.to_vec()], std::slice::from_ref(dist), prior_weight)
    }

    /// `size` points (one value per parameter, internal representation).
    pub(crate) fn sample(&self, rng: &mut impl Rng, size: usize) -> Vec<Vec<f64>> {
        (0..size)
            .map(|_| {
                let k = pick_weighted(&self.weights, rng.random::<f64>());
                self.dims.iter().map(|d| d.sample(k, rng)).collect()
            })
            .collect()
    }

    /// ln of the mixture's density at `x` (one value per parameter). For log parameters this is the density of
    /// ln x: the Jacobian cancels in TPE's ratio of two estimators (Optuna leaves it out too).
    pub(crate) fn log_pdf(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = (0..self.weights.len())
            .map(|k| self.weights[k].ln() + self.dims.iter().zip(x).map(|(d, &xi)| d.log_pdf(k, xi)).sum::<f64>())
            .collect();
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // All kernels give zero density: avoid −∞ − −∞.
        let max = if max == f64::NEG_INFINITY { 0.0 } else { max };
        terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln() + max
    }

    #[cfg(test)]
    pub(crate) fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Parameter `d`'s kernel centres and widths, if it is numeric.
    #[cfg(test)]
    pub(crate) fn mus_sigmas(&self, d: usize) -> Option<(&[f64], &[f64])> {
        match &self.dims[d] {
            Kernels::Numeric { mus, sigmas, .. } => Some((mus, sigmas)),
            Kernels::Categorical { .. } => None,
        }
    }
}

/// The first index whose cumulative weight exceeds u ∈ [0, 1); the last one if rounding leaves the sum below u.
fn pick_weighted(weights: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.len() - 1
}

fn numeric_kernels(observations: &[f64], low: f64, high: f64, log: bool, step: Option<(f64, f64, f64)>) -> Kernels {
    let (mut low, mut high) = (low, high);
    if let Some((s, _, _)) = step {
        low -= s / 2.0;
        high += s / 2.0;
    }
    let mut mus: Vec<f64> = observations.to_vec();
    if log {
        mus.iter_mut().for_each(|m| *m = m.ln());
        low = low.ln();
        high = high.ln();
    }
    let n = mus.len();
    // Bandwidth of each kernel: the larger gap to its neighbours (the range ends count as neighbours, except that
    // the outermost kernels only look inwards when there are at least two observations).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| mus[i].total_cmp(&mus[j]));
    let mut sorted = Vec::with_capacity(n + 2);
    sorted.push(low);
    sorted.extend(order.iter().map(|&i| mus[i]));
    sorted.push(high);
    let mut sorted_sigmas: Vec<f64> =
        (1..=n).map(|i| (sorted[i] - sorted[i - 1]).max(sorted[i + 1] - sorted[i])).collect();
    if n >= 2 {
        sorted_sigmas[0] = sorted[2] - sorted[1];
        sorted_sigmas[n - 1] = sorted[n] - sorted[n - 1];
    }
    // Magic clip: no kernel narrower than the range over min(100, kernels + 1), none wider than the range.
    let max_sigma = high - low;
    let min_sigma = (high - low) / f64::min(100.0, 1.0 + (n + 1) as f64);
    let mut sigmas = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        sigmas[i] = sorted_sigmas[rank].clamp(min_sigma, max_sigma);
    }
    mus.push(0.5 * (low + high));
    sigmas.push(high - low);
    Kernels::Numeric { mus, sigmas, low, high, log, step }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncnorm_ppf_inverts_the_cdf() {
        for &(a, b) in &[(-1.0, 1.0), (-30.0, -25.0), (25.0, 30.0), (0.5, 3.0), (-3.0, -0.5), (-8.0, 40.0)] {
            let mass = log_gauss_mass(a, b).exp();
            for &q in &[1e-6, 0.1, 0.5, 0.9, 1.0 - 1e-6] {
                let x = truncnorm_ppf(q, a, b);
                assert!(x >= a && x <= b, "ppf({q}, {a}, {b}) = {x}");
                if mass > 1e-200 {
                    // Φ(x) − Φ(a) = q·mass, checked in log space.
                    let got =
                        if a < 0.0 { log_diff(log_ndtr(x), log_ndtr(a)) } else { log_diff(log_ndtr(-a), log_ndtr(-x)) };
                    assert!((got - (q * mass).ln()).abs() < 1e-6, "{a} {b} {q}: {got}");
                }
            }
        }
    }

    #[test]
    fn default_weights_ramp_after_25() {
        assert_eq!(default_weights(3), vec![1.0; 3]);
        let w = default_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-15);
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
        assert!(w[4..].iter().all(|&x| x == 1.0));
    }

    #[test]
    fn sigmas_follow_neighbour_gaps_with_magic_clip() {
        let d = Distribution::Float { low: 0.0, high: 10.0, log: false };
        let pe = ParzenEstimator::univariate(&[5.0, 1.0, 2.0], &d, 1.0);
        let (mus, sigmas) = pe.mus_sigmas(0).unwrap();
        assert_eq!(mus, &[5.0, 1.0, 2.0, 5.0]);
        // Sorted 1, 2, 5: the outer ones look inwards only (1 and 3), the middle one takes max(1, 3).
        // min sigma = 10 / min(100, 1 + 4) = 2.
        assert_eq!(sigmas, &[3.0, 2.0, 3.0, 10.0]);
        assert_eq!(pe.weights(), &[0.25; 4]);
    }

    #[test]
    fn samples_stay_in_range_and_integers_on_the_grid() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let d = Distribution::Int { low: 2, high: 9, step: 1 };
        let pe = ParzenEstimator::univariate(&[2.0, 9.0, 4.0], &d, 1.0);
        for x in pe.sample(&mut rng, 500).into_iter().flatten() {
            assert!((2.0..=9.0).contains(&x) && x.fract() == 0.0, "{x}");
        }
        let d = Distribution::Float { low: 1e-5, high: 1e-2, log: true };
        let pe = ParzenEstimator::univariate(&[1e-4, 2e-4], &d, 1.0);
        for x in pe.sample(&mut rng, 500).into_iter().flatten() {
            assert!((1e-5..=1e-2).contains(&x), "{x}");
        }
    }
}
