//! `kre evaluate` and `kre ensemble` end to end on small temp files (3 labels via --label-map).
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kre(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kre")).args(args).output().expect("running kre")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const LABELS: [&str; 3] = ["no_relation", "per:employee_of", "org:top_members/employees"];

/// Gold ids g1..g4 with labels [1, 0, 1, 2] and the 3-label map.
fn gold_files(dir: &Path) -> (PathBuf, PathBuf) {
    let map = dir.join("labels.json");
    std::fs::write(&map, format!("{{\"labels\": {:?}}}", LABELS)).unwrap();
    let gold = dir.join("gold.jsonl");
    let mut text = String::new();
    for (id, label) in [("g1", 1), ("g2", 0), ("g3", 1), ("g4", 2)] {
        // 철0 수1 는2 ␠3 삼4 성5 에6: inclusive character offsets.
        text.push_str(&format!(
            "{{\"id\":\"{id}\",\"sentence\":\"철수는 삼성에 다닌다.\",\"subject\":{{\"word\":\"철수\",\"start\":0,\"end\":1,\
             \"type\":\"PER\"}},\"object\":{{\"word\":\"삼성\",\"start\":4,\"end\":5,\"type\":\"ORG\"}},\"label\":\"{}\"}}\n",
            LABELS[label]
        ));
    }
    std::fs::write(&gold, text).unwrap();
    (gold, map)
}

fn write_submission(path: &Path, rows: &[(&str, [f64; 3])]) {
    let mut text = String::from("id,pred_label,probs\n");
    for (id, p) in rows {
        text.push_str(&format!("{id},x,\"[{}, {}, {}]\"\n", p[0], p[1], p[2]));
    }
    std::fs::write(path, text).unwrap();
}

/// Rows in a different order than the gold file: argmax g3→0, g1→1, g4→2, g2→1.
fn prediction(dir: &Path) -> PathBuf {
    let p = dir.join("pred.csv");
    write_submission(
        &p,
        &[("g3", [0.6, 0.3, 0.1]), ("g1", [0.1, 0.7, 0.2]), ("g4", [0.1, 0.2, 0.7]), ("g2", [0.2, 0.5, 0.3])],
    );
    p
}

#[test]
fn evaluate_json_has_the_keys_and_the_hand_computed_micro_f1() {
    let dir = tempfile::tempdir().unwrap();
    let (gold, map) = gold_files(dir.path());
    let pred = prediction(dir.path());
    let out = kre(&["evaluate", "--gold", s(&gold), "--pred", s(&pred), "--label-map", s(&map)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in ["micro_f1", "auprc", "average_precision", "accuracy", "no_relation_share", "per_class"] {
        assert!(json.get(key).is_some(), "missing {key}: {json}");
    }
    // gold [1,0,1,2], pred [1,1,0,2]: relation positives gold 3, predicted 3, correct 2 ⇒ P = R = F1 = 2/3 ⇒ 66.67.
    let f1 = json["micro_f1"].as_f64().unwrap();
    assert!((f1 - 200.0 / 3.0).abs() < 1e-9, "{f1}");
    // 2 of 4 exact; 1 of 4 predictions is no_relation.
    assert!((json["accuracy"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert!((json["no_relation_share"].as_f64().unwrap() - 0.25).abs() < 1e-12);
    let per = &json["per_class"]["per:employee_of"];
    // per:employee_of: gold g1,g3; predicted g1,g2 ⇒ P = R = 0.5, support 2.
    assert_eq!(per["support"].as_u64(), Some(2));
    assert!((per["precision"].as_f64().unwrap() - 0.5).abs() < 1e-12, "{per}");

    let table = kre(&["evaluate", "--gold", s(&gold), "--pred", s(&pred), "--label-map", s(&map), "--format", "table"]);
    assert!(table.status.success(), "{}", stderr(&table));
    assert!(stdout(&table).contains("per:employee_of"), "{}", stdout(&table));
}

#[test]
fn evaluate_rejects_bad_predictions_naming_file_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let (gold, map) = gold_files(dir.path());
    let bad_sum = dir.path().join("bad_sum.csv");
    write_submission(
        &bad_sum,
        &[("g1", [0.1, 0.7, 0.2]), ("g2", [0.5, 0.5, 0.2]), ("g3", [1.0, 0.0, 0.0]), ("g4", [1.0, 0.0, 0.0])],
    );
    let out = kre(&["evaluate", "--gold", s(&gold), "--pred", s(&bad_sum), "--label-map", s(&map)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad_sum.csv") && stderr(&out).contains("id=g2"), "{}", stderr(&out));

    let missing = dir.path().join("missing.csv");
    write_submission(&missing, &[("g1", [0.1, 0.7, 0.2]), ("g2", [0.5, 0.3, 0.2]), ("g4", [1.0, 0.0, 0.0])]);
    let out = kre(&["evaluate", "--gold", s(&gold), "--pred", s(&missing), "--label-map", s(&map)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.csv") && stderr(&out).contains("id=g3"), "{}", stderr(&out));

    // Wrong number of probabilities for the (default KLUE, 30-label) map.
    let out = kre(&["evaluate", "--gold", s(&gold), "--pred", s(&prediction(dir.path()))]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("pred.csv") && stderr(&out).contains("expected 30"), "{}", stderr(&out));

    // --plots writes two PNGs.
    let plots = dir.path().join("plots");
    let pred = prediction(dir.path());
    let out = kre(&["evaluate", "--gold", s(&gold), "--pred", s(&pred), "--label-map", s(&map), "--plots", s(&plots)]);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["confusion_matrix.png", "pr_curves.png"] {
        let bytes = std::fs::read(plots.join(name)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{name}");
    }
}

#[test]
fn ensemble_soft_on_misaligned_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_, map) = gold_files(dir.path());
    let a = prediction(dir.path());
    let b = dir.path().join("b.csv");
    write_submission(
        &b,
        &[("g1", [0.3, 0.3, 0.4]), ("g2", [0.8, 0.1, 0.1]), ("g3", [0.0, 0.9, 0.1]), ("g4", [0.1, 0.2, 0.7])],
    );
    let out_path = dir.path().join("final.csv");
    let out = kre(&[
        "ensemble",
        "--pred",
        s(&a),
        "--pred",
        s(&b),
        "--method",
        "soft",
        "--out",
        s(&out_path),
        "--label-map",
        s(&map),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sub = re_data::io::submission::Submission::read(&out_path).unwrap();
    let ids: Vec<&str> = sub.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["g3", "g1", "g4", "g2"], "first file's order");
    // g3: ([0.6,0.3,0.1] + [0.0,0.9,0.1]) / 2 = [0.3, 0.6, 0.1] ⇒ per:employee_of.
    let g3 = &sub.rows[0];
    for (x, y) in g3.probs.iter().zip([0.3, 0.6, 0.1]) {
        assert!((x - y).abs() < 1e-12, "{:?}", g3.probs);
    }
    assert_eq!(g3.pred_label, "per:employee_of");
    // g2: ([0.2,0.5,0.3] + [0.8,0.1,0.1]) / 2 = [0.5, 0.3, 0.2] ⇒ no_relation.
    assert_eq!(sub.rows[3].pred_label, "no_relation");
}

#[test]
fn ensemble_weighted_prints_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (gold, map) = gold_files(dir.path());
    let a = prediction(dir.path());
    let out_path = dir.path().join("final.csv");
    let given = kre(&[
        "ensemble",
        "--pred",
        s(&a),
        "--pred",
        s(&a),
        "--method",
        "weighted",
        "--weights",
        "1,3",
        "--out",
        s(&out_path),
        "--label-map",
        s(&map),
    ]);
    assert!(given.status.success(), "{}", stderr(&given));
    let json: serde_json::Value = serde_json::from_str(&stdout(&given)).unwrap();
    assert_eq!(json["weights"], serde_json::json!([0.25, 0.75]));

    // Both models score 66.67 on dev ⇒ equal weights; the search over 11 candidates keeps that score.
    for flag in ["--weights-from-dev", "--search-weights"] {
        let out = kre(&[
            "ensemble",
            "--pred",
            s(&a),
            "--pred",
            s(&a),
            "--method",
            "weighted",
            flag,
            s(&gold),
            "--out",
            s(&out_path),
            "--label-map",
            s(&map),
        ]);
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert!((json["dev_micro_f1"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9, "{json}");
        assert_eq!(json["weights"], serde_json::json!([0.5, 0.5]), "{flag}: {json}");
    }
}

#[test]
fn ensemble_bad_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, map) = gold_files(dir.path());
    let a = prediction(dir.path());
    let dup = dir.path().join("dup.csv");
    write_submission(
        &dup,
        &[("g1", [0.3, 0.3, 0.4]), ("g1", [0.8, 0.1, 0.1]), ("g3", [0.0, 0.9, 0.1]), ("g4", [0.1, 0.2, 0.7])],
    );
    let out_path = dir.path().join("final.csv");
    let out = kre(&[
        "ensemble",
        "--pred",
        s(&a),
        "--pred",
        s(&dup),
        "--method",
        "hard",
        "--out",
        s(&out_path),
        "--label-map",
        s(&map),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("dup.csv") && stderr(&out).contains("id=g1"), "{}", stderr(&out));
    assert!(!out_path.exists());
    let out =
        kre(&["ensemble", "--pred", s(&a), "--method", "weighted", "--out", s(&out_path), "--label-map", s(&map)]);
    assert!(!out.status.success() && stderr(&out).contains("--weights"), "{}", stderr(&out));
}

#[test]
fn evaluate_refuses_duplicate_ids_in_predictions_and_gold() {
    let dir = tempfile::tempdir().unwrap();
    let (gold, map) = gold_files(dir.path());
    // g2 twice in the predictions (and g3 absent): the duplicate is reported, not a missing id.
    let dup = dir.path().join("dup_pred.csv");
    write_submission(
        &dup,
        &[("g1", [0.1, 0.7, 0.2]), ("g2", [0.5, 0.3, 0.2]), ("g2", [0.2, 0.3, 0.5]), ("g4", [1.0, 0.0, 0.0])],
    );
    let out = kre(&["evaluate", "--gold", s(&gold), "--pred", s(&dup), "--label-map", s(&map)]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("dup_pred.csv") && err.contains("id=g2") && err.contains("more than once"), "{err}");

    // The gold file repeats g1: refused too, naming the gold file.
    let text = std::fs::read_to_string(&gold).unwrap();
    let first = text.lines().next().unwrap().to_string();
    let dup_gold = dir.path().join("dup_gold.jsonl");
    std::fs::write(&dup_gold, format!("{text}{first}\n")).unwrap();
    let out = kre(&["evaluate", "--gold", s(&dup_gold), "--pred", s(&prediction(dir.path())), "--label-map", s(&map)]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("dup_gold.jsonl") && err.contains("id=g1"), "{err}");
}
