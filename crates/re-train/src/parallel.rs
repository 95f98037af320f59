//! One optimiser step's forward + backward, on one device or data-parallel over several.
//!
//! With several devices, the batch is split into one contiguous shard per device (sizes differ by at most one,
//! each shard padded to its own longest example). Every device runs forward + backward of its shard at the same
//! time, on a replica of the model: the first device uses the model itself, the others a copy made with
//! [`Module::fork`] (a copy on that device with its own autodiff graph, same parameter ids). The training loss
//! is a mean over examples, so each shard's loss is weighted by `shard_size / batch_size` before its backward
//! pass; the shard gradients, moved to the first device ([`GradientsParams::to_device`]) and summed in shard
//! order with burn's [`GradientsAccumulator`], are then the gradient of the whole batch's mean loss. The caller
//! clips and steps the optimiser on the first device; the next step forks fresh replicas from the updated
//! model, which is what keeps the replicas in sync.
//!
//! This is burn-train's "multi-device" scheme (threads, `fork`, gradients accumulated on one device) rather
//! than its all-reduce DDP, which needs `burn-collective` and keeps one optimiser per device. Here the
//! optimiser, its state and the checkpoint stay exactly as in single-device training.
//!
//! Only losses that are plain means over examples split this way: a class-weighted mean (divided by the sum
//! of the batch's weights) would need the weights' sum of the whole batch; the objectives of
//! [`crate::loss::Objective`] are plain means.
//!
//! Dropout draws from the backend's process-wide random generator; with several devices the threads reach it
//! in no fixed order, so multi-device runs with dropout are not bit-reproducible (single-device runs are).
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Bool, ElementConversion, FloatDType, Int, Tensor};
use re_data::encode::{EncodedBatch, EncodedExample};

use crate::error::{Result, TrainError};
use crate::loss::Objective;
use crate::model::{BatchTensors, RelationClassifier};
use crate::optim::upcast_grads;

/// The gradients of one batch and what the progress report needs.
pub struct BatchGradients {
    /// On the first device. Empty when `loss` is not finite (no backward pass was run).
    pub grads: GradientsParams,
    /// Mean loss over the batch's examples (unscaled).
    pub loss: f64,
    /// Entity spans that fell back to CLS.
    pub fallbacks: usize,
}

/// How shard gradients are prepared once on the first device, before they are summed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradPrep {
    /// Multiply each shard's loss by this before its backward pass (the f16 loss scale; 1 otherwise).
    pub loss_scale: f64,
    /// Cast gradients to this type (f32 for half-precision training; `None` keeps them as they are).
    pub upcast: Option<FloatDType>,
}

impl Default for GradPrep {
    fn default() -> Self {
        GradPrep { loss_scale: 1.0, upcast: None }
    }
}

/// Collate the examples `idx` into one padded batch.
pub(crate) fn collate(examples: &[EncodedExample], idx: &[usize], pad_id: u32) -> EncodedBatch {
    let refs: Vec<&EncodedExample> = idx.iter().map(|&i| &examples[i]).collect();
    EncodedBatch::collate(&refs, pad_id)
}

/// Split `idx` into at most `n` contiguous shards whose sizes differ by at most one; no shard is empty (a batch
/// smaller than `n` uses fewer devices).
pub fn shards(idx: &[usize], n: usize) -> Vec<&[usize]> {
    let n = n.clamp(1, idx.len().max(1));
    let (base, extra) = (idx.len() / n, idx.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        if len > 0 {
            out.push(&idx[start..start + len]);
        }
        start += len;
    }
    out
}

/// Forward + backward of the batch `idx` of `examples` on `devices` (the model lives on `devices[0]`).
///
/// One device with the default [`GradPrep`] runs exactly the single-device computation of earlier versions
/// (same operations in the same order, so the same numbers). Otherwise the batch is split over the devices as
/// the module documentation describes, and the gradients returned equal (up to float rounding) those of the
/// whole batch on one device.
pub fn batch_gradients<B: AutodiffBackend>(
    model: &RelationClassifier<B>,
    objective: &Objective,
    examples: &[EncodedExample],
    idx: &[usize],
    pad: u32,
    devices: &[B::Device],
    prep: GradPrep,
) -> Result<BatchGradients> {
    let first = devices.first().ok_or_else(|| TrainError::Config("no device to train on".into()))?;
    if devices.len() == 1 && prep == GradPrep::default() {
        return single_device(model, objective, examples, idx, pad, first);
    }
    materialize(model);
    let parts = shards(idx, devices.len());
    let total = idx.len() as f64;
    let jobs: Vec<_> = parts
        .iter()
        .zip(devices)
        .enumerate()
        .map(|(i, (&shard, device))| {
            let replica = model.clone();
            let weight = shard.len() as f64 / total;
            move || -> Result<ShardOutput> {
                // The first shard runs on the model itself; the others on a fork: own device, own graph.
                let replica = if i == 0 { replica } else { replica.fork(device) };
                let out = shard_pass(&replica, objective, examples, shard, pad, device, weight * prep.loss_scale)?;
                let mut grads = out.grads;
                if i > 0 {
                    grads = grads.to_device(first, &replica);
                }
                if let Some(dtype) = prep.upcast {
                    grads = upcast_grads(&replica, grads, dtype, 1.0 / prep.loss_scale);
                }
                Ok(ShardOutput { grads, loss: out.loss * weight, fallbacks: out.fallbacks })
            }
        })
        .collect();
    let outputs = run_concurrently(jobs)?;

    let mut loss = 0.0;
    let mut fallbacks = 0;
    let mut acc = GradientsAccumulator::<RelationClassifier<B>>::new();
    let mut finite = true;
    let n = outputs.len();
    let mut single = None;
    for out in outputs {
        finite &= out.loss.is_finite();
        loss += out.loss;
        fallbacks += out.fallbacks;
        if n == 1 {
            single = Some(out.grads);
        } else {
            acc.accumulate(model, out.grads);
        }
    }
    let grads = match single {
        Some(g) => g,
        None => acc.grads(),
    };
    let loss = if finite { loss } else { f64::NAN };
    Ok(BatchGradients { grads, loss, fallbacks })
}

/// Initialise every lazily initialised parameter of `model` in place. burn creates parameters on first use, and
/// a clone of a parameter that is not yet initialised initialises on its own, with fresh random values; replicas
/// cloned from a fresh model would then not share its weights. (The single-device path does not call this, so
/// its parameters still initialise during the first forward pass, as they always did.)
pub fn materialize<B: Backend, M: Module<B>>(model: &M) {
    struct Touch;
    impl<B: Backend> ModuleVisitor<B> for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _ = param.val();
        }
        fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<B, D, Int>>) {
            let _ = param.val();
        }
        fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<B, D, Bool>>) {
            let _ = param.val();
        }
    }
    model.visit(&mut Touch);
}

/// The single-device step of earlier versions, operation for operation.
fn single_device<B: AutodiffBackend>(
    model: &RelationClassifier<B>,
    objective: &Objective,
    examples: &[EncodedExample],
    idx: &[usize],
    pad: u32,
    device: &B::Device,
) -> Result<BatchGradients> {
    let batch = collate(examples, idx, pad);
    let x = BatchTensors::<B>::from_batch(&batch, device);
    let out = model.forward(&x);
    let fallbacks = out.fallback_count;
    let targets = x.labels.clone().ok_or_else(|| TrainError::Other("training batch without labels".into()))?;
    let loss = objective.forward(out.logits, targets);
    let loss_value: f64 = loss.clone().into_scalar().elem::<f64>();
    if !loss_value.is_finite() {
        return Ok(BatchGradients { grads: GradientsParams::new(), loss: loss_value, fallbacks });
    }
    let grads = GradientsParams::from_grads(loss.backward(), model);
    Ok(BatchGradients { grads, loss: loss_value, fallbacks })
}

struct ShardOutput {
    grads: GradientsParams,
    /// The shard's mean loss (already weighted by shard size / batch size in [`batch_gradients`]).
    loss: f64,
    fallbacks: usize,
}

/// Forward + backward of one shard on its replica; the gradients are those of `weight × mean shard loss`.
fn shard_pass<B: AutodiffBackend>(
    replica: &RelationClassifier<B>,
    objective: &Objective,
    examples: &[EncodedExample],
    shard: &[usize],
    pad: u32,
    device: &B::Device,
    weight: f64,
) -> Result<ShardOutput> {
    let batch = collate(examples, shard, pad);
    let x = BatchTensors::<B>::from_batch(&batch, device);
    let out = replica.forward(&x);
    let targets = x.labels.clone().ok_or_else(|| TrainError::Other("training batch without labels".into()))?;
    let loss = objective.forward(out.logits, targets);
    let weighted = if weight == 1.0 { loss.clone() } else { loss.clone().mul_scalar(weight) };
    let grads = GradientsParams::from_grads(weighted.backward(), replica);
    // Read after the backward pass is queued, so an asynchronous device is not stalled in between.
    let loss: f64 = loss.into_scalar().elem::<f64>();
    Ok(ShardOutput { grads, loss, fallbacks: out.fallback_count })
}

/// Run the first job on this thread and the others on scoped threads, all at once; results in job order.
fn run_concurrently<'a, T: Send + 'a>(jobs: Vec<impl FnOnce() -> Result<T> + Send + 'a>) -> Result<Vec<T>> {
    let mut jobs = jobs.into_iter();
    let Some(first) = jobs.next() else {
        return Ok(Vec::new());
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.map(|job| scope.spawn(job)).collect();
        let mut results = vec![first()];
        for handle in handles {
            results.push(handle.join().unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                Err(TrainError::Other(format!("a device thread panicked: {msg}")))
            }));
        }
        results.into_iter().collect()
    })
}

/// `true` when the backend's float type is half precision (f16/bf16).
pub fn is_half_backend<B: Backend>() -> bool {
    use burn::tensor::Element;
    matches!(<B::FloatElem as Element>::dtype(), burn::tensor::DType::F16 | burn::tensor::DType::BF16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_contiguous_balanced_and_never_empty() {
        let idx: Vec<usize> = (10..17).collect();
        let s = shards(&idx, 3);
        assert_eq!(s, vec![&[10, 11, 12][..], &[13, 14][..], &[15, 16][..]]);
        assert_eq!(shards(&idx, 1), vec![&idx[..]]);
        assert_eq!(shards(&idx[..2], 4), vec![&[10][..], &[11][..]]);
        assert_eq!(shards(&[], 2), Vec::<&[usize]>::new());
    }
}
