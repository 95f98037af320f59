//! Terminal progress of `kre train` / `kre search`: one indicatif bar per epoch on stderr and a summary line per
//! epoch. The training loop only knows [`TrainObserver`]; drawing stays in the binary.
use indicatif::{ProgressBar, ProgressStyle};
use re_train::progress::{StepInfo, TrainObserver};
use re_train::trainer::EpochMetrics;

/// One progress bar per epoch (loss, lr, samples/s) and a summary line when the epoch ends.
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
        eprintln!("{}", epoch_summary(m));
    }
}

/// `epoch 2: train loss 0.4123 dev micro-F1 61.20 AUPRC 55.10 loss 0.5012 (310.2 samples/s, 41.3s)`.
fn epoch_summary(m: &EpochMetrics) -> String {
    let dev = match (m.micro_f1, m.auprc) {
        (Some(f1), Some(ap)) => {
            format!(" dev micro-F1 {f1:.2} AUPRC {ap:.2} loss {:.4}", m.dev_loss.unwrap_or(f64::NAN))
        }
        _ => String::new(),
    };
    format!(
        "epoch {}: train loss {:.4}{dev} ({:.1} samples/s, {:.1}s)",
        m.epoch, m.train_loss, m.samples_per_sec, m.epoch_seconds
    )
}
