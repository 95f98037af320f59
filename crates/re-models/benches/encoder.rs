//! Encoder forward on the NdArray CPU backend: a randomly initialised encoder of roberta-base size (12 layers,
//! hidden 768, 12 heads, FFN 3072) on batch 8 × seq 128, and the real all-MiniLM-L6-v2 (if installed under
//! `$KRE_CACHE/all-minilm-l6-v2`) on batch 32 × seq 128, through burn and through the fused CPU engine.
//!
//! `cargo bench -p re-models --bench encoder`
use burn::backend::NdArray;
use burn::tensor::{Distribution, Int, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use re_models::bert::BertConfig;
use re_models::hub::load_encoder;
use std::path::PathBuf;
use std::time::Duration;

type B = NdArray<f32>;

fn random_ids(batch: usize, seq: usize, vocab: usize) -> Tensor<B, 2, Int> {
    // ids in [5, vocab) so no padding id appears
    Tensor::<B, 2>::random([batch, seq], Distribution::Uniform(5.0, vocab as f64 - 1.0), &Default::default()).int()
}

fn roberta_base(c: &mut Criterion) {
    let device = Default::default();
    let config =
        BertConfig { model_type: "roberta".into(), vocab_size: 32000, pad_token_id: Some(1), ..Default::default() };
    let model = config.init::<B>(&device);
    let (batch, seq) = (8, 128);
    let ids = random_ids(batch, seq, config.vocab_size);
    let mask = ids.ones_like();
    let mut group = c.benchmark_group("encoder_forward");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(2));
    group.bench_function("roberta_base_random_b8_s128", |b| {
        b.iter(|| model.forward(ids.clone(), mask.clone(), None).into_data())
    });
    group.finish();
}

fn minilm(c: &mut Criterion) {
    let cache = std::env::var_os("KRE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kre"));
    let dir = cache.join("all-minilm-l6-v2");
    let Ok((model, config, _)) = load_encoder::<B>(&dir, &Default::default()) else {
        eprintln!("all-MiniLM-L6-v2 not found at {} (bash scripts/install-test-deps.sh); skipping", dir.display());
        return;
    };
    let (batch, seq) = (32, 128);
    let ids = random_ids(batch, seq, 30522);
    let mask = ids.ones_like();
    let mut group = c.benchmark_group("encoder_forward");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(2));
    group.bench_function("minilm_l6_real_b32_s128", |b| {
        b.iter(|| model.forward(ids.clone(), mask.clone(), None).into_data())
    });
    // The same forward through the fused CPU engine (re_models::fused).
    let engine = re_models::fused::FusedEngine::from_encoder(&model, &config).expect("weights").expect("BERT");
    let flat_ids: Vec<i64> = ids.into_data().convert::<i64>().into_vec::<i64>().expect("ids");
    let flat_mask = vec![1i64; flat_ids.len()];
    group.bench_function("minilm_l6_real_b32_s128_fused_cpu_engine", |b| {
        b.iter(|| engine.forward(&flat_ids, &flat_mask, None, batch, seq).expect("forward"))
    });
    group.finish();
}

criterion_group!(benches, roberta_base, minilm);
criterion_main!(benches);
