//! Data-parallel training and the half-precision optimiser, checked on the CPU: "several devices" are the same
//! NdArray CPU device given more than once (each replica still gets its own copy and autodiff graph), and the
//! f32-master optimiser is checked with f64 masters over f32 weights (NdArray has no f16/bf16).
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{FloatDType, Tensor};
use re_data::encode::{EncodedExample, RecordTokenizer};
use re_data::io::{read_records, ReadOptions};
use re_data::labels::LabelMap;
use re_data::markers::MarkerScheme;
use re_models::encoder::EncoderConfig;
use re_models::head::SpanPooling;
use re_train::checkpoint::ModelSpec;
use re_train::config::{DeviceSpec, LabelSmoothing, ModelSource, Precision, TinyConfig, TrainConfig};
use re_train::loss::Objective;
use re_train::model::RelationClassifier;
use re_train::optim::{clip_global_norm, upcast_grads, GroupedAdamW};
use re_train::parallel::{batch_gradients, GradPrep};
use re_train::progress::{Silent, TrainObserver};
use re_train::trainer::{init_model, read_metrics, train_on, EpochMetrics, LossScaler};

type Cpu = burn::backend::NdArray<f32>;
type B = burn::backend::Autodiff<Cpu>;
type Dev = burn::tensor::Device<B>;

use crate::serial;

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/synthetic-klue-re").join(name)
}

/// Write the first `n` records of a shipped file to `dir/name` (KLUE JSON).
fn slice(name: &str, n: usize, dir: &Path) -> PathBuf {
    let ds = read_records(&dataset(name), &ReadOptions::default()).expect("shipped synthetic set");
    let out = dir.join(name);
    let recs: Vec<_> = ds.records.into_iter().take(n).collect();
    re_data::io::klue_json::write(&out, &recs).unwrap();
    out
}

/// A tiny classifier with every dropout off, its encoded training examples and the objective.
struct Fixture {
    model: RelationClassifier<B>,
    examples: Vec<EncodedExample>,
    objective: Objective,
    pad: u32,
}

fn fixture(n: usize) -> Fixture {
    let labels = LabelMap::klue();
    let records = read_records(&dataset("train.json"), &ReadOptions::default()).unwrap().records;
    let records: Vec<_> = records.into_iter().take(n).collect();
    let gold: Vec<usize> = records.iter().map(|r| labels.id(r.label.as_deref().unwrap()).unwrap()).collect();
    let sentences: Vec<&str> = records.iter().map(|r| r.sentence.as_str()).collect();
    let tokenizer = re_train::tiny::train_wordpiece(&sentences, 600).unwrap();
    let max_length = 64;
    let (enc, _) = RecordTokenizer::new(tokenizer, MarkerScheme::parse("typed").unwrap(), max_length).unwrap();
    let tiny = TinyConfig {
        vocab_size: 600,
        hidden_size: 32,
        num_layers: 2,
        num_heads: 2,
        intermediate_size: 64,
        dropout: 0.1,
    };
    let mut encoder_config = re_train::tiny::tiny_encoder_config(&tiny, enc.vocab_size(), enc.pad_id(), max_length);
    if let EncoderConfig::Bert(c) = &mut encoder_config {
        c.hidden_dropout_prob = 0.0;
        c.attention_probs_dropout_prob = 0.0;
    }
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
    let model = init_model::<B>(&spec, &device).unwrap();
    // Parameters initialise lazily and clones of an uninitialised one initialise separately: fix the values now,
    // so every copy below starts from the same weights.
    re_train::parallel::materialize(&model);
    let label_opts: Vec<Option<usize>> = gold.iter().map(|&g| Some(g)).collect();
    let examples = enc.encode_all(&records, Some(&label_opts)).unwrap();
    let mut counts = vec![0usize; labels.len()];
    for &g in &gold {
        counts[g] += 1;
    }
    let cfg = TrainConfig { label_smoothing: LabelSmoothing::Fixed(0.1), ..Default::default() };
    let (objective, _) = Objective::from_config(&cfg, &counts).unwrap();
    Fixture { model, examples, objective, pad: enc.pad_id() }
}

/// Every float parameter, flattened in visiting order.
fn params<BB: Backend, M: Module<BB>>(m: &M) -> Vec<f64> {
    struct Collect(Vec<f64>);
    impl<BB: Backend> ModuleVisitor<BB> for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<BB, D>>) {
            self.0.extend(p.val().into_data().convert::<f64>().to_vec::<f64>().unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

/// Every gradient of `m`'s parameters (0 where a parameter has none), flattened in visiting order.
fn grads_of<BB: AutodiffBackend, M: Module<BB>>(m: &M, g: &GradientsParams) -> Vec<f64> {
    struct Collect<'a>(&'a GradientsParams, Vec<f64>);
    impl<BB: AutodiffBackend> ModuleVisitor<BB> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<BB, D>>) {
            match self.0.get::<BB::InnerBackend, D>(p.id) {
                Some(t) => self.1.extend(t.into_data().convert::<f64>().to_vec::<f64>().unwrap()),
                None => self.1.extend(std::iter::repeat_n(0.0, p.val().shape().num_elements())),
            }
        }
    }
    let mut c = Collect(g, Vec::new());
    m.visit(&mut c);
    c.1
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// One clipped GroupedAdamW step on the batch `idx`, with the batch split over `devices`.
/// Returns (loss, gradients before clipping, parameters after the step).
fn one_step(f: &Fixture, idx: &[usize], devices: &[Dev], lr: f64) -> (f64, Vec<f64>, Vec<f64>) {
    let model = f.model.clone().fork(&devices[0]);
    let mut optim = GroupedAdamW::new(&model, 0.01);
    let out = batch_gradients(&model, &f.objective, &f.examples, idx, f.pad, devices, GradPrep::default()).unwrap();
    let mut grads = out.grads;
    let g = grads_of(&model, &grads);
    clip_global_norm::<B, _>(&model, &mut grads, 1.0);
    let model = optim.step(lr, model, grads);
    (out.loss, g, params(&model))
}

#[test]
fn data_parallel_step_equals_the_single_device_step() {
    let _guard = serial();
    let f = fixture(64);
    let cpu = Dev::default();
    // 15 examples: shards of 8 + 7 on two replicas, 5 + 5 + 5 on three; padded to each shard's own length.
    let idx: Vec<usize> = (3..18).collect();
    let lr = 1e-3;
    let (loss_1, grads_1, params_1) = one_step(&f, &idx, std::slice::from_ref(&cpu), lr);
    let scale = grads_1.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(scale > 0.0);
    for replicas in [2usize, 3] {
        let devices = vec![cpu.clone(); replicas];
        let (loss_n, grads_n, params_n) = one_step(&f, &idx, &devices, lr);
        let (dl, dg, dp) =
            (((loss_n - loss_1).abs()), max_abs_diff(&grads_n, &grads_1), max_abs_diff(&params_n, &params_1));
        eprintln!(
            "{replicas} replicas vs 1: |Δloss| {dl:.3e}, max |Δgrad| {dg:.3e} (max |grad| {scale:.3e}), \
             max |Δparam| after AdamW (lr {lr}) {dp:.3e}"
        );
        assert!(dl < 1e-5, "loss {loss_n} vs {loss_1}");
        assert!(dg < 1e-5 * scale.max(1.0), "gradients differ by {dg}");
        assert!(dp < 1e-5, "parameters after the step differ by {dp}");
    }
    // The step did move the parameters (so the comparison above is not trivially true).
    assert!(max_abs_diff(&params_1, &params(&f.model)) > 1e-4);
}

#[test]
fn a_batch_smaller_than_the_replica_count_uses_fewer_devices() {
    let _guard = serial();
    let f = fixture(16);
    let cpu = Dev::default();
    let (loss_1, grads_1, _) = one_step(&f, &[5], std::slice::from_ref(&cpu), 1e-3);
    let (loss_3, grads_3, _) = one_step(&f, &[5], &vec![cpu.clone(); 3], 1e-3);
    assert!((loss_1 - loss_3).abs() < 1e-6);
    assert!(max_abs_diff(&grads_1, &grads_3) < 1e-6);
}

/// burn-collective's local all-reduce, which multi-device steps rely on, sums over peers on NdArray CPU devices and
/// leaves the process-wide collective ready for the next step (registered twice in a row, as successive steps do).
#[test]
fn burn_collective_sums_over_two_cpu_peers() {
    use burn::collective::{all_reduce, finish_collective, register, CollectiveConfig, PeerId, ReduceOperation};
    let _guard = serial();
    let values = [[1.0f32, 2.0, 3.0], [10.0, 20.0, 30.0]];
    for round in 0..2 {
        let results: Vec<Vec<f32>> = std::thread::scope(|scope| {
            let handles: Vec<_> = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    scope.spawn(move || {
                        let device = burn::tensor::Device::<Cpu>::default();
                        let peer = PeerId::from(i);
                        register::<Cpu>(peer, device, CollectiveConfig::default().with_num_devices(2)).unwrap();
                        let t = Tensor::<Cpu, 1>::from_floats(*v, &device).mul_scalar(round as f32 + 1.0);
                        let sum = all_reduce::<Cpu>(peer, t.into_primitive().tensor(), ReduceOperation::Sum).unwrap();
                        finish_collective::<Cpu>(peer).unwrap();
                        Tensor::<Cpu, 1>::from_primitive(burn::tensor::TensorPrimitive::Float(sum))
                            .into_data()
                            .to_vec::<f32>()
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let k = round as f32 + 1.0;
        for r in &results {
            assert_eq!(r, &vec![11.0 * k, 22.0 * k, 33.0 * k], "round {round}");
        }
    }
}

/// The half-precision optimiser (master weights in a wider type than the model's) takes the same step as burn's
/// AdamW, survives a save/load of its state, and gradients come back unscaled from [`upcast_grads`].
#[test]
fn master_weight_adamw_matches_adamw_and_round_trips_its_state() {
    let _guard = serial();
    let f = fixture(32);
    let cpu = Dev::default();
    let idx: Vec<usize> = (0..12).collect();
    let lr = 1e-3;
    let grads_for = |m: &RelationClassifier<B>, scale: f64| {
        let prep = GradPrep { loss_scale: scale, upcast: None };
        batch_gradients(m, &f.objective, &f.examples, &idx, f.pad, std::slice::from_ref(&cpu), prep).unwrap().grads
    };

    let plain = f.model.clone().fork(&cpu);
    let mut adamw = GroupedAdamW::new(&plain, 0.01);
    let master = f.model.clone().fork(&cpu);
    let mut master_adamw = GroupedAdamW::with_master(&master, 0.01, FloatDType::F64);

    // Loss scaled by 1024 before backward, gradients brought back by upcast_grads (here to f64) ÷ 1024.
    let g_plain = grads_for(&plain, 1.0);
    let g_scaled = upcast_grads(&master, grads_for(&master, 1024.0), FloatDType::F64, 1.0 / 1024.0);
    let dg = max_abs_diff(&grads_of(&plain, &g_plain), &grads_of(&master, &g_scaled));
    eprintln!("loss-scaled (×1024) and unscaled gradients: max |Δ| {dg:.3e}");
    assert!(dg < 1e-6);

    let plain = adamw.step(lr, plain, g_plain);
    let master = master_adamw.step(lr, master, g_scaled);
    let dp = max_abs_diff(&params(&plain), &params(&master));
    eprintln!("MasterAdamW (f64 masters) vs AdamW after one step: max |Δparam| {dp:.3e}");
    assert!(dp < 1e-5);

    // Save and reload the master optimiser's state; the next steps match one that never went through a file.
    let dir = tempfile::tempdir().unwrap();
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    recorder.record(master_adamw.to_record(), dir.path().join("opt")).unwrap();
    let loaded = recorder.load(dir.path().join("opt"), &cpu).unwrap();
    let mut reloaded = GroupedAdamW::with_master(&master, 0.01, FloatDType::F64).load_record(loaded);
    let g1 = grads_for(&master, 1.0);
    let g2 = grads_for(&master, 1.0);
    let a = master_adamw.step(lr, master.clone(), g1);
    let b = reloaded.step(lr, master.clone().fork(&cpu), g2);
    assert_eq!(params(&a), params(&b), "state lost precision or content in the round trip");
    let plain = adamw.step(lr, plain.clone(), grads_for(&plain, 1.0));
    let dp2 = max_abs_diff(&params(&plain), &params(&a));
    eprintln!("after two steps: max |Δparam| {dp2:.3e}");
    assert!(dp2 < 1e-5);
}

#[test]
fn loss_scaler_halves_on_overflow_and_grows_after_good_steps() {
    let mut s = LossScaler::default();
    assert_eq!(s.scale, 32768.0);
    assert!(!s.update(false));
    assert_eq!(s.scale, 16384.0);
    for _ in 0..LossScaler::GROWTH_INTERVAL {
        assert!(s.update(true));
    }
    assert_eq!(s.scale, 32768.0);
    assert_eq!(s.good_steps, 0);
    // Never above the largest power of two that f16 holds.
    for _ in 0..LossScaler::GROWTH_INTERVAL {
        s.update(true);
    }
    assert_eq!(s.scale, LossScaler::MAX_SCALE);
}

fn small_config(dir: &Path, out: &str) -> TrainConfig {
    TrainConfig {
        model: ModelSource::Tiny(TinyConfig {
            vocab_size: 600,
            hidden_size: 64,
            num_layers: 1,
            num_heads: 2,
            intermediate_size: 128,
            dropout: 0.1,
        }),
        train: slice("train.json", 400, dir),
        dev: Some(slice("dev.json", 80, dir)),
        out: dir.join(out),
        epochs: 3,
        batch_size: 16,
        markers: MarkerScheme::Typed,
        eval_batch_size: 64,
        lr: Some(3e-3),
        warmup_ratio: 0.1,
        max_length: 64,
        dropout: 0.1,
        ..TrainConfig::default()
    }
}

struct KillAfter(usize);
impl TrainObserver for KillAfter {
    fn should_stop(&mut self, m: &EpochMetrics) -> bool {
        m.epoch >= self.0
    }
}

#[test]
fn two_replica_training_runs_end_to_end_and_resumes() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let cpu = Dev::default();
    let two = [cpu.clone(), cpu];
    let cfg = small_config(dir.path(), "dp");
    let summary = train_on::<B>(&cfg, &two, &mut Silent).unwrap();
    let ms = &summary.epochs;
    assert_eq!(ms.len(), 3);
    assert!(ms.iter().all(|m| m.train_loss.is_finite() && m.micro_f1.is_some()));
    assert!(ms[2].train_loss < ms[0].train_loss, "{:?}", ms.iter().map(|m| m.train_loss).collect::<Vec<_>>());
    assert_eq!(ms[2].step, 3 * 400usize.div_ceil(16));
    assert_eq!(read_metrics(&cfg.out.join("metrics.jsonl")).unwrap().len(), 3);
    for f in ["model.mpk", "model_spec.json", "tokenizer.json"] {
        assert!(cfg.out.join("best").join(f).exists(), "best/{f} missing");
    }

    // Interrupted after one epoch, then resumed, still on two replicas (and a device change is allowed).
    let c = TrainConfig { out: dir.path().join("dp-resume"), ..cfg.clone() };
    assert_eq!(train_on::<B>(&c, &two, &mut KillAfter(1)).unwrap().epochs.len(), 1);
    let resumed = TrainConfig { resume: true, device: DeviceSpec::Cuda(vec![0, 1]), ..c.clone() };
    let done = train_on::<B>(&resumed, &two, &mut Silent).unwrap();
    assert_eq!(done.epochs.iter().map(|m| m.epoch).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(done.epochs[2].step, 3 * 400usize.div_ceil(16));
}

#[test]
fn precision_must_match_the_backend() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let cpu = Dev::default();
    // bf16 on the CPU is refused by the configuration check, before any work.
    let cfg = TrainConfig { precision: Precision::Bf16, out: dir.path().join("x"), ..Default::default() };
    let err = train_on::<B>(&cfg, &[cpu], &mut Silent).unwrap_err().to_string();
    assert!(err.contains("needs --device cuda"), "{err}");
    // A CUDA device string with an f32 backend: the backend check catches the mismatch.
    let cfg = TrainConfig { device: DeviceSpec::Cuda(vec![0]), ..cfg };
    let err = train_on::<B>(&cfg, &[cpu], &mut Silent).unwrap_err().to_string();
    assert!(err.contains("does not match the backend"), "{err}");
    assert!(train_on::<B>(&TrainConfig::default(), &[], &mut Silent).is_err());
}
