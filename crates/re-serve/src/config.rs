//! Limits and batching settings of a server; `kre serve` fills them from its flags.
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct ServeConfig {
    /// Most records in one model call; the records of one request are never split across answers, but a request
    /// with more records than this is scored in chunks of this size.
    pub max_batch_size: usize,
    /// Records per encoder forward pass within one model call: the merged records are sorted by length and run in
    /// chunks of this size, so a short record is not padded to the longest of the whole batch (on the CPU, small
    /// chunks cost less than one large padded one).
    pub encoder_batch_size: usize,
    /// Model threads, each with its own copy of the model, sharing one queue.
    pub model_threads: usize,
    /// Threads each model thread computes on (its own rayon pool, the model thread included); `None`: rayon's
    /// global pool, shared by all model threads. On the CPU, cores / model threads keeps the copies from
    /// queueing on one pool.
    pub compute_threads_per_model: Option<usize>,
    /// How long the model thread waits, after taking a request and every request already queued, for more to
    /// fill the batch (zero: requests queued while the model was busy still share the next call).
    pub max_wait: Duration,
    /// Requests waiting for the model thread; one more is refused with 503 and `Retry-After`.
    pub queue_capacity: usize,
    /// Largest request body; a larger one is refused with 413.
    pub max_body_bytes: usize,
    /// Longest sentence (in characters) of a record; a longer one is refused with 422.
    pub max_sentence_chars: usize,
    /// Seconds a client is told to wait (`Retry-After`) when the queue is full.
    pub retry_after_secs: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_batch_size: 32,
            encoder_batch_size: 8,
            model_threads: 1,
            compute_threads_per_model: None,
            max_wait: Duration::ZERO,
            queue_capacity: 256,
            max_body_bytes: 2 * 1024 * 1024,
            max_sentence_chars: 2000,
            retry_after_secs: 1,
        }
    }
}

impl ServeConfig {
    /// Refuses settings that cannot work (zero batch size, queue or limits).
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("max batch size", self.max_batch_size),
            ("encoder batch size", self.encoder_batch_size),
            ("model threads", self.model_threads),
            ("compute threads per model", self.compute_threads_per_model.unwrap_or(1)),
            ("queue capacity", self.queue_capacity),
            ("max body bytes", self.max_body_bytes),
            ("max sentence chars", self.max_sentence_chars),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(())
    }
}
