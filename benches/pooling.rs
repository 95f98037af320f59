//! Span pooling at batch 32 × seq 128 × hidden 768 on NdArray (the numbers in docs/performance.md):
//!
//! - `batched`: what `RelationHead` runs, `re_models::span_pool::SpanSegments` (the spans read to the host, then on
//!   NdArray one fused host pass over the span rows); the plan is built inside the timed closure, as in the head;
//! - `batched_generic`: the same plan as generic burn ops (one `gather_nd` of the span tokens, a segment reduction),
//!   what the GPU backends run;
//! - `per_example_loop`: the seed's Python as burn ops (`for i in range(b): h[i, s:e].mean(0)` … then `torch.stack`);
//! - `window` and `full_mask`: the two batched forms the head used before (`[b, L, h]` windows with masks, and
//!   full-length `[b, s]` masks), kept to show what the gather replaced.
//!
//! Ids are `span_pooling_b32_s128_h768/<kind>/<variant>`, kind = `mean|max|attention`, so the variants of one kind
//! print side by side. `scripts/bench/pooling_torch.py` times the PyTorch loop on the same shapes and spans.
//!
//! Like `kre` and the examples, the benchmark runs on mimalloc set to keep freed pages: burn's CPU backends allocate a
//! fresh buffer per op, and with glibc's allocator returning them to the OS every op pays page faults (on this VM they
//! were 30–60 % of every variant here), which is not what `kre` runs.
//!
//! Run: `cargo bench -p kre-suite --bench pooling -- --warm-up-time 1 --measurement-time 3`.
use burn::backend::NdArray;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Distribution, ElementConversion, Int, Tensor, TensorData};
use criterion::{criterion_group, BenchmarkId, Criterion};
use re_models::head::{masked_attention, masked_max, masked_mean, span_mask};
use re_models::layers::most_negative;
use re_models::span_pool::SpanSegments;

#[path = "../examples/common/mod.rs"]
mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type B = NdArray<f32>;
type PoolFn = fn(&Tensor<B, 3>, &Tensor<B, 2, Int>, &str, &Tensor<B, 1>) -> Tensor<B, 2>;
const BATCH: usize = 32;
const SEQ: usize = 128;
const HIDDEN: usize = 768;
const KINDS: [&str; 3] = ["mean", "max", "attention"];

/// Deterministic spans of 1–12 tokens spread over the sequence (pooling_torch.py builds the same list).
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

/// What `RelationHead` runs now: the span rows reduced per span in one fused pass.
fn batched_pool(hidden: &Tensor<B, 3>, span: &Tensor<B, 2, Int>, kind: &str, w: &Tensor<B, 1>) -> Tensor<B, 2> {
    segment_pool(SpanSegments::new(std::slice::from_ref(span), SEQ), hidden, kind, w)
}

/// The same plan on generic burn ops: gather the span tokens, reduce per span.
fn batched_generic_pool(hidden: &Tensor<B, 3>, span: &Tensor<B, 2, Int>, kind: &str, w: &Tensor<B, 1>) -> Tensor<B, 2> {
    segment_pool(SpanSegments::new(std::slice::from_ref(span), SEQ).with_generic_ops(), hidden, kind, w)
}

fn segment_pool(segments: SpanSegments<B>, hidden: &Tensor<B, 3>, kind: &str, w: &Tensor<B, 1>) -> Tensor<B, 2> {
    match kind {
        "mean" => segments.mean(hidden.clone()),
        "max" => segments.max(hidden.clone()),
        _ => segments.attention(hidden.clone(), w.clone().reshape([1, HIDDEN])),
    }
}

/// The head's previous batched form: each span gathered into a `[b, L, h]` window (`L` = longest span; positions
/// past a span's end repeat its last token), pooled with masks.
fn window_pool(hidden: &Tensor<B, 3>, span: &Tensor<B, 2, Int>, kind: &str, w: &Tensor<B, 1>) -> Tensor<B, 2> {
    let device = hidden.device();
    let last = SEQ as i64;
    let start = span.clone().narrow(1, 0, 1).clamp(0, last); // [b, 1]
    let end = span.clone().narrow(1, 1, 1).clamp(0, last);
    let length = (end - start.clone()).clamp_min(0);
    let longest: i64 = length.clone().max().into_scalar().elem();
    let window = longest.max(1) as usize;
    let offsets = Tensor::<B, 1, Int>::arange(0..window as i64, &device).reshape([1, window]).expand([BATCH, window]);
    let valid: Tensor<B, 2, Bool> = offsets.clone().lower(length.clone().expand([BATCH, window]));
    let last_offset = (length - 1).clamp_min(0).expand([BATCH, window]);
    let positions = (start.expand([BATCH, window]) + offsets.min_pair(last_offset)).clamp(0, last - 1);
    let row_base = Tensor::<B, 1, Int>::arange_step(0..(BATCH * SEQ) as i64, SEQ, &device)
        .reshape([BATCH, 1])
        .expand([BATCH, window]);
    let rows = (positions + row_base).reshape([BATCH * window]);
    let states = hidden.clone().reshape([BATCH * SEQ, HIDDEN]).select(0, rows).reshape([BATCH, window, HIDDEN]);
    let weighted_sum =
        |weights: Tensor<B, 2>| weights.reshape([BATCH, 1, window]).matmul(states.clone()).reshape([BATCH, HIDDEN]);
    match kind {
        "mean" => {
            let weights = valid.float();
            let counts = weights.clone().sum_dim(1).clamp_min(1.0);
            weighted_sum(weights / counts)
        }
        "max" => states.clone().max_dim(1).reshape([BATCH, HIDDEN]),
        _ => {
            let scores = states.clone().matmul(w.clone().reshape([1, HIDDEN, 1])).reshape([BATCH, window]);
            let fill = most_negative(scores.dtype());
            let scores = scores.mask_fill(valid.clone().bool_not(), fill);
            weighted_sum(softmax(scores, 1) * valid.float())
        }
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
    let batched: [(&str, PoolFn); 4] = [
        ("batched", batched_pool),
        ("batched_generic", batched_generic_pool),
        ("window", window_pool),
        ("full_mask", full_mask_pool),
    ];

    // Every implementation must agree with the loop before it is timed.
    for kind in KINDS {
        let a: Vec<f32> = loop_pool(&hidden, &spans, kind, &w).into_data().to_vec().unwrap();
        for (name, other) in batched {
            let b: Vec<f32> = other(&hidden, &span_tensor, kind, &w).into_data().to_vec().unwrap();
            let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(diff < 1e-5, "{kind}: loop and {name} pooling differ by {diff}");
        }
    }

    let mut group = c.benchmark_group("span_pooling_b32_s128_h768");
    for kind in KINDS {
        for (name, pool) in batched {
            group.bench_with_input(BenchmarkId::new(kind, name), kind, |bencher, kind| {
                bencher.iter(|| pool(&hidden, &span_tensor, kind, &w).into_data())
            });
        }
        group.bench_with_input(BenchmarkId::new(kind, "per_example_loop"), kind, |bencher, kind| {
            bencher.iter(|| loop_pool(&hidden, &spans, kind, &w).into_data())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

// criterion_main! plus the allocator setting, which must come before the first allocation worth keeping.
fn main() {
    common::retain_freed_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
