//! AdamW as HF Trainer uses it: no weight decay on biases and LayerNorm parameters, and global-norm
//! gradient clipping (`max_grad_norm`). burn's AdamW decays every parameter and clips per tensor, so we
//! split the parameters into two groups (two AdamW instances sharing the step) and clip across all of them.
//!
//! For half-precision training ([`crate::config::Precision`]) the model's weights are f16/bf16, which is too
//! coarse to accumulate small AdamW updates (a 3e-5 step on a weight of 0.05 is below half a bf16 ulp and rounds
//! away) and, in f16, too narrow for AdamW's ε and second moments. [`MasterAdamW`] therefore keeps an f32 master
//! copy of every weight plus f32 moments in its state, updates those, and hands the model the master rounded to
//! the model's precision. Gradients reach it already in f32 ([`upcast_grads`]).
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, GradientsParams, Optimizer, SimpleOptimizer};
use burn::record::{PrecisionSettings, Record};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, FloatDType, Tensor, TensorData, TensorPrimitive};
use burn_ndarray::NdArrayTensor;

/// Parameter ids split by whether weight decay applies.
#[derive(Debug, Default, Clone)]
pub struct ParamGroups {
    pub decay: Vec<ParamId>,
    pub no_decay: Vec<ParamId>,
}

struct GroupVisitor {
    path: Vec<String>,
    containers: Vec<String>,
    groups: ParamGroups,
}

impl<B: burn::tensor::backend::Backend> ModuleVisitor<B> for GroupVisitor {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_string());
        self.containers.push(container_type.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.containers.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let name = self.path.last().map(String::as_str).unwrap_or("");
        // The innermost struct holding this tensor (the last container that is a struct).
        let owner = self.containers.iter().rev().find(|c| c.starts_with("Struct:")).map(String::as_str).unwrap_or("");
        let is_norm = owner.contains("LayerNorm") || self.path.iter().any(|p| p.to_lowercase().contains("layer_norm"));
        if name == "bias" || name == "beta" || name == "gamma" || is_norm || D == 1 && owner.contains("Norm") {
            self.groups.no_decay.push(param.id);
        } else {
            self.groups.decay.push(param.id);
        }
    }
}

impl ParamGroups {
    pub fn of<B: burn::tensor::backend::Backend, M: Module<B>>(module: &M) -> Self {
        let mut v = GroupVisitor { path: Vec::new(), containers: Vec::new(), groups: ParamGroups::default() };
        module.visit(&mut v);
        v.groups
    }
}

/// Sum of squared gradient entries, over every float parameter that has a gradient.
struct SquaredNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    total: Option<Tensor<B::InnerBackend, 1>>,
    /// The part summed in place on burn-ndarray f32 ([`host_squared_sum`]).
    host_total: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            if let Some(sum) = host_squared_sum(&g) {
                self.host_total += sum;
                return;
            }
            // A half-precision gradient is squared and summed in f32 (a no-op cast for f32 gradients).
            let g = if is_half(g.dtype()) { g.cast(FloatDType::F32) } else { g };
            let s = g.powi_scalar(2).sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

/// `Σ g²` of a burn-ndarray f32 gradient read where it lies, or `None` on other backends and layouts. burn's
/// `powi(2).sum()` writes a squared copy of every gradient first (a parameter-sized buffer: half of a roberta-base
/// CPU step's clipping time).
fn host_squared_sum<B: Backend, const D: usize>(g: &Tensor<B, D>) -> Option<f64> {
    if std::any::TypeId::of::<B>() != std::any::TypeId::of::<Host>() {
        return None;
    }
    let g: Tensor<Host, D> = same(g.clone());
    let NdArrayTensor::F32(storage) = g.into_primitive().tensor() else {
        return None;
    };
    let view = storage.view();
    view.as_slice().map(squared_sum)
}

/// `Σ v²` in f64, eight independent sums per task so the loop vectorises.
fn squared_sum(values: &[f32]) -> f64 {
    use rayon::prelude::*;
    values
        .par_chunks(TASK_ELEMENTS)
        .map(|chunk| {
            let mut lanes = [0f64; 8];
            let blocks = chunk.chunks_exact(8);
            let tail: f64 = blocks.remainder().iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            for block in blocks {
                for (lane, &v) in lanes.iter_mut().zip(block) {
                    *lane += f64::from(v) * f64::from(v);
                }
            }
            lanes.iter().sum::<f64>() + tail
        })
        .sum()
}

struct Scale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    factor: f64,
    _b: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Clip gradients so their global L2 norm is at most `max_norm` (as `torch.nn.utils.clip_grad_norm_`);
/// returns the norm before clipping.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let mut v = SquaredNorm::<B> { grads, total: None, host_total: 0.0 };
    module.visit(&mut v);
    let norm = match v.total {
        Some(t) => (t.into_scalar().to_f64() + v.host_total).sqrt(),
        None => v.host_total.sqrt(),
    };
    if max_norm > 0.0 && norm.is_finite() {
        let coef = max_norm / (norm + 1e-6);
        if coef < 1.0 {
            module.visit(&mut Scale::<B> { grads, factor: coef, _b: std::marker::PhantomData });
        }
    }
    norm
}

use burn::tensor::ElementConversion;
trait ToF64 {
    fn to_f64(self) -> f64;
}
impl<E: ElementConversion> ToF64 for E {
    fn to_f64(self) -> f64 {
        self.elem::<f64>()
    }
}

fn is_half(dtype: DType) -> bool {
    matches!(dtype, DType::F16 | DType::BF16)
}

/// Cast every gradient of `module` to `dtype` and multiply it by `factor` (after the cast, so a loss-scale
/// factor never underflows in f16). Used for half-precision training: clipping and [`MasterAdamW`] then work
/// on f32 gradients.
pub fn upcast_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: GradientsParams,
    dtype: FloatDType,
    factor: f64,
) -> GradientsParams {
    struct Upcast<B: AutodiffBackend> {
        from: GradientsParams,
        to: GradientsParams,
        dtype: FloatDType,
        factor: f64,
        _b: std::marker::PhantomData<B>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Upcast<B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.from.remove::<B::InnerBackend, D>(param.id) {
                let g = g.cast(self.dtype);
                let g = if self.factor == 1.0 { g } else { g.mul_scalar(self.factor) };
                self.to.register(param.id, g);
            }
        }
    }
    let mut v = Upcast::<B> { from: grads, to: GradientsParams::new(), dtype, factor, _b: std::marker::PhantomData };
    module.visit(&mut v);
    v.to
}

/// AdamW with an f32 master copy of each weight (see the module docs). The arithmetic is burn's AdamW
/// (decoupled decay `w ← w·(1 − lr·wd) − lr·m̂/(√v̂ + ε)`), done in `master_dtype` on the master weights and moments;
/// the returned weight is the master cast to the weight's own dtype.
#[derive(Clone, Debug)]
pub struct MasterAdamW {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    /// Precision of the master weights and moments (f32; tests use f64 to check the plumbing on CPU).
    pub master_dtype: FloatDType,
}

/// [`MasterAdamW`]'s per-parameter state.
#[derive(Clone, Debug)]
pub struct MasterAdamWState<B: Backend, const D: usize> {
    pub master: Tensor<B, D>,
    pub moment_1: Tensor<B, D>,
    pub moment_2: Tensor<B, D>,
    pub time: usize,
}

/// Saved form of [`MasterAdamWState`]. burn's tensor record converts to the backend's float type on load, which
/// would round the master weights to half precision; `TensorData` keeps their own dtype.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MasterAdamWStateItem {
    pub master: TensorData,
    pub moment_1: TensorData,
    pub moment_2: TensorData,
    pub time: usize,
}

impl<B: Backend, const D: usize> Record<B> for MasterAdamWState<B, D> {
    type Item<S: PrecisionSettings> = MasterAdamWStateItem;

    fn into_item<S: PrecisionSettings>(self) -> Self::Item<S> {
        MasterAdamWStateItem {
            master: self.master.into_data(),
            moment_1: self.moment_1.into_data(),
            moment_2: self.moment_2.into_data(),
            time: self.time,
        }
    }

    fn from_item<S: PrecisionSettings>(item: Self::Item<S>, device: &B::Device) -> Self {
        let load = |data: TensorData| {
            let dtype = data.dtype;
            Tensor::<B, D>::from_data(data, (device, dtype))
        };
        MasterAdamWState {
            master: load(item.master),
            moment_1: load(item.moment_1),
            moment_2: load(item.moment_2),
            time: item.time,
        }
    }
}

impl<B: Backend> SimpleOptimizer<B> for MasterAdamW {
    type State<const D: usize> = MasterAdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let weight_dtype = tensor.dtype();
        let grad = grad.cast(self.master_dtype);
        let (b1, b2) = (self.beta_1 as f64, self.beta_2 as f64);
        let (master, moment_1, moment_2, time) = match state {
            Some(s) => (
                s.master,
                s.moment_1.mul_scalar(b1).add(grad.clone().mul_scalar(1.0 - b1)),
                s.moment_2.mul_scalar(b2).add(grad.square().mul_scalar(1.0 - b2)),
                s.time + 1,
            ),
            // First step: the master starts from the model's weight (already rounded if the model is half).
            None => (
                tensor.cast(self.master_dtype),
                grad.clone().mul_scalar(1.0 - b1),
                grad.square().mul_scalar(1.0 - b2),
                1,
            ),
        };
        let t = time as i32;
        let m_hat = moment_1.clone().div_scalar(1.0 - b1.powi(t));
        let v_hat = moment_2.clone().div_scalar(1.0 - b2.powi(t));
        let delta = m_hat.div(v_hat.sqrt().add_scalar(self.epsilon as f64));
        let decay = lr * self.weight_decay as f64;
        let master = if decay == 0.0 { master } else { master.mul_scalar(1.0 - decay) };
        let master = master - delta.mul_scalar(lr);
        let weight = master.clone().cast(weight_dtype);
        (weight, Some(MasterAdamWState { master, moment_1, moment_2, time }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        MasterAdamWState {
            master: state.master.to_device(device),
            moment_1: state.moment_1.to_device(device),
            moment_2: state.moment_2.to_device(device),
            time: state.time,
        }
    }
}

/// burn's AdamW (same arithmetic, same state and checkpoint records), whose step on burn-ndarray f32 is one pass
/// over the parameter: burn's composition is ~15 element-wise tensor ops per parameter (moments, bias corrections,
/// √, division, decay, update), each a pass over memory into a fresh buffer, which made the optimizer 0.4–1 s of a
/// roberta-base CPU step. Here each element is read once and the parameter and moments are updated in place (a
/// copy first only when a buffer is shared). The per-element operations and their order are burn's, so the
/// result is the same to the bit (tested). Other backends run burn's AdamW unchanged.
#[derive(Clone)]
pub struct FusedAdamW {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    generic: AdamW,
}

impl FusedAdamW {
    /// AdamW with torch's betas and ε (as HF Trainer) and decoupled weight decay `weight_decay`.
    pub fn new(weight_decay: f32) -> Self {
        Self::with(BETA_1, BETA_2, EPSILON, weight_decay)
    }

    /// AdamW with explicit hyper-parameters.
    pub fn with(beta_1: f32, beta_2: f32, epsilon: f32, weight_decay: f32) -> Self {
        let generic = AdamWConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay)
            .build();
        Self { beta_1, beta_2, epsilon, weight_decay, generic }
    }

    /// One fused step on host values, or the inputs back when a tensor is not f32 in standard layout.
    #[allow(clippy::type_complexity)]
    fn host_step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<Host, D>,
        grad: Tensor<Host, D>,
        state: Option<AdamWState<Host, D>>,
    ) -> Result<(Tensor<Host, D>, AdamWState<Host, D>), (Tensor<Host, D>, Tensor<Host, D>, Option<AdamWState<Host, D>>)>
    {
        // Checked on clones dropped at once, so that the buffers taken below are uniquely owned again (a clone kept
        // alive would make every in-place update copy the parameter first).
        let host_f32 = |t: &Tensor<Host, D>| matches!(t.clone().into_primitive().tensor(), NdArrayTensor::F32(s) if s.view().is_standard_layout());
        let amsgrad = state.as_ref().is_some_and(|s| s.momentum.max_moment_2.is_some());
        let moments_ok =
            state.as_ref().is_none_or(|s| host_f32(&s.momentum.moment_1) && host_f32(&s.momentum.moment_2));
        if amsgrad || !host_f32(&tensor) || !host_f32(&grad) || !moments_ok {
            return Err((tensor, grad, state));
        }
        let shape = tensor.shape();
        let n = shape.num_elements();
        let array = |t: Tensor<Host, D>| match t.into_primitive().tensor() {
            // Unique: no copy; shared elsewhere: ndarray copies on the first mutable access.
            NdArrayTensor::F32(storage) => storage.into_shared(),
            _ => unreachable!("checked above"),
        };
        let grad_array = array(grad);
        let g = grad_array.as_slice().expect("standard layout (checked above)");
        let mut weights = array(tensor);
        let (time, mut m, mut v) = match state {
            Some(AdamWState { momentum }) => (momentum.time + 1, array(momentum.moment_1), array(momentum.moment_2)),
            // Zero moments give burn's first step exactly: 0·β + x = x.
            None => {
                let zeros = || burn_ndarray::SharedArray::<f32>::zeros(shape.dims::<D>().to_vec());
                (1, zeros(), zeros())
            }
        };
        let (w, m_values, v_values) = (
            weights.as_slice_mut().expect("standard layout"),
            m.as_slice_mut().expect("standard layout"),
            v.as_slice_mut().expect("standard layout"),
        );
        assert_eq!((w.len(), g.len(), m_values.len(), v_values.len()), (n, n, n, n), "AdamW shapes");
        // burn's scalars, converted to f32 where burn converts them.
        let t = time as i32;
        let scalars = AdamWScalars {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            factor_1: 1.0 - self.beta_1,
            factor_2: 1.0 - self.beta_2,
            correction_1: 1f32 - self.beta_1.powi(t),
            correction_2: 1f32 - self.beta_2.powi(t),
            epsilon: self.epsilon,
            keep: {
                let decay_rate = lr * self.weight_decay as f64;
                (decay_rate != 0.0).then_some((1.0 - decay_rate) as f32)
            },
            lr: lr as f32,
        };
        adamw_pass(&scalars, w, g, m_values, v_values);
        let tensor = |array| Tensor::<Host, D>::from_primitive(TensorPrimitive::Float(NdArrayTensor::from(array)));
        let momentum = AdaptiveMomentumState { time, moment_1: tensor(m), moment_2: tensor(v), max_moment_2: None };
        Ok((tensor(weights), AdamWState { momentum }))
    }
}

/// burn-ndarray f32, the backend the fused step runs on.
type Host = burn::backend::NdArray<f32>;

/// `value` as a `U`, for a caller that has checked that `T` is `U` (the backend's `TypeId`).
fn same<T: 'static, U: 'static>(value: T) -> U {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<U>>() {
        Some(same) => same.take().expect("just filled"),
        None => unreachable!("the backend was checked by the caller"),
    }
}

struct AdamWScalars {
    beta_1: f32,
    beta_2: f32,
    factor_1: f32,
    factor_2: f32,
    correction_1: f32,
    correction_2: f32,
    epsilon: f32,
    /// `1 − lr·wd`, or none without decay (burn then skips the multiplication).
    keep: Option<f32>,
    lr: f32,
}

/// Elements per parallel task: large enough that rayon's hand-off is noise next to the pass.
const TASK_ELEMENTS: usize = 1 << 16;

/// The update of every element, in burn's order of operations: `m ← m·β₁ + g·(1−β₁)`, `v ← v·β₂ + g²·(1−β₂)`,
/// `w ← w·(1 − lr·wd) − (m/c₁) / (√(v/c₂) + ε) · lr`.
fn adamw_pass(s: &AdamWScalars, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    use rayon::prelude::*;
    let update = |(((w, g), m), v): (((&mut [f32], &[f32]), &mut [f32]), &mut [f32])| {
        for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = *m * s.beta_1 + g * s.factor_1;
            *v = *v * s.beta_2 + g * g * s.factor_2;
            let delta = (*m / s.correction_1) / ((*v / s.correction_2).sqrt() + s.epsilon);
            let decayed = match s.keep {
                Some(keep) => *w * keep,
                None => *w,
            };
            *w = decayed - delta * s.lr;
        }
    };
    w.par_chunks_mut(TASK_ELEMENTS)
        .zip(g.par_chunks(TASK_ELEMENTS))
        .zip(m.par_chunks_mut(TASK_ELEMENTS))
        .zip(v.par_chunks_mut(TASK_ELEMENTS))
        .for_each(update);
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        if std::any::TypeId::of::<B>() != std::any::TypeId::of::<Host>() {
            return self.generic.step(lr, tensor, grad, state);
        }
        let host = self.host_step::<D>(lr, same(tensor), same(grad), state.map(same));
        match host {
            Ok((tensor, state)) => (same(tensor), Some(same(state))),
            Err((tensor, grad, state)) => {
                let (tensor, state) = self.generic.step(lr, tensor, grad, state);
                (same(tensor), state.map(same))
            }
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}

/// Two AdamW instances (with and without weight decay) that step together. `O` is [`FusedAdamW`] for f32
/// training and [`MasterAdamW`] for half precision.
pub struct GroupedAdamW<B: AutodiffBackend, M: AutodiffModule<B>, O: SimpleOptimizer<B::InnerBackend> = FusedAdamW> {
    pub groups: ParamGroups,
    pub decay: OptimizerAdaptor<O, M, B>,
    pub no_decay: OptimizerAdaptor<O, M, B>,
}

/// What gets checkpointed for `--resume`.
pub type GroupedAdamWRecord<B, M, O = FusedAdamW> =
    (<OptimizerAdaptor<O, M, B> as Optimizer<M, B>>::Record, <OptimizerAdaptor<O, M, B> as Optimizer<M, B>>::Record);

// torch.optim.AdamW defaults (betas 0.9/0.999, eps 1e-8), as HF Trainer uses them.
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-8;

impl<B: AutodiffBackend, M: AutodiffModule<B>> GroupedAdamW<B, M, FusedAdamW> {
    pub fn new(module: &M, weight_decay: f64) -> Self {
        GroupedAdamW {
            groups: ParamGroups::of::<B, M>(module),
            decay: OptimizerAdaptor::from(FusedAdamW::new(weight_decay as f32)),
            no_decay: OptimizerAdaptor::from(FusedAdamW::new(0.0)),
        }
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> GroupedAdamW<B, M, MasterAdamW> {
    /// The half-precision variant: master weights and moments in `master_dtype` (f32 in training).
    pub fn with_master(module: &M, weight_decay: f64, master_dtype: FloatDType) -> Self {
        let base = MasterAdamW { beta_1: BETA_1, beta_2: BETA_2, epsilon: EPSILON, weight_decay: 0.0, master_dtype };
        GroupedAdamW {
            groups: ParamGroups::of::<B, M>(module),
            decay: OptimizerAdaptor::from(MasterAdamW { weight_decay: weight_decay as f32, ..base.clone() }),
            no_decay: OptimizerAdaptor::from(base),
        }
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>, O: SimpleOptimizer<B::InnerBackend>> GroupedAdamW<B, M, O> {
    /// One update with learning rate `lr`.
    pub fn step(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M {
        // Move the no-decay gradients into their own container; the rest stay in `grads`.
        let mut nd = GradientsParams::new();
        let mut mover =
            Mover::<B> { from: &mut grads, to: &mut nd, ids: &self.groups.no_decay, _b: Default::default() };
        module.visit(&mut mover);
        let module = self.decay.step(lr, module, grads);
        self.no_decay.step(lr, module, nd)
    }

    pub fn to_record(&self) -> GroupedAdamWRecord<B, M, O> {
        (self.decay.to_record(), self.no_decay.to_record())
    }

    pub fn load_record(self, record: GroupedAdamWRecord<B, M, O>) -> Self {
        GroupedAdamW {
            groups: self.groups,
            decay: self.decay.load_record(record.0),
            no_decay: self.no_decay.load_record(record.1),
        }
    }
}

struct Mover<'a, B: AutodiffBackend> {
    from: &'a mut GradientsParams,
    to: &'a mut GradientsParams,
    ids: &'a [ParamId],
    _b: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Mover<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if self.ids.contains(&param.id) {
            if let Some(g) = self.from.remove::<B::InnerBackend, D>(param.id) {
                self.to.register(param.id, g);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[track_caller]
    fn values<const D: usize>(t: &Tensor<Host, D>) -> Vec<f32> {
        let data = t.clone().into_data();
        let dtype = data.dtype;
        data.to_vec().unwrap_or_else(|e| panic!("{dtype:?}: {e:?}"))
    }

    /// Four steps of the fused pass and of burn's AdamW from the same start, with and without decay, over a tensor
    /// split into several parallel chunks: parameters and both moments equal to the bit, and a clone of the
    /// parameter held elsewhere (as a checkpoint or the caller may hold one) keeps its old values.
    #[test]
    fn fused_adamw_matches_burns_adamw_to_the_bit() {
        let device = Default::default();
        for weight_decay in [0.01f32, 0.0] {
            let fused = FusedAdamW::new(weight_decay);
            let burn = AdamWConfig::new()
                .with_beta_1(BETA_1)
                .with_beta_2(BETA_2)
                .with_epsilon(EPSILON)
                .with_weight_decay(weight_decay)
                .build();
            let start = Tensor::<Host, 2>::random([3, TASK_ELEMENTS + 123], Distribution::Normal(0.0, 0.05), &device);
            let (mut a, mut b) = (start.clone(), Tensor::<Host, 2>::from_data(start.to_data(), &device));
            let before = values(&start);
            let (mut state_a, mut state_b) = (None, None);
            for step in 0..4 {
                // Gradients spanning scales, with exact zeros (where ε dominates).
                let grad = Tensor::<Host, 2>::random(a.shape(), Distribution::Normal(0.0, 10f64.powi(-step)), &device)
                    .mask_fill(start.clone().lower_elem(-0.06), 0.0);
                let lr = 1e-3 / (step + 1) as f64;
                let (held, held_values) = (a.clone(), values(&a));
                let (next_a, next_state_a) = fused.step(lr, a, grad.clone(), state_a);
                let (next_b, next_state_b) = burn.step(lr, b, grad, state_b);
                assert_eq!(values(&held), held_values, "a clone held elsewhere was written through");
                assert_ne!(values(&held), values(&next_a), "the step changed nothing");
                assert_eq!(values(&next_a), values(&next_b), "parameters after step {step} (decay {weight_decay})");
                let (sa, sb) = (next_state_a.clone().unwrap(), next_state_b.clone().unwrap());
                assert_eq!(sa.momentum.time, sb.momentum.time);
                assert_eq!(values(&sa.momentum.moment_1), values(&sb.momentum.moment_1), "first moment");
                assert_eq!(values(&sa.momentum.moment_2), values(&sb.momentum.moment_2), "second moment");
                (a, b, state_a, state_b) = (next_a, next_b, next_state_a, next_state_b);
            }
            assert_eq!(values(&start), before, "the caller's starting tensor was written through");
        }
    }

    /// The global norm summed in place on burn-ndarray equals an f64 sum over the gradients' values (a weight that
    /// spans several parallel chunks, its bias, lengths that are not multiples of eight), and clipping brings it
    /// down to `max_norm`.
    #[test]
    fn global_norm_summed_in_place_equals_the_gradients_norm_and_clips_to_the_limit() {
        use burn::backend::Autodiff;
        use burn::nn::LinearConfig;
        type Tape = Autodiff<Host>;
        let device = Default::default();
        let module = LinearConfig::new(301, 437).init::<Tape>(&device);
        let x = Tensor::<Tape, 2>::random([5, 301], Distribution::Normal(0.0, 1.0), &device);
        let grads = GradientsParams::from_grads(module.forward(x).powi_scalar(2).sum().backward(), &module);
        let squares = |grads: &GradientsParams| {
            let weight = grads.get::<Host, 2>(module.weight.id).expect("∂W");
            let bias = grads.get::<Host, 1>(module.bias.as_ref().expect("a bias").id).expect("∂b");
            assert!(weight.shape().num_elements() > 2 * TASK_ELEMENTS, "the weight should span several chunks");
            values(&weight).iter().chain(&values(&bias)).map(|&v| f64::from(v) * f64::from(v)).sum::<f64>()
        };
        let expected = squares(&grads).sqrt();
        let mut clipped = grads;
        let norm = clip_global_norm::<Tape, _>(&module, &mut clipped, 1.0);
        assert!((norm - expected).abs() <= 1e-9 * expected, "norm {norm} vs {expected}");
        assert!(norm > 1.0, "the test needs a norm above the limit, got {norm}");
        let after = squares(&clipped).sqrt();
        assert!((after - 1.0).abs() < 1e-5, "clipped norm {after}");
    }

    /// A parameter that is not in standard layout (a transposed view) goes through burn's ops, same values.
    /// (Other backends take burn's path by type; CI's wgpu training-parity test runs it.)
    #[test]
    fn strided_parameters_fall_back_to_burns_ops() {
        let device = Default::default();
        let fused = FusedAdamW::new(0.01);
        let burn = AdamWConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(EPSILON)
            .with_weight_decay(0.01)
            .build();
        let w = Tensor::<Host, 2>::random([5, 7], Distribution::Normal(0.0, 1.0), &device).swap_dims(0, 1);
        let g = Tensor::<Host, 2>::random([7, 5], Distribution::Normal(0.0, 1.0), &device);
        let (a, state) = fused.step(1e-2, w.clone(), g.clone(), None);
        let (b, _) = burn.step(1e-2, w, g, None);
        assert_eq!(values(&a), values(&b));
        assert_eq!(state.expect("a state").momentum.time, 1);
    }
}
