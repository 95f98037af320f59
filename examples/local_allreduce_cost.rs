//! The cost of data parallelism inside one process: one training step's forward + backward on one device against
//! the same batch split over two replicas (each its own thread and autodiff graph, gradients summed by
//! burn-collective's local all-reduce), on the CPU backend, for the `tiny` encoder and one of roberta-base's layer
//! sizes. "Two devices" are the CPU device given twice, so this measures the fork, the flattening and the
//! all-reduce (and the two threads sharing the cores), not a speed-up.
//!
//! ```sh
//! cargo run --release --example local_allreduce_cost -- [tiny|base ...]
//! ```
//! Synthetic data (the shipped set), batch 16, length 128; prints the median of 3 steps after one warm-up step.
use std::path::Path;
use std::time::Instant;

use burn::tensor::backend::Backend;
use re_data::encode::RecordTokenizer;
use re_data::io::{read_records, ReadOptions};
use re_data::labels::LabelMap;
use re_data::markers::MarkerScheme;
use re_models::encoder::EncoderConfig;
use re_models::head::SpanPooling;
use re_train::checkpoint::ModelSpec;
use re_train::config::{TinyConfig, TrainConfig};
use re_train::loss::Objective;
use re_train::parallel::{batch_gradients, materialize, GradPrep};
use re_train::trainer::init_model;

mod common;

type B = burn::backend::Autodiff<burn::backend::NdArray<f32>>;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    common::retain_freed_memory();
    let sizes: Vec<String> = std::env::args().skip(1).collect();
    let sizes = if sizes.is_empty() { vec!["tiny".to_string(), "base".to_string()] } else { sizes };
    let labels = LabelMap::klue();
    let records = read_records(Path::new("datasets/synthetic-klue-re/train.json"), &ReadOptions::default())?.records;
    let records: Vec<_> = records.into_iter().take(16).collect();
    let gold: Vec<Option<usize>> = records.iter().map(|r| r.label.as_deref().and_then(|l| labels.id(l))).collect();
    let sentences: Vec<&str> = records.iter().map(|r| r.sentence.as_str()).collect();
    let tokenizer = re_train::tiny::train_wordpiece(&sentences, 2000)?;
    let max_length = 128;
    let (enc, _) = RecordTokenizer::new(tokenizer, MarkerScheme::Typed, max_length)?;
    let examples = enc.encode_all(&records, Some(&gold))?;
    let idx: Vec<usize> = (0..examples.len()).collect();
    let (objective, _) = Objective::from_config(&TrainConfig::default(), &vec![1; labels.len()])?;
    for size in sizes {
        let (hidden, layers, heads) = match size.as_str() {
            "tiny" => (256, 4, 4),
            "base" => (768, 12, 12),
            other => anyhow::bail!("unknown size {other} (tiny|base)"),
        };
        let tiny = TinyConfig {
            vocab_size: 2000,
            hidden_size: hidden,
            num_layers: layers,
            num_heads: heads,
            intermediate_size: 4 * hidden,
            dropout: 0.0,
        };
        let encoder_config = re_train::tiny::tiny_encoder_config(&tiny, enc.vocab_size(), enc.pad_id(), max_length);
        let params = match &encoder_config {
            EncoderConfig::Bert(c) => c.hidden_size * c.hidden_size * 12 * c.num_hidden_layers,
            _ => 0,
        };
        let spec = ModelSpec {
            encoder_config,
            pooling: SpanPooling::EntityStart,
            concat_cls: true,
            dropout: 0.0,
            num_labels: labels.len(),
            markers: MarkerScheme::Typed,
            max_length,
            labels: labels.names().to_vec(),
            entity_type_pairs: None,
        };
        let device = Default::default();
        <B as Backend>::seed(&device, 7);
        let model = init_model::<B>(&spec, &device)?;
        materialize(&model);
        let mut row = Vec::new();
        for replicas in [1usize, 2] {
            let devices = vec![device; replicas];
            let mut times = Vec::new();
            for rep in 0..4 {
                let start = Instant::now();
                let out =
                    batch_gradients(&model, &objective, &examples, &idx, enc.pad_id(), &devices, GradPrep::default())?;
                std::hint::black_box(out.grads);
                if rep > 0 {
                    times.push(start.elapsed().as_secs_f64());
                }
            }
            times.sort_by(f64::total_cmp);
            row.push(times[times.len() / 2]);
        }
        println!(
            "{size} (~{:.1} M encoder-layer parameters): 1 device {:.0} ms, 2 replicas {:.0} ms per forward + backward \
             ({:+.0} ms, {:.2}×)",
            params as f64 / 1e6,
            row[0] * 1e3,
            row[1] * 1e3,
            (row[1] - row[0]) * 1e3,
            row[1] / row[0]
        );
    }
    Ok(())
}
