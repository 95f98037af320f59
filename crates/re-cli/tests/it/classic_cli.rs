//! `kre classic …` end to end on the committed SYNTHETIC competition set (needs MeCab:
//! `bash scripts/install-test-deps.sh`).
use std::path::{Path, PathBuf};
use std::process::Command;

fn kre() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kre"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run kre");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn morph_prints_surface_and_tag() {
    let out = run_ok(kre().args(["classic", "morph", "--text", "삼성전자와 애플은 경쟁한다."]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..4], ["삼성전자\tNNP", "와\tJC", "애플\tNNP", "은\tJX"]);
}

#[test]
fn train_predict_evaluate_and_clues() {
    let data = repo().join("datasets/synthetic-competition");
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    let preds = dir.path().join("preds.csv");
    let bl = dir.path().join("blacklist.tsv");
    std::fs::write(&bl, "삼성전자\t애플\n").unwrap();
    run_ok(
        kre()
            .args(["classic", "train", "--data"])
            .arg(data.join("train.json"))
            .arg("--out")
            .arg(&model)
            .args(["--filters", "sentence,spam,distance:2", "--blacklist"])
            .arg(&bl),
    );
    assert!(model.join("model.json").is_file());
    run_ok(
        kre()
            .args(["classic", "predict", "--model"])
            .arg(&model)
            .arg("--data")
            .arg(data.join("test.json"))
            .arg("--out")
            .arg(&preds),
    );
    let csv = std::fs::read_to_string(&preds).unwrap();
    assert!(csv.starts_with("id,pred_label,score\n"), "{csv:.80}");
    assert!(csv.contains("competition") && csv.contains("no_relation"));
    let json = run_ok(
        kre()
            .args(["classic", "evaluate", "--gold"])
            .arg(data.join("test.json"))
            .arg("--pred")
            .arg(&preds)
            .args(["--format", "json"]),
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let acc = v["binary"]["accuracy"].as_f64().unwrap();
    assert!(acc > 0.7, "{json}");
    assert!(v["binary"]["pos_precision"].as_f64().unwrap() > 0.7, "{json}");
    let clues = run_ok(kre().args(["classic", "clues", "--data"]).arg(data.join("train.json")).args(["--top", "15"]));
    assert!(
        clues.lines().any(|l| l.starts_with("맞대결\t") || l.starts_with("설전\t") || l.starts_with("경쟁\t")),
        "{clues}"
    );
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let out = kre()
        .args(["classic", "train", "--data", "/nonexistent.json", "--out", "/tmp/x", "--feature-set", "f9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("f9") || err.contains("nonexistent"), "{err}");
    let out = kre()
        .args(["classic", "predict", "--model", "/nonexistent", "--data", "x.json", "--out", "p.csv"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("model.json"));
}
