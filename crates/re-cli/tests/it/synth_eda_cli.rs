//! `kre synth` and `kre eda` end to end, through the real binary.
use std::path::Path;
use std::process::Command;

fn kre(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kre")).args(args).output().expect("run kre")
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 1000, "{} is only {} bytes", path.display(), bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
}

#[test]
fn synth_writes_three_klue_json_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("synth");
    let o = kre(&["synth", "--n", "400", "--seed", "1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let mut total = 0;
    for name in ["train", "dev", "test"] {
        let text = std::fs::read_to_string(out.join(format!("{name}.json"))).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let records = json.as_array().unwrap();
        assert!(!records.is_empty(), "{name} is empty");
        assert_eq!(records[0]["source"], "synthetic");
        total += records.len();
    }
    assert_eq!(total, 400);
    // Same seed, same bytes.
    let again = dir.path().join("again");
    assert!(kre(&["synth", "--n", "400", "--seed", "1", "--out", again.to_str().unwrap()]).status.success());
    assert_eq!(std::fs::read(out.join("train.json")).unwrap(), std::fs::read(again.join("train.json")).unwrap());
}

#[test]
fn synth_rejects_a_too_small_n() {
    let dir = tempfile::tempdir().unwrap();
    let o = kre(&["synth", "--n", "10", "--out", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("too small"));
}

#[test]
fn eda_on_the_committed_set_writes_json_and_three_pngs() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/synthetic-klue-re/dev.json");
    let dir = tempfile::tempdir().unwrap();
    let o = kre(&["eda", "--data", data.to_str().unwrap(), "--out", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("eda.json")).unwrap()).unwrap();
    let counts = report["label_counts"].as_object().expect("label_counts");
    assert_eq!(counts.len(), 30);
    assert_eq!(counts.values().map(|v| v.as_u64().unwrap()).sum::<u64>(), 500);
    assert!(report["no_relation_share"].as_f64().unwrap() > 0.25);
    assert!(report["token_length"].is_null());
    for png in ["label_distribution.png", "length_histogram.png", "type_pair_heatmap.png"] {
        assert_png(&dir.path().join(png));
    }
}

#[test]
fn eda_with_a_tokenizer_reports_token_lengths() {
    let tok = crate::minilm_weights::minilm_dir().join("tokenizer.json");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/synthetic-klue-re/test.json");
    let dir = tempfile::tempdir().unwrap();
    let o = kre(&[
        "eda",
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--tokenizer",
        tok.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("eda.json")).unwrap()).unwrap();
    // Padding of the tokenizer file (fixed 128) must not leak into the statistics.
    assert_ne!(report["token_length"]["p50"].as_f64().unwrap(), 128.0);
    assert!(report["token_length"]["max"].as_u64().unwrap() > 128);
}

#[test]
fn eda_on_a_missing_file_fails_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let o = kre(&["eda", "--data", "/nonexistent/x.json", "--out", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/x.json"));
}
