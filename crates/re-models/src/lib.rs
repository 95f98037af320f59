//! `re-models`: burn ports of the transformer encoders used for Korean relation extraction — BERT/RoBERTa
//! ([`bert`]), ELECTRA ([`electra`]) and DeBERTa-v2/v3 ([`deberta_v2`]) — that load unmodified Hugging Face checkpoint
//! directories ([`hub`]), their tokenizers ([`tokenizer`]), and relation heads over the encoder output ([`head`]).
//! Inference goes through [`inference::InferenceEncoder`], which runs a loaded encoder either as the burn module or
//! through the fused f32 CPU engine ([`fused`]).
//!
//! ```no_run
//! use burn::backend::NdArray;
//! use burn::tensor::{Int, Tensor};
//! use std::path::Path;
//!
//! let device = Default::default();
//! let dir = Path::new("/path/to/klue-roberta-base");
//! let (encoder, _config, report) = re_models::hub::load_encoder::<NdArray>(dir, &device)?;
//! println!("ignored checkpoint keys: {:?}", report.unexpected);
//! let tokenizer = re_models::hub::load_tokenizer(dir)?;
//! let encoding = tokenizer.encode("이순신은 조선의 무신이다.", true).map_err(|e| anyhow::anyhow!(e))?;
//! let ids: Vec<i64> = encoding.get_ids().iter().map(|&i| i as i64).collect();
//! let n = ids.len();
//! let input_ids = Tensor::<NdArray, 1, Int>::from_ints(ids.as_slice(), &device).reshape([1, n]);
//! let mask = input_ids.ones_like();
//! let hidden = encoder.forward(input_ids, mask, None); // [1, n, hidden]
//! # Ok::<(), anyhow::Error>(())
//! ```
pub mod activation;
pub mod bert;
pub mod deberta_v2;
pub mod electra;
pub mod encoder;
pub mod error;
pub mod fused;
pub mod head;
pub mod host_ops;
pub mod hub;
pub mod inference;
pub mod int8;
pub mod layers;
pub mod pooling;
mod simd;
pub mod span_pool;
pub mod tokenizer;

pub use error::{ModelError, Result};
