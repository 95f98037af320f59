//! Inputs and loss configurations shared by the gradient tests.
#![allow(dead_code)]
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use re_losses::{FocalLoss, FocalLossConfig, LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyConfig, Reduction};

pub const LOGITS: [[f64; 4]; 5] =
    [[0.3, -1.2, 2.0, 0.1], [1.5, 1.4, -0.3, 0.0], [-2.0, 0.5, 0.7, 3.1], [0.0, 0.0, 0.0, 0.0], [4.0, -3.0, 1.0, -0.5]];
pub const TARGETS: [i64; 5] = [2, 0, -100, 1, 3];

pub enum Loss {
    Focal(FocalLoss),
    Ce(LabelSmoothingCrossEntropy),
}

impl Loss {
    pub fn eval<BK: Backend>(&self, logits: Tensor<BK, 2>, targets: Tensor<BK, 1, Int>) -> Tensor<BK, 1> {
        match self {
            Loss::Focal(l) => l.forward(logits, targets),
            Loss::Ce(l) => l.forward(logits, targets),
        }
        .sum()
    }
}

pub fn logits_tensor<BK: Backend>(values: &[f64], rows: usize, cols: usize) -> Tensor<BK, 2> {
    // Convert to the backend's float element: NdArray keeps the dtype of the data it is given.
    Tensor::from_data(TensorData::new(values.to_vec(), [rows, cols]).convert::<BK::FloatElem>(), &Default::default())
}

pub fn targets_tensor<BK: Backend>(targets: &[i64]) -> Tensor<BK, 1, Int> {
    Tensor::from_data(TensorData::new(targets.to_vec(), [targets.len()]), &Default::default())
}

pub fn losses() -> Vec<(&'static str, Loss)> {
    let ignore = Some(-100);
    vec![
        ("focal g=2", Loss::Focal(FocalLossConfig::new(2.0).with_ignore_index(ignore).init().unwrap())),
        (
            "focal g=0.5 alpha vec",
            Loss::Focal(
                FocalLossConfig::new(0.5)
                    .with_class_alpha(vec![0.2, 0.4, 0.3, 0.1])
                    .with_ignore_index(ignore)
                    .init()
                    .unwrap(),
            ),
        ),
        (
            "focal g=3 eps=0.1 sum",
            Loss::Focal(
                FocalLossConfig::new(3.0)
                    .with_alpha(0.25)
                    .with_label_smoothing(0.1)
                    .with_reduction(Reduction::Sum)
                    .with_ignore_index(ignore)
                    .init()
                    .unwrap(),
            ),
        ),
        (
            "ls-ce eps=0.1",
            Loss::Ce(LabelSmoothingCrossEntropyConfig::new(0.1).with_ignore_index(ignore).init().unwrap()),
        ),
        (
            "ls-ce eps=0.2 weighted",
            Loss::Ce(
                LabelSmoothingCrossEntropyConfig::new(0.2)
                    .with_weights(Some(vec![1.0, 2.0, 0.5, 1.5]))
                    .with_ignore_index(ignore)
                    .init()
                    .unwrap(),
            ),
        ),
    ]
}
