//! One module per command group; each owns its clap `Args` structs and a `fn(args) -> anyhow::Result<()>`.
pub mod classic;
pub mod common;
pub mod data;
pub mod encode;
pub mod eval;
pub mod extract;
pub mod serve;
pub mod study;
pub mod train;
