//! `kre search --storage`: the storage is parsed with the arguments (a bad one fails before anything is
//! written), a database needs `--study-name`, and a SQLite study runs, resumes and is readable through
//! `re_train::search::storage`.
use std::process::Command;

use crate::common::{s, slice};
use re_train::search::{StorageSpec, TrialState};

fn kre(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kre")).args(args).output().unwrap()
}

fn search_toml(dir: &std::path::Path) -> std::path::PathBuf {
    let (train, dev) = (slice("train.json", 40, dir), slice("dev.json", 20, dir));
    let text = format!(
        "seed = 3\n[base]\ntrain = \"{}\"\ndev = \"{}\"\nepochs = 1\nmodel = \"tiny\"\n\
         [base.tiny]\nvocab_size = 300\nhidden_size = 16\nnum_layers = 1\nnum_heads = 2\nintermediate_size = 32\n\
         [space]\nmax_length = [48]\nbatch_size = [16]\n",
        s(&train),
        s(&dev)
    );
    let p = dir.join("search.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_storage_arguments_fail_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = search_toml(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let db = format!("sqlite:{}/s.db", s(dir.path()));
    let cases: [(&[&str], &str); 5] = [
        (&["--storage", "mysql://h/d", "--study-name", "x"], "unknown storage scheme `mysql`"),
        (&["--storage", "sqlite:"], "no database file"),
        (&["--storage", &db], "--study-name is required"),
        (&["--study", s(&a), "--storage", s(&b)], "cannot be used with"),
        (&["--study", s(&a), "--heartbeat-interval", "2", "--heartbeat-grace", "1"], "grace"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["search", "--config", s(&config), "--trials", "1"];
        args.extend_from_slice(extra);
        let out = kre(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{extra:?}: {stderr}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 3, "only search.toml and the data files: {left:?}");
}

#[test]
fn sqlite_study_runs_resumes_and_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let config = search_toml(dir.path());
    let db = dir.path().join("studies.db");
    let storage = format!("sqlite:{}", s(&db));
    let runs = dir.path().join("runs");
    let args = [
        "search",
        "--config",
        s(&config),
        "--trials",
        "2",
        "--storage",
        &storage,
        "--study-name",
        "cli",
        "--runs",
        s(&runs),
        "--heartbeat-interval",
        "0.5",
    ];
    let out = kre(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("kre train --config {}", s(&runs.join("trial-00"))).to_string()), "{stdout}");
    let trials = StorageSpec::Sqlite(db.clone()).open("cli").unwrap().trials().unwrap();
    assert_eq!(
        trials.iter().map(|t| (t.number, t.state, t.attempt)).collect::<Vec<_>>(),
        vec![(0, TrialState::Complete, 1), (1, TrialState::Complete, 1)]
    );
    assert!(runs.join("trial-001/train_config.toml").exists());
    // Same command: the study is complete, nothing runs again; one more trial runs trial 2 only.
    let again = kre(&args);
    assert!(again.status.success());
    let mut three = args.to_vec();
    three[4] = "3";
    assert!(kre(&three).status.success());
    let after = StorageSpec::Sqlite(db).open("cli").unwrap().trials().unwrap();
    assert_eq!(after.len(), 3);
    assert_eq!(after[..2], trials[..], "finished trials are not touched");

    // The database study is readable by report and export with the same --storage/--study-name/--runs.
    let report = dir.path().join("report");
    let source = ["--storage", &storage, "--study-name", "cli", "--runs", s(&runs)];
    let out = kre(&[&["search", "report"][..], &source, &["--out", s(&report)]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let best: serde_json::Value = serde_json::from_slice(&std::fs::read(report.join("best.json")).unwrap()).unwrap();
    assert_eq!(best["n_trials"], 3, "{best}");
    assert_eq!(best["best_trial"]["model_dir_exists"], true, "--runs finds the trials' models: {best}");
    let csv_rows = std::fs::read_to_string(report.join("trials.csv")).unwrap().lines().count();
    assert_eq!(csv_rows, 1 + 3, "header and three trials");
    let json = dir.path().join("study.json");
    let out = kre(&[&["search", "export"][..], &source, &["--out", s(&json)]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(exported["study_name"], "cli");
    assert_eq!(exported["trials"].as_array().unwrap().len(), 3);
    // Without --study-name a database storage is refused with the reason.
    let out = kre(&["search", "report", "--storage", &storage, "--out", s(&report)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--study-name is required"));
}
