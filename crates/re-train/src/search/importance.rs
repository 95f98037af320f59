//! Parameter importances by PED-ANOVA (Watanabe et al., IJCAI 2023; conditional parameters as in condPED-ANOVA,
//! KDD 2026), the method of Optuna's `PedAnovaImportanceEvaluator` (Optuna 5's default): for each parameter, the
//! Pearson divergence between a Parzen estimator of the top-`target_quantile` trials and one of all trials, on a
//! 50-point grid (Scott's-rule bandwidths). Deterministic, so it is checked against Optuna's numbers exactly
//! (tests/it/search.rs, fixture by tools/make_importance_fixtures.py).
//!
//! Only complete trials with a finite value count; larger values are better (dev micro-F1). A parameter a trial did
//! not use (γ and α without focal loss) puts that trial in the parameter's "inactive" regime, which contributes
//! nothing; the active regime's divergence is weighted by its share of the top and of all trials.
use super::export::ParamSpec;
use super::sampler::Distribution;
use super::tpe::log_gauss_mass;
use super::{TrialRecord, TrialStatus};

/// PED-ANOVA's settings; the defaults are Optuna's.
#[derive(Clone, Debug, PartialEq)]
pub struct PedAnova {
    /// γ′: the importances say what it takes to reach the top `target_quantile` of trials.
    pub target_quantile: f64,
    /// γ: the region the importances are measured in (1.0 = every trial).
    pub region_quantile: f64,
    /// Points of the grid a numeric range is discretised on.
    pub n_steps: usize,
    /// Weight of the uniform prior kernel.
    pub prior_weight: f64,
    /// A regime (parameter active or not) with fewer trials than this is ignored.
    pub min_n_trials_in_regime: usize,
}

impl Default for PedAnova {
    fn default() -> Self {
        PedAnova {
            target_quantile: 0.1,
            region_quantile: 1.0,
            n_steps: 50,
            prior_weight: 1.0,
            min_n_trials_in_regime: 2,
        }
    }
}

/// Importance of one parameter, normalised so that all sum to 1.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Importance {
    pub param: String,
    pub importance: f64,
}

impl PedAnova {
    /// Normalised importances of the parameters of `specs` that some complete trial used, most important first
    /// (ties by name). Equal shares when nothing separates them (fewer than two usable trials, or no divergence),
    /// as Optuna's `get_param_importances` gives.
    pub fn importances(&self, records: &[TrialRecord], specs: &[ParamSpec]) -> Vec<Importance> {
        let complete: Vec<&TrialRecord> = records.iter().filter(|r| r.status == TrialStatus::Complete).collect();
        let params: Vec<&ParamSpec> =
            specs.iter().filter(|s| complete.iter().any(|r| active_value(r, s).is_some())).collect();
        let trials: Vec<&TrialRecord> = complete.into_iter().filter(|r| r.best_micro_f1.is_finite()).collect();
        let raw: Vec<f64> =
            if trials.len() <= 1 { vec![0.0; params.len()] } else { self.raw_importances(&trials, &params) };
        let sum: f64 = raw.iter().sum();
        let mut out: Vec<Importance> = params
            .iter()
            .zip(&raw)
            .map(|(s, &v)| Importance {
                param: s.name.clone(),
                importance: if sum == 0.0 { 1.0 / params.len() as f64 } else { v / sum },
            })
            .collect();
        out.sort_by(|a, b| b.importance.total_cmp(&a.importance).then_with(|| a.param.cmp(&b.param)));
        out
    }

    fn raw_importances(&self, trials: &[&TrialRecord], params: &[&ParamSpec]) -> Vec<f64> {
        let target = top_quantile(trials, self.target_quantile);
        let region = top_quantile(trials, self.region_quantile);
        if target.is_empty() {
            return vec![0.0; params.len()];
        }
        let quantile = target.len() as f64 / region.len() as f64;
        params
            .iter()
            .map(|spec| {
                // The active regime only: the inactive one has no distribution and adds nothing.
                let region_active: Vec<f64> = region.iter().filter_map(|r| active_value(r, spec)).collect();
                let target_active: Vec<f64> = target.iter().filter_map(|r| active_value(r, spec)).collect();
                if region_active.len() < self.min_n_trials_in_regime
                    || target_active.is_empty()
                    || is_single(&spec.distribution)
                {
                    return 0.0;
                }
                let alpha = target_active.len() as f64 / target.len() as f64;
                let beta = region_active.len() as f64 / region.len() as f64;
                let divergence = self.pearson_divergence(&spec.distribution, &target_active, &region_active);
                alpha * alpha / beta * divergence * quantile * quantile
            })
            .collect()
    }

    /// Σ_grid p_region · (p_top / p_region − 1)².
    fn pearson_divergence(&self, dist: &Distribution, top: &[f64], region: &[f64]) -> f64 {
        let top = GridEstimator::new(dist, top, self.n_steps, self.prior_weight);
        let local = GridEstimator::new(dist, region, self.n_steps, self.prior_weight);
        (0..top.grid_size)
            .map(|g| {
                let p_top = top.pdf(g) + 1e-12;
                let p_local = local.pdf(g) + 1e-12;
                p_local * (p_top / p_local - 1.0).powi(2)
            })
            .sum()
    }
}

/// The trial's value of the parameter when it used it and the value lies in the range.
fn active_value(r: &TrialRecord, spec: &ParamSpec) -> Option<f64> {
    r.params.get(&spec.name).copied().filter(|&x| spec.distribution.contains(x))
}

fn is_single(d: &Distribution) -> bool {
    match *d {
        Distribution::Float { low, high, .. } => low == high,
        Distribution::Int { low, high, .. } => low == high,
        Distribution::Categorical { n } => n <= 1,
    }
}

/// The trials at least as good as the `q`-quantile (ties kept), as Optuna's `_QuantileFilter`.
fn top_quantile<'a>(trials: &[&'a TrialRecord], q: f64) -> Vec<&'a TrialRecord> {
    if q >= 1.0 {
        return trials.to_vec();
    }
    let mut losses: Vec<f64> = trials.iter().map(|r| -r.best_micro_f1).collect();
    losses.sort_by(f64::total_cmp);
    let cutoff_index = ((q * losses.len() as f64).ceil() as usize).saturating_sub(1);
    let cutoff = losses[cutoff_index];
    trials.iter().copied().filter(|r| -r.best_micro_f1 <= cutoff).collect()
}

/// A one-dimensional Parzen estimator over grid indices 0..grid_size (a numeric range binned onto `n_steps`
/// points, or a categorical's choices): one kernel per occupied grid point, weighted by its count, plus a prior.
struct GridEstimator {
    grid_size: usize,
    /// Mixture weights (normalised), the prior's last.
    weights: Vec<f64>,
    kernels: Kernels,
}

enum Kernels {
    /// Per kernel, the probability of each choice.
    Categorical(Vec<Vec<f64>>),
    /// Gaussians (μ, σ) discretised on integer points 0..grid_size and truncated to [−0.5, grid_size − 0.5].
    Discrete(Vec<(f64, f64)>),
}

impl GridEstimator {
    fn new(dist: &Distribution, values: &[f64], n_steps: usize, prior_weight: f64) -> Self {
        let counts = grid_counts(dist, values, n_steps);
        let grid_size = counts.len();
        let (obs, obs_counts): (Vec<usize>, Vec<f64>) =
            counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(i, &c)| (i, c as f64)).unzip();
        let mut weights = obs_counts.clone();
        weights.push(prior_weight);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let kernels = match dist {
            Distribution::Categorical { .. } => {
                let n_kernels = obs.len() + 1;
                let mut rows: Vec<Vec<f64>> = obs
                    .iter()
                    .map(|&o| {
                        let mut row = vec![prior_weight / n_kernels as f64; grid_size];
                        row[o] += 1.0;
                        row
                    })
                    .collect();
                rows.push(vec![prior_weight / n_kernels as f64; grid_size]);
                for row in &mut rows {
                    let s: f64 = row.iter().sum();
                    if s != 0.0 {
                        row.iter_mut().for_each(|p| *p /= s);
                    }
                }
                Kernels::Categorical(rows)
            }
            _ => Kernels::Discrete(scott_kernels(&obs, &obs_counts, grid_size)),
        };
        GridEstimator { grid_size, weights, kernels }
    }

    fn pdf(&self, x: usize) -> f64 {
        let logs: Vec<f64> = match &self.kernels {
            Kernels::Categorical(rows) => rows.iter().zip(&self.weights).map(|(row, w)| row[x].ln() + w.ln()).collect(),
            Kernels::Discrete(ks) => {
                let (low, high) = (-0.5, self.grid_size as f64 - 0.5);
                let xf = x as f64;
                ks.iter()
                    .zip(&self.weights)
                    .map(|(&(mu, sigma), w)| {
                        log_gauss_mass((xf - 0.5 - mu) / sigma, (xf + 0.5 - mu) / sigma)
                            - log_gauss_mass((low - mu) / sigma, (high - mu) / sigma)
                            + w.ln()
                    })
                    .collect()
            }
        };
        let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let max = if max == f64::NEG_INFINITY { 0.0 } else { max };
        (logs.iter().map(|l| (l - max).exp()).sum::<f64>().ln() + max).exp()
    }
}

/// How many of `values` fall on each grid point: the choices of a categorical, or `n_steps` evenly spaced points
/// of a numeric range (in log space for a log range; fewer for a short integer range), nearest point, ties to the
/// lower one.
fn grid_counts(dist: &Distribution, values: &[f64], n_steps: usize) -> Vec<usize> {
    let (size, index): (usize, Box<dyn Fn(f64) -> f64>) = match *dist {
        Distribution::Categorical { n } => (n, Box::new(|x| x)),
        Distribution::Int { low, high, step } => {
            let n = (((high - low) as f64 / step.max(1) as f64).round() as usize + 1).min(n_steps);
            let (lo, hi) = (low as f64, high as f64);
            (n, Box::new(move |x| ((x - lo) / ((hi - lo) / (n - 1) as f64) - 0.5).ceil()))
        }
        Distribution::Float { low, high, log } => {
            let t = move |x: f64| if log { x.ln() } else { x };
            let (lo, hi) = (t(low), t(high));
            let n = n_steps;
            (n, Box::new(move |x| ((t(x) - lo) / ((hi - lo) / (n - 1) as f64) - 0.5).ceil()))
        }
    };
    let mut counts = vec![0; size];
    for &v in values {
        let i = index(v).clamp(0.0, (size - 1) as f64) as usize;
        counts[i] += 1;
    }
    counts
}

/// Kernels on occupied grid points `obs` (ascending) with counts `w`: one bandwidth by Scott's rule (the smaller
/// of the weighted standard deviation and IQR/1.34, × 1.059 · n^−1/5, at least 0.5/1.64 grid steps), plus a
/// prior kernel centred on the grid, as wide as the grid + 1.
fn scott_kernels(obs: &[usize], w: &[f64], grid_size: usize) -> Vec<(f64, f64)> {
    let (low, high) = (0.0, (grid_size - 1) as f64);
    let obs: Vec<f64> = obs.iter().map(|&o| o as f64).collect();
    let cum: Vec<f64> = w
        .iter()
        .scan(0.0, |s, &x| {
            *s += x;
            Some(*s)
        })
        .collect();
    let total = cum.last().copied().unwrap_or(0.0);
    let mean = obs.iter().zip(w).map(|(o, w)| o * w).sum::<f64>() / total;
    let var = obs.iter().zip(w).map(|(o, w)| (o - mean).powi(2) * w).sum::<f64>() / (total - 1.0).max(1.0);
    // Integer quartile targets (the counts are integers: ⌊n/4⌋, ⌊3n/4⌋), first index reaching / passing them.
    let q1_target = (total / 4.0).floor();
    let q3_target = (total * 3.0 / 4.0).floor();
    let q1 = cum.iter().position(|&c| c >= q1_target).unwrap_or(cum.len());
    let q3 = cum.iter().position(|&c| c > q3_target).unwrap_or(cum.len());
    let iqr = obs[q3.min(obs.len() - 1)] - obs[q1.min(obs.len() - 1)];
    let sigma = 1.059 * (iqr / 1.34).min(var.sqrt()) * total.powf(-0.2);
    let sigma = sigma.max(0.5 / 1.64);
    let mut kernels: Vec<(f64, f64)> = obs.iter().map(|&o| (o, sigma)).collect();
    kernels.push(((low + high) / 2.0, high - low + 1.0));
    kernels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::export::tests::rec;
    use serde_json::json;

    fn specs() -> Vec<ParamSpec> {
        vec![
            ParamSpec {
                name: "x".into(),
                distribution: Distribution::Float { low: 0.0, high: 1.0, log: false },
                choices: None,
            },
            ParamSpec {
                name: "c".into(),
                distribution: Distribution::Categorical { n: 3 },
                choices: Some(vec![json!("a"), json!("b"), json!("c")]),
            },
            ParamSpec {
                name: "noise".into(),
                distribution: Distribution::Float { low: 1e-3, high: 1.0, log: true },
                choices: None,
            },
        ]
    }

    /// The value follows x only: x gets nearly all the importance, and the shares sum to 1.
    #[test]
    fn the_parameter_that_drives_the_value_dominates() {
        let records: Vec<TrialRecord> = (0..60)
            .map(|i| {
                let x = ((i * 37) % 60) as f64 / 59.0;
                let c = (i % 3) as f64;
                let noise = 10f64.powf(-3.0 * ((i * 17) % 60) as f64 / 59.0);
                rec(i, TrialStatus::Complete, &[100.0 * x], &[("x", x), ("c", c), ("noise", noise)])
            })
            .collect();
        let imp = PedAnova::default().importances(&records, &specs());
        assert_eq!(imp[0].param, "x");
        assert!(imp[0].importance > 0.8, "{imp:?}");
        assert!((imp.iter().map(|i| i.importance).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn too_few_trials_give_equal_shares_and_pruned_trials_do_not_count() {
        let records = vec![
            rec(0, TrialStatus::Complete, &[50.0], &[("x", 0.5), ("c", 1.0)]),
            rec(1, TrialStatus::Pruned, &[90.0], &[("x", 0.9), ("c", 0.0), ("noise", 0.1)]),
        ];
        let imp = PedAnova::default().importances(&records, &specs());
        // `noise` was used by a pruned trial only: not assessed.
        assert_eq!(imp.len(), 2);
        assert!(imp.iter().all(|i| i.importance == 0.5), "{imp:?}");
        assert!(PedAnova::default().importances(&[], &specs()).is_empty());
    }

    #[test]
    fn grid_counts_bin_to_the_nearest_point_ties_down() {
        let d = Distribution::Float { low: 0.0, high: 1.0, log: false };
        // Step 1/49; 0.5/49 is a tie between points 0 and 1.
        let c = grid_counts(&d, &[0.0, 0.5 / 49.0, 0.6 / 49.0, 1.0], 50);
        assert_eq!((c[0], c[1], c[49], c.len()), (2, 1, 1, 50));
        let c = grid_counts(&Distribution::Int { low: 2, high: 4, step: 1 }, &[2.0, 3.0, 3.0, 4.0], 50);
        assert_eq!(c, vec![1, 2, 1]);
    }

    #[test]
    fn grid_estimator_is_a_distribution() {
        for d in [Distribution::Float { low: 0.0, high: 1.0, log: false }, Distribution::Categorical { n: 4 }] {
            let pe = GridEstimator::new(&d, &[0.0, 0.0, 1.0, 3.0], 50, 1.0);
            let total: f64 = (0..pe.grid_size).map(|g| pe.pdf(g)).sum();
            assert!((total - 1.0).abs() < 1e-9, "{d:?}: {total}");
        }
    }
}
