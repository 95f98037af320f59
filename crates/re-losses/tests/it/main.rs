//! Integration tests of `re-losses`, one test binary (each module was its own binary before: one compile and link instead of one per file).
mod common;
mod fixtures_parity;
mod gradients_and_stability;
mod gradients_f64;
mod outside_crate;
mod serde_configs;
