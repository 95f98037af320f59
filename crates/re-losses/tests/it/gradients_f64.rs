//! Autodiff gradients against central finite differences in f64, hand-computed values.
//! NdArray<f32> and NdArray<f64> share one device, whose default float dtype is process-global, so f32 and f64 tests
//! must not run in the same process. Since all integration tests are one binary, each test here re-runs itself in a
//! child process of this binary ([`in_own_process`]) where no f32 test runs.
use crate::common::*;
use burn::backend::{Autodiff, NdArray};
use re_losses::FocalLossConfig;

/// Set in the child process that runs one f64 test.
const CHILD_ENV: &str = "RE_LOSSES_F64_CHILD";

/// Runs `body` when this process is the child started for `test` (this module's test of that name); otherwise
/// starts that child (this same test binary, filtered to `test` alone) and checks that its one test passed.
fn in_own_process(test: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        return;
    }
    let name = format!("{}::{test}", module_path!().split_once("::").map_or(module_path!(), |(_, m)| m));
    let exe = std::env::current_exe().expect("path of the test binary");
    let out = std::process::Command::new(exe)
        .args([name.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("running the test binary");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "{name} in its own process failed:\n{text}");
}

/// f64 so that finite differences are accurate (h = 1e-6 gives ~1e-9 truncation + rounding error).
type B64 = NdArray<f64>;
type AD64 = Autodiff<NdArray<f64>>;

#[test]
fn autodiff_gradients_match_central_differences() {
    in_own_process("autodiff_gradients_match_central_differences", autodiff_gradients_body);
}

fn autodiff_gradients_body() {
    let flat: Vec<f64> = LOGITS.iter().flatten().copied().collect();
    let h = 1e-6;
    for (name, loss) in losses() {
        let logits = logits_tensor::<AD64>(&flat, 5, 4).require_grad();
        let grads = loss.eval(logits.clone(), targets_tensor::<AD64>(&TARGETS)).backward();
        let analytic: Vec<f64> = logits.grad(&grads).unwrap().into_data().to_vec().unwrap();
        for i in 0..flat.len() {
            let mut plus = flat.clone();
            plus[i] += h;
            let mut minus = flat.clone();
            minus[i] -= h;
            let f_plus: f64 =
                loss.eval(logits_tensor::<B64>(&plus, 5, 4), targets_tensor::<B64>(&TARGETS)).into_scalar();
            let f_minus: f64 =
                loss.eval(logits_tensor::<B64>(&minus, 5, 4), targets_tensor::<B64>(&TARGETS)).into_scalar();
            let numeric = (f_plus - f_minus) / (2.0 * h);
            let err = (analytic[i] - numeric).abs();
            assert!(
                err < 1e-7,
                "{name}: d/dlogit[{i}] autodiff {} vs finite difference {numeric} (err {err:e})",
                analytic[i]
            );
        }
        // Ignored row (index 2) gets no gradient.
        assert!(analytic[8..12].iter().all(|&g| g == 0.0), "{name}: ignored row has gradient {:?}", &analytic[8..12]);
    }
}

#[test]
fn focal_hand_computed_value() {
    in_own_process("focal_hand_computed_value", focal_hand_computed_body);
}

fn focal_hand_computed_body() {
    // logits [0, ln 3] → p = (0.25, 0.75). Target 1, γ = 2, α = 0.5: FL = −0.5 · 0.25² · ln 0.75.
    let loss = FocalLossConfig::new(2.0).with_alpha(0.5).init().unwrap();
    let v: f64 = loss.forward(logits_tensor::<B64>(&[0.0, 3f64.ln()], 1, 2), targets_tensor::<B64>(&[1])).into_scalar();
    let expected = -0.5 * 0.25f64.powi(2) * 0.75f64.ln();
    assert!((v - expected).abs() < 1e-12, "{v} vs {expected}");
}

#[test]
fn mean_skips_ignored_rows_and_all_ignored_is_zero() {
    in_own_process("mean_skips_ignored_rows_and_all_ignored_is_zero", mean_skips_ignored_body);
}

fn mean_skips_ignored_body() {
    let loss = FocalLossConfig::new(0.0).with_ignore_index(Some(-100)).init().unwrap();
    // Two identical valid rows and one ignored: mean equals the single-row loss.
    let flat = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 9.0, -9.0, 0.0];
    let v: f64 = loss.forward(logits_tensor::<B64>(&flat, 3, 3), targets_tensor::<B64>(&[0, 0, -100])).into_scalar();
    let single = -(1.0f64 - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln());
    assert!((v - single).abs() < 1e-12, "{v} vs {single}");
    let none: f64 =
        loss.forward(logits_tensor::<B64>(&flat, 3, 3), targets_tensor::<B64>(&[-100, -100, -100])).into_scalar();
    assert_eq!(none, 0.0);
}
