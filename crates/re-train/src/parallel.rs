//! One optimiser step's forward + backward, on one device or data-parallel over several.
//!
//! With several devices, the batch is split into one contiguous shard per device (sizes differ by at most one,
//! each shard padded to its own longest example). Every device runs forward + backward of its shard at the same
//! time, on its own thread and its own replica of the model: the first device uses the model itself, the others
//! a copy made with [`Module::fork`] (a copy on that device with its own autodiff graph, same parameter ids). The
//! training loss is a mean over examples, so each shard's loss is weighted by `shard_size / batch_size` before
//! its backward pass; the sum of the shard gradients is then the gradient of the whole batch's mean loss.
//!
//! The sum is an all-reduce of burn's collective engine (`burn-collective`, the one burn-train's DDP uses):
//! each device thread registers as a peer ([`burn::collective::PeerId`] = its shard index), all-reduces its
//! gradients and leaves the collective, once per step. The gradients travel as one flat tensor, every parameter
//! in module order with the shard's weighted loss and fallback count appended: one all-reduce instead of one per
//! parameter, and the same layout in every process (parameter ids are random per process, so burn's
//! `GradientsParams::all_reduce`, which orders by id, cannot be used across nodes). Every peer then holds the
//! whole batch's gradients, loss and fallback count on its own device. Across nodes
//! ([`batch_gradients_on_nodes`], [`crate::distributed`]) the same all-reduce also sums over the other nodes.
//!
//! **One optimiser, on the first device.** The caller clips and steps the optimiser with the first device's
//! reduced gradients; the next step forks fresh replicas from the updated model, which keeps them in sync. The
//! other devices' copies of the reduced gradients are dropped. burn-train's DDP instead keeps one optimiser per
//! device, each stepping on its own copy; that spares the per-step fork (a parameter copy per device) but holds
//! the AdamW state once per device and makes the checkpoint depend on the device count. Keeping one optimiser
//! keeps the optimiser state, the checkpoint and `--resume` exactly as in single-device training (a 2-GPU run
//! can resume on one), which this project values more than the fork's copy: for the tiny model the fork is
//! small next to the step (measured in docs/distributed.md).
//!
//! burn-collective's local server is one per backend type and process, so concurrent multi-device steps in one
//! process (tests, two trainers) are serialised by a process-wide lock around the collective part of a step.
//! Every peer all-reduces the same set of parameters (a parameter without a gradient on some shard gets zeros),
//! and a shard whose forward/backward fails or panics still takes part with zero gradients before reporting its
//! error, so a failure on one device never leaves the others waiting in the all-reduce.
//!
//! Only losses that are plain means over examples split this way: a class-weighted mean (divided by the sum
//! of the batch's weights) would need the weights' sum of the whole batch; the objectives of
//! [`crate::loss::Objective`] are plain means.
//!
//! Dropout draws from the backend's process-wide random generator; with several devices the threads reach it
//! in no fixed order, so multi-device runs with dropout are not bit-reproducible (single-device runs are).
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, PoisonError};

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Bool, ElementConversion, FloatDType, Int, Tensor, TensorData};
use re_data::encode::{EncodedBatch, EncodedExample};

use crate::distributed::{read_vector, small_vector, NodeGroup, Peers};
use crate::error::{Result, TrainError};
use crate::loss::Objective;
use crate::model::{BatchTensors, RelationClassifier};
use crate::optim::upcast_grads;

/// The gradients of one batch and what the progress report needs.
pub struct BatchGradients {
    /// On the first device. Empty when `loss` is not finite on a single device (no backward pass was run).
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
    split_evenly(idx, n).into_iter().filter(|s| !s.is_empty()).collect()
}

/// Exactly `n` contiguous parts whose sizes differ by at most one (the last ones empty when `idx` is shorter).
fn split_evenly(idx: &[usize], n: usize) -> Vec<&[usize]> {
    let (base, extra) = (idx.len() / n, idx.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(&idx[start..start + len]);
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
    batch_gradients_on_nodes(model, objective, examples, idx, pad, devices, prep, None)
}

/// [`batch_gradients`], on every node of `nodes` when set: the batch `idx` (the same on every node) is split over
/// all devices of all nodes (every node must list as many devices), this process computes its devices' shards,
/// and the gradients, the loss and the fallback count returned are the sums over every node.
#[allow(clippy::too_many_arguments)]
pub fn batch_gradients_on_nodes<B: AutodiffBackend>(
    model: &RelationClassifier<B>,
    objective: &Objective,
    examples: &[EncodedExample],
    idx: &[usize],
    pad: u32,
    devices: &[B::Device],
    prep: GradPrep,
    nodes: Option<&NodeGroup>,
) -> Result<BatchGradients> {
    let first = devices.first().ok_or_else(|| TrainError::Config("no device to train on".into()))?;
    if devices.len() == 1 && prep == GradPrep::default() && nodes.is_none() {
        return single_device(model, objective, examples, idx, pad, first);
    }
    materialize(model);
    // Across nodes every device of every node takes part, with an empty shard if the batch is short; in one
    // process a short batch uses fewer devices.
    let parts: Vec<&[usize]> = match nodes {
        Some(n) => {
            let all = split_evenly(idx, n.nodes() as usize * devices.len());
            let rank = n.rank() as usize;
            all[rank * devices.len()..(rank + 1) * devices.len()].to_vec()
        }
        None => shards(idx, devices.len()),
    };
    let peers = Peers { nodes, local: parts.len() };
    let collective = nodes.is_some() || parts.len() > 1;
    let total = idx.len() as f64;
    // One collective at a time per process: burn-collective's local server is process-wide.
    let _collective = collective.then(collective_lock);
    if parts.len() > 1 {
        peers.ready("the gradient all-reduce")?;
    }
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
                let pass = if shard.is_empty() {
                    Ok(ShardOutput { grads: GradientsParams::new(), loss: 0.0, fallbacks: 0 })
                } else {
                    catch_unwind(AssertUnwindSafe(|| {
                        shard_pass(&replica, objective, examples, shard, pad, device, weight * prep.loss_scale)
                    }))
                    .unwrap_or_else(|panic| {
                        Err(TrainError::Other(format!("device {i} panicked: {}", panic_message(&*panic))))
                    })
                };
                let (mut grads, outcome) = match pass {
                    Ok(out) => (out.grads, Ok((out.loss * weight, out.fallbacks))),
                    Err(e) => (GradientsParams::new(), Err(e)),
                };
                if let (Some(dtype), Ok(_)) = (prep.upcast, &outcome) {
                    grads = upcast_grads(&replica, grads, dtype, 1.0 / prep.loss_scale);
                }
                if !collective {
                    let (loss, fallbacks) = outcome?;
                    return Ok(ShardOutput { grads, loss, fallbacks });
                }
                // A failed shard still takes part (zeros), so that no peer waits for it.
                let (loss, fallbacks) = outcome.as_ref().map_or((0.0, 0), |o| *o);
                let flat = flatten_grads(&replica, grads, prep.upcast, [loss, fallbacks as f64]);
                let summed = peers.sum::<B::InnerBackend>(i, device, flat, "the gradient all-reduce")?;
                outcome?;
                let (grads, [loss, fallbacks]) = unflatten_grads(&replica, summed)?;
                Ok(ShardOutput { grads, loss, fallbacks: fallbacks.round() as usize })
            }
        })
        .collect();
    let outputs = run_concurrently(jobs)?;
    // With a collective every peer holds the sums (gradients, loss, fallbacks); the optimiser steps with the
    // first device's. Without one there is a single output.
    let out = outputs.into_iter().next().ok_or_else(|| TrainError::Other("no device ran the step".into()))?;
    Ok(BatchGradients { grads: out.grads, loss: out.loss, fallbacks: out.fallbacks })
}

/// Held during the collective part of a multi-device step (see the module documentation).
static COLLECTIVE: Mutex<()> = Mutex::new(());

/// One collective operation at a time in this process.
pub(crate) fn collective_lock() -> MutexGuard<'static, ()> {
    COLLECTIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every float parameter's gradient in module order (zeros where there is none, in `upcast`'s type if set), one
/// 1-D tensor with `extras` appended: the same layout on every peer and every process, whatever the parameter ids.
fn flatten_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: GradientsParams,
    upcast: Option<FloatDType>,
    extras: [f64; 2],
) -> Tensor<B::InnerBackend, 1> {
    struct Flatten<B: AutodiffBackend> {
        grads: GradientsParams,
        upcast: Option<FloatDType>,
        parts: Vec<Tensor<B::InnerBackend, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let grad = self.grads.remove::<B::InnerBackend, D>(param.id).unwrap_or_else(|| {
                let zeros = param.val().inner().zeros_like();
                match self.upcast {
                    Some(dtype) => zeros.cast(dtype),
                    None => zeros,
                }
            });
            let n = grad.shape().num_elements();
            self.parts.push(grad.reshape([n]));
        }
    }
    let mut visitor = Flatten::<B> { grads, upcast, parts: Vec::new() };
    module.visit(&mut visitor);
    let mut parts = visitor.parts;
    let device = parts.first().map(|p| p.device()).unwrap_or_default();
    let extras: Vec<f32> = extras.iter().map(|&v| v as f32).collect();
    let tail = match parts.first() {
        Some(like) => small_vector(&extras, like, &device),
        None => Tensor::from_data(TensorData::new(extras, [2]), &device),
    };
    parts.push(tail);
    Tensor::cat(parts, 0)
}

/// The inverse of [`flatten_grads`]: the gradients under `module`'s parameter ids, and the two extras.
fn unflatten_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    flat: Tensor<B::InnerBackend, 1>,
) -> Result<(GradientsParams, [f64; 2])> {
    struct Unflatten<B: AutodiffBackend> {
        flat: Tensor<B::InnerBackend, 1>,
        offset: usize,
        grads: GradientsParams,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Unflatten<B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let shape = param.val().shape();
            let n = shape.num_elements();
            let grad = self.flat.clone().slice(self.offset..self.offset + n).reshape(shape);
            self.offset += n;
            self.grads.register::<B::InnerBackend, D>(param.id, grad);
        }
    }
    let len = flat.shape().num_elements();
    let mut visitor = Unflatten::<B> { flat: flat.clone(), offset: 0, grads: GradientsParams::new() };
    module.visit(&mut visitor);
    if visitor.offset + 2 != len {
        return Err(TrainError::Other(format!(
            "the reduced gradients have {len} values, the model {} (+2): do all nodes train the same model?",
            visitor.offset
        )));
    }
    let extras = read_vector(flat.slice(len - 2..len))?;
    Ok((visitor.grads, [extras[0], extras[1]]))
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
                Err(TrainError::Other(format!("a device thread panicked: {}", panic_message(&*panic))))
            }));
        }
        results.into_iter().collect()
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
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
