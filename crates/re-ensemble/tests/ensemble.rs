//! Ensembles on small hand-checked cases and on misaligned / invalid files. Every expected value is computed by hand
//! in the comment next to it.
use re_ensemble::{
    align, align_gold, combine, search_weights, to_submission, weights_from_dev, EnsembleError, Method, ModelOutput,
};
use re_ensemble::{Submission, SubmissionError, SubmissionRow};

fn row(id: &str, probs: &[f64]) -> SubmissionRow {
    SubmissionRow { id: id.into(), pred_label: "x".into(), probs: probs.to_vec() }
}

fn model(path: &str, rows: Vec<SubmissionRow>) -> ModelOutput {
    ModelOutput::new(path, Submission { rows })
}

fn assert_close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
    }
}

fn three_models() -> Vec<ModelOutput> {
    vec![
        model("a.csv", vec![row("1", &[0.5, 0.3, 0.2]), row("2", &[0.1, 0.2, 0.7])]),
        model("b.csv", vec![row("1", &[0.1, 0.6, 0.3]), row("2", &[0.2, 0.5, 0.3])]),
        model("c.csv", vec![row("1", &[0.4, 0.45, 0.15]), row("2", &[0.3, 0.3, 0.4])]),
    ]
}

#[test]
fn hard_voting_majority() {
    let aligned = align(&three_models(), 3).unwrap();
    let out = combine(&aligned, &Method::Hard).unwrap();
    // id 1: a→0, b→1, c→1 ⇒ 1. id 2: a→2, b→1, c→2 ⇒ 2.
    assert_eq!(out.pred, vec![1, 2]);
}

#[test]
fn hard_voting_tie_goes_to_highest_summed_probability() {
    // a votes 0 (0.6), b votes 1 (0.9): one vote each; summed probability 0: 0.65, 1: 1.3 ⇒ 1.
    let models =
        vec![model("a.csv", vec![row("1", &[0.6, 0.4, 0.0])]), model("b.csv", vec![row("1", &[0.05, 0.9, 0.05])])];
    let out = combine(&align(&models, 3).unwrap(), &Method::Hard).unwrap();
    assert_eq!(out.pred, vec![1]);
    // And the other way round: a's vote has the larger mass.
    let models =
        vec![model("a.csv", vec![row("1", &[0.9, 0.1, 0.0])]), model("b.csv", vec![row("1", &[0.3, 0.4, 0.3])])];
    let out = combine(&align(&models, 3).unwrap(), &Method::Hard).unwrap();
    // votes 0: 1, 1: 1; sums 0: 1.2, 1: 0.5 ⇒ 0.
    assert_eq!(out.pred, vec![0]);
}

#[test]
fn soft_voting_is_the_mean() {
    let aligned = align(&three_models(), 3).unwrap();
    let out = combine(&aligned, &Method::Soft).unwrap();
    // id 1: (0.5+0.1+0.4)/3, (0.3+0.6+0.45)/3, (0.2+0.3+0.15)/3; id 2: 0.6/3, 1.0/3, 1.4/3.
    let expected = [1.0 / 3.0, 1.35 / 3.0, 0.65 / 3.0, 0.6 / 3.0, 1.0 / 3.0, 1.4 / 3.0];
    assert_close(&out.probs, &expected);
    assert_eq!(out.pred, vec![1, 2]);
}

#[test]
fn logit_averaging_is_the_normalised_geometric_mean() {
    // exp(mean log) ∝ sqrt(p_a p_b): class 0 sqrt(0.45) = 3 sqrt(0.05), class 1 sqrt(0.05) ⇒ 0.75 / 0.25
    // (soft voting would give 0.7 / 0.3).
    let models = vec![model("a.csv", vec![row("1", &[0.5, 0.5])]), model("b.csv", vec![row("1", &[0.9, 0.1])])];
    let aligned = align(&models, 2).unwrap();
    let out = combine(&aligned, &Method::Logit).unwrap();
    assert_close(&out.probs, &[0.75, 0.25]);
    // A zero probability is floored, not -inf/NaN.
    let models = vec![model("a.csv", vec![row("1", &[1.0, 0.0])]), model("b.csv", vec![row("1", &[0.5, 0.5])])];
    let out = combine(&align(&models, 2).unwrap(), &Method::Logit).unwrap();
    assert!(out.probs.iter().all(|p| p.is_finite()) && out.pred == vec![0], "{out:?}");
}

#[test]
fn weighted_normalises_the_weights() {
    let models = vec![model("a.csv", vec![row("1", &[0.5, 0.5])]), model("b.csv", vec![row("1", &[0.9, 0.1])])];
    let aligned = align(&models, 2).unwrap();
    // weights 1:3 ⇒ 0.25·[0.5,0.5] + 0.75·[0.9,0.1] = [0.8, 0.2].
    let out = combine(&aligned, &Method::Weighted(vec![1.0, 3.0])).unwrap();
    assert_close(&out.probs, &[0.8, 0.2]);
    for bad in [vec![1.0], vec![-1.0, 2.0], vec![0.0, 0.0], vec![f64::NAN, 1.0]] {
        let err = combine(&aligned, &Method::Weighted(bad.clone())).unwrap_err();
        assert!(matches!(err, EnsembleError::InvalidWeights(_)), "{bad:?}: {err}");
    }
}

/// Two models, labels (0 = no_relation, 1, 2), gold [1, 2, 1, 2].
fn dev_case() -> (re_ensemble::Aligned, Vec<usize>) {
    let models = vec![
        // argmax [1, 2, 0, 0]
        model(
            "a.csv",
            vec![
                row("1", &[0.1, 0.8, 0.1]),
                row("2", &[0.1, 0.1, 0.8]),
                row("3", &[0.8, 0.1, 0.1]),
                row("4", &[0.8, 0.1, 0.1]),
            ],
        ),
        // argmax [1, 1, 1, 1]
        model(
            "b.csv",
            vec![
                row("1", &[0.1, 0.8, 0.1]),
                row("2", &[0.1, 0.8, 0.1]),
                row("3", &[0.1, 0.8, 0.1]),
                row("4", &[0.1, 0.8, 0.1]),
            ],
        ),
    ];
    (align(&models, 3).unwrap(), vec![1, 2, 1, 2])
}

#[test]
fn weights_proportional_to_dev_micro_f1() {
    let (aligned, gold) = dev_case();
    let (weights, scores) = weights_from_dev(&aligned, &gold, 0).unwrap();
    // a: tp 2, gold positives 4, predicted positives 2 ⇒ P 1, R 0.5, F1 2/3 ⇒ 66.67.
    // b: tp 2, gold 4, predicted 4 ⇒ F1 0.5 ⇒ 50. Weights 66.67 : 50 = 4 : 3.
    assert_close(&scores, &[200.0 / 3.0, 50.0]);
    assert_close(&weights, &[4.0 / 7.0, 3.0 / 7.0]);
}

#[test]
fn grid_search_finds_a_mix_better_than_each_model() {
    // gold [1, 2]; a predicts [1, 1], b predicts [2, 2]: each scores 50.
    // With weight w on a: id 1 picks class 1 iff 0.3 + 0.3w > 0.7 − 0.3w ⇔ w > 2/3;
    // id 2 picks class 2 iff 1 − 0.6w > 0.6w ⇔ w < 5/6. So w ∈ {0.7, 0.8} scores 100; 0.7 is closer to uniform.
    let models = vec![
        model("a.csv", vec![row("1", &[0.0, 0.6, 0.4]), row("2", &[0.0, 0.6, 0.4])]),
        model("b.csv", vec![row("1", &[0.0, 0.3, 0.7]), row("2", &[0.0, 0.0, 1.0])]),
    ];
    let aligned = align(&models, 3).unwrap();
    let found = search_weights(&aligned, &[1, 2], 0, 0.1).unwrap();
    assert_eq!(found.candidates, 11);
    assert!((found.dev_micro_f1 - 100.0).abs() < 1e-12, "{found:?}");
    assert_close(&found.weights, &[0.7, 0.3]);
    // Three models on a 0.1 grid: C(12, 2) = 66 candidates.
    let aligned3 = align(&three_models(), 3).unwrap();
    assert_eq!(search_weights(&aligned3, &[1, 2], 0, 0.1).unwrap().candidates, 66);
    assert!(search_weights(&aligned3, &[1, 2], 0, 0.3).is_err());
}

#[test]
fn misaligned_files_give_the_same_result_in_the_first_files_order() {
    let aligned_models = three_models();
    let mut shuffled = three_models();
    shuffled[1].submission.rows.reverse();
    shuffled[2].submission.rows.reverse();
    let a = align(&aligned_models, 3).unwrap();
    let b = align(&shuffled, 3).unwrap();
    assert_eq!(a, b);
    // The output follows the first file's order.
    shuffled[0].submission.rows.reverse();
    let c = align(&shuffled, 3).unwrap();
    assert_eq!(c.ids, vec!["2", "1"]);
    let out = combine(&c, &Method::Soft).unwrap();
    assert_eq!(out.pred, vec![2, 1]);
    let sub = to_submission(&c, &out, &["no_relation", "r1", "r2"]).unwrap();
    assert_eq!(sub.rows[0].id, "2");
    assert_eq!(sub.rows[0].pred_label, "r2");
    assert_eq!(sub.rows[1].pred_label, "r1");
    assert!(to_submission(&c, &out, &["a", "b"]).is_err());
}

fn err_of(models: &[ModelOutput], num_labels: usize) -> String {
    align(models, num_labels).unwrap_err().to_string()
}

#[test]
fn bad_inputs_name_the_file_and_the_id() {
    let ok = || model("a.csv", vec![row("1", &[0.5, 0.5]), row("2", &[0.2, 0.8])]);
    let cases: Vec<(ModelOutput, &str, &str)> = vec![
        (model("b.csv", vec![row("1", &[0.5, 0.5])]), "id=2", "missing"),
        (model("b.csv", vec![row("1", &[0.5, 0.5]), row("2", &[0.5, 0.5]), row("9", &[0.5, 0.5])]), "id=9", "not in"),
        (model("b.csv", vec![row("1", &[0.5, 0.5]), row("1", &[0.5, 0.5])]), "id=1", "more than once"),
        (model("b.csv", vec![row("1", &[0.5, 0.5]), row("2", &[1.0])]), "id=2", "expected 2"),
        (model("b.csv", vec![row("1", &[f64::NAN, 0.5]), row("2", &[0.5, 0.5])]), "id=1", "NaN"),
        (model("b.csv", vec![row("1", &[0.5, 0.5]), row("2", &[0.5, 0.6])]), "id=2", "sum to"),
    ];
    for (bad, id, what) in cases {
        let msg = err_of(&[ok(), bad], 2);
        assert!(msg.contains("b.csv") && msg.contains(id) && msg.contains(what), "{msg}");
    }
    // Within tolerance (1 ± 1e-3) is accepted.
    assert!(align(&[model("a.csv", vec![row("1", &[0.5, 0.5005])])], 2).is_ok());
    assert!(matches!(align(&[], 2), Err(SubmissionError::NoInputs)));
}

#[test]
fn gold_alignment() {
    let ids: Vec<String> = vec!["b".into(), "a".into()];
    let gold = vec![("a".to_string(), Some(1)), ("b".to_string(), Some(0))];
    let p = std::path::Path::new;
    assert_eq!(align_gold(&ids, &gold, p("gold.json"), p("pred.csv")).unwrap(), vec![0, 1]);
    let msg = align_gold(&ids[..1], &gold, p("gold.json"), p("pred.csv")).unwrap_err().to_string();
    assert!(msg.contains("pred.csv") && msg.contains("id=a") && msg.contains("missing"), "{msg}");
    let unlabeled = vec![("a".to_string(), None), ("b".to_string(), Some(0))];
    let msg = align_gold(&ids, &unlabeled, p("gold.json"), p("pred.csv")).unwrap_err().to_string();
    assert!(msg.contains("gold.json") && msg.contains("id=a"), "{msg}");
}

#[test]
fn files_round_trip_through_submission_csv() {
    let dir = tempfile::tempdir().unwrap();
    let mut models = three_models();
    for m in &mut models {
        let path = dir.path().join(m.path.file_name().unwrap());
        m.submission.write(&path).unwrap();
        *m = ModelOutput::read(&path).unwrap();
    }
    let aligned = align(&models, 3).unwrap();
    assert_eq!(aligned, align(&three_models(), 3).unwrap());
}

#[test]
fn fit_weights_reports_the_dev_evidence() {
    use re_ensemble::{fit_weights, WeightFit};
    let (aligned, gold) = dev_case();
    let fitted = fit_weights(&aligned, &gold, 0, WeightFit::DevF1).unwrap();
    // Same weights as weights_from_dev (4 : 3), same per-model scores.
    assert_close(&fitted.weights, &[4.0 / 7.0, 3.0 / 7.0]);
    assert_close(&fitted.model_dev_micro_f1, &[200.0 / 3.0, 50.0]);
    assert_eq!(fitted.candidates, None);
    // Weighted mean: ids 1, 2 → a's argmax (a and b agree on id 1; id 2: class 2 4/7·0.8 + 3/7·0.1 = 0.5 beats
    // class 1 4/7·0.1 + 3/7·0.8 = 0.4); ids 3, 4: class 0 0.5 beats class 1 0.4 ⇒ pred [1, 2, 0, 0] = model a: 66.67.
    assert!((fitted.dev_micro_f1 - 200.0 / 3.0).abs() < 1e-9, "{fitted:?}");
    let searched = fit_weights(&aligned, &gold, 0, WeightFit::Search { step: 0.5 }).unwrap();
    // Grid {1, 0.5, 0}: 3 candidates; the best cannot be worse than the best single model.
    assert_eq!(searched.candidates, Some(3));
    assert!(searched.dev_micro_f1 >= 200.0 / 3.0 - 1e-9, "{searched:?}");
}

#[test]
fn duplicate_ids_are_refused_naming_file_and_id() {
    let dup = model("dup.csv", vec![row("7", &[0.5, 0.5]), row("8", &[0.5, 0.5]), row("7", &[0.1, 0.9])]);
    let err = align(&[dup], 2).unwrap_err();
    assert!(matches!(&err, SubmissionError::DuplicateId { id, first: 1, second: 3, .. } if id == "7"), "{err:?}");
    let msg = EnsembleError::from(err).to_string();
    assert!(msg.contains("dup.csv") && msg.contains("id=7") && msg.contains("unique"), "{msg}");
}
