//! f32 gradients against finite differences, numerical stability at logits of ±1e4, error paths.
use crate::common::*;
use burn::backend::{Autodiff, NdArray};
use re_losses::{FocalLossConfig, LabelSmoothingCrossEntropyConfig, LossError, Reduction};

type B32 = NdArray<f32>;
type AD32 = Autodiff<NdArray<f32>>;

#[test]
fn f32_gradients_match_central_differences_relatively() {
    // Same check in f32 (the precision training uses): larger step, relative tolerance.
    let flat: Vec<f64> = LOGITS.iter().flatten().copied().collect();
    let h = 1e-2;
    for (name, loss) in losses() {
        let logits = logits_tensor::<AD32>(&flat, 5, 4).require_grad();
        let grads = loss.eval(logits.clone(), targets_tensor::<AD32>(&TARGETS)).backward();
        let analytic: Vec<f32> = logits.grad(&grads).unwrap().into_data().to_vec().unwrap();
        let scale = analytic.iter().fold(0.0f32, |m, g| m.max(g.abs())) as f64;
        for i in 0..flat.len() {
            let mut plus = flat.clone();
            plus[i] += h;
            let mut minus = flat.clone();
            minus[i] -= h;
            let f_plus: f32 =
                loss.eval(logits_tensor::<B32>(&plus, 5, 4), targets_tensor::<B32>(&TARGETS)).into_scalar();
            let f_minus: f32 =
                loss.eval(logits_tensor::<B32>(&minus, 5, 4), targets_tensor::<B32>(&TARGETS)).into_scalar();
            let numeric = (f_plus as f64 - f_minus as f64) / (2.0 * h);
            let err = (analytic[i] as f64 - numeric).abs() / scale;
            assert!(err < 2e-3, "{name}: d/dlogit[{i}] autodiff {} vs finite difference {numeric}", analytic[i]);
        }
    }
}

#[test]
fn extreme_logits_give_finite_values_and_gradients() {
    #[rustfmt::skip]
    let extreme = [
        1e4, -1e4, 0.0, -1e4,
        1e4, -1e4, 1e4, 1e4,
        -1e4, 0.0, -1e4, 1e4,
        0.0, 1e4, -1e4, -1e4,
    ];
    // Correct-and-certain, wrong-and-certain, tied, and ignored rows.
    let targets = [0i64, 1, 3, -100];
    let mut all = losses();
    all.push(("focal g=0.25", Loss::Focal(FocalLossConfig::new(0.25).with_ignore_index(Some(-100)).init().unwrap())));
    all.push((
        "focal g=0.5 eps=0.2",
        Loss::Focal(FocalLossConfig::new(0.5).with_label_smoothing(0.2).with_ignore_index(Some(-100)).init().unwrap()),
    ));
    for (name, loss) in all {
        let logits = logits_tensor::<AD32>(&extreme, 4, 4).require_grad();
        let value = loss.eval(logits.clone(), targets_tensor::<AD32>(&targets));
        let v: f32 = value.clone().into_scalar();
        assert!(v.is_finite(), "{name}: loss {v}");
        let grads = value.backward();
        let g: Vec<f32> = logits.grad(&grads).unwrap().into_data().to_vec().unwrap();
        assert!(g.iter().all(|x| x.is_finite()), "{name}: gradient {g:?}");
    }
    // Hand check: row [1e4, -1e4, 0] with target 1 has -log p_1 = 2e4 (softmax mass is all on class 0).
    let ce = FocalLossConfig::new(0.0).with_reduction(Reduction::None).init().unwrap();
    let v: Vec<f32> = ce
        .forward(logits_tensor::<B32>(&[1e4, -1e4, 0.0], 1, 3), targets_tensor::<B32>(&[1]))
        .into_data()
        .to_vec()
        .unwrap();
    assert!((v[0] - 2e4).abs() < 1.0, "{v:?}");
}

#[test]
fn invalid_configs_and_inputs_are_errors() {
    assert!(matches!(FocalLossConfig::new(-1.0).init(), Err(LossError::InvalidConfig(_))));
    assert!(FocalLossConfig::new(f64::NAN).init().is_err());
    assert!(FocalLossConfig::new(2.0).with_alpha(-0.1).init().is_err());
    assert!(FocalLossConfig::new(2.0).with_class_alpha(vec![]).init().is_err());
    assert!(FocalLossConfig::new(2.0).with_label_smoothing(1.5).init().is_err());
    assert!(LabelSmoothingCrossEntropyConfig::new(-0.1).init().is_err());
    assert!(LabelSmoothingCrossEntropyConfig::new(0.1).with_weights(Some(vec![1.0, f64::INFINITY])).init().is_err());

    let logits = logits_tensor::<B32>(&[0.0; 6], 2, 3);
    let alpha3 = FocalLossConfig::new(2.0).with_class_alpha(vec![1.0, 1.0]).init().unwrap();
    let err = alpha3.try_forward(logits.clone(), targets_tensor::<B32>(&[0, 1])).unwrap_err();
    assert!(err.to_string().contains("2 entries but logits have 3 classes"), "{err}");
    let focal = FocalLossConfig::new(2.0).init().unwrap();
    let err = focal.try_forward(logits.clone(), targets_tensor::<B32>(&[0])).unwrap_err();
    assert!(err.to_string().contains("2 rows but targets have 1"), "{err}");
    let err = focal.try_forward(logits.clone(), targets_tensor::<B32>(&[0, 3])).unwrap_err();
    assert!(err.to_string().contains("target 3 at row 1"), "{err}");
    let ce = LabelSmoothingCrossEntropyConfig::new(0.1).with_ignore_index(Some(-1)).init().unwrap();
    assert!(ce.try_forward(logits.clone(), targets_tensor::<B32>(&[0, -1])).is_ok());
    assert!(ce.try_forward(logits, targets_tensor::<B32>(&[-2, 0])).is_err());
}
