//! Criterion benchmarks: feature extraction (pairs/s, MeCab analysis done beforehand) and Pegasos training on
//! 50k pairs of the SYNTHETIC competition set. Needs MeCab (`bash scripts/install-test-deps.sh`).
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use re_classic::clues::ClueLexicon;
use re_classic::features::FeatureConfig;
use re_classic::learn::{train_pegasos, PegasosConfig};
use re_classic::mecab::Mecab;
use re_classic::pipeline::Corpus;
use re_data::synth::competition::{generate_competition, CompetitionSynthConfig};
use std::hint::black_box;

fn corpus(sentences: usize) -> Corpus {
    let records = generate_competition(&CompetitionSynthConfig { sentences, seed: 7, ..Default::default() });
    let mecab = Mecab::new().unwrap_or_else(|e| panic!("{e}"));
    Corpus::build(&records, &mecab, &ClueLexicon::default_competition(), &|| {}).expect("analyse")
}

fn bench(c: &mut Criterion) {
    let small = corpus(2000);
    let cfg = FeatureConfig::default();
    let mut g = c.benchmark_group("features");
    g.throughput(Throughput::Elements(small.pairs.len() as u64));
    g.bench_function("paper_best_f3-f7", |b| {
        b.iter(|| (0..small.pairs.len()).map(|i| black_box(small.pair_vector(i, &cfg)).len()).sum::<usize>())
    });
    let all = FeatureConfig { families: re_classic::features::FeatureSet::ALL, ..Default::default() };
    g.bench_function("all_f1-f7", |b| {
        b.iter(|| (0..small.pairs.len()).map(|i| black_box(small.pair_vector(i, &all)).len()).sum::<usize>())
    });
    g.finish();

    let big = corpus(44_000);
    let n = big.pairs.len().min(50_000);
    let xs: Vec<_> = (0..n).map(|i| big.pair_vector(i, &cfg)).collect();
    let ys: Vec<bool> = big.pairs[..n].iter().map(|p| p.label.as_deref() == Some("competition")).collect();
    let mut g = c.benchmark_group("pegasos");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    let pc = PegasosConfig { epochs: 10, ..Default::default() };
    g.bench_function(format!("train_{n}_pairs_10_epochs"), |b| {
        b.iter_batched(|| (), |_| black_box(train_pegasos(&xs, &ys, cfg.dim(), &pc)), BatchSize::PerIteration)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
