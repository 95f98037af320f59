//! Integration tests of `re-train`, one test binary (each module was its own binary before: one compile and link instead of one per file).
mod fused_predict;
mod parallel;
mod search;
mod study_report;
mod training;
mod training_parity;
mod wgpu;

/// burn's NdArray RNG (init, dropout) is process-global: tests that seed it or train must not interleave.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
