//! Shared helpers of the integration tests.
#![allow(dead_code)]
use re_classic::mecab::Mecab;
use std::path::PathBuf;

/// MeCab with mecab-ko-dic; the tests need it (CI installs it with `bash scripts/install-test-deps.sh`).
pub fn mecab() -> Mecab {
    Mecab::new().unwrap_or_else(|e| panic!("{e}\n(the tests need MeCab: run `bash scripts/install-test-deps.sh`)"))
}

/// The KAIST gold file (real Korean sentences), read from `../shared/data/kor-re-gold/` beside the checkout.
pub fn kaist_gold() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kor-re-gold/agreement_content.tsv");
    assert!(p.is_file(), "{} is missing (the shared KAIST gold data must sit beside the checkout)", p.display());
    p
}

pub fn read_kaist() -> Vec<re_data::RelationRecord> {
    let opts = re_data::io::ReadOptions { labels: re_data::io::LabelSource::Infer, ..Default::default() };
    re_data::io::read_records(&kaist_gold(), &opts).expect("read KAIST gold").records
}
