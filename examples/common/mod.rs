//! What the example binaries share: mimalloc's keep-freed-pages setting and a one-line-per-epoch training observer.
//! (A directory module, so cargo does not take it for an example of its own.)
#![allow(dead_code)] // each example uses only part of it

use re_train::progress::TrainObserver;
use re_train::trainer::EpochMetrics;

// Linked by the `mimalloc` crate; only the option setter is declared (libmimalloc-sys's `extended` feature would add
// a dependency for this one call).
extern "C" {
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// `mi_option_purge_delay` in `mimalloc.h` (v2 and v3): ms before freed memory goes back to the OS; -1 = never.
const MI_OPTION_PURGE_DELAY: std::os::raw::c_int = 15;

/// Keep freed pages in the process. burn's CPU backends allocate a fresh buffer per tensor op and free it soon after;
/// returned to the OS, those pages come back zero-filled on the next op (12–15 % of a CPU training step). Call first
/// thing in `main`, in a binary whose `#[global_allocator]` is `mimalloc::MiMalloc`.
pub fn retain_freed_memory() {
    // SAFETY: mi_option_set only stores an integer option, and -1 is a valid purge delay.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// Prints one line per epoch on stderr (no progress bars: the examples keep their dependencies few).
#[derive(Default)]
pub struct EpochLines;

impl TrainObserver for EpochLines {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        eprintln!("epoch {epoch}/{epochs}: {batches} batches");
    }
    fn on_epoch_end(&mut self, m: &EpochMetrics) {
        let dev = match (m.micro_f1, m.auprc) {
            (Some(f1), Some(ap)) => format!(", dev micro-F1 {f1:.2} AUPRC {ap:.2}"),
            _ => String::new(),
        };
        eprintln!(
            "epoch {}: train loss {:.4}{dev} ({:.1} samples/s, {:.1}s)",
            m.epoch, m.train_loss, m.samples_per_sec, m.epoch_seconds
        );
    }
}
