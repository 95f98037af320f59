//! Helpers shared by the CLI tests.
use std::path::{Path, PathBuf};

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
