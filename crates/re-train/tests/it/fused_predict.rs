//! The fused engine (through `re_train::infer::Predictor`) against burn on a freshly trained tiny model: the same
//! probabilities within 1e-5 and the same labels, for `predict_probs`, `predict_file_with` and the dev evaluation
//! of `train_with`; and the int8 engine against f32 (close probabilities, the same clear labels).
use std::path::{Path, PathBuf};

use re_data::io::{read_records, ReadOptions};
use re_train::config::{ModelSource, TinyConfig, TrainConfig};
use re_train::infer::{InferenceEngine, Predictor};
use re_train::predict::predict_file_with;
use re_train::progress::Silent;
use re_train::trainer::{load_model, load_record_tokenizer, predict_probs, read_metrics, train_with};

type Cpu = burn::backend::NdArray<f32>;
type B = burn::backend::Autodiff<Cpu>;

const TOLERANCE: f64 = 1e-5;

use crate::serial;

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/synthetic-klue-re").join(name)
}

/// The first `n` records of a shipped file, written to `dir/name` (KLUE JSON).
fn slice(name: &str, n: usize, dir: &Path) -> PathBuf {
    let ds = read_records(&dataset(name), &ReadOptions::default()).expect("shipped synthetic set");
    let out = dir.join(name);
    let recs: Vec<_> = ds.records.into_iter().take(n).collect();
    re_data::io::klue_json::write(&out, &recs).unwrap();
    out
}

/// The argmax of a row and its margin over the runner-up.
fn top2(row: &[f64]) -> (usize, f64) {
    let best = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
    let second = (0..row.len()).filter(|&i| i != best).map(|i| row[i]).fold(f64::NEG_INFINITY, f64::max);
    (best, row[best] - second)
}

/// Max |Δ| over two probability matrices, after checking that every row has the same argmax (rows whose top two
/// are closer than the tolerance could legitimately flip; they are counted and must be rare).
fn compare(burn: &[f64], fused: &[f64], k: usize) -> f64 {
    assert_eq!(burn.len(), fused.len());
    let diff = burn.iter().zip(fused).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let mut near_ties = 0;
    for (a, b) in burn.chunks(k).zip(fused.chunks(k)) {
        let ((ia, margin), (ib, _)) = (top2(a), top2(b));
        if margin < TOLERANCE {
            near_ties += 1;
        } else {
            assert_eq!(ia, ib, "argmax differs: burn {a:?} vs fused {b:?}");
        }
    }
    assert!(near_ties * 20 <= burn.len() / k, "{near_ties} near ties");
    diff
}

#[test]
fn fused_engine_predicts_like_burn_after_training() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = TrainConfig {
        model: ModelSource::Tiny(TinyConfig {
            vocab_size: 500,
            hidden_size: 64,
            num_layers: 2,
            num_heads: 4,
            intermediate_size: 128,
            dropout: 0.1,
        }),
        train: slice("train.json", 320, d),
        dev: Some(slice("dev.json", 96, d)),
        out: d.join("run"),
        epochs: 1,
        batch_size: 16,
        markers: re_data::markers::MarkerScheme::Typed,
        pooling: re_models::head::SpanPooling::Mean,
        concat_cls: true,
        eval_batch_size: 32,
        lr: Some(3e-3),
        max_length: 64,
        ..TrainConfig::default()
    };
    // The dev evaluation of this run goes through the fused engine.
    let summary = train_with::<B>(&cfg, &[Default::default()], &mut Silent, InferenceEngine::Fused).unwrap();
    assert_eq!(summary.epochs.len(), 1);

    // predict_probs on the dev slice with both engines.
    let device = Default::default();
    let best = cfg.out.join("best");
    let (model, spec) = load_model::<Cpu>(&best, &device).unwrap();
    let record_tokenizer = load_record_tokenizer(&best, &spec).unwrap();
    let labels = re_data::labels::LabelMap::new(spec.labels.clone()).unwrap();
    let k = labels.len();
    let dev_records = re_train::trainer::load_records(cfg.dev.as_ref().unwrap(), &labels).unwrap();
    let gold = re_train::trainer::label_ids(&dev_records, &labels, cfg.dev.as_ref().unwrap()).unwrap();
    let examples = record_tokenizer.encode_all(&dev_records, None).unwrap();
    let pad = record_tokenizer.pad_id();
    let burn = Predictor::for_spec(model.clone(), &spec, InferenceEngine::Burn).unwrap();
    let fused = Predictor::for_spec(model, &spec, InferenceEngine::Fused).unwrap();
    assert_eq!(burn.engine(), InferenceEngine::Burn);
    assert_eq!(fused.engine(), InferenceEngine::Fused, "the tiny RoBERTa-style encoder is covered");
    let (p_burn, fb_burn) = predict_probs(&burn, &examples, 32, pad, k, &device).unwrap();
    let (p_fused, fb_fused) = predict_probs(&fused, &examples, 32, pad, k, &device).unwrap();
    assert_eq!(fb_burn, fb_fused);
    let diff = compare(&p_burn, &p_fused, k);
    println!("predict_probs: max |Δ| between engines = {diff:.3e}");
    assert!(diff <= TOLERANCE, "max |Δ| {diff}");

    // int8 projections: close to f32, and the same label wherever f32's top two are not nearly tied.
    let int8 =
        Predictor::for_spec(load_model::<Cpu>(&best, &device).unwrap().0, &spec, InferenceEngine::FusedInt8).unwrap();
    assert_eq!(int8.engine(), InferenceEngine::FusedInt8);
    let (p_int8, fb_int8) = predict_probs(&int8, &examples, 32, pad, k, &device).unwrap();
    assert_eq!(fb_int8, fb_fused);
    let int8_diff = p_fused.iter().zip(&p_int8).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let (mut same, mut clear_flips) = (0, 0);
    for (a, b) in p_fused.chunks(k).zip(p_int8.chunks(k)) {
        let ((ia, margin), (ib, _)) = (top2(a), top2(b));
        same += usize::from(ia == ib);
        clear_flips += usize::from(ia != ib && margin > 0.05);
    }
    println!("int8 vs f32: max |Δ prob| {int8_diff:.3e}, same label on {same} of {} rows", gold.len());
    assert!(int8_diff > 0.0, "the int8 engine gave f32's numbers exactly");
    assert!(int8_diff < 0.05, "int8 probabilities differ by {int8_diff}");
    assert_eq!(clear_flips, 0, "int8 changed a label f32 gave with a margin > 0.05");
    assert!(same * 100 >= gold.len() * 95, "same label on {same} of {} rows", gold.len());

    // The dev loss logged by the fused evaluation equals the one burn gives for the same weights.
    let logged = read_metrics(&cfg.out.join("metrics.jsonl")).unwrap()[0].dev_loss.unwrap();
    let burn_loss =
        gold.iter().enumerate().map(|(i, &g)| -(p_burn[i * k + g].max(1e-12)).ln()).sum::<f64>() / gold.len() as f64;
    println!("dev loss: fused (logged) {logged:.9}, burn {burn_loss:.9}");
    assert!((logged - burn_loss).abs() <= 1e-5, "dev loss {logged} vs {burn_loss}");

    // predict_file_with: the same submission labels, probabilities within the tolerance.
    let unlabeled: Vec<_> = read_records(cfg.dev.as_ref().unwrap(), &ReadOptions::default())
        .unwrap()
        .records
        .into_iter()
        .map(|mut r| {
            r.label = None;
            r
        })
        .collect();
    let test = d.join("test.jsonl");
    re_data::io::jsonl::write(&test, &unlabeled).unwrap();
    let mut subs = Vec::new();
    for engine in [InferenceEngine::Burn, InferenceEngine::Fused] {
        let out = d.join(format!("submission-{engine}.csv"));
        let s = predict_file_with::<Cpu>(&cfg.out, &test, &out, 16, engine, &device).unwrap();
        assert_eq!(s.rows, unlabeled.len());
        subs.push(re_data::io::submission::Submission::read(&out).unwrap());
    }
    let flat =
        |s: &re_data::io::submission::Submission| s.rows.iter().flat_map(|r| r.probs.clone()).collect::<Vec<_>>();
    let diff = compare(&flat(&subs[0]), &flat(&subs[1]), k);
    println!("predict_file_with: max |Δ| between engines = {diff:.3e}");
    assert!(diff <= TOLERANCE, "max |Δ| {diff}");
    for (a, b) in subs[0].rows.iter().zip(&subs[1].rows) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.pred_label, b.pred_label, "id {}", a.id);
    }
}

#[test]
fn fused_engine_falls_back_to_burn_for_deberta_v2_with_convolution() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/parity/deberta_v2/safetensors");
    let device = Default::default();
    let (encoder, config, _) = re_models::hub::load_encoder::<Cpu>(&dir, &device).unwrap();
    let head = re_models::head::RelationHeadConfig::new(config.hidden_size(), 3, re_models::head::SpanPooling::Cls)
        .init::<Cpu>(&device);
    let model = re_train::model::RelationClassifier { encoder, head };
    let predictor = Predictor::new(model, &config, InferenceEngine::Fused).unwrap();
    assert_eq!(predictor.engine(), InferenceEngine::Burn);
}

#[test]
fn engine_names_parse() {
    assert_eq!("burn".parse::<InferenceEngine>().unwrap(), InferenceEngine::Burn);
    assert_eq!("fused".parse::<InferenceEngine>().unwrap(), InferenceEngine::Fused);
    assert_eq!(InferenceEngine::Fused.to_string(), "fused");
    assert_eq!("fused-int8".parse::<InferenceEngine>().unwrap(), InferenceEngine::FusedInt8);
    assert_eq!(InferenceEngine::FusedInt8.to_string(), "fused-int8");
    assert_eq!("fused-w8a16".parse::<InferenceEngine>().unwrap(), InferenceEngine::FusedW8A16);
    assert_eq!(InferenceEngine::FusedW8A16.to_string(), "fused-w8a16");
    assert!("gpu".parse::<InferenceEngine>().is_err());
    // `re_train::InferenceEngine` is the re-models type, re-exported.
    let _: re_models::inference::InferenceEngine = re_train::InferenceEngine::Fused;
}
