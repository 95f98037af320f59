//! Learning-rate schedules with linear warmup, matching `transformers.get_scheduler`:
//! `linear`, `cosine` (half cosine to 0), `polynomial` (to `lr_end = 1e-7` with `power`), `constant`.
use crate::config::SchedulerKind;
use serde::{Deserialize, Serialize};

/// The learning rate as a pure function of the optimizer step, so resuming needs only the step count.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    pub kind: SchedulerKind,
    pub base_lr: f64,
    pub warmup_steps: usize,
    pub total_steps: usize,
    pub poly_power: f64,
}

/// HF's `get_polynomial_decay_schedule_with_warmup` default end learning rate.
const POLY_LR_END: f64 = 1e-7;

impl LrSchedule {
    pub fn new(kind: SchedulerKind, base_lr: f64, total_steps: usize, warmup_ratio: f64, poly_power: f64) -> Self {
        // HF: warmup_steps = ceil(warmup_ratio * total_steps)
        let warmup_steps = (warmup_ratio * total_steps as f64).ceil() as usize;
        LrSchedule { kind, base_lr, warmup_steps, total_steps, poly_power }
    }

    /// Learning rate used for optimizer step `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        let lr = self.base_lr;
        if step < self.warmup_steps {
            return lr * step as f64 / self.warmup_steps.max(1) as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / decay_steps).min(1.0);
        match self.kind {
            SchedulerKind::Constant => lr,
            SchedulerKind::Linear => lr * (1.0 - progress).max(0.0),
            SchedulerKind::Cosine => lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
            SchedulerKind::Polynomial => {
                if lr <= POLY_LR_END {
                    return lr;
                }
                (lr - POLY_LR_END) * (1.0 - progress).powf(self.poly_power) + POLY_LR_END
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn linear_warmup_then_decay_to_zero() {
        let s = LrSchedule::new(SchedulerKind::Linear, 1.0, 100, 0.1, 1.0);
        assert_eq!(s.warmup_steps, 10);
        assert!(close(s.lr_at(0), 0.0));
        assert!(close(s.lr_at(5), 0.5));
        assert!(close(s.lr_at(10), 1.0));
        assert!(close(s.lr_at(55), 0.5));
        assert!(close(s.lr_at(100), 0.0));
    }

    #[test]
    fn cosine_polynomial_constant() {
        let c = LrSchedule::new(SchedulerKind::Cosine, 2.0, 10, 0.0, 1.0);
        assert!(close(c.lr_at(0), 2.0));
        assert!(close(c.lr_at(5), 1.0));
        assert!(c.lr_at(10).abs() < 1e-12);
        let p = LrSchedule::new(SchedulerKind::Polynomial, 1.0, 10, 0.0, 2.0);
        assert!(close(p.lr_at(5), (1.0 - 1e-7) * 0.25 + 1e-7));
        let k = LrSchedule::new(SchedulerKind::Constant, 0.3, 10, 0.2, 1.0);
        assert!(close(k.lr_at(1), 0.15));
        assert!(close(k.lr_at(9), 0.3));
    }
}
