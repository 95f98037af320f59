//! Cross-entropy with label smoothing and class weights, as PyTorch defines it.
use crate::common::{
    check_finite_non_negative, check_shapes, check_smoothing, check_target_range, class_vector, prepare_targets,
    reduce, valid_count, zero_ignored, Reduction,
};
use crate::LossError;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

/// Configuration of [`LabelSmoothingCrossEntropy`].
///
/// With the `serde` feature, missing fields take the [`Default`] values (ε = 0, no weights, mean, no ignore
/// index) and unknown fields are errors.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default, deny_unknown_fields))]
pub struct LabelSmoothingCrossEntropyConfig {
    /// ε ∈ [0, 1]; 0 gives the plain (weighted) cross-entropy.
    pub smoothing: f64,
    /// Optional class weights `w_c ≥ 0`, in label-map order.
    pub weights: Option<Vec<f64>>,
    pub reduction: Reduction,
    /// Rows whose target equals this value contribute 0 and are left out of the mean's denominator.
    pub ignore_index: Option<i64>,
}

impl Default for LabelSmoothingCrossEntropyConfig {
    /// No smoothing: the plain cross-entropy.
    fn default() -> Self {
        LabelSmoothingCrossEntropyConfig::new(0.0)
    }
}

impl LabelSmoothingCrossEntropyConfig {
    /// Smoothing ε, no weights, mean reduction, no ignore index.
    pub fn new(smoothing: f64) -> Self {
        LabelSmoothingCrossEntropyConfig { smoothing, weights: None, reduction: Reduction::Mean, ignore_index: None }
    }
    pub fn with_weights(mut self, weights: Option<Vec<f64>>) -> Self {
        self.weights = weights;
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

    /// Validate the configuration (ε ∈ [0, 1], weights finite, ≥ 0, not empty).
    pub fn init(&self) -> Result<LabelSmoothingCrossEntropy, LossError> {
        check_smoothing(self.smoothing)?;
        if let Some(weights) = &self.weights {
            if weights.is_empty() {
                return Err(LossError::InvalidConfig("class weights are empty".into()));
            }
            for (class, &w) in weights.iter().enumerate() {
                check_finite_non_negative(&format!("weight of class {class}"), w)?;
            }
        }
        Ok(LabelSmoothingCrossEntropy { config: self.clone() })
    }
}

/// PyTorch's `CrossEntropyLoss(weight=w, label_smoothing=ε, ignore_index=i)` on logits.
///
/// With `log p = log_softmax(logits)`, K classes, target `t` and `w_c = 1` when no weights are given, one example's
/// loss is
///
/// ```text
/// ℓ = (1 − ε) · (−w_t log p_t) + (ε / K) · Σ_c (−w_c log p_c)
/// ```
///
/// (the weighted negative log-likelihood blended with the weighted mean over classes of `−log p`). Ignored rows give 0.
/// `Mean` divides **both** terms by `Σ_i w_{t_i}` over the non-ignored rows (the number of such rows when unweighted),
/// which is what PyTorch does; `Sum` sums, `None` returns `[batch]`. One deliberate difference: a mean over an
/// all-ignored batch is 0 here, where PyTorch returns NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSmoothingCrossEntropy {
    config: LabelSmoothingCrossEntropyConfig,
}

impl LabelSmoothingCrossEntropy {
    pub fn config(&self) -> &LabelSmoothingCrossEntropyConfig {
        &self.config
    }

    /// The loss of `logits` `[batch, classes]` against class indices `targets` `[batch]`.
    ///
    /// # Panics
    /// When shapes do not fit (rows ≠ targets, weight length ≠ classes); [`Self::try_forward`] returns an error
    /// instead and also checks the target range.
    pub fn forward<B: Backend>(&self, logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        if let Err(e) = check_shapes(&logits, &targets, self.per_class_len()) {
            panic!("{e}");
        }
        self.compute(logits, targets)
    }

    /// Like [`Self::forward`] but returns an error for shape mismatches and out-of-range targets
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
        self.config.weights.as_ref().map(|w| ("class weights", w.len()))
    }

    fn compute<B: Backend>(&self, logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        let device = logits.device();
        let [batch, classes] = logits.dims();
        let epsilon = self.config.smoothing;
        let prepared = prepare_targets(targets, self.config.ignore_index);
        let log_p = log_softmax(logits, 1);
        let weights = self.config.weights.as_ref().map(|w| class_vector(w, &log_p));

        let log_p_t = log_p.clone().gather(1, prepared.safe.clone().reshape([batch, 1])).reshape([batch]);
        let target_weight = weights.as_ref().map(|w| w.clone().gather(0, prepared.safe.clone()));
        let nll = match &target_weight {
            Some(w_t) => log_p_t * w_t.clone(),
            None => log_p_t,
        }
        .neg();

        let mut per_example = nll.mul_scalar(1.0 - epsilon);
        if epsilon > 0.0 {
            let weighted_log_p = match &weights {
                Some(w) => log_p * w.clone().reshape([1, classes]).expand([batch, classes]),
                None => log_p,
            };
            let smooth = weighted_log_p.sum_dim(1).reshape([batch]).neg();
            per_example = per_example + smooth.mul_scalar(epsilon / classes as f64);
        }
        let per_example = zero_ignored(per_example, &prepared.ignored);

        let denominator = match (self.config.reduction, target_weight) {
            (Reduction::Mean, Some(w_t)) => {
                // Sum of the target weights over non-ignored rows (PyTorch's weighted mean). Not clamped to 1:
                // weights may be fractional; an all-zero sum falls back to 1 below so the loss stays finite.
                let w_t = zero_ignored(w_t, &prepared.ignored);
                let sum = w_t.sum();
                let is_zero = sum.clone().equal_elem(0.0);
                sum.mask_fill(is_zero, 1.0)
            }
            _ => valid_count(batch, &prepared.ignored, &device),
        };
        reduce(per_example, self.config.reduction, denominator)
    }
}
