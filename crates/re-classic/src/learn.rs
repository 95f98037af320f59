//! Linear learners on hashed sparse vectors, all deterministic for a seed (the sample order comes from a ChaCha8
//! generator and nothing else is random):
//! - [`train_pegasos`]: Pegasos linear SVM (Shalev-Shwartz et al. 2007), hinge loss, with projection;
//! - [`train_maxent`]: maximum entropy = L2-regularised logistic regression by SGD;
//! - [`train_one_class`]: linear one-class SVM (Schölkopf's ν formulation) by SGD.
//!
//! The weight vector is kept as `scale * v` so that the L2 shrink of each step costs O(1), not O(dim).
use crate::sparse::SparseVec;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A dense linear scorer `w·x`; the bias is an ordinary (hashed) feature.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearWeights {
    pub w: Vec<f64>,
}

impl LinearWeights {
    pub fn zeros(dim: usize) -> Self {
        LinearWeights { w: vec![0.0; dim] }
    }

    pub fn score(&self, x: &SparseVec) -> f64 {
        x.dot(&self.w)
    }

    /// The non-zero weights (for saving).
    pub fn to_sparse(&self) -> SparseWeights {
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        for (i, &v) in self.w.iter().enumerate() {
            if v != 0.0 {
                indices.push(i as u32);
                values.push(v);
            }
        }
        SparseWeights { dim: self.w.len(), indices, values }
    }
}

/// Serialised form of [`LinearWeights`]: only the non-zero entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SparseWeights {
    pub dim: usize,
    pub indices: Vec<u32>,
    pub values: Vec<f64>,
}

impl SparseWeights {
    /// Dense weights; entries with an index outside `dim` are reported as an error string.
    pub fn to_dense(&self) -> Result<LinearWeights, String> {
        if self.indices.len() != self.values.len() {
            return Err(format!("{} indices but {} values", self.indices.len(), self.values.len()));
        }
        let mut w = vec![0.0; self.dim];
        for (&i, &v) in self.indices.iter().zip(&self.values) {
            *w.get_mut(i as usize).ok_or_else(|| format!("weight index {i} outside dimension {}", self.dim))? = v;
        }
        Ok(LinearWeights { w })
    }
}

/// Weight vector `scale * v` with its squared norm tracked incrementally.
struct ScaledVector {
    v: Vec<f64>,
    scale: f64,
    v_norm_sq: f64,
}

impl ScaledVector {
    fn new(dim: usize) -> Self {
        ScaledVector { v: vec![0.0; dim], scale: 1.0, v_norm_sq: 0.0 }
    }
    fn dot(&self, x: &SparseVec) -> f64 {
        self.scale * x.dot(&self.v)
    }
    /// w ← factor · w
    fn shrink(&mut self, factor: f64) {
        if factor <= 0.0 {
            self.v.iter_mut().for_each(|x| *x = 0.0);
            self.scale = 1.0;
            self.v_norm_sq = 0.0;
            return;
        }
        self.scale *= factor;
        if self.scale < 1e-9 {
            self.v.iter_mut().for_each(|x| *x *= self.scale);
            self.v_norm_sq *= self.scale * self.scale;
            self.scale = 1.0;
        }
    }
    /// w ← w + c·x
    fn add(&mut self, x: &SparseVec, c: f64) {
        let c = c / self.scale;
        for (i, xv) in x.iter() {
            if let Some(slot) = self.v.get_mut(i) {
                let old = *slot;
                *slot += c * xv as f64;
                self.v_norm_sq += *slot * *slot - old * old;
            }
        }
    }
    fn norm_sq(&self) -> f64 {
        self.scale * self.scale * self.v_norm_sq.max(0.0)
    }
    fn into_weights(self) -> LinearWeights {
        let s = self.scale;
        LinearWeights { w: self.v.into_iter().map(|x| x * s).collect() }
    }
}

fn epoch_orders(n: usize, epochs: usize, seed: u64) -> impl Iterator<Item = Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..epochs).map(move |_| {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        order
    })
}

/// Pegasos hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PegasosConfig {
    /// Regularisation λ (the SVM's C is about 1/(λ n)).
    pub lambda: f64,
    /// Passes over the data (each pass visits every example once, in a seeded random order).
    pub epochs: usize,
    pub seed: u64,
    /// Weight of positive examples' hinge loss (≥ 1 to favour recall on rare positives).
    pub positive_weight: f64,
}

impl Default for PegasosConfig {
    fn default() -> Self {
        PegasosConfig { lambda: 1e-4, epochs: 10, seed: 42, positive_weight: 1.0 }
    }
}

/// Train a binary linear SVM with Pegasos. `ys[i]` is true for the positive class.
pub fn train_pegasos(xs: &[SparseVec], ys: &[bool], dim: usize, cfg: &PegasosConfig) -> LinearWeights {
    let mut w = ScaledVector::new(dim);
    let lambda = cfg.lambda.max(1e-12);
    let radius_sq = 1.0 / lambda;
    let mut t = 0usize;
    for order in epoch_orders(xs.len().min(ys.len()), cfg.epochs, cfg.seed) {
        for i in order {
            t += 1;
            let eta = 1.0 / (lambda * t as f64);
            let y = if ys[i] { 1.0 } else { -1.0 };
            let margin = y * w.dot(&xs[i]);
            w.shrink(1.0 - eta * lambda);
            if margin < 1.0 {
                let weight = if ys[i] { cfg.positive_weight } else { 1.0 };
                w.add(&xs[i], eta * y * weight);
            }
            // Projection onto the ball of radius 1/√λ, where the optimum lies.
            let n = w.norm_sq();
            if n > radius_sq {
                w.shrink((radius_sq / n).sqrt());
            }
        }
    }
    w.into_weights()
}

/// Max-ent (logistic regression) hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaxEntConfig {
    pub l2: f64,
    pub epochs: usize,
    /// Initial step; step t is `lr / (1 + lr·l2·t)`.
    pub lr: f64,
    pub seed: u64,
}

impl Default for MaxEntConfig {
    fn default() -> Self {
        MaxEntConfig { l2: 1e-4, epochs: 10, lr: 0.5, seed: 42 }
    }
}

/// Train binary logistic regression by SGD on the log loss + (l2/2)‖w‖². Scores are log-odds.
pub fn train_maxent(xs: &[SparseVec], ys: &[bool], dim: usize, cfg: &MaxEntConfig) -> LinearWeights {
    let mut w = ScaledVector::new(dim);
    let mut t = 0usize;
    for order in epoch_orders(xs.len().min(ys.len()), cfg.epochs, cfg.seed) {
        for i in order {
            let eta = cfg.lr / (1.0 + cfg.lr * cfg.l2 * t as f64);
            t += 1;
            let y = if ys[i] { 1.0 } else { 0.0 };
            let p = sigmoid(w.dot(&xs[i]));
            w.shrink(1.0 - eta * cfg.l2);
            w.add(&xs[i], eta * (y - p));
        }
    }
    w.into_weights()
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// One-class SVM hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneClassConfig {
    /// ν: upper bound on the fraction of training points treated as outliers.
    pub nu: f64,
    pub epochs: usize,
    pub lr: f64,
    pub seed: u64,
}

impl Default for OneClassConfig {
    fn default() -> Self {
        OneClassConfig { nu: 0.1, epochs: 20, lr: 0.1, seed: 42 }
    }
}

/// A linear one-class SVM: `decision(x) = w·x − ρ`, ≥ 0 for points like the training data.
#[derive(Clone, Debug, PartialEq)]
pub struct OneClassSvm {
    pub weights: LinearWeights,
    pub rho: f64,
}

impl OneClassSvm {
    pub fn decision(&self, x: &SparseVec) -> f64 {
        self.weights.score(x) - self.rho
    }
}

/// Train a linear one-class SVM by SGD on `½‖w‖² + (1/ν)·mean(max(0, ρ − w·x)) − ρ` (the primal of Schölkopf et
/// al., as scikit-learn's `SGDOneClassSVM`), with step `lr / √t`.
pub fn train_one_class(xs: &[SparseVec], dim: usize, cfg: &OneClassConfig) -> OneClassSvm {
    let mut w = ScaledVector::new(dim);
    let mut rho = 0.0;
    let nu = cfg.nu.clamp(1e-6, 1.0);
    let mut t = 0usize;
    for order in epoch_orders(xs.len(), cfg.epochs, cfg.seed) {
        for i in order {
            t += 1;
            let eta = cfg.lr / (t as f64).sqrt();
            let violated = w.dot(&xs[i]) < rho;
            w.shrink(1.0 - eta);
            if violated {
                w.add(&xs[i], eta / nu);
                rho -= eta * (1.0 / nu - 1.0);
            } else {
                rho += eta;
            }
        }
    }
    OneClassSvm { weights: w.into_weights(), rho }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Separable toy data: feature 0 is a bias, feature 1 marks positives, feature 2 negatives, 3..8 noise.
    fn toy(n: usize) -> (Vec<SparseVec>, Vec<bool>) {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..n {
            let pos = i % 3 == 0;
            let noise = 3 + (i * 7 % 5) as u32;
            xs.push(SparseVec::from_indices_normalized(vec![0, if pos { 1 } else { 2 }, noise]));
            ys.push(pos);
        }
        (xs, ys)
    }

    fn accuracy(w: &LinearWeights, xs: &[SparseVec], ys: &[bool]) -> f64 {
        xs.iter().zip(ys).filter(|(x, &y)| (w.score(x) > 0.0) == y).count() as f64 / xs.len() as f64
    }

    #[test]
    fn pegasos_separates_toy_data_and_is_deterministic() {
        let (xs, ys) = toy(300);
        let cfg = PegasosConfig { lambda: 1e-3, epochs: 5, ..Default::default() };
        let w = train_pegasos(&xs, &ys, 16, &cfg);
        assert_eq!(accuracy(&w, &xs, &ys), 1.0);
        assert!(w.w[1] > 0.0 && w.w[2] < 0.0);
        // Hinge margins: every example on the right side with margin close to 1 or beyond.
        assert!(xs.iter().zip(&ys).all(|(x, &y)| (if y { 1.0 } else { -1.0 }) * w.score(x) > 0.5));
        assert_eq!(w, train_pegasos(&xs, &ys, 16, &cfg));
        let other = train_pegasos(&xs, &ys, 16, &PegasosConfig { seed: 7, ..cfg.clone() });
        assert_ne!(w, other, "the seed must change the sample order");
        // The projection keeps ‖w‖ ≤ 1/√λ.
        let n: f64 = w.w.iter().map(|v| v * v).sum();
        assert!(n <= 1.0 / cfg.lambda + 1e-6);
    }

    #[test]
    fn maxent_separates_toy_data_with_calibrated_direction() {
        let (xs, ys) = toy(300);
        let w = train_maxent(&xs, &ys, 16, &MaxEntConfig { epochs: 20, ..Default::default() });
        assert_eq!(accuracy(&w, &xs, &ys), 1.0);
        for (x, &y) in xs.iter().zip(&ys) {
            let p = sigmoid(w.score(x));
            assert!(if y { p > 0.8 } else { p < 0.2 }, "p={p} y={y}");
        }
    }

    #[test]
    fn one_class_accepts_the_training_class_and_rejects_others() {
        // Inliers share features 0 and 1 plus 1–3 noise features from 2..12 (so their scores differ); outliers
        // have disjoint features.
        let inliers: Vec<SparseVec> = (0..300u32)
            .map(|i| {
                let mut f = vec![0, 1];
                for k in 0..=(i % 3) {
                    f.push(2 + (i * (3 + 2 * k) + k) % 10);
                }
                SparseVec::from_indices_normalized(f)
            })
            .collect();
        let m = train_one_class(&inliers, 32, &OneClassConfig { nu: 0.2, epochs: 30, ..Default::default() });
        let accepted = inliers.iter().filter(|x| m.decision(x) >= 0.0).count();
        assert!(accepted >= 150, "accepted {accepted}/300 inliers");
        // The prototype of the class scores higher than any training point; outliers are rejected.
        let prototype = SparseVec::from_indices_normalized(vec![0, 1]);
        assert!(inliers.iter().all(|x| m.decision(&prototype) >= m.decision(x)));
        assert!(m.decision(&prototype) > 0.0);
        let outliers: Vec<SparseVec> =
            (0..50).map(|i| SparseVec::from_indices_normalized(vec![12 + (i % 5) as u32, 20])).collect();
        assert!(outliers.iter().all(|x| m.decision(x) < 0.0));
        assert!(m.rho > 0.0);
        assert_eq!(m, train_one_class(&inliers, 32, &OneClassConfig { nu: 0.2, epochs: 30, ..Default::default() }));
    }

    #[test]
    fn sparse_weights_roundtrip() {
        let (xs, ys) = toy(60);
        let w = train_pegasos(&xs, &ys, 16, &PegasosConfig::default());
        assert_eq!(w.to_sparse().to_dense().unwrap(), w);
        let bad = SparseWeights { dim: 2, indices: vec![5], values: vec![1.0] };
        assert!(bad.to_dense().unwrap_err().contains("outside"));
    }
}
