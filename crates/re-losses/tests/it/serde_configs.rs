//! The configs (de)serialize with the `serde` feature: α as a number or an array, defaults for missing fields,
//! unknown fields refused.
use re_losses::{Alpha, FocalLossConfig, LabelSmoothingCrossEntropyConfig, Reduction};

#[test]
fn alpha_is_a_number_or_an_array() {
    assert_eq!(serde_json::from_str::<Alpha>("0.25").unwrap(), Alpha::Scalar(0.25));
    assert_eq!(serde_json::from_str::<Alpha>("1").unwrap(), Alpha::Scalar(1.0));
    assert_eq!(serde_json::from_str::<Alpha>("[0.5, 1.0]").unwrap(), Alpha::PerClass(vec![0.5, 1.0]));
    assert!(serde_json::from_str::<Alpha>("\"high\"").is_err());
    assert_eq!(serde_json::to_string(&Alpha::PerClass(vec![0.5, 1.0])).unwrap(), "[0.5,1.0]");
}

#[test]
fn configs_round_trip_with_defaults() {
    let focal: FocalLossConfig = serde_json::from_str(r#"{"gamma": 1.5, "alpha": [0.2, 0.8]}"#).unwrap();
    assert_eq!(focal, FocalLossConfig::new(1.5).with_class_alpha(vec![0.2, 0.8]));
    let back: FocalLossConfig = serde_json::from_str(&serde_json::to_string(&focal).unwrap()).unwrap();
    assert_eq!(back, focal);
    assert_eq!(serde_json::from_str::<FocalLossConfig>("{}").unwrap(), FocalLossConfig::default());
    assert!(serde_json::from_str::<FocalLossConfig>(r#"{"gama": 2}"#).is_err());

    let ce: LabelSmoothingCrossEntropyConfig =
        serde_json::from_str(r#"{"smoothing": 0.1, "reduction": "sum", "ignore_index": -100}"#).unwrap();
    assert_eq!(
        ce,
        LabelSmoothingCrossEntropyConfig::new(0.1).with_reduction(Reduction::Sum).with_ignore_index(Some(-100))
    );
    assert_eq!(serde_json::to_value(Reduction::None).unwrap(), serde_json::json!("none"));
    // A deserialized config is validated like a built one.
    let bad: FocalLossConfig = serde_json::from_str(r#"{"gamma": -1}"#).unwrap();
    assert!(bad.init().is_err());
}
