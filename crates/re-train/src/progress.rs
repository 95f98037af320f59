//! Progress reporting for long training runs: the loop reports to a [`TrainObserver`]; [`ProgressBars`]
//! draws indicatif bars (loss, lr, samples/s) and [`Silent`] does nothing (tests, libraries).
use indicatif::{ProgressBar, ProgressStyle};

use crate::trainer::EpochMetrics;

#[derive(Clone, Debug)]
pub struct StepInfo {
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    /// Running mean training loss of the epoch.
    pub loss: f64,
    pub lr: f64,
    pub samples_per_sec: f64,
}

pub trait TrainObserver {
    fn on_epoch_start(&mut self, _epoch: usize, _epochs: usize, _batches: usize) {}
    fn on_step(&mut self, _info: &StepInfo) {}
    fn on_epoch_end(&mut self, _metrics: &EpochMetrics) {}
    /// Asked after each epoch; `true` stops the run (used by the search's pruner).
    fn should_stop(&mut self, _metrics: &EpochMetrics) -> bool {
        false
    }
}

/// Reports nothing.
pub struct Silent;
impl TrainObserver for Silent {}

/// One progress bar per epoch on stderr, and a summary line per epoch.
#[derive(Default)]
pub struct ProgressBars {
    bar: Option<ProgressBar>,
}

impl TrainObserver for ProgressBars {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        let bar = ProgressBar::new(batches as u64);
        let style = ProgressStyle::with_template("epoch {prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(format!("{epoch}/{epochs}"));
        self.bar = Some(bar);
    }
    fn on_step(&mut self, i: &StepInfo) {
        if let Some(bar) = &self.bar {
            bar.set_position(i.batch as u64);
            bar.set_message(format!("loss {:.4} lr {:.2e} {:.1} samples/s", i.loss, i.lr, i.samples_per_sec));
        }
    }
    fn on_epoch_end(&mut self, m: &EpochMetrics) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let dev = match (m.micro_f1, m.auprc) {
            (Some(f1), Some(ap)) => {
                format!(" dev micro-F1 {f1:.2} AUPRC {ap:.2} loss {:.4}", m.dev_loss.unwrap_or(f64::NAN))
            }
            _ => String::new(),
        };
        eprintln!(
            "epoch {}: train loss {:.4}{dev} ({:.1} samples/s, {:.1}s)",
            m.epoch, m.train_loss, m.samples_per_sec, m.epoch_seconds
        );
    }
}
