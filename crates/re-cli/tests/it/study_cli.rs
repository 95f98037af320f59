//! `kre search report` and `kre search export` on the hand-made study of re-train's fixtures (60 trials, 15 pruned;
//! tools/make_importance_fixtures.py), and their errors on a missing or empty study.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::s;

fn kre(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kre")).args(args).output().expect("running kre")
}

fn study() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../re-train/tests/fixtures/studies/mixed")
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "kre failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}: not a PNG", path.display());
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn report_writes_tables_best_importances_plots_and_html() {
    let out = tempfile::tempdir().unwrap();
    let stdout = ok(&kre(&["search", "report", "--study", s(&study()), "--out", s(out.path())]));
    // Trial 9 is the best complete trial of the fixture (highest best_micro_f1 among complete trials).
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("best.json")).unwrap()).unwrap();
    let n = best["best_trial"]["number"].as_u64().unwrap();
    assert!(stdout.contains(&format!("best trial {n}: dev micro-F1")), "{stdout}");
    assert!(stdout.contains("60 trials (45 complete, 15 pruned)"), "{stdout}");
    assert!(stdout.contains("is missing; the command above re-creates it"), "{stdout}");
    assert!(best["best_trial"]["command"].as_str().unwrap().starts_with("kre train --config "));
    for f in ["trials.csv", "trials.md", "best.json", "importances.json", "report.html"] {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
    let mut html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    for f in [
        "optimization_history.png",
        "intermediate_values.png",
        "parallel_coordinates.png",
        "param_importances.png",
        "slices.png",
    ] {
        let p = out.path().join(f);
        let (w, h) = png_size(&p);
        assert!(w >= 600 && h >= 300, "{f}: {w}×{h}");
        // A blank canvas compresses to a few hundred bytes; a drawn plot with text is tens of KB.
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len > 15_000, "{f}: only {len} bytes");
        html = html.replacen("data:image/png;base64,", "", 1);
    }
    assert!(!html.contains("data:image/png;base64,"), "exactly five embedded plots");
    // No temporary files left behind.
    let names: Vec<String> =
        std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 10, "{names:?}");
}

#[test]
fn export_writes_optuna_csv_and_json() {
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("trials.csv");
    ok(&kre(&["search", "export", "--study", s(&study()), "--out", s(&csv)]));
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 61);
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(&header[..5], &["number", "value", "datetime_start", "datetime_complete", "duration"]);
    assert_eq!(header.last(), Some(&"state"));
    assert!(header.contains(&"params_markers") && header.contains(&"user_attrs_best_epoch"));
    let markers = header.iter().position(|h| *h == "params_markers").unwrap();
    let row: Vec<&str> = lines[1].split(',').collect();
    assert!(["typed-punct:en", "typed", "entity"].contains(&row[markers]), "{}", lines[1]);
    assert_eq!(lines.iter().filter(|l| l.ends_with(",PRUNED")).count(), 15);

    let json = out.path().join("trials.json");
    ok(&kre(&["search", "export", "--study", s(&study()), "--out", s(&json), "--study-name", "demo"]));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["format"], "kre-optuna-trials/1");
    assert_eq!(v["study_name"], "demo");
    assert_eq!(v["trials"].as_array().unwrap().len(), 60);
    assert_eq!(v["distributions"]["lr"]["name"], "FloatDistribution");

    let e = kre(&["search", "export", "--study", s(&study()), "--out", s(&out.path().join("t.txt"))]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("name a .csv or .json file"));
}

#[test]
fn missing_or_empty_study_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let missing = dir.path().join("no-study");
    for cmd in ["report", "export"] {
        let target = if cmd == "report" { out.clone() } else { dir.path().join("t.csv") };
        let o = kre(&["search", cmd, "--study", s(&missing), "--out", s(&target)]);
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("no-study: no such study directory"), "{e}");
    }
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("search.toml"), "seed = 1\n").unwrap();
    std::fs::write(empty.join("trials.jsonl"), "").unwrap();
    let o = kre(&["search", "report", "--study", s(&empty), "--out", s(&out)]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("empty: the study has no finished trials"), "{e}");
    assert!(!out.exists(), "nothing written for a failed report");
}

/// A real (tiny, 2-trial) study, then its report and export: the best trial's `best/` model exists and is reported
/// as such, and the export has the trials' times from their run directories.
#[test]
fn report_of_a_real_study_points_at_the_best_model() {
    let dir = tempfile::tempdir().unwrap();
    let train = crate::common::slice("train.json", 40, dir.path());
    let dev = crate::common::slice("dev.json", 20, dir.path());
    let toml = dir.path().join("search.toml");
    std::fs::write(
        &toml,
        format!(
            "seed = 1\n[base]\ntrain = {:?}\ndev = {:?}\nmodel = \"tiny\"\nepochs = 2\n\
             [base.tiny]\nvocab_size = 300\nhidden_size = 16\nnum_layers = 1\nnum_heads = 2\nintermediate_size = 32\n\
             [sampler]\nkind = \"random\"\n[pruner]\nkind = \"none\"\n",
            s(&train),
            s(&dev)
        ),
    )
    .unwrap();
    let study = dir.path().join("study");
    ok(&kre(&["search", "--config", s(&toml), "--trials", "2", "--study", s(&study)]));
    let out = dir.path().join("report");
    let stdout = ok(&kre(&["search", "report", "--study", s(&study), "--out", s(&out)]));
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("best.json")).unwrap()).unwrap();
    let b = &best["best_trial"];
    assert_eq!(b["model_dir_exists"], true, "{best}");
    assert_eq!(b["config_file_exists"], true, "{best}");
    let model_dir = PathBuf::from(b["model_dir"].as_str().unwrap());
    assert!(model_dir.join("config.json").is_file() || model_dir.read_dir().unwrap().count() > 0);
    assert!(
        stdout.contains(&format!(
            "kre predict --model-dir {}",
            study.join(format!("trial-{:03}", b["number"].as_u64().unwrap())).display()
        )),
        "{stdout}"
    );
    let csv = dir.path().join("t.csv");
    ok(&kre(&["search", "export", "--study", s(&study), "--out", s(&csv)]));
    let text = std::fs::read_to_string(&csv).unwrap();
    for row in text.lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        assert!(cells[2].starts_with("20") && cells[3].starts_with("20"), "datetimes: {row}");
        assert!(cells[4].starts_with("0 days 00:"), "duration: {row}");
    }
}
