//! The training objective chosen by the config, built from `re-losses`.
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use re_losses::{FocalLoss, FocalLossConfig, LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyConfig};

use crate::config::{Alpha, LabelSmoothing, LossKind, TrainConfig};
use crate::error::{Result, TrainError};
use std::path::Path;

/// `--alpha VALUE`: a number is one α for every class; anything else is the path of a per-class α file
/// ([`read_alpha_file`]).
pub fn parse_alpha_arg(value: &str) -> Result<Alpha> {
    match value.trim().parse::<f64>() {
        Ok(a) => Ok(Alpha::Scalar(a)),
        Err(_) => Ok(Alpha::PerClass(read_alpha_file(Path::new(value))?)),
    }
}

/// The per-class α file: one number per class in label-map order, separated by whitespace (one per line is the
/// usual layout); lines starting with `#` are comments. Errors name the file and the line. Whether the count
/// matches the label map is checked when the loss is built ([`Objective::from_config`]).
pub fn read_alpha_file(path: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        for token in line.split_whitespace() {
            let v = token.parse::<f64>().map_err(|_| {
                TrainError::Config(format!(
                    "{}: line {}: {token:?} is not a number (per-class alpha)",
                    path.display(),
                    i + 1
                ))
            })?;
            values.push(v);
        }
    }
    if values.is_empty() {
        return Err(TrainError::Config(format!("{}: the per-class alpha file holds no numbers", path.display())));
    }
    Ok(values)
}

#[derive(Debug, Clone)]
pub enum Objective {
    CrossEntropy(LabelSmoothingCrossEntropy),
    Focal(FocalLoss),
}

impl Objective {
    /// Build the loss; `class_counts` (training label counts) feed `--label-smoothing auto`.
    pub fn from_config(cfg: &TrainConfig, class_counts: &[usize]) -> Result<(Self, f64)> {
        let eps = match cfg.label_smoothing {
            LabelSmoothing::Fixed(v) => v,
            LabelSmoothing::Auto => re_losses::label_smoothing_from_counts(class_counts, 0.05, 0.2)?,
        };
        let objective = match cfg.loss {
            LossKind::Ce => Objective::CrossEntropy(LabelSmoothingCrossEntropyConfig::new(eps).init()?),
            LossKind::Focal => {
                let mut c = FocalLossConfig::new(cfg.gamma).with_label_smoothing(eps);
                c = match &cfg.alpha {
                    Alpha::Scalar(a) => c.with_alpha(*a),
                    Alpha::PerClass(v) => {
                        if v.len() != class_counts.len() {
                            return Err(TrainError::Config(format!(
                                "per-class alpha has {} values but the label map has {} labels",
                                v.len(),
                                class_counts.len()
                            )));
                        }
                        c.with_class_alpha(v.clone())
                    }
                };
                Objective::Focal(c.init()?)
            }
        };
        Ok((objective, eps))
    }

    /// Mean loss over the batch, shape [1].
    pub fn forward<B: Backend>(&self, logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        match self {
            Objective::CrossEntropy(l) => l.forward(logits, targets),
            Objective::Focal(l) => l.forward(logits, targets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_argument_is_a_number_or_a_per_class_file() {
        assert_eq!(parse_alpha_arg("0.25").unwrap(), Alpha::Scalar(0.25));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alpha.txt");
        std::fs::write(&p, "# alpha per class\n0.5\n1.0 2e-1\n\n").unwrap();
        assert_eq!(parse_alpha_arg(p.to_str().unwrap()).unwrap(), Alpha::PerClass(vec![0.5, 1.0, 0.2]));
        std::fs::write(&p, "0.5\nhigh\n").unwrap();
        let err = read_alpha_file(&p).unwrap_err().to_string();
        assert!(err.contains("alpha.txt") && err.contains("line 2"), "{err}");
        std::fs::write(&p, "# nothing\n").unwrap();
        assert!(read_alpha_file(&p).unwrap_err().to_string().contains("no numbers"));
        assert!(parse_alpha_arg(dir.path().join("absent.txt").to_str().unwrap()).is_err());
    }
}
