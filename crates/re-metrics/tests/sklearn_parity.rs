//! Parity with scikit-learn: every number in `tests/fixtures/sklearn_metrics.json` was computed by
//! `tools/make_metric_fixtures.py` (scikit-learn as the KLUE scorer calls it). Each must be reproduced within 1e-9;
//! NaN (stored as null) must be NaN.
use std::collections::BTreeMap;
use std::path::PathBuf;

use re_metrics::synthetic::klue_like_scores;
use re_metrics::{
    accuracy, argmax_rows, auc, auprc, auprc_reference, average_precision, average_precision_binary,
    class_curve_scores, class_precision_recall_curve, confusion_matrix, micro_f1, micro_f1_without_no_relation,
    precision_recall_fscore_support, Predictions, Report, ZeroDivision,
};
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

struct Case {
    name: String,
    num_labels: usize,
    no_relation: usize,
    gold: Vec<usize>,
    probs: Vec<f64>,
    expected: Value,
}

fn load_cases() -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sklearn_metrics.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tools/make_metric_fixtures.py)", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("fixture is valid JSON");
    doc["cases"]
        .as_array()
        .expect("cases array")
        .iter()
        .map(|case| {
            let name = case["name"].as_str().expect("name").to_owned();
            let num_labels = case["num_labels"].as_u64().expect("num_labels") as usize;
            let gold = usizes(&case["gold"]);
            let probs = if let Some(text) = case["probs"].as_str() {
                // Python repr floats; Rust's parser is correctly rounded, so these are the exact fixture values.
                text.split(' ').map(|t| t.parse::<f64>().expect("float repr")).collect()
            } else {
                let generator = &case["generator"];
                let seed = generator["seed"].as_u64().expect("seed");
                let n = generator["n"].as_u64().expect("n") as usize;
                let generated = klue_like_scores(seed, n, num_labels);
                assert_eq!(generated.gold, gold, "{name}: generator gold differs from Python's");
                assert_eq!(
                    fnv1a_bits(&generated.probs),
                    case["probs_fnv1a"].as_str().expect("hash"),
                    "{name}: generator probabilities differ from Python's"
                );
                generated.probs
            };
            assert_eq!(probs.len(), gold.len() * num_labels, "{name}: matrix shape");
            Case {
                name,
                num_labels,
                no_relation: case["no_relation"].as_u64().expect("no_relation") as usize,
                gold,
                probs,
                expected: case["expected"].clone(),
            }
        })
        .collect()
}

fn fnv1a_bits(values: &[f64]) -> String {
    let mut h = 0xcbf29ce484222325u64;
    for v in values {
        for byte in v.to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().expect("int array").iter().map(|x| x.as_u64().expect("int") as usize).collect()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().expect("int array").iter().map(|x| x.as_u64().expect("int")).collect()
}

/// Expected floats; JSON null means NaN.
fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("float array").iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
}

/// Largest deviation seen per metric family, printed at the end (`--nocapture`).
#[derive(Default)]
struct Deviations(BTreeMap<&'static str, f64>);

impl Deviations {
    fn check(&mut self, family: &'static str, what: &str, actual: f64, expected: f64) {
        if expected.is_nan() {
            assert!(actual.is_nan(), "{what}: expected NaN, got {actual}");
            return;
        }
        let delta = (actual - expected).abs();
        assert!(delta <= TOLERANCE, "{what}: {actual} vs scikit-learn {expected} (|Δ| = {delta:e})");
        let slot = self.0.entry(family).or_insert(0.0);
        *slot = slot.max(delta);
    }

    fn check_all(&mut self, family: &'static str, what: &str, actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len(), "{what}: length");
        for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
            self.check(family, &format!("{what}[{i}]"), a, e);
        }
    }
}

#[test]
fn all_metrics_match_scikit_learn() {
    let cases = load_cases();
    assert!(cases.len() >= 10, "fixture has {} cases", cases.len());
    let mut dev = Deviations::default();
    for case in &cases {
        let (name, k, nr, gold, probs, exp) =
            (&case.name, case.num_labels, case.no_relation, &case.gold, &case.probs, &case.expected);

        let pred = argmax_rows(probs, k).unwrap();
        assert_eq!(pred, usizes(&exp["pred"]), "{name}: argmax");

        let f1 = micro_f1_without_no_relation(gold, &pred, k, nr).unwrap();
        dev.check("micro_f1", &format!("{name} micro_f1"), f1, exp["micro_f1"].as_f64().unwrap());
        let subset = usizes(&exp["micro_f1_subset"]["labels"]);
        dev.check(
            "micro_f1",
            &format!("{name} micro_f1 subset"),
            micro_f1(gold, &pred, &subset).unwrap(),
            exp["micro_f1_subset"]["value"].as_f64().unwrap(),
        );

        // Fast path.
        dev.check(
            "auprc (fast)",
            &format!("{name} auprc"),
            auprc(gold, probs, k).unwrap(),
            exp["auprc"].as_f64().unwrap(),
        );
        let curve_scores = class_curve_scores(gold, probs, k).unwrap();
        let pr_auc: Vec<f64> = curve_scores.iter().map(|s| s.pr_auc).collect();
        let ap: Vec<f64> = curve_scores.iter().map(|s| s.average_precision).collect();
        dev.check_all("per-class pr_auc (fast)", &format!("{name} pr_auc"), &pr_auc, &floats(&exp["pr_auc_per_class"]));
        dev.check_all("per-class AP (fast)", &format!("{name} ap"), &ap, &floats(&exp["ap_per_class"]));
        let ap_macro = average_precision(gold, probs, k).unwrap();
        dev.check("macro AP (fast)", &format!("{name} ap_macro"), ap_macro, exp["ap_macro"].as_f64().unwrap());
        dev.check(
            "macro AP (fast)",
            &format!("{name} ap_macro vs multilabel average_precision_score"),
            ap_macro,
            exp["ap_macro_multilabel"].as_f64().unwrap(),
        );

        // Reference path (line-by-line port) on every class.
        dev.check(
            "auprc (reference)",
            &format!("{name} auprc_reference"),
            auprc_reference(gold, probs, k).unwrap(),
            exp["auprc"].as_f64().unwrap(),
        );
        let mut reference_auc = Vec::with_capacity(k);
        let mut reference_ap = Vec::with_capacity(k);
        for c in 0..k {
            let curve = class_precision_recall_curve(gold, probs, k, c).unwrap();
            reference_auc.push(auc(&curve.recall, &curve.precision).unwrap());
            let targets: Vec<bool> = gold.iter().map(|&g| g == c).collect();
            let column: Vec<f64> = probs.chunks_exact(k).map(|row| row[c]).collect();
            reference_ap.push(average_precision_binary(&targets, &column).unwrap());
            if let Some(curves) = exp.get("curves") {
                let expected = &curves[c];
                let what = format!("{name} class {c} curve");
                dev.check_all(
                    "curves (reference)",
                    &format!("{what} precision"),
                    &curve.precision,
                    &floats(&expected["precision"]),
                );
                dev.check_all(
                    "curves (reference)",
                    &format!("{what} recall"),
                    &curve.recall,
                    &floats(&expected["recall"]),
                );
                dev.check_all(
                    "curves (reference)",
                    &format!("{what} thresholds"),
                    &curve.thresholds,
                    &floats(&expected["thresholds"]),
                );
            }
        }
        dev.check_all(
            "per-class pr_auc (reference)",
            &format!("{name} ref pr_auc"),
            &reference_auc,
            &floats(&exp["pr_auc_per_class"]),
        );
        dev.check_all(
            "per-class AP (reference)",
            &format!("{name} ref ap"),
            &reference_ap,
            &floats(&exp["ap_per_class"]),
        );

        dev.check(
            "accuracy",
            &format!("{name} accuracy"),
            accuracy(gold, &pred).unwrap(),
            exp["accuracy"].as_f64().unwrap(),
        );
        for (mode, zero_division) in
            [("zero", ZeroDivision::Zero), ("one", ZeroDivision::One), ("nan", ZeroDivision::Nan)]
        {
            let scores = precision_recall_fscore_support(gold, &pred, k, zero_division).unwrap();
            let e = &exp["prf"][mode];
            let what = format!("{name} prf[{mode}]");
            let column = |f: fn(&re_metrics::ClassScores) -> f64| scores.iter().map(f).collect::<Vec<_>>();
            dev.check_all(
                "per-class P/R/F1",
                &format!("{what} precision"),
                &column(|s| s.precision),
                &floats(&e["precision"]),
            );
            dev.check_all("per-class P/R/F1", &format!("{what} recall"), &column(|s| s.recall), &floats(&e["recall"]));
            dev.check_all("per-class P/R/F1", &format!("{what} f1"), &column(|s| s.f1), &floats(&e["f1"]));
            assert_eq!(scores.iter().map(|s| s.support).collect::<Vec<_>>(), u64s(&e["support"]), "{what} support");
        }
        let expected_cm: Vec<Vec<u64>> = exp["confusion_matrix"].as_array().unwrap().iter().map(u64s).collect();
        assert_eq!(confusion_matrix(gold, &pred, k).unwrap(), expected_cm, "{name}: confusion matrix");

        // The report bundles the same numbers.
        let names: Vec<String> = (0..k).map(|c| format!("label_{c}")).collect();
        let report = Report::compute(gold, Predictions::Probabilities(probs), &names, nr).unwrap();
        dev.check("report", &format!("{name} report micro_f1"), report.micro_f1, exp["micro_f1"].as_f64().unwrap());
        dev.check("report", &format!("{name} report auprc"), report.auprc.unwrap(), exp["auprc"].as_f64().unwrap());
        dev.check(
            "report",
            &format!("{name} report AP"),
            report.average_precision.unwrap(),
            exp["ap_macro"].as_f64().unwrap(),
        );
        dev.check("report", &format!("{name} report accuracy"), report.accuracy, exp["accuracy"].as_f64().unwrap());
        assert_eq!(report.confusion_matrix, expected_cm, "{name}: report confusion matrix");
    }
    let mut overall = 0.0f64;
    for (family, delta) in &dev.0 {
        eprintln!("max |Δ| {family:<32} {delta:e}");
        overall = overall.max(*delta);
    }
    eprintln!("max |Δ| over {} cases: {overall:e}", cases.len());
    // The reference path and the count-based metrics do scikit-learn's float operations in scikit-learn's order:
    // they must be bit-identical, not just close.
    for family in [
        "auprc (reference)",
        "per-class pr_auc (reference)",
        "per-class AP (reference)",
        "curves (reference)",
        "micro_f1",
        "accuracy",
        "per-class P/R/F1",
    ] {
        assert_eq!(dev.0.get(family), Some(&0.0), "{family} is not bit-identical to scikit-learn");
    }
}

/// The fixture covers what the issue asks for; a regenerated fixture that lost a case should fail loudly.
#[test]
fn fixture_covers_required_situations() {
    let cases = load_cases();
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    for required in [
        "toy_7x3",
        "random_50x30",
        "random_500x30",
        "lcg_2000x30",
        "ties_300x6",
        "absent_classes_120x10",
        "all_correct_40x5",
        "all_wrong_40x5",
        "single_class_30x4",
        "lcg_7765x30_bench",
    ] {
        assert!(names.contains(&required), "fixture lacks case {required}");
    }
    let absent = cases.iter().find(|c| c.name == "absent_classes_120x10").unwrap();
    let pr_auc = floats(&absent.expected["pr_auc_per_class"]);
    // scikit-learn ≥ 1.1: no gold positive → recall 1 everywhere → area exactly 0.5 (not NaN).
    for c in [4, 6, 8, 9] {
        assert!(!absent.gold.contains(&c));
        assert_eq!(pr_auc[c], 0.5, "class {c}");
    }
}
