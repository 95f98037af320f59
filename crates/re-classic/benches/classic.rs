//! Criterion benchmarks of re-classic (filled in below).
fn main() {}
