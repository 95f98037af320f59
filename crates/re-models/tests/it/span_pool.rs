//! The gather + segment-reduction span pooling (`re_models::span_pool`) against a per-example loop (slice the span,
//! reduce it, stack; CLS for a span with no in-range token), values and gradients under autodiff, on spans of every
//! awkward kind: length 1, odd and even lengths, cut by the sequence end, negative starts, empty, reversed, entirely
//! outside. Also the head end to end against the same loop. Every check runs twice on burn-ndarray: the fused host
//! pass (`span_pool::cpu`, with its hand-written backward) and the generic burn ops (`with_generic_ops`), which are
//! what the GPU backends run.
use burn::backend::{Autodiff, NdArray};
use burn::module::Param;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use re_models::head::{RelationHeadConfig, SpanPooling};
use re_models::span_pool::SpanSegments;

type AB = Autodiff<NdArray<f32>>;
const TOLERANCE: f32 = 1e-5;
const BATCH: usize = 8;
const SEQ: usize = 9;
// Two full 16-lane chunks and a tail, so the host kernels' vector loops and remainders both run.
const WIDTH: usize = 38;

/// One span per example, covering the awkward cases; (2, 9) and (6, 12) run into the sequence end.
const SPANS_A: [(i64, i64); BATCH] = [(1, 4), (0, 1), (2, 9), (5, 5), (6, 12), (-3, 2), (7, 3), (10, 14)];
const SPANS_B: [(i64, i64); BATCH] = [(3, 8), (4, 4), (0, 9), (8, 9), (1, 3), (2, 7), (-2, -1), (2, 4)];

fn random<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<AB, D> {
    // Seeded so that a failure reproduces; the autodiff leaf is created by the caller with require_grad.
    <AB as burn::tensor::backend::Backend>::seed(&Default::default(), seed);
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
}

/// The plan, fused (the default on NdArray) or forced onto the generic burn ops.
fn plan(groups: &[Vec<(i64, i64)>], generic: bool) -> SpanSegments<AB> {
    let segments = SpanSegments::<AB>::from_ranges(groups, SEQ, &Default::default());
    let segments = if generic { segments.with_generic_ops() } else { segments };
    assert_eq!(segments.uses_fused_kernels(), !generic);
    segments
}

/// The seed's loop: per example, the clamped span's rows reduced on their own; CLS where nothing is left.
fn loop_pool(hidden: Tensor<AB, 3>, spans: &[(i64, i64)], kind: &str, w: Tensor<AB, 1>) -> Tensor<AB, 2> {
    let rows = spans
        .iter()
        .enumerate()
        .map(|(i, &(start, end))| {
            let (start, end) = (start.clamp(0, SEQ as i64) as usize, end.clamp(0, SEQ as i64) as usize);
            if end <= start {
                return hidden.clone().slice([i..i + 1, 0..1, 0..WIDTH]).reshape([1, WIDTH]);
            }
            let span = hidden.clone().slice([i..i + 1, start..end, 0..WIDTH]).reshape([end - start, WIDTH]);
            match kind {
                "mean" => span.mean_dim(0),
                "max" => span.max_dim(0),
                _ => {
                    let scores = span.clone().matmul(w.clone().reshape([WIDTH, 1])).reshape([1, end - start]);
                    softmax(scores, 1).matmul(span)
                }
            }
        })
        .collect();
    Tensor::cat(rows, 0)
}

fn values<const D: usize>(t: Tensor<<AB as AutodiffBackend>::InnerBackend, D>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

fn assert_close(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    let worst = actual.iter().zip(expected).map(|(a, e)| (a - e).abs()).fold(0.0f32, f32::max);
    assert!(worst <= TOLERANCE, "{what}: max |Δ| {worst:e} > {TOLERANCE:e}\n{actual:?}\nvs\n{expected:?}");
}

/// Pooled values and the gradients of `hidden` and `w` under a random upstream gradient.
fn run(pool: impl FnOnce(Tensor<AB, 3>, Tensor<AB, 1>) -> Tensor<AB, 2>, upstream: &Tensor<AB, 2>) -> [Vec<f32>; 3] {
    let hidden = random([BATCH, SEQ, WIDTH], 7).require_grad();
    let w = random([WIDTH], 8).require_grad();
    let pooled = pool(hidden.clone(), w.clone());
    let grads = (pooled.clone() * upstream.clone()).sum().backward();
    let w_grad = w.grad(&grads).map(values).unwrap_or_else(|| vec![0.0; WIDTH]);
    [values(pooled.inner()), values(hidden.grad(&grads).unwrap()), w_grad]
}

#[test]
fn one_group_matches_the_loop_in_values_and_gradients() {
    let upstream = random([BATCH, WIDTH], 9);
    let spans = SPANS_A.to_vec();
    for (kind, generic) in kinds_and_paths() {
        let batched = run(
            |hidden, w| {
                let segments = plan(std::slice::from_ref(&spans), generic);
                match kind {
                    "mean" => segments.mean(hidden),
                    "max" => segments.max(hidden),
                    _ => segments.attention(hidden, w.reshape([1, WIDTH])),
                }
            },
            &upstream,
        );
        let reference = run(|hidden, w| loop_pool(hidden, &spans, kind, w), &upstream);
        for (part, (a, e)) in ["values", "hidden gradient", "w gradient"].iter().zip(batched.iter().zip(&reference)) {
            assert_close(&format!("{kind} (generic ops: {generic}) {part}"), a, e);
        }
        if kind == "attention" {
            assert!(reference[2].iter().any(|g| g.abs() > 1e-3), "the w gradient check must test something");
        }
    }
}

#[test]
fn plan_counts_rows_and_fallbacks() {
    let segments = SpanSegments::<AB>::from_ranges(&[SPANS_A.to_vec(), SPANS_B.to_vec()], SEQ, &Default::default());
    assert_eq!(segments.groups(), 2);
    assert_eq!(segments.num_segments(), 2 * BATCH);
    // Segment i·2 + g: example i's span of group g.
    let expected_ok =
        [true, true, true, false, true, true, false, true, true, true, true, true, false, false, false, true];
    assert_eq!(segments.non_empty(), expected_ok);
    assert_eq!(segments.fallback_count(), 5);
    // In-range lengths: A 3,1,7,0,3,2,0,0 and B 5,0,9,1,2,5,0,2; each empty span takes one CLS row.
    assert_eq!(segments.num_rows(), 16 + 24 + 5);
    // Shared by A and B: token 3 of example 0, the CLS of example 1 (A's token 0, B's fallback), tokens 2..9 of
    // example 2, the CLS of example 6 (both fall back).
    assert_eq!(segments.num_distinct_rows(), 45 - 1 - 1 - 7 - 1);
    assert_eq!(segments.longest(), 9);
    // The tensor form reads the same plan.
    let tensor = |spans: [(i64, i64); BATCH]| {
        let flat: Vec<i64> = spans.iter().flat_map(|&(s, e)| [s, e]).collect();
        Tensor::<AB, 2, Int>::from_data(TensorData::new(flat, [BATCH, 2]), &Default::default())
    };
    let from_tensors = SpanSegments::<AB>::new(&[tensor(SPANS_A), tensor(SPANS_B)], SEQ);
    assert_eq!(from_tensors.non_empty(), expected_ok);
    assert_eq!(from_tensors.num_rows(), segments.num_rows());
}

#[test]
fn single_token_spans_and_all_empty_batches() {
    // Longest span 1: the max tree has no level; every reduction returns the gathered rows themselves.
    let spans = vec![(0, 1), (3, 4), (8, 9), (4, 4), (9, 9), (2, 3), (1, 2), (0, 0)];
    let hidden = random([BATCH, SEQ, WIDTH], 3);
    let expected =
        values(loop_pool(hidden.clone(), &spans, "mean", Tensor::zeros([WIDTH], &Default::default())).inner());
    let w = random([1, WIDTH], 4);
    for generic in [false, true] {
        let segments = plan(std::slice::from_ref(&spans), generic);
        let pooled = [
            segments.mean(hidden.clone()),
            segments.max(hidden.clone()),
            segments.attention(hidden.clone(), w.clone()),
        ];
        for pooled in pooled {
            // A single row comes back bit-exact: mean divides by 1, softmax of one score is exactly 1.
            assert_eq!(values(pooled.inner()), expected, "generic ops: {generic}");
        }
    }
}

#[test]
fn fused_inference_equals_the_generic_ops_without_autodiff() {
    // Plain NdArray (what `kre predict` runs): the fused pass without a tape against the generic ops.
    type Plain = NdArray<f32>;
    let device = Default::default();
    let hidden = random([BATCH, SEQ, WIDTH], 21).inner();
    let w = random([2, WIDTH], 22).inner();
    let groups = [SPANS_A.to_vec(), SPANS_B.to_vec()];
    let fused = SpanSegments::<Plain>::from_ranges(&groups, SEQ, &device);
    let generic = SpanSegments::<Plain>::from_ranges(&groups, SEQ, &device).with_generic_ops();
    assert!(fused.uses_fused_kernels() && !generic.uses_fused_kernels());
    let pairs = [
        (fused.mean(hidden.clone()), generic.mean(hidden.clone())),
        (fused.max(hidden.clone()), generic.max(hidden.clone())),
        (fused.attention(hidden.clone(), w.clone()), generic.attention(hidden.clone(), w.clone())),
    ];
    for ((a, b), kind) in pairs.into_iter().zip(["mean", "max", "attention"]) {
        assert_close(&format!("plain {kind}"), &values(a), &values(b));
    }
    // A strided view (a slice of a wider tensor) is read through a copy, with the same result.
    let wide = random([BATCH, SEQ, WIDTH + 3], 23).inner();
    let view = wide.slice([0..BATCH, 0..SEQ, 1..WIDTH + 1]);
    let contiguous = Tensor::<Plain, 3>::from_data(view.to_data(), &device);
    assert_close("strided view", &values(fused.max(view)), &values(generic.max(contiguous)));
}

#[test]
fn gpu_backends_keep_the_generic_ops() {
    let segments = SpanSegments::<burn::backend::Wgpu>::from_ranges(&[SPANS_A.to_vec()], SEQ, &Default::default());
    assert!(!segments.uses_fused_kernels());
}

/// Every reduction on both paths: the fused host pass and the generic ops.
fn kinds_and_paths() -> impl Iterator<Item = (&'static str, bool)> {
    ["mean", "max", "attention"].into_iter().flat_map(|kind| [(kind, false), (kind, true)])
}

#[test]
fn two_groups_interleave_per_example_with_their_own_vectors() {
    let upstream = random([BATCH, 2 * WIDTH], 11);
    let (a, b) = (SPANS_A.to_vec(), SPANS_B.to_vec());
    let w_b = random([WIDTH], 12);
    for (kind, generic) in kinds_and_paths() {
        let batched = run(
            |hidden, w| {
                let segments = plan(&[a.clone(), b.clone()], generic);
                let pooled = match kind {
                    "mean" => segments.mean(hidden),
                    "max" => segments.max(hidden),
                    _ => segments.attention(hidden, Tensor::stack(vec![w, w_b.clone()], 0)),
                };
                pooled.reshape([BATCH, 2 * WIDTH])
            },
            &upstream,
        );
        let reference = run(
            |hidden, w| {
                let first = loop_pool(hidden.clone(), &a, kind, w);
                let second = loop_pool(hidden, &b, kind, w_b.clone());
                Tensor::cat(vec![first, second], 1)
            },
            &upstream,
        );
        for (part, (x, e)) in ["values", "hidden gradient", "w gradient"].iter().zip(batched.iter().zip(&reference)) {
            assert_close(&format!("two groups, {kind} (generic ops: {generic}) {part}"), x, e);
        }
    }
}

#[test]
fn head_pooling_matches_the_loop_in_values_and_gradients() {
    let device = Default::default();
    let upstream = random([BATCH, 3 * WIDTH], 13);
    let to_tensor = |spans: &[(i64, i64)]| {
        let flat: Vec<i64> = spans.iter().flat_map(|&(s, e)| [s, e]).collect();
        Tensor::<AB, 2, Int>::from_data(TensorData::new(flat, [BATCH, 2]), &device)
    };
    let starts = Tensor::<AB, 1, Int>::zeros([BATCH], &device);
    for (pooling, kind) in
        [(SpanPooling::Mean, "mean"), (SpanPooling::Max, "max"), (SpanPooling::Attention, "attention")]
    {
        let mut head = RelationHeadConfig::new(WIDTH, 3, pooling).with_concat_cls(true).init::<AB>(&device);
        let w_object = random([WIDTH], 14);
        let batched = run(
            |hidden, w| {
                if pooling == SpanPooling::Attention {
                    head.subject_attention = Some(Param::from_tensor(w));
                    head.object_attention = Some(Param::from_tensor(w_object.clone()));
                }
                let pooled =
                    head.pool(hidden, starts.clone(), starts.clone(), to_tensor(&SPANS_A), to_tensor(&SPANS_B));
                assert_eq!(pooled.fallback_count, 5);
                pooled.features
            },
            &upstream,
        );
        let reference = run(
            |hidden, w| {
                let cls = hidden.clone().slice([0..BATCH, 0..1, 0..WIDTH]).reshape([BATCH, WIDTH]);
                let subject = loop_pool(hidden.clone(), &SPANS_A, kind, w);
                let object = loop_pool(hidden, &SPANS_B, kind, w_object.clone());
                Tensor::cat(vec![cls, subject, object], 1)
            },
            &upstream,
        );
        for (part, (x, e)) in ["features", "hidden gradient", "w gradient"].iter().zip(batched.iter().zip(&reference)) {
            assert_close(&format!("head {pooling} {part}"), x, e);
        }
    }
}
