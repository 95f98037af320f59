//! Helpers shared by the CLI tests.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use re_data::io::{read_records, ReadOptions};

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The first `n` records of a shipped synthetic file, written to `dir/name`.
pub fn slice(name: &str, n: usize, dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/synthetic-klue-re").join(name);
    let recs: Vec<_> = read_records(&src, &ReadOptions::default()).unwrap().records.into_iter().take(n).collect();
    let out = dir.join(name);
    re_data::io::klue_json::write(&out, &recs).unwrap();
    out
}

/// Runs the `kre` binary built for these tests.
pub fn kre(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kre")).args(args).output().expect("running kre")
}

/// The shape of a tiny encoder a CLI test trains (heads of 16 dimensions, feed-forward twice the width).
#[derive(Clone, Copy)]
pub struct TinySize {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
}

impl TinySize {
    /// One layer of width 32: the fastest model that trains.
    pub const SMALL: Self = Self { vocab_size: 500, hidden_size: 32, num_layers: 1 };
    /// Two layers of width 64: enough layers to compare inference engines.
    pub const TWO_LAYERS: Self = Self { vocab_size: 500, hidden_size: 64, num_layers: 2 };
}

/// `kre train --model tiny` for one epoch on CPU (typed markers, batch 16, length 64) into `dir/run`; `extra`
/// arguments are appended (`--test FILE`). Panics with kre's stderr if training fails.
pub fn train_tiny(dir: &Path, size: TinySize, train: &Path, dev: &Path, extra: &[&str]) -> PathBuf {
    let run = dir.join("run");
    let config = dir.join("train.toml");
    let TinySize { vocab_size, hidden_size, num_layers } = size;
    std::fs::write(
        &config,
        format!(
            "epochs = 1\nbatch_size = 16\nmax_length = 64\nlr = 3e-3\nmarkers = \"typed\"\n\n[tiny]\n\
             vocab_size = {vocab_size}\nhidden_size = {hidden_size}\nnum_layers = {num_layers}\n\
             num_heads = {}\nintermediate_size = {}\n",
            hidden_size / 16,
            2 * hidden_size
        ),
    )
    .unwrap();
    let args = ["train", "--config", s(&config), "--model", "tiny", "--train", s(train), "--dev", s(dev)];
    let out = kre(&[&args[..], extra, &["--device", "cpu", "--out", s(&run)]].concat());
    assert!(out.status.success(), "kre train: {}", String::from_utf8_lossy(&out.stderr));
    run
}
