//! Relation heads on small hand-computed tensors (b = 2, s = 4, h = 3): every pooling, CLS concatenation, the CLS
//! fallback for empty/out-of-range spans and its count, the classifier, and finite gradients through the fallbacks.
use burn::backend::{Autodiff, NdArray};
use burn::module::Param;
use burn::tensor::{Int, Tensor, TensorData};
use re_models::head::{RelationHead, RelationHeadConfig, SpanPooling};

type B = NdArray<f32>;

/// hidden[0] rows: [1,2,3] [4,5,6] [7,8,9] [10,11,12]; hidden[1] rows: [-1,0,1] [2,-2,0] [0,3,-3] [5,5,5].
const HIDDEN: [[[f32; 3]; 4]; 2] = [
    [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [10.0, 11.0, 12.0]],
    [[-1.0, 0.0, 1.0], [2.0, -2.0, 0.0], [0.0, 3.0, -3.0], [5.0, 5.0, 5.0]],
];
const CLS: [[f32; 3]; 2] = [HIDDEN[0][0], HIDDEN[1][0]];

fn hidden<Bk: burn::tensor::backend::Backend>() -> Tensor<Bk, 3> {
    Tensor::from_data(TensorData::from(HIDDEN), &Default::default())
}

fn ints1<Bk: burn::tensor::backend::Backend>(values: [i64; 2]) -> Tensor<Bk, 1, Int> {
    Tensor::from_data(TensorData::from(values), &Default::default())
}

fn spans<Bk: burn::tensor::backend::Backend>(values: [[i64; 2]; 2]) -> Tensor<Bk, 2, Int> {
    Tensor::from_data(TensorData::from(values), &Default::default())
}

fn head(pooling: SpanPooling, concat_cls: bool) -> RelationHead<B> {
    RelationHeadConfig::new(3, 5, pooling).with_concat_cls(concat_cls).with_dropout(0.0).init(&Default::default())
}

/// Pools with the given head and returns (features as rows, fallback count).
fn pool(
    head: &RelationHead<B>,
    starts: ([i64; 2], [i64; 2]),
    subject_span: [[i64; 2]; 2],
    object_span: [[i64; 2]; 2],
) -> (Vec<Vec<f32>>, usize) {
    let pooled = head.pool(hidden(), ints1(starts.0), ints1(starts.1), spans(subject_span), spans(object_span));
    let [batch, width] = pooled.features.dims();
    let flat: Vec<f32> = pooled.features.into_data().to_vec().unwrap();
    ((0..batch).map(|row| flat[row * width..(row + 1) * width].to_vec()).collect(), pooled.fallback_count)
}

fn assert_rows(actual: &[Vec<f32>], expected: &[Vec<f32>]) {
    assert_eq!(actual.len(), expected.len());
    for (row, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a.len(), e.len(), "row {row} width");
        for (col, (x, y)) in a.iter().zip(e).enumerate() {
            assert!((x - y).abs() < 1e-5, "row {row} col {col}: {x} vs expected {y} ({a:?} vs {e:?})");
        }
    }
}

fn cat(parts: &[&[f32]]) -> Vec<f32> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

const NO_STARTS: ([i64; 2], [i64; 2]) = ([0, 0], [0, 0]);
// Subject spans: rows 1..3 of example 0, rows 0..2 of example 1; object spans: row 3 of example 0, rows 1..4 of ex. 1.
const SUBJECT: [[i64; 2]; 2] = [[1, 3], [0, 2]];
const OBJECT: [[i64; 2]; 2] = [[3, 4], [1, 4]];

#[test]
fn parse_names() {
    for (name, pooling) in SpanPooling::NAMES.iter().zip(SpanPooling::ALL) {
        assert_eq!(SpanPooling::parse(name).unwrap(), pooling);
        assert_eq!(pooling.to_string(), *name);
    }
    assert_eq!(SpanPooling::parse("Entity_Start").unwrap(), SpanPooling::EntityStart);
    let err = SpanPooling::parse("sum").unwrap_err().to_string();
    assert!(err.contains("sum") && err.contains("entity-start"), "{err}");
}

#[test]
fn feature_sizes() {
    let config = |pooling, concat| RelationHeadConfig::new(768, 30, pooling).with_concat_cls(concat);
    assert_eq!(config(SpanPooling::Cls, false).feature_size(), 768);
    assert_eq!(config(SpanPooling::Cls, true).feature_size(), 768);
    assert_eq!(config(SpanPooling::Mean, false).feature_size(), 2 * 768);
    assert_eq!(config(SpanPooling::Attention, true).feature_size(), 3 * 768);
}

#[test]
fn cls_pooling_takes_first_token() {
    let (rows, fallbacks) = pool(&head(SpanPooling::Cls, false), NO_STARTS, [[5, 5], [5, 5]], [[5, 5], [5, 5]]);
    assert_rows(&rows, &[CLS[0].to_vec(), CLS[1].to_vec()]);
    assert_eq!(fallbacks, 0, "cls pooling never reads spans");
}

#[test]
fn entity_start_concatenates_marker_states() {
    // subject markers at 1 and 2, object markers at 3 and 0.
    let starts = ([1, 2], [3, 0]);
    let (rows, fallbacks) = pool(&head(SpanPooling::EntityStart, false), starts, SUBJECT, OBJECT);
    assert_rows(&rows, &[cat(&[&HIDDEN[0][1], &HIDDEN[0][3]]), cat(&[&HIDDEN[1][2], &HIDDEN[1][0]])]);
    assert_eq!(fallbacks, 0);
    let (rows, _) = pool(&head(SpanPooling::EntityStart, true), starts, SUBJECT, OBJECT);
    assert_rows(&rows, &[cat(&[&CLS[0], &HIDDEN[0][1], &HIDDEN[0][3]]), cat(&[&CLS[1], &HIDDEN[1][2], &HIDDEN[1][0]])]);
}

#[test]
fn entity_start_out_of_range_falls_back_to_cls() {
    // Subject marker 4 (= seq, truncated away) in example 0, object marker -1 in example 1.
    let (rows, fallbacks) = pool(&head(SpanPooling::EntityStart, false), ([4, 1], [2, -1]), SUBJECT, OBJECT);
    assert_rows(&rows, &[cat(&[&CLS[0], &HIDDEN[0][2]]), cat(&[&HIDDEN[1][1], &CLS[1]])]);
    assert_eq!(fallbacks, 2);
}

#[test]
fn mean_pooling_by_hand() {
    let (rows, fallbacks) = pool(&head(SpanPooling::Mean, false), NO_STARTS, SUBJECT, OBJECT);
    // ex 0: subject mean([4,5,6],[7,8,9]) = [5.5,6.5,7.5]; object [10,11,12].
    // ex 1: subject mean([-1,0,1],[2,-2,0]) = [0.5,-1,0.5]; object mean([2,-2,0],[0,3,-3],[5,5,5]) = [7/3, 2, 2/3].
    assert_rows(&rows, &[vec![5.5, 6.5, 7.5, 10.0, 11.0, 12.0], vec![0.5, -1.0, 0.5, 7.0 / 3.0, 2.0, 2.0 / 3.0]]);
    assert_eq!(fallbacks, 0);
}

#[test]
fn max_pooling_by_hand_with_cls() {
    let (rows, fallbacks) = pool(&head(SpanPooling::Max, true), NO_STARTS, SUBJECT, OBJECT);
    // ex 0: subject max([4,5,6],[7,8,9]) = [7,8,9]; object [10,11,12].
    // ex 1: subject max([-1,0,1],[2,-2,0]) = [2,0,1]; object max over rows 1..4 = [5,5,5].
    assert_rows(
        &rows,
        &[cat(&[&CLS[0], &[7.0, 8.0, 9.0], &[10.0, 11.0, 12.0]]), cat(&[&CLS[1], &[2.0, 0.0, 1.0], &[5.0, 5.0, 5.0]])],
    );
    assert_eq!(fallbacks, 0);
}

fn attention_head(subject_w: [f32; 3], object_w: [f32; 3]) -> RelationHead<B> {
    let mut head = head(SpanPooling::Attention, false);
    let device = Default::default();
    head.subject_attention = Some(Param::from_tensor(Tensor::from_floats(subject_w, &device)));
    head.object_attention = Some(Param::from_tensor(Tensor::from_floats(object_w, &device)));
    head
}

/// softmax-weighted sum of `rows` with scores `rows · w`, in f64 by hand.
fn attention_by_hand(rows: &[[f32; 3]], w: [f32; 3]) -> Vec<f32> {
    let scores: Vec<f64> =
        rows.iter().map(|r| r.iter().zip(w).map(|(a, b)| f64::from(*a) * f64::from(b)).sum()).collect();
    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    (0..3).map(|c| rows.iter().zip(&exps).map(|(r, e)| f64::from(r[c]) * e / total).sum::<f64>() as f32).collect()
}

#[test]
fn attention_pooling_by_hand() {
    let head = attention_head([1.0, 0.0, 0.0], [0.0, 0.0, 1.0]);
    let (rows, fallbacks) = pool(&head, NO_STARTS, SUBJECT, OBJECT);
    // ex 0 subject: scores 4, 7 → weights 1/(1+e³) = 0.0474259, 0.9525741 → [6.857722, 7.857722, 8.857722].
    let expected_subject_0 = [7.0 - 3.0 * 0.047_425_87, 8.0 - 3.0 * 0.047_425_87, 9.0 - 3.0 * 0.047_425_87];
    assert_rows(&[rows[0][..3].to_vec()], &[expected_subject_0.to_vec()]);
    assert_rows(
        &rows,
        &[
            cat(&[&attention_by_hand(&HIDDEN[0][1..3], [1.0, 0.0, 0.0]), &HIDDEN[0][3]]),
            cat(&[
                &attention_by_hand(&HIDDEN[1][0..2], [1.0, 0.0, 0.0]),
                &attention_by_hand(&HIDDEN[1][1..4], [0.0, 0.0, 1.0]),
            ]),
        ],
    );
    assert_eq!(fallbacks, 0);
    // A zero vector gives uniform weights: attention pooling = mean pooling.
    let (uniform, _) = pool(&attention_head([0.0; 3], [0.0; 3]), NO_STARTS, SUBJECT, OBJECT);
    let (mean, _) = pool(&head_mean(), NO_STARTS, SUBJECT, OBJECT);
    assert_rows(&uniform, &mean);
}

fn head_mean() -> RelationHead<B> {
    head(SpanPooling::Mean, false)
}

#[test]
fn empty_and_truncated_spans_fall_back_and_are_counted() {
    // ex 0: subject [2,2) empty, object [3,9) partly beyond the sequence → uses row 3 only.
    // ex 1: subject [3,1) reversed, object [5,7) entirely beyond seq 4.
    let subject = [[2, 2], [3, 1]];
    let object = [[3, 9], [5, 7]];
    for pooling in [SpanPooling::Mean, SpanPooling::Max, SpanPooling::Attention] {
        let head = if pooling == SpanPooling::Attention {
            attention_head([0.5, -1.0, 2.0], [1.0, 1.0, 1.0])
        } else {
            head(pooling, false)
        };
        let (rows, fallbacks) = pool(&head, NO_STARTS, subject, object);
        assert_rows(&rows, &[cat(&[&CLS[0], &HIDDEN[0][3]]), cat(&[&CLS[1], &CLS[1]])]);
        assert_eq!(fallbacks, 3, "{pooling}");
    }
    // With CLS concatenated the fallback rows still use CLS, now next to it.
    let (rows, fallbacks) = pool(&head(SpanPooling::Mean, true), NO_STARTS, subject, object);
    assert_rows(&rows, &[cat(&[&CLS[0], &CLS[0], &HIDDEN[0][3]]), cat(&[&CLS[1], &CLS[1], &CLS[1]])]);
    assert_eq!(fallbacks, 3);
}

#[test]
fn forward_applies_the_classifier() {
    let mut head = head(SpanPooling::Mean, false);
    let device = Default::default();
    // W [6, 2]: logit 0 = sum of the subject features, logit 1 = object's first feature − subject's first; bias [1, -1].
    let weight = [[1.0f32, -1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]];
    head.classifier.weight = Param::from_tensor(Tensor::from_data(TensorData::from(weight), &device));
    head.classifier.bias = Some(Param::from_tensor(Tensor::from_floats([1.0, -1.0], &device)));
    let out = head.forward(hidden(), ints1([0, 0]), ints1([0, 0]), spans(SUBJECT), spans(OBJECT));
    assert_eq!(out.logits.dims(), [2, 2]);
    assert_eq!(out.fallback_count, 0);
    let logits: Vec<f32> = out.logits.into_data().to_vec().unwrap();
    // ex 0: subject [5.5,6.5,7.5] → 19.5 + 1 = 20.5; 10 − 5.5 − 1 = 3.5.
    // ex 1: subject [0.5,−1,0.5] → 0 + 1 = 1; 7/3 − 0.5 − 1 = 0.8333.
    let expected = [20.5, 3.5, 1.0, 7.0 / 3.0 - 1.5];
    for (a, e) in logits.iter().zip(expected) {
        assert!((a - e).abs() < 1e-5, "{logits:?} vs {expected:?}");
    }
}

#[test]
fn default_head_shapes() {
    let device = Default::default();
    for pooling in SpanPooling::ALL {
        for concat_cls in [false, true] {
            let head = RelationHeadConfig::new(3, 30, pooling).with_concat_cls(concat_cls).init::<B>(&device);
            let out = head.forward(hidden(), ints1([1, 2]), ints1([3, 0]), spans(SUBJECT), spans(OBJECT));
            assert_eq!(out.logits.dims(), [2, 30], "{pooling} concat_cls={concat_cls}");
            let values: Vec<f32> = out.logits.into_data().to_vec().unwrap();
            assert!(values.iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn gradients_stay_finite_through_fallbacks() {
    type AB = Autodiff<B>;
    let device = Default::default();
    let subject = [[2, 2], [0, 2]]; // first subject falls back
    let object = [[1, 4], [9, 9]]; // second object falls back
    for pooling in [SpanPooling::Max, SpanPooling::Attention, SpanPooling::Mean] {
        let head = RelationHeadConfig::new(3, 4, pooling).with_dropout(0.0).init::<AB>(&device);
        let hidden = hidden::<AB>().require_grad();
        let out = head.forward(hidden.clone(), ints1([0, 0]), ints1([0, 0]), spans(subject), spans(object));
        assert_eq!(out.fallback_count, 2);
        let grads = out.logits.sum().backward();
        let hidden_grad: Vec<f32> = hidden.grad(&grads).unwrap().into_data().to_vec().unwrap();
        assert!(hidden_grad.iter().all(|g| g.is_finite()), "{pooling}: {hidden_grad:?}");
        if let Some(w) = &head.subject_attention {
            let w_grad: Vec<f32> = w.val().grad(&grads).unwrap().into_data().to_vec().unwrap();
            assert!(w_grad.iter().all(|g| g.is_finite()), "{w_grad:?}");
        }
    }
}
