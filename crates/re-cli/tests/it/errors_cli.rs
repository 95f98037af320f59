//! Bad input the user can fix: every error names the file (and the record where there is one), exits non-zero and
//! never panics; a reader that closes kre's stdout early (`kre … | head`) is not an error.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};

fn kre(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kre")).args(args).output().expect("running kre")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Non-zero exit, an `error:` line that contains every one of `needles`, and no panic.
fn assert_user_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected a failure, got success; stderr: {err}");
    assert_eq!(o.status.code(), Some(1), "exit status of a handled error: {err}");
    assert!(!err.contains("panicked"), "kre panicked: {err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line: {err}"));
    let message = &err[err.find(line).unwrap()..];
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} is not in the error: {message}");
    }
}

fn synthetic(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/synthetic-klue-re").join(name)
}

/// The first `n` records of a shipped synthetic file, as KLUE JSON values.
fn records(name: &str, n: usize) -> Vec<Value> {
    let text = std::fs::read_to_string(synthetic(name)).unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    all.into_iter().take(n).collect()
}

fn write_json(path: &Path, records: &[Value]) {
    std::fs::write(path, serde_json::to_string(records).unwrap()).unwrap();
}

/// A tiny model trained once for every test of this module that needs one (1 epoch on 48 records, hidden 32).
fn tiny_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let (train, dev) = (dir.join("train.json"), dir.join("dev.json"));
        write_json(&train, &records("train.json", 48));
        write_json(&dev, &records("dev.json", 16));
        crate::common::train_tiny(&dir, crate::common::TinySize::SMALL, &train, &dev, &[])
    })
}

fn predict(data: &Path) -> Output {
    let out = data.with_extension("submission.csv");
    kre(&["predict", "--model-dir", s(tiny_run()), "--data", s(data), "--out", s(&out)])
}

#[test]
fn a_closed_stdout_is_success() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.json");
    write_json(&data, &records("test.json", 20));
    let out = dir.path().join("out");
    let converted = dir.path().join("d.jsonl");
    let commands: [Vec<&str>; 4] = [
        vec!["synth", "--n", "120", "--out", s(&out)],
        vec!["convert", "--data", s(&data), "--out", s(&converted)],
        vec!["split", "--data", s(&data), "--dev-ratio", "0.5", "--out", s(&out)],
        vec!["eda", "--data", s(&data), "--out", s(&out)],
    ];
    for args in commands {
        // The reading end is closed before kre starts, so its first write meets a broken pipe (`kre … | head`
        // where head has already exited).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_kre"))
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("running kre");
        let err = stderr(&o);
        assert!(o.status.success(), "kre {} with a closed stdout: {:?} {err}", args[0], o.status);
        assert!(!err.contains("panicked") && !err.contains("error"), "kre {}: {err}", args[0]);
    }
}

#[test]
fn predict_on_a_file_without_records_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("empty.json");
    std::fs::write(&json, "[]\n").unwrap();
    assert_user_error(&predict(&json), &[s(&json), "no records"]);
    let csv = dir.path().join("header-only.csv");
    std::fs::write(&csv, "id,sentence,subject_entity,object_entity,label,source\n").unwrap();
    assert_user_error(&predict(&csv), &[s(&csv), "no records"]);
}

#[test]
fn predict_with_overlapping_spans_names_the_file_and_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("overlap.json");
    let mut recs = records("test.json", 3);
    recs[1] = json!({
        "guid": "overlap-1",
        "sentence": "은하건설은 태영에 속한다.",
        "subject_entity": {"word": "은하건설", "start_idx": 0, "end_idx": 3, "type": "ORG"},
        "object_entity": {"word": "건설", "start_idx": 2, "end_idx": 3, "type": "ORG"},
        "label": "no_relation",
        "source": "test"
    });
    write_json(&data, &recs);
    assert_user_error(&predict(&data), &[s(&data), "id=overlap-1", "overlap"]);
}

#[test]
fn predict_refuses_repeated_ids_and_eda_warns_about_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dup.json");
    let mut recs = records("test.json", 6);
    for i in [2, 4] {
        recs[i]["guid"] = json!("twice");
    }
    write_json(&data, &recs);
    assert_user_error(&predict(&data), &[s(&data), "id=twice", "2 times", "unique"]);

    let o = kre(&["eda", "--data", s(&data), "--out", s(&dir.path().join("eda"))]);
    let err = stderr(&o);
    assert!(o.status.success(), "eda with a repeated id still works: {err}");
    assert!(err.contains(s(&data)) && err.contains("id=twice") && err.contains("more than once"), "{err}");
}

#[test]
fn eda_of_a_file_without_labels_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("unlabelled.json");
    let mut recs = records("test.json", 5);
    for r in &mut recs {
        r["label"] = json!(100); // the competition's "no label" marker
    }
    write_json(&data, &recs);
    let o = kre(&["eda", "--data", s(&data), "--out", s(&dir.path().join("eda"))]);
    assert_user_error(&o, &[s(&data), "no labelled records"]);
}

#[test]
fn eda_takes_the_shared_data_options() {
    // `--entity-types` (one of the shared data options) used to be missing from `kre eda`.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("types.json");
    let mut recs = records("test.json", 4);
    recs[0]["object_entity"]["type"] = json!("EVT");
    write_json(&data, &recs);
    let out = dir.path().join("eda");
    let o = kre(&["eda", "--data", s(&data), "--out", s(&out)]);
    assert_user_error(&o, &[s(&data), "EVT"]);
    let o = kre(&["eda", "--data", s(&data), "--out", s(&out), "--entity-types", "EVT"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_checkpoint_whose_config_disagrees_with_its_weights_names_both_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/parity/bert/safetensors");
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for f in ["model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"] {
        std::fs::copy(src.join(f), model.join(f)).unwrap();
    }
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    config["intermediate_size"] = json!(40); // the weights have 37
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();
    for engine in ["burn", "fused"] {
        let o = kre(&["encode", "--model", s(&model), "--text", "hello", "--engine", engine]);
        assert_user_error(&o, &[s(&model.join("config.json")), s(&model.join("model.safetensors")), "intermediate"]);
    }
}
