//! Which triples to keep: a probability threshold (global or per relation), top-k per sentence, no_relation or not.
use crate::error::{ExtractError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Minimum probability of a triple's relation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Threshold {
    Global(f64),
    /// Per relation label; labels not listed keep every triple (threshold 0).
    PerClass(BTreeMap<String, f64>),
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold::Global(0.0)
    }
}

impl Threshold {
    pub fn for_label(&self, label: &str) -> f64 {
        match self {
            Threshold::Global(t) => *t,
            Threshold::PerClass(m) => m.get(label).copied().unwrap_or(0.0),
        }
    }

    /// `--threshold`: a number, or a JSON file `{label: threshold}`.
    pub fn parse_arg(arg: &str) -> Result<Threshold> {
        if let Ok(t) = arg.trim().parse::<f64>() {
            return Ok(Threshold::Global(t));
        }
        let path = Path::new(arg);
        let text =
            std::fs::read_to_string(path).map_err(|e| ExtractError::Io { path: path.to_path_buf(), source: e })?;
        let map: BTreeMap<String, f64> = serde_json::from_str(&text).map_err(|e| {
            ExtractError::Options(format!("{}: expected a JSON object {{label: threshold}}: {e}", path.display()))
        })?;
        Ok(Threshold::PerClass(map))
    }

    /// Thresholds lie in [0, 1] and per-class ones name labels of the model.
    pub fn check(&self, labels: &[String]) -> Result<()> {
        let in_range = |label: &str, t: f64| {
            if (0.0..=1.0).contains(&t) {
                Ok(())
            } else {
                Err(ExtractError::Options(format!("threshold {t} for {label} is outside [0, 1]")))
            }
        };
        match self {
            Threshold::Global(t) => in_range("every relation", *t),
            Threshold::PerClass(m) => {
                for (label, &t) in m {
                    if !labels.iter().any(|l| l == label) {
                        return Err(ExtractError::Options(format!(
                            "threshold for unknown relation {label:?} (the model's labels: {})",
                            labels.join(", ")
                        )));
                    }
                    in_range(label, t)?;
                }
                Ok(())
            }
        }
    }
}

/// What [`crate::Extractor::triples`] keeps. The relation of a pair is the model's most probable label (as in
/// `kre predict`); a pair is kept when that label's probability reaches its threshold, and it is not `no_relation`
/// unless `include_no_relation`. `top_k` then keeps the `k` most probable triples of each sentence.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtractOptions {
    #[serde(default)]
    pub threshold: Threshold,
    #[serde(default)]
    pub top_k: Option<usize>,
    #[serde(default)]
    pub include_no_relation: bool,
}

impl ExtractOptions {
    pub fn check(&self, labels: &[String]) -> Result<()> {
        if self.top_k == Some(0) {
            return Err(ExtractError::Options("top_k must be at least 1".into()));
        }
        self.threshold.check(labels)
    }
}
