//! Batched span pooling (mask-based, `re_models::head`) against a per-example loop like the seed's Python
//! (`for i in range(b): h[i, s:e].mean(0)` … then `torch.stack`), at batch 32 × seq 128 × hidden 768 on NdArray.
//!
//! Run: `cargo bench -p kre-suite --bench pooling -- --warm-up-time 1 --measurement-time 3`.
use burn::backend::NdArray;
use burn::tensor::activation::softmax;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use re_models::head::{masked_attention, masked_max, masked_mean, span_mask, SpanWindow};

type B = NdArray<f32>;
type PoolFn = fn(&Tensor<B, 3>, &Tensor<B, 2, Int>, &str, &Tensor<B, 1>) -> Tensor<B, 2>;
const BATCH: usize = 32;
const SEQ: usize = 128;
const HIDDEN: usize = 768;

/// Deterministic spans of 1–12 tokens spread over the sequence.
fn spans() -> Vec<(usize, usize)> {
    (0..BATCH).map(|i| ((i * 37) % 100 + 1, (i * 37) % 100 + 2 + i % 12)).collect()
}

/// The seed's way: slice each example's span, pool it, stack the results.
fn loop_pool(hidden: &Tensor<B, 3>, spans: &[(usize, usize)], kind: &str, w: &Tensor<B, 1>) -> Tensor<B, 2> {
    let rows: Vec<Tensor<B, 2>> = spans
        .iter()
        .enumerate()
        .map(|(i, &(start, end))| {
            let span = hidden.clone().slice([i..i + 1, start..end, 0..HIDDEN]).reshape([end - start, HIDDEN]);
            match kind {
                "mean" => span.mean_dim(0),
                "max" => span.max_dim(0),
                _ => {
                    let scores = span.clone().matmul(w.clone().reshape([HIDDEN, 1])).reshape([1, end - start]);
                    softmax(scores, 1).matmul(span)
                }
            }
        })
        .collect();
    Tensor::cat(rows, 0)
}

/// What `RelationHead` runs: each span gathered into a `[b, L, h]` window, pooled with masks.
fn batched_pool(hidden: &Tensor<B, 3>, span: &Tensor<B, 2, Int>, kind: &str, w: &Tensor<B, 1>) -> Tensor<B, 2> {
    let window = SpanWindow::new(hidden.clone(), span.clone());
    match kind {
        "mean" => window.mean(),
        "max" => window.max(),
        _ => window.attention(w.clone()),
    }
}

/// Full-length masks `[b, s]` over the whole hidden state (`span_mask` + `masked_*`).
fn full_mask_pool(hidden: &Tensor<B, 3>, span: &Tensor<B, 2, Int>, kind: &str, w: &Tensor<B, 1>) -> Tensor<B, 2> {
    let mask = span_mask(span.clone(), SEQ);
    match kind {
        "mean" => masked_mean(hidden.clone(), mask),
        "max" => masked_max(hidden.clone(), mask),
        _ => masked_attention(hidden.clone(), mask, w.clone()),
    }
}

fn bench(c: &mut Criterion) {
    let device = Default::default();
    let hidden = Tensor::<B, 3>::random([BATCH, SEQ, HIDDEN], Distribution::Normal(0.0, 1.0), &device);
    let w = Tensor::<B, 1>::random([HIDDEN], Distribution::Normal(0.0, 0.02), &device);
    let spans = spans();
    let flat: Vec<i64> = spans.iter().flat_map(|&(s, e)| [s as i64, e as i64]).collect();
    let span_tensor = Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [BATCH, 2]), &device);

    // Both implementations must agree before they are timed.
    for kind in ["mean", "max", "attention"] {
        let a: Vec<f32> = loop_pool(&hidden, &spans, kind, &w).into_data().to_vec().unwrap();
        for (name, other) in [("window", batched_pool as PoolFn), ("full-mask", full_mask_pool as PoolFn)] {
            let b: Vec<f32> = other(&hidden, &span_tensor, kind, &w).into_data().to_vec().unwrap();
            let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(diff < 1e-4, "{kind}: loop and {name} pooling differ by {diff}");
        }
    }

    let mut group = c.benchmark_group("span_pooling_b32_s128_h768");
    for kind in ["mean", "max", "attention"] {
        group.bench_with_input(BenchmarkId::new("batched", kind), kind, |bencher, kind| {
            bencher.iter(|| batched_pool(&hidden, &span_tensor, kind, &w).into_data())
        });
        group.bench_with_input(BenchmarkId::new("batched_full_mask", kind), kind, |bencher, kind| {
            bencher.iter(|| full_mask_pool(&hidden, &span_tensor, kind, &w).into_data())
        });
        group.bench_with_input(BenchmarkId::new("per_example_loop", kind), kind, |bencher, kind| {
            bencher.iter(|| loop_pool(&hidden, &spans, kind, &w).into_data())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
