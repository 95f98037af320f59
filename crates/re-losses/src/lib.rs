//! `re-losses`: classification losses for relation extraction, generic over every [burn] backend.
//!
//! - [`FocalLoss`]: FL(p_t) = −α_t (1 − p_t)^γ log p_t, scalar or per-class α, γ ≥ 0, optional smoothed targets.
//! - [`LabelSmoothingCrossEntropy`]: PyTorch's `CrossEntropyLoss(label_smoothing=ε, weight=w)`, including class weights.
//! - [`label_smoothing_from_counts`]: picks ε from the label distribution (normalised entropy rule).
//!
//! Every loss is computed from `log_softmax` of the logits, so logits of ±1e4 give finite values and gradients.
//! Inputs are logits `[batch, classes]` and integer class targets `[batch]`; the output is a `Tensor<B, 1>` of shape
//! `[1]` for [`Reduction::Mean`] / [`Reduction::Sum`] and `[batch]` for [`Reduction::None`].
//!
//! The crate depends on `burn` (any 0.21.x) and `thiserror` only, so it can be used from any burn project. The
//! `serde` feature makes the configs (`FocalLossConfig`, `LabelSmoothingCrossEntropyConfig`, [`Alpha`],
//! [`Reduction`]) serializable.
//!
//! # Example
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::{Int, Tensor};
//! use re_losses::{label_smoothing_from_counts, FocalLossConfig, LabelSmoothingCrossEntropyConfig, Reduction};
//!
//! let device = Default::default();
//! let logits = Tensor::<NdArray, 2>::from_floats([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], &device);
//! let targets = Tensor::<NdArray, 1, Int>::from_ints([0, 2], &device);
//!
//! // Focal loss, γ = 2, one α per class.
//! let focal = FocalLossConfig::new(2.0).with_class_alpha(vec![0.25, 0.5, 0.25]).init()?;
//! let loss = focal.forward(logits.clone(), targets.clone());
//! assert_eq!(loss.dims(), [1]);
//!
//! // Label smoothing chosen from the training label counts, then PyTorch-style smoothed cross-entropy.
//! let epsilon = label_smoothing_from_counts(&[900, 50, 50], 0.05, 0.2)?;
//! assert!((0.05..=0.2).contains(&epsilon));
//! let ce = LabelSmoothingCrossEntropyConfig::new(epsilon).with_reduction(Reduction::None).init()?;
//! let per_example = ce.forward(logits, targets);
//! assert_eq!(per_example.dims(), [2]);
//! # Ok::<(), re_losses::LossError>(())
//! ```
mod common;
mod focal;
// The README's examples run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
mod smoothing;
mod smoothing_rule;

pub use common::Reduction;
pub use focal::{Alpha, FocalLoss, FocalLossConfig};
pub use smoothing::{LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyConfig};
pub use smoothing_rule::{
    label_smoothing_from_counts, normalised_entropy, DEFAULT_MAX_SMOOTHING, DEFAULT_MIN_SMOOTHING,
};

/// The one error type of `re-losses`: invalid configurations and inputs that do not fit the configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LossError {
    /// A configuration value is out of its domain (γ < 0, α < 0, ε ∉ [0, 1], NaN …).
    #[error("invalid loss configuration: {0}")]
    InvalidConfig(String),
    /// Logits/targets do not fit each other or the configuration (shape, per-class vector length, target range).
    #[error("invalid loss input: {0}")]
    InvalidInput(String),
}
