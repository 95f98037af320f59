//! `re-train`: fine-tuning relation classifiers with burn.
//!
//! - [`config::TrainConfig`]: every option (TOML file + CLI flags), defaults from the seed report.
//! - [`trainer::train`]: the loop — AdamW without decay on biases/LayerNorm, warmup + schedule, global-norm
//!   clipping, dynamic padding with length bucketing, dev micro-F1/AUPRC per epoch into `metrics.jsonl`,
//!   best model and resumable last state saved atomically, early stopping.
//! - [`trainer::train_on`]: the same on several devices, data parallel ([`parallel`]), and in bf16/f16 with f32
//!   master weights ([`optim::MasterAdamW`]) when the backend's float type is half precision;
//!   [`trainer::train_with`] picks the [`infer::InferenceEngine`] of the dev evaluation; [`trainer::train_on_nodes`]
//!   trains across machines ([`distributed::NodeGroup`], burn-collective's global all-reduce).
//! - [`predict::predict_file`]: a run directory → `submission.csv`; [`predict::predict_file_with`] with an
//!   [`infer::InferenceEngine`] (the fused engine of `re_models::fused` or burn), through an [`infer::Predictor`].
//! - [`search::run_study`]: TPE or random search with successive halving or median pruning, resumable.
//! - [`progress::TrainObserver`]: what the loop reports (epochs, steps, metrics); binaries draw it.
//! - [`tiny`]: `--model tiny`, a WordPiece tokenizer trained on the data and a small RoBERTa-style encoder.
//!
//! ```no_run
//! use re_train::{config::TrainConfig, progress::Silent, trainer::train};
//! type B = burn::backend::Autodiff<burn::backend::NdArray>;
//! let cfg = TrainConfig { epochs: 1, out: "runs/demo".into(), ..Default::default() };
//! let summary = train::<B>(&cfg, &Default::default(), &mut Silent).unwrap();
//! println!("best dev micro-F1 {:.2}", summary.best_micro_f1);
//! ```
pub mod batches;
pub mod checkpoint;
pub mod config;
pub mod distributed;
pub mod error;
pub mod infer;
pub mod loss;
pub mod model;
pub mod optim;
pub mod parallel;
pub mod predict;
pub mod progress;
pub mod schedule;
pub mod search;
pub mod tiny;
pub mod trainer;
pub mod wordpiece;

pub use config::TrainConfig;
pub use error::{Result, TrainError};
pub use infer::InferenceEngine;
