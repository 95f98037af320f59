//! Pruners: stop a trial after an epoch whose dev micro-F1 says it will not be among the best.
//!
//! The `[pruner]` table of search.toml names one with `kind`; tables written before there was a choice
//! (`min_epochs`, `reduction_factor`, `enabled`) still load, as successive halving or, with `enabled = false`, none.
use serde::{Deserialize, Serialize};

/// How trials are stopped early.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PrunerTable", into = "PrunerTable")]
pub enum Pruner {
    /// Asynchronous successive halving: at rung epochs `min_epochs · η^k` a trial must be in the top 1/η of the
    /// earlier trials' values at that epoch (once there are η of them).
    Halving { min_epochs: usize, reduction_factor: usize },
    /// Optuna's `MedianPruner`: once `n_startup_trials` trials have completed, a trial whose best value so far is
    /// below the median of the completed trials' values at the same epoch is stopped. Epochs are Optuna's steps
    /// counted from 0 (epoch e is step e − 1): no pruning before step `n_warmup_steps`, then every
    /// `interval_steps` steps.
    Median { n_startup_trials: usize, n_warmup_steps: usize, interval_steps: usize },
    /// Every trial runs all its epochs.
    None,
}

impl Default for Pruner {
    fn default() -> Self {
        Pruner::Halving { min_epochs: 1, reduction_factor: 2 }
    }
}

impl Pruner {
    pub const NAMES: [&'static str; 3] = ["halving", "median", "none"];

    /// Optuna's `MedianPruner()` defaults.
    pub fn median() -> Self {
        Pruner::Median { n_startup_trials: 5, n_warmup_steps: 0, interval_steps: 1 }
    }

    /// The pruner of that name with its default settings.
    pub fn from_name(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "halving" | "successive-halving" | "asha" => Ok(Pruner::default()),
            "median" => Ok(Pruner::median()),
            "none" => Ok(Pruner::None),
            other => Err(format!("unknown pruner `{other}` (expected one of {})", Self::NAMES.join(", "))),
        }
    }

    /// Whether a trial whose dev micro-F1 after epochs 1..=curve.len() is `curve` stops now. `history` holds the
    /// trials that finished before it: (completed, its curve) — `completed` is false for pruned trials.
    pub fn should_prune(&self, curve: &[f64], history: &[(bool, &[f64])]) -> bool {
        let Some(&score) = curve.last() else { return false };
        let epoch = curve.len();
        match *self {
            Pruner::None => false,
            Pruner::Halving { min_epochs, reduction_factor } => {
                let eta = reduction_factor.max(2);
                let mut rung = min_epochs.max(1);
                while rung < epoch {
                    rung *= eta;
                }
                if rung != epoch || score.is_nan() {
                    return false;
                }
                let mut prior: Vec<f64> =
                    history.iter().filter_map(|(_, c)| c.get(epoch - 1).copied()).filter(|v| !v.is_nan()).collect();
                if prior.len() < eta {
                    return false;
                }
                prior.sort_by(|a, b| b.total_cmp(a));
                let keep = (prior.len() / eta).max(1);
                score < prior[keep - 1]
            }
            Pruner::Median { n_startup_trials, n_warmup_steps, interval_steps } => {
                let completed: Vec<&[f64]> = history.iter().filter(|(done, _)| *done).map(|(_, c)| *c).collect();
                if completed.is_empty() || completed.len() < n_startup_trials {
                    return false;
                }
                let step = epoch - 1;
                // Every epoch reports a value, so Optuna's "first report in this interval" is a plain modulus.
                if step < n_warmup_steps || !(step - n_warmup_steps).is_multiple_of(interval_steps.max(1)) {
                    return false;
                }
                let best = curve.iter().copied().filter(|v| !v.is_nan()).fold(f64::NAN, f64::max);
                if best.is_nan() {
                    return true;
                }
                let at_step: Vec<f64> =
                    completed.iter().filter_map(|c| c.get(step).copied()).filter(|v| !v.is_nan()).collect();
                match median(at_step) {
                    Some(m) => best < m,
                    None => false,
                }
            }
        }
    }
}

/// The median with linear interpolation between the two middle values (numpy's `percentile(·, 50)`).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) * 0.5 })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum PrunerKind {
    Halving,
    Median,
    None,
}

/// The `[pruner]` table as written; every field optional so that old tables load.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrunerTable {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<PrunerKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_epochs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reduction_factor: Option<usize>,
    /// Old tables only: `false` meant no pruning.
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n_startup_trials: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n_warmup_steps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval_steps: Option<usize>,
}

impl TryFrom<PrunerTable> for Pruner {
    type Error = String;
    fn try_from(t: PrunerTable) -> Result<Self, String> {
        let kind = match (t.kind, t.enabled) {
            (None, Some(false)) => PrunerKind::None,
            (None, _) => PrunerKind::Halving,
            (Some(k), Some(false)) if k != PrunerKind::None => {
                return Err("[pruner] `enabled = false` contradicts `kind`; use kind = \"none\"".into())
            }
            (Some(k), _) => k,
        };
        let foreign = |fields: &[(&str, bool)]| -> Result<(), String> {
            match fields.iter().find(|(_, present)| *present) {
                Some((name, _)) => {
                    Err(format!("[pruner] `{name}` does not apply to kind = \"{kind:?}\"").to_lowercase())
                }
                None => Ok(()),
            }
        };
        let halving_fields =
            [("min_epochs", t.min_epochs.is_some()), ("reduction_factor", t.reduction_factor.is_some())];
        let median_fields = [
            ("n_startup_trials", t.n_startup_trials.is_some()),
            ("n_warmup_steps", t.n_warmup_steps.is_some()),
            ("interval_steps", t.interval_steps.is_some()),
        ];
        match kind {
            PrunerKind::Halving => {
                foreign(&median_fields)?;
                let (min_epochs, reduction_factor) = (t.min_epochs.unwrap_or(1), t.reduction_factor.unwrap_or(2));
                if min_epochs == 0 {
                    return Err("[pruner] min_epochs must be at least 1".into());
                }
                if reduction_factor < 2 {
                    return Err(format!("[pruner] reduction_factor must be at least 2, got {reduction_factor}"));
                }
                Ok(Pruner::Halving { min_epochs, reduction_factor })
            }
            PrunerKind::Median => {
                foreign(&halving_fields)?;
                let interval_steps = t.interval_steps.unwrap_or(1);
                if interval_steps == 0 {
                    return Err("[pruner] interval_steps must be at least 1".into());
                }
                Ok(Pruner::Median {
                    n_startup_trials: t.n_startup_trials.unwrap_or(5),
                    n_warmup_steps: t.n_warmup_steps.unwrap_or(0),
                    interval_steps,
                })
            }
            PrunerKind::None => {
                // An old table (no `kind`) with `enabled = false` still carries the halving settings.
                if t.kind.is_some() {
                    foreign(&halving_fields)?;
                }
                foreign(&median_fields)?;
                Ok(Pruner::None)
            }
        }
    }
}

impl From<Pruner> for PrunerTable {
    fn from(p: Pruner) -> Self {
        match p {
            Pruner::Halving { min_epochs, reduction_factor } => PrunerTable {
                kind: Some(PrunerKind::Halving),
                min_epochs: Some(min_epochs),
                reduction_factor: Some(reduction_factor),
                ..PrunerTable::default()
            },
            Pruner::Median { n_startup_trials, n_warmup_steps, interval_steps } => PrunerTable {
                kind: Some(PrunerKind::Median),
                n_startup_trials: Some(n_startup_trials),
                n_warmup_steps: Some(n_warmup_steps),
                interval_steps: Some(interval_steps),
                ..PrunerTable::default()
            },
            Pruner::None => PrunerTable { kind: Some(PrunerKind::None), ..PrunerTable::default() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pruner, String> {
        #[derive(Deserialize)]
        struct W {
            pruner: Pruner,
        }
        toml::from_str::<W>(text).map(|w| w.pruner).map_err(|e| e.to_string())
    }

    #[test]
    fn old_tables_load_and_new_ones_round_trip() {
        assert_eq!(
            parse("[pruner]\nmin_epochs = 2\nreduction_factor = 3\nenabled = true").unwrap(),
            Pruner::Halving { min_epochs: 2, reduction_factor: 3 }
        );
        assert_eq!(parse("[pruner]\nmin_epochs = 1\nreduction_factor = 2\nenabled = false").unwrap(), Pruner::None);
        assert_eq!(parse("[pruner]\nkind = \"median\"").unwrap(), Pruner::median());
        assert_eq!(
            parse("[pruner]\nkind = \"median\"\nn_warmup_steps = 2").unwrap(),
            Pruner::Median { n_startup_trials: 5, n_warmup_steps: 2, interval_steps: 1 }
        );
        for p in [Pruner::default(), Pruner::median(), Pruner::None] {
            #[derive(Serialize)]
            struct W<'a> {
                pruner: &'a Pruner,
            }
            assert_eq!(parse(&toml::to_string(&W { pruner: &p }).unwrap()).unwrap(), p);
        }
        let e = parse("[pruner]\nkind = \"median\"\nmin_epochs = 2").unwrap_err();
        assert!(e.contains("min_epochs") && e.contains("median"), "{e}");
        assert!(parse("[pruner]\nkind = \"halving\"\nenabled = false").unwrap_err().contains("enabled"));
        assert!(parse("[pruner]\nkind = \"fast\"").is_err());
        assert!(parse("[pruner]\nreduction_factor = 1").unwrap_err().contains("reduction_factor"));
    }

    /// A hand-made history: five completed trials and one pruned one; medians worked out by hand.
    #[test]
    fn median_pruner_decisions() {
        let done: [&[f64]; 5] =
            [&[10.0, 20.0, 30.0], &[20.0, 30.0, 40.0], &[30.0, 40.0, 50.0], &[40.0, 50.0], &[50.0, 60.0, 70.0]];
        let pruned: &[f64] = &[90.0];
        let mut history: Vec<(bool, &[f64])> = done.iter().map(|c| (true, *c)).collect();
        history.push((false, pruned));
        let p = Pruner::median();
        // Epoch 1: median of 10..50 is 30 (the pruned trial's 90 does not count).
        assert!(p.should_prune(&[29.0], &history));
        assert!(!p.should_prune(&[30.0], &history));
        // Epoch 2: median 40; the best so far (45 at epoch 1) counts, not the last value.
        assert!(!p.should_prune(&[45.0, 35.0], &history));
        assert!(p.should_prune(&[25.0, 39.0], &history));
        // Epoch 3: only four trials reached it: median of 30, 40, 50, 70 = 45.
        assert!(p.should_prune(&[44.0, 44.0, 44.0], &history));
        assert!(!p.should_prune(&[10.0, 10.0, 46.0], &history));
        // Epoch 4: nobody got there, nothing to compare with.
        assert!(!p.should_prune(&[0.0, 0.0, 0.0, 0.0], &history));
        // Fewer completed trials than n_startup_trials: never.
        assert!(!p.should_prune(&[0.0], &history[..4]));
        // Warm-up and interval: steps 0 and 1 skipped, then every second step (2, 4, …).
        let p = Pruner::Median { n_startup_trials: 5, n_warmup_steps: 2, interval_steps: 2 };
        assert!(!p.should_prune(&[0.0], &history));
        assert!(!p.should_prune(&[0.0, 0.0], &history));
        assert!(p.should_prune(&[0.0, 0.0, 0.0], &history));
        // A trial with no value at all is pruned.
        assert!(Pruner::median().should_prune(&[f64::NAN], &history));
        assert!(!Pruner::None.should_prune(&[0.0], &history));
    }

    #[test]
    fn halving_prunes_below_the_top_fraction_at_rungs_only() {
        let curves: [&[f64]; 4] = [&[50.0, 60.0], &[40.0, 55.0], &[30.0, 20.0], &[20.0, 10.0]];
        let history: Vec<(bool, &[f64])> = curves.iter().map(|c| (true, *c)).collect();
        let p = Pruner::default();
        // Rung 1: top 1/2 of [50, 40, 30, 20] → threshold 40.
        assert!(!p.should_prune(&[45.0], &history));
        assert!(p.should_prune(&[35.0], &history));
        // Rung 2: threshold 55.
        assert!(p.should_prune(&[45.0, 50.0], &history));
        // Epoch 3 is not a rung (1, 2, 4, …).
        assert!(!p.should_prune(&[45.0, 60.0, 0.0], &history));
    }
}
