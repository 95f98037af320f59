//! Progress reporting for long training runs: the loop reports to a [`TrainObserver`]; [`Silent`] does nothing
//! (tests, libraries). Drawing (progress bars, log lines) belongs to the binaries: `kre` has indicatif bars, the
//! examples print a line per epoch.

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
