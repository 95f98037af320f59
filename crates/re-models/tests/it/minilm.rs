//! Real weights: all-MiniLM-L6-v2 (a BERT) from `$KRE_CACHE/all-minilm-l6-v2` (installed by
//! `bash scripts/install-test-deps.sh`) against `tests/fixtures/minilm/reference.json`, computed by transformers in
//! `tools/make_parity_fixtures.py`: token ids, mean-pooled and CLS embeddings of Korean and English sentences.
use burn::backend::NdArray;
use burn::tensor::{Int, Tensor, TensorData};
use re_models::hub::{load_encoder, load_tokenizer};
use re_models::pooling::SentencePooling;
use serde::Deserialize;
use std::path::PathBuf;

use crate::common::minilm_dir;

#[derive(Deserialize)]
struct Item {
    text: String,
    input_ids: Vec<i64>,
    mean: Vec<f32>,
    cls: Vec<f32>,
}

#[derive(Deserialize)]
struct Reference {
    items: Vec<Item>,
}

#[test]
fn minilm_ids_and_pooled_embeddings_match_transformers() {
    type B = NdArray<f32>;
    let dir = minilm_dir();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/minilm/reference.json");
    let reference: Reference = serde_json::from_str(&std::fs::read_to_string(&path).expect("reference.json")).unwrap();
    let device = Default::default();
    let (encoder, config, report) = load_encoder::<B>(&dir, &device).expect("load MiniLM");
    assert_eq!(config.family(), "bert");
    assert!(report.missing.is_empty());
    let tokenizer = load_tokenizer(&dir).expect("tokenizer");

    let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();
    let batch = re_models::tokenizer::encode_batch(&tokenizer, &texts, Some(512)).unwrap();
    for (row, item) in reference.items.iter().enumerate() {
        let ids = &batch.input_ids[row * batch.seq_len..row * batch.seq_len + batch.lengths[row]];
        assert_eq!(ids, item.input_ids.as_slice(), "ids of {:?}", item.text);
    }
    let shape = [batch.batch_size, batch.seq_len];
    let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(batch.input_ids.clone(), shape), &device);
    let mask = Tensor::<B, 2, Int>::from_data(TensorData::new(batch.attention_mask.clone(), shape), &device);
    let types = Tensor::<B, 2, Int>::from_data(TensorData::new(batch.token_type_ids.clone(), shape), &device);
    let hidden = encoder.forward(ids, mask.clone(), Some(types));
    let mean: Vec<f32> = SentencePooling::Mean.pool(hidden.clone(), mask.clone()).into_data().to_vec().unwrap();
    let cls: Vec<f32> = SentencePooling::Cls.pool(hidden, mask).into_data().to_vec().unwrap();
    let dim = encoder.hidden_size();
    assert_eq!(dim, 384);
    let mut worst = 0.0f32;
    for (row, item) in reference.items.iter().enumerate() {
        for (got, want) in [(&mean, &item.mean), (&cls, &item.cls)] {
            let diff = got[row * dim..(row + 1) * dim].iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(diff <= 1e-4, "{:?}: max |Δ| {diff}", item.text);
            worst = worst.max(diff);
        }
    }
    println!("MiniLM mean/cls pooled max |Δ| = {worst:.3e}");
}
