//! `kre encode` on the real all-MiniLM-L6-v2 directory against the transformers reference
//! (`tests/fixtures/minilm/reference.json`, made by `tools/make_parity_fixtures.py`).
use std::path::PathBuf;
use std::process::Command;

use crate::minilm_weights::minilm_dir;

#[test]
fn encode_prints_reference_embeddings() {
    let dir = minilm_dir();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/minilm/reference.json");
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let items = reference["items"].as_array().unwrap();
    for (pooling, key) in [("mean", "mean"), ("cls", "cls")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kre"));
        cmd.args(["encode", "--model"]).arg(&dir).args(["--pooling", pooling, "--format", "json"]);
        for item in items {
            cmd.args(["--text", item["text"].as_str().unwrap()]);
        }
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), items.len());
        for (line, item) in lines.iter().zip(items) {
            assert_eq!(line["text"], item["text"]);
            assert_eq!(line["tokens"].as_u64().unwrap() as usize, item["input_ids"].as_array().unwrap().len());
            let got = line["embedding"].as_array().unwrap();
            let want = item[key].as_array().unwrap();
            assert_eq!(got.len(), 384);
            let diff = got
                .iter()
                .zip(want)
                .map(|(a, b)| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs())
                .fold(0.0, f64::max);
            assert!(diff <= 1e-4, "{pooling} {}: max |Δ| {diff}", item["text"]);
        }
    }
}

#[test]
fn encode_missing_model_dir_fails_cleanly() {
    let output = Command::new(env!("CARGO_BIN_EXE_kre"))
        .args(["encode", "--model", "/nonexistent/model", "--text", "x"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/model"), "{stderr}");
}
