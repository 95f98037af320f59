//! Focal loss and label-smoothing cross-entropy of a small batch on burn's NdArray backend, printed as
//! `focal=<value> ce=<value>`. Exits non-zero if the loss cannot be built.
use burn::backend::NdArray;
use burn::tensor::{Int, Tensor};
use re_losses::{FocalLossConfig, LabelSmoothingCrossEntropyConfig, LossError};

fn main() -> Result<(), LossError> {
    let device = Default::default();
    // Two examples, three classes; both logits favour the target, so both losses are small and positive.
    let logits = Tensor::<NdArray, 2>::from_floats([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], &device);
    let targets = Tensor::<NdArray, 1, Int>::from_ints([0, 2], &device);

    let focal = FocalLossConfig::new(2.0).with_class_alpha(vec![0.25, 0.5, 0.25]).init()?;
    let focal_value: f32 = focal.try_forward(logits.clone(), targets.clone())?.into_scalar();

    let ce = LabelSmoothingCrossEntropyConfig::new(0.1).init()?;
    let ce_value: f32 = ce.try_forward(logits, targets)?.into_scalar();

    println!("focal={focal_value:.6} ce={ce_value:.6}");
    Ok(())
}
