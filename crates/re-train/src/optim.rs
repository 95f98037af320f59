//! AdamW as HF Trainer uses it: no weight decay on biases and LayerNorm parameters, and global-norm
//! gradient clipping (`max_grad_norm`). burn's AdamW decays every parameter and clips per tensor, so we
//! split the parameters into two groups (two AdamW instances sharing the step) and clip across all of them.
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

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
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let s = g.powi_scalar(2).sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
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
    let mut v = SquaredNorm::<B> { grads, total: None };
    module.visit(&mut v);
    let norm = match v.total {
        Some(t) => t.into_scalar().to_f64().sqrt(),
        None => return 0.0,
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

/// Two AdamW instances (with and without weight decay) that step together.
pub struct GroupedAdamW<B: AutodiffBackend, M: AutodiffModule<B>> {
    pub groups: ParamGroups,
    pub decay: OptimizerAdaptor<AdamW, M, B>,
    pub no_decay: OptimizerAdaptor<AdamW, M, B>,
}

/// What gets checkpointed for `--resume`.
pub type GroupedAdamWRecord<B, M> = (
    <OptimizerAdaptor<AdamW, M, B> as Optimizer<M, B>>::Record,
    <OptimizerAdaptor<AdamW, M, B> as Optimizer<M, B>>::Record,
);

impl<B: AutodiffBackend, M: AutodiffModule<B>> GroupedAdamW<B, M> {
    pub fn new(module: &M, weight_decay: f64) -> Self {
        // torch.optim.AdamW defaults (betas 0.9/0.999, eps 1e-8), as HF Trainer uses them.
        let base = AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8);
        GroupedAdamW {
            groups: ParamGroups::of::<B, M>(module),
            decay: base.clone().with_weight_decay(weight_decay as f32).init(),
            no_decay: base.with_weight_decay(0.0).init(),
        }
    }

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

    pub fn to_record(&self) -> GroupedAdamWRecord<B, M> {
        (self.decay.to_record(), self.no_decay.to_record())
    }

    pub fn load_record(self, record: GroupedAdamWRecord<B, M>) -> Self {
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
