//! Pieces shared by the losses: reduction, ignore-index handling, input checks.
use crate::LossError;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor, TensorData};

/// How per-example losses are combined (serde: `"mean"`, `"sum"`, `"none"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(rename_all = "lowercase"))]
pub enum Reduction {
    /// Average over the examples that are not ignored (each loss documents its denominator).
    #[default]
    Mean,
    /// Sum over all examples (ignored ones contribute 0).
    Sum,
    /// One loss per example, shape `[batch]`; ignored examples are 0.
    None,
}

/// Targets prepared for gathering: ignored rows are replaced by class 0 (so `gather` stays in range) and
/// `ignored` marks them so their losses can be zeroed.
pub(crate) struct PreparedTargets<B: Backend> {
    pub safe: Tensor<B, 1, Int>,
    pub ignored: Option<Tensor<B, 1, Bool>>,
}

pub(crate) fn prepare_targets<B: Backend>(targets: Tensor<B, 1, Int>, ignore_index: Option<i64>) -> PreparedTargets<B> {
    match ignore_index {
        Some(index) => {
            let ignored = targets.clone().equal_elem(index);
            let safe = targets.mask_fill(ignored.clone(), 0);
            PreparedTargets { safe, ignored: Some(ignored) }
        }
        None => PreparedTargets { safe: targets, ignored: None },
    }
}

/// Zero the entries of `values` (shape `[batch]`) whose row is ignored.
pub(crate) fn zero_ignored<B: Backend>(values: Tensor<B, 1>, ignored: &Option<Tensor<B, 1, Bool>>) -> Tensor<B, 1> {
    match ignored {
        Some(mask) => values.mask_fill(mask.clone(), 0.0),
        None => values,
    }
}

/// Shape checks that need no device synchronisation.
pub(crate) fn check_shapes<B: Backend>(
    logits: &Tensor<B, 2>,
    targets: &Tensor<B, 1, Int>,
    per_class_len: Option<(&str, usize)>,
) -> Result<(), LossError> {
    let [batch, classes] = logits.dims();
    let [n_targets] = targets.dims();
    if batch != n_targets {
        return Err(LossError::InvalidInput(format!("logits have {batch} rows but targets have {n_targets} entries")));
    }
    if classes == 0 {
        return Err(LossError::InvalidInput("logits have 0 classes".into()));
    }
    if let Some((what, len)) = per_class_len {
        if len != classes {
            return Err(LossError::InvalidInput(format!("{what} has {len} entries but logits have {classes} classes")));
        }
    }
    Ok(())
}

/// Target range check (reads the targets back from the device: one small synchronisation).
pub(crate) fn check_target_range<B: Backend>(
    targets: &Tensor<B, 1, Int>,
    classes: usize,
    ignore_index: Option<i64>,
) -> Result<(), LossError> {
    let data = targets.to_data().convert::<i64>();
    let values = data.to_vec::<i64>().map_err(|e| LossError::InvalidInput(format!("cannot read targets: {e:?}")))?;
    for (row, &t) in values.iter().enumerate() {
        if Some(t) == ignore_index {
            continue;
        }
        if t < 0 || t as u64 >= classes as u64 {
            return Err(LossError::InvalidInput(format!(
                "target {t} at row {row} is outside 0..{classes}{}",
                ignore_index.map(|i| format!(" and is not the ignore index {i}")).unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// A `[classes]` float tensor from host values, in the float dtype of the logits.
pub(crate) fn class_vector<B: Backend>(values: &[f64], like: &Tensor<B, 2>) -> Tensor<B, 1> {
    let dtype = like.dtype();
    let data = TensorData::new(values.to_vec(), [values.len()]).convert_dtype(dtype);
    Tensor::from_data(data, (&like.device(), dtype))
}

/// Reduce per-example losses; `denominator` is used for [`Reduction::Mean`].
pub(crate) fn reduce<B: Backend>(
    per_example: Tensor<B, 1>,
    reduction: Reduction,
    denominator: Tensor<B, 1>,
) -> Tensor<B, 1> {
    match reduction {
        Reduction::None => per_example,
        Reduction::Sum => per_example.sum(),
        Reduction::Mean => per_example.sum() / denominator,
    }
}

/// Number of rows that are not ignored, as a `[1]` tensor, at least 1 (an all-ignored batch gives a loss of 0,
/// not NaN).
pub(crate) fn valid_count<B: Backend>(
    batch: usize,
    ignored: &Option<Tensor<B, 1, Bool>>,
    device: &B::Device,
) -> Tensor<B, 1> {
    match ignored {
        Some(mask) => mask.clone().bool_not().float().sum().clamp_min(1.0),
        None => Tensor::from_floats([batch.max(1) as f32], device),
    }
}

pub(crate) fn check_finite_non_negative(what: &str, value: f64) -> Result<(), LossError> {
    if !value.is_finite() || value < 0.0 {
        return Err(LossError::InvalidConfig(format!("{what} must be finite and ≥ 0, got {value}")));
    }
    Ok(())
}

pub(crate) fn check_smoothing(value: f64) -> Result<(), LossError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(LossError::InvalidConfig(format!("label smoothing must be in [0, 1], got {value}")));
    }
    Ok(())
}
