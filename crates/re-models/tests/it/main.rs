//! Integration tests of `re-models`, one test binary (each module was its own binary before: one compile and link instead of one per file).
mod common;
mod fused_parity;
mod head;
mod minilm;
mod parity_bert;
mod parity_deberta;
mod parity_electra;
mod span_pool;
mod wgpu;
