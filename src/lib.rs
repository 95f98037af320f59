//! `kre-suite`: the workspace's root package. It only hosts `examples/` and the cross-crate `benches/`;
//! the reusable code lives in `crates/`.
pub use re_data;
pub use re_ensemble;
pub use re_losses;
pub use re_metrics;
pub use re_models;
pub use re_train;
