//! Integration tests of `re-cli`, one test binary (each module was its own binary before: one compile and link instead of one per file).
mod classic_cli;
mod common;
mod data_cli;
mod encode_cli;
mod errors_cli;
mod eval_cli;
mod extract_cli;
mod inference_engine_cli;
mod minilm_weights;
mod multinode_cli;
mod search_cli;
mod serve_cli;
mod study_cli;
mod synth_eda_cli;
mod train_cli;
mod wgpu_cli;
