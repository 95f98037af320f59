//! The training objective chosen by the config, built from `re-losses`.
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use re_losses::{FocalLoss, FocalLossConfig, LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyConfig};

use crate::config::{Alpha, LabelSmoothing, LossKind, TrainConfig};
use crate::error::{Result, TrainError};

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
