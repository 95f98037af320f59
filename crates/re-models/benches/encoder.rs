//! Encoder forward on the CPU: a randomly initialised encoder of roberta-base size (12 layers, hidden 768, 12 heads,
//! FFN 3072) on batch 8 × seq 128, and the real all-MiniLM-L6-v2 (if installed under `$KRE_CACHE/all-minilm-l6-v2`)
//! on batch 32 × seq 128, each through burn on NdArray and through the fused engine, both via
//! `re_models::inference::InferenceEncoder` (the type `kre` infers with).
//!
//! `cargo bench -p re-models --bench encoder`
use burn::backend::NdArray;
use burn::tensor::{Distribution, Int, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use re_models::bert::BertConfig;
use re_models::encoder::EncoderConfig;
use re_models::hub::load_encoder;
use re_models::inference::{InferenceEncoder, InferenceEngine, PaddedIds};
use std::path::PathBuf;
use std::time::Duration;

type B = NdArray<f32>;

fn random_ids(batch: usize, seq: usize, vocab: usize) -> Tensor<B, 2, Int> {
    // ids in [5, vocab) so no padding id appears
    Tensor::<B, 2>::random([batch, seq], Distribution::Uniform(5.0, vocab as f64 - 1.0), &Default::default()).int()
}

fn flat_ids(ids: Tensor<B, 2, Int>) -> Vec<i64> {
    ids.into_data().convert::<i64>().into_vec().expect("int tensor")
}

fn roberta_base(c: &mut Criterion) {
    let device = Default::default();
    let config = EncoderConfig::Bert(BertConfig {
        model_type: "roberta".into(),
        vocab_size: 32000,
        pad_token_id: Some(1),
        ..Default::default()
    });
    let encoder = config.init::<B>(&device);
    let (batch_size, seq_len) = (8, 128);
    let ids = flat_ids(random_ids(batch_size, seq_len, config.vocab_size()));
    let mask = vec![1i64; ids.len()];
    let padded = PaddedIds { input_ids: &ids, attention_mask: &mask, token_type_ids: None, batch_size, seq_len };
    let mut group = c.benchmark_group("encoder_forward");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(2));
    for (engine, name) in [
        (InferenceEngine::Burn, "roberta_base_random_b8_s128"),
        (InferenceEngine::Fused, "roberta_base_random_b8_s128_fused"),
    ] {
        let encoder = InferenceEncoder::new(encoder.clone(), &config, engine).expect("weights");
        group.bench_function(name, |b| b.iter(|| encoder.forward(padded, &device).expect("forward").into_data()));
    }
    group.finish();
}

fn minilm(c: &mut Criterion) {
    let cache = std::env::var_os("KRE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kre"));
    let dir = cache.join("all-minilm-l6-v2");
    let device = Default::default();
    let Ok((encoder, config, _)) = load_encoder::<B>(&dir, &device) else {
        eprintln!("all-MiniLM-L6-v2 not found at {} (bash scripts/install-test-deps.sh); skipping", dir.display());
        return;
    };
    let (batch_size, seq_len) = (32, 128);
    let ids = flat_ids(random_ids(batch_size, seq_len, 30522));
    let mask = vec![1i64; ids.len()];
    let padded = PaddedIds { input_ids: &ids, attention_mask: &mask, token_type_ids: None, batch_size, seq_len };
    let mut group = c.benchmark_group("encoder_forward");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(2));
    for (engine, name) in
        [(InferenceEngine::Burn, "minilm_l6_real_b32_s128"), (InferenceEngine::Fused, "minilm_l6_real_b32_s128_fused")]
    {
        let encoder = InferenceEncoder::new(encoder.clone(), &config, engine).expect("weights");
        assert_eq!(encoder.engine(), engine, "MiniLM is a BERT encoder, which the fused engine covers");
        group.bench_function(name, |b| b.iter(|| encoder.forward(padded, &device).expect("forward").into_data()));
    }
    group.finish();
}

criterion_group!(benches, roberta_base, minilm);
criterion_main!(benches);
