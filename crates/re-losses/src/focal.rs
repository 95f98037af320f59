//! Multi-class focal loss (Lin et al., 2017) on logits, with optional smoothed targets.
use crate::common::{
    check_finite_non_negative, check_shapes, check_smoothing, check_target_range, class_vector, prepare_targets,
    reduce, valid_count, zero_ignored, Reduction,
};
use crate::LossError;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

/// Smallest value `1 − p` is clamped to before `powf(γ)`: keeps the gradient of `(1 − p)^γ` finite when
/// `p` rounds to 1 (γ < 1 would otherwise give `0^(γ−1) = ∞` and a NaN gradient). The clamp's own gradient is 0
/// there, and the loss is ≈ 0 in that regime anyway.
const MIN_ONE_MINUS_P: f64 = 1e-30;

/// The class-balancing factor α of the focal loss.
///
/// With the `serde` feature it (de)serializes untagged: a number is [`Alpha::Scalar`], an array of numbers
/// [`Alpha::PerClass`] (`alpha = 0.25` or `alpha = [0.5, 1.0, …]` in TOML).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(untagged))]
pub enum Alpha {
    /// The same α for every class (α = 1 disables balancing).
    Scalar(f64),
    /// One α per class, in label-map order (its length must equal the number of logit columns).
    PerClass(Vec<f64>),
}

impl Default for Alpha {
    fn default() -> Self {
        Alpha::Scalar(1.0)
    }
}

/// Configuration of [`FocalLoss`]; build it with [`FocalLossConfig::new`] and the `with_*` methods, then
/// [`FocalLossConfig::init`] validates it.
///
/// With the `serde` feature, missing fields take the [`Default`] values (γ = 2, α = 1, mean, no ignore index,
/// ε = 0) and unknown fields are errors.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default, deny_unknown_fields))]
pub struct FocalLossConfig {
    /// Focusing parameter γ ≥ 0 (γ = 0: weighted cross-entropy).
    pub gamma: f64,
    /// Balancing factor α (scalar or per class), every value ≥ 0.
    pub alpha: Alpha,
    /// How per-example losses are combined. `Mean` divides by the number of non-ignored rows.
    pub reduction: Reduction,
    /// Rows whose target equals this value contribute 0 and are left out of the mean's denominator.
    pub ignore_index: Option<i64>,
    /// Label smoothing ε ∈ [0, 1] of the targets (see [`FocalLoss`] for the formula).
    pub label_smoothing: f64,
}

impl Default for FocalLossConfig {
    fn default() -> Self {
        FocalLossConfig::new(2.0)
    }
}

impl FocalLossConfig {
    /// γ as given, α = 1, mean reduction, no ignore index, no smoothing.
    pub fn new(gamma: f64) -> Self {
        FocalLossConfig {
            gamma,
            alpha: Alpha::Scalar(1.0),
            reduction: Reduction::Mean,
            ignore_index: None,
            label_smoothing: 0.0,
        }
    }
    /// One α for every class.
    pub fn with_alpha(mut self, alpha: f64) -> Self {
        self.alpha = Alpha::Scalar(alpha);
        self
    }
    /// One α per class, in label-map order.
    pub fn with_class_alpha(mut self, alpha: Vec<f64>) -> Self {
        self.alpha = Alpha::PerClass(alpha);
        self
    }
    pub fn with_reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
    pub fn with_ignore_index(mut self, ignore_index: Option<i64>) -> Self {
        self.ignore_index = ignore_index;
        self
    }
    pub fn with_label_smoothing(mut self, epsilon: f64) -> Self {
        self.label_smoothing = epsilon;
        self
    }

    /// Validate the configuration (γ and α finite and ≥ 0, ε ∈ [0, 1]).
    pub fn init(&self) -> Result<FocalLoss, LossError> {
        check_finite_non_negative("gamma", self.gamma)?;
        match &self.alpha {
            Alpha::Scalar(a) => check_finite_non_negative("alpha", *a)?,
            Alpha::PerClass(values) => {
                if values.is_empty() {
                    return Err(LossError::InvalidConfig("per-class alpha is empty".into()));
                }
                for (class, &a) in values.iter().enumerate() {
                    check_finite_non_negative(&format!("alpha of class {class}"), a)?;
                }
            }
        }
        check_smoothing(self.label_smoothing)?;
        Ok(FocalLoss { config: self.clone() })
    }
}

/// Focal loss for multi-class logits.
///
/// With `p = softmax(logits)`, computed as `exp(log_softmax(logits))`, target `t`, K classes and smoothed
/// targets `q_c = (1 − ε)·[c = t] + ε / K`, the loss of one example is
///
/// ```text
/// FL = − Σ_c q_c · α_c · (1 − p_c)^γ · log p_c
/// ```
///
/// which for ε = 0 is the usual `FL(p_t) = −α_t (1 − p_t)^γ log p_t`. With γ = 0 and α = 1 it is exactly the
/// cross-entropy (the modulating factor is skipped, not computed as `x^0`). `α_c` is the scalar α or the
/// per-class value. Reductions: `None` gives `[batch]`, `Sum` the sum, `Mean` the sum divided by the number of
/// non-ignored rows (not by the sum of α, unlike PyTorch's weighted cross-entropy; an all-ignored batch gives 0).
#[derive(Debug, Clone, PartialEq)]
pub struct FocalLoss {
    config: FocalLossConfig,
}

impl FocalLoss {
    pub fn config(&self) -> &FocalLossConfig {
        &self.config
    }

    /// The loss of `logits` `[batch, classes]` against class indices `targets` `[batch]`.
    ///
    /// # Panics
    /// When shapes do not fit (rows ≠ targets, per-class α length ≠ classes), like burn's own losses. Targets must
    /// lie in `0..classes` or equal the ignore index; [`FocalLoss::try_forward`] checks all of this and returns
    /// an error instead.
    pub fn forward<B: Backend>(&self, logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        if let Err(e) = check_shapes(&logits, &targets, self.per_class_len()) {
            panic!("{e}");
        }
        self.compute(logits, targets)
    }

    /// Like [`FocalLoss::forward`] but returns an error for shape mismatches and out-of-range targets
    /// (this reads the targets back from the device).
    pub fn try_forward<B: Backend>(
        &self,
        logits: Tensor<B, 2>,
        targets: Tensor<B, 1, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        check_shapes(&logits, &targets, self.per_class_len())?;
        check_target_range(&targets, logits.dims()[1], self.config.ignore_index)?;
        Ok(self.compute(logits, targets))
    }

    fn per_class_len(&self) -> Option<(&str, usize)> {
        match &self.config.alpha {
            Alpha::PerClass(values) => Some(("per-class alpha", values.len())),
            Alpha::Scalar(_) => None,
        }
    }

    fn compute<B: Backend>(&self, logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        let device = logits.device();
        let [batch, classes] = logits.dims();
        let gamma = self.config.gamma;
        let epsilon = self.config.label_smoothing;
        let prepared = prepare_targets(targets, self.config.ignore_index);
        let log_p = log_softmax(logits, 1);
        let class_alpha = match &self.config.alpha {
            Alpha::PerClass(values) => Some(class_vector(values, &log_p)),
            Alpha::Scalar(_) => None,
        };
        let scalar_alpha = match &self.config.alpha {
            Alpha::Scalar(a) if *a != 1.0 => Some(*a),
            _ => None,
        };

        let per_example = if epsilon == 0.0 {
            // Only the target column matters: gather it instead of building a one-hot matrix.
            let log_p_t = log_p.gather(1, prepared.safe.clone().reshape([batch, 1])).reshape([batch]);
            let mut weighted = log_p_t.clone();
            if gamma > 0.0 {
                let one_minus_p = log_p_t.exp().neg().add_scalar(1.0).clamp_min(MIN_ONE_MINUS_P);
                weighted = weighted * one_minus_p.powf_scalar(gamma);
            }
            if let Some(a) = scalar_alpha {
                weighted = weighted.mul_scalar(a);
            }
            if let Some(alpha) = class_alpha {
                weighted = weighted * alpha.gather(0, prepared.safe.clone());
            }
            weighted.neg()
        } else {
            let one_hot: Tensor<B, 2> = prepared.safe.clone().one_hot::<2>(classes).float();
            let smoothed = one_hot.mul_scalar(1.0 - epsilon).add_scalar(epsilon / classes as f64);
            let mut weighted = log_p.clone() * smoothed;
            if gamma > 0.0 {
                let one_minus_p = log_p.exp().neg().add_scalar(1.0).clamp_min(MIN_ONE_MINUS_P);
                weighted = weighted * one_minus_p.powf_scalar(gamma);
            }
            if let Some(a) = scalar_alpha {
                weighted = weighted.mul_scalar(a);
            }
            if let Some(alpha) = class_alpha {
                weighted = weighted * alpha.reshape([1, classes]).expand([batch, classes]);
            }
            weighted.sum_dim(1).reshape([batch]).neg()
        };

        let per_example = zero_ignored(per_example, &prepared.ignored);
        let denominator = valid_count(batch, &prepared.ignored, &device);
        reduce(per_example, self.config.reduction, denominator)
    }
}
