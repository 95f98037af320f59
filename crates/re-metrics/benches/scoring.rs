//! KLUE-size scoring benchmark: micro-F1 and AUPRC on 7,765 × 30 (the KLUE-RE test size).
//!
//! The input is `re_metrics::synthetic::klue_like_scores(42, 7765, 30)`; `scripts/bench/sklearn_metrics.py`
//! regenerates the identical matrix and times scikit-learn (KLUE's `klue_re_micro_f1` + `klue_re_auprc`) on it.
//! Run: `cargo bench -p re-metrics --bench scoring -- --warm-up-time 1 --measurement-time 3`.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use re_metrics::synthetic::klue_like_scores;
use re_metrics::{argmax_rows, auprc, micro_f1_without_no_relation, Predictions, Report};

const ROWS: usize = 7765;
const LABELS: usize = 30;
const SEED: u64 = 42;

fn scoring(c: &mut Criterion) {
    let data = klue_like_scores(SEED, ROWS, LABELS);
    let pred = argmax_rows(&data.probs, LABELS).expect("valid matrix");
    let names: Vec<String> = (0..LABELS).map(|i| format!("label_{i}")).collect();

    let mut group = c.benchmark_group("klue_7765x30");
    group.bench_function("micro_f1", |b| {
        b.iter(|| micro_f1_without_no_relation(black_box(&data.gold), black_box(&pred), LABELS, 0).expect("valid"))
    });
    group.bench_function("auprc", |b| {
        b.iter(|| auprc(black_box(&data.gold), black_box(&data.probs), LABELS).expect("valid"))
    });
    // What the KLUE scorer does per evaluation: both leaderboard metrics (the sklearn script times the same pair).
    group.bench_function("micro_f1+auprc", |b| {
        b.iter(|| {
            let f1 = micro_f1_without_no_relation(black_box(&data.gold), black_box(&pred), LABELS, 0).expect("valid");
            let area = auprc(black_box(&data.gold), black_box(&data.probs), LABELS).expect("valid");
            (f1, area)
        })
    });
    group.bench_function("full_report", |b| {
        b.iter(|| {
            Report::compute(black_box(&data.gold), Predictions::Probabilities(black_box(&data.probs)), &names, 0)
                .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, scoring);
criterion_main!(benches);
