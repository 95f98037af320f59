//! Loss values and gradients against the PyTorch fixtures of `tools/make_loss_fixtures.py`
//! (float64 reference; burn runs in f32 here, so tolerances are relative to f32 precision).
use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Int, Tensor, TensorData};
use re_losses::{FocalLossConfig, LabelSmoothingCrossEntropyConfig, Reduction};
use serde::Deserialize;
use std::collections::BTreeMap;

type B = NdArray<f32>;
type AD = Autodiff<NdArray<f32>>;

#[derive(Deserialize)]
struct Fixtures {
    inputs: BTreeMap<String, Input>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Input {
    logits: Vec<Vec<f64>>,
    targets: Vec<i64>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum AlphaValue {
    Scalar(f64),
    PerClass(Vec<f64>),
}

#[derive(Deserialize)]
struct Case {
    name: String,
    loss: String,
    input: String,
    reduction: String,
    ignore_index: Option<i64>,
    #[serde(default)]
    smoothing: f64,
    #[serde(default)]
    weights: Option<Vec<f64>>,
    #[serde(default)]
    gamma: f64,
    alpha: Option<AlphaValue>,
    value: Vec<f64>,
    grad: Vec<Vec<f64>>,
}

fn fixtures() -> Fixtures {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/losses.json");
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e} (run tools/make_loss_fixtures.py)"));
    serde_json::from_str(&text).unwrap()
}

fn reduction(name: &str) -> Reduction {
    match name {
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        "none" => Reduction::None,
        other => panic!("unknown reduction {other}"),
    }
}

fn tensors<BK: burn::tensor::backend::Backend>(input: &Input) -> (Tensor<BK, 2>, Tensor<BK, 1, Int>) {
    let device = Default::default();
    let rows = input.logits.len();
    let cols = input.logits[0].len();
    let flat: Vec<f32> = input.logits.iter().flatten().map(|&v| v as f32).collect();
    let logits = Tensor::<BK, 2>::from_data(TensorData::new(flat, [rows, cols]), &device);
    let targets = Tensor::<BK, 1, Int>::from_data(TensorData::new(input.targets.clone(), [rows]), &device);
    (logits, targets)
}

/// The loss of one case, generic so the same code runs with and without autodiff.
fn compute<BK: burn::tensor::backend::Backend>(
    case: &Case,
    logits: Tensor<BK, 2>,
    targets: Tensor<BK, 1, Int>,
) -> Tensor<BK, 1> {
    match case.loss.as_str() {
        "ls_ce" => LabelSmoothingCrossEntropyConfig::new(case.smoothing)
            .with_weights(case.weights.clone())
            .with_reduction(reduction(&case.reduction))
            .with_ignore_index(case.ignore_index)
            .init()
            .unwrap()
            .try_forward(logits, targets)
            .unwrap(),
        "focal" | "plain_ce" => {
            // plain_ce: γ = 0, α = 1 must reproduce torch's cross-entropy exactly.
            let mut config = FocalLossConfig::new(case.gamma)
                .with_reduction(reduction(&case.reduction))
                .with_ignore_index(case.ignore_index)
                .with_label_smoothing(case.smoothing);
            config = match case.alpha.clone() {
                Some(AlphaValue::Scalar(a)) => config.with_alpha(a),
                Some(AlphaValue::PerClass(v)) => config.with_class_alpha(v),
                None => config,
            };
            config.init().unwrap().try_forward(logits, targets).unwrap()
        }
        other => panic!("unknown loss {other}"),
    }
}

fn rel_err(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(1.0)
}

#[test]
fn values_match_pytorch() {
    let fx = fixtures();
    let mut worst = (0.0f64, String::new());
    for case in &fx.cases {
        let (logits, targets) = tensors::<B>(&fx.inputs[&case.input]);
        let got: Vec<f32> = compute(case, logits, targets).into_data().to_vec().unwrap();
        assert_eq!(got.len(), case.value.len(), "{}", case.name);
        for (g, w) in got.iter().zip(&case.value) {
            assert!(g.is_finite(), "{}: non-finite loss {g}", case.name);
            let e = rel_err(*g as f64, *w);
            if e > worst.0 {
                worst = (e, case.name.clone());
            }
            assert!(e < 2e-6, "{}: got {g}, want {w} (rel err {e:e})", case.name);
        }
    }
    println!("{} cases; max relative deviation {:e} ({})", fx.cases.len(), worst.0, worst.1);
}

#[test]
fn gradients_match_pytorch_autograd() {
    let fx = fixtures();
    let mut worst = (0.0f64, String::new());
    for case in &fx.cases {
        let (logits, targets) = tensors::<AD>(&fx.inputs[&case.input]);
        let logits = logits.require_grad();
        let loss = compute(case, logits.clone(), targets).sum();
        let grads = loss.backward();
        let grad: Vec<f32> = logits.grad(&grads).unwrap().into_data().to_vec().unwrap();
        let want: Vec<f64> = case.grad.iter().flatten().copied().collect();
        // Gradients are bounded by the loss scale (sum over rows): compare relative to the largest entry.
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (g, w) in grad.iter().zip(&want) {
            assert!(g.is_finite(), "{}: non-finite gradient {g}", case.name);
            let e = (*g as f64 - w).abs() / scale;
            if e > worst.0 {
                worst = (e, case.name.clone());
            }
            assert!(e < 1e-5, "{}: gradient {g} vs {w} (err {e:e})", case.name);
        }
    }
    println!("max scaled gradient deviation {:e} ({})", worst.0, worst.1);
}

#[test]
fn focal_with_gamma_zero_equals_burn_cross_entropy() {
    use burn::nn::loss::CrossEntropyLossConfig;
    let fx = fixtures();
    for name in ["small", "klue30", "extreme"] {
        let (logits, targets) = tensors::<B>(&fx.inputs[name]);
        let focal = FocalLossConfig::new(0.0).init().unwrap().forward(logits.clone(), targets.clone());
        let burn_ce = CrossEntropyLossConfig::new().init::<B>(&Default::default()).forward(logits, targets);
        let a: f32 = focal.into_scalar();
        let b: f32 = burn_ce.into_scalar();
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{name}: focal {a} vs burn CE {b}");
    }
}
