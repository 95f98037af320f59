//! `kre … --device wgpu` end to end (built with `--features wgpu`; CI runs it on Mesa's software Vulkan, lavapipe):
//! `kre --version` names the backend, `kre train` trains a tiny model on wgpu and writes its run directory, and
//! `kre predict --device wgpu` gives the CPU's labels for that model; bf16 is refused with a reason.
#![cfg(feature = "wgpu")]
use std::process::Command;

use crate::common::{s, slice};
use re_data::io::submission::Submission;

fn kre(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kre"));
    // Mesa warns on every device creation without it.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        cmd.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    cmd.args(args).output().unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_names_the_wgpu_backend() {
    let out = kre(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("wgpu"), "{out:?}");
}

#[test]
fn train_and_predict_on_wgpu_give_the_cpu_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, dev, test) = (slice("train.json", 96, d), slice("dev.json", 32, d), slice("test.json", 40, d));
    let run = d.join("run");
    let config = d.join("train.toml");
    std::fs::write(
        &config,
        "epochs = 2\nbatch_size = 16\nmax_length = 48\nmarkers = \"typed\"\n\n[tiny]\nvocab_size = 300\n\
         hidden_size = 32\nnum_layers = 1\nnum_heads = 2\nintermediate_size = 64\n",
    )
    .unwrap();
    let common = ["--config", s(&config), "--model", "tiny", "--train", s(&train), "--dev", s(&dev)];
    let out = kre(&[&["train"], &common[..], &["--device", "wgpu", "--out", s(&run)]].concat());
    assert!(out.status.success(), "kre train --device wgpu: {}", stderr(&out));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let losses: Vec<f64> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["train_loss"].as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 2, "{metrics}");
    assert!(losses.iter().all(|l| l.is_finite()) && losses[1] < losses[0], "train loss per epoch: {losses:?}");
    assert!(run.join("best").join("model.mpk").exists() || run.join("best").is_dir(), "no best/ in {run:?}");

    let mut subs = Vec::new();
    for device in ["wgpu", "cpu"] {
        let path = d.join(format!("{device}.csv"));
        let args = ["predict", "--model-dir", s(&run), "--data", s(&test), "--out", s(&path), "--device", device];
        let out = kre(&args);
        assert!(out.status.success(), "kre predict --device {device}: {}", stderr(&out));
        subs.push(Submission::read(&path).unwrap());
    }
    let mut diff = 0.0f64;
    assert_eq!(subs[0].rows.len(), 40);
    for (a, b) in subs[0].rows.iter().zip(&subs[1].rows) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.pred_label, b.pred_label, "id {}: {:?} vs {:?}", a.id, a.probs, b.probs);
        diff = diff.max(a.probs.iter().zip(&b.probs).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max));
    }
    println!("kre predict --device wgpu vs cpu: max |Δprob| = {diff:.3e}");
    assert!(diff <= 1e-4, "max |Δprob| {diff}");

    // bf16 has no WGSL type: refused before anything is written.
    let refused = d.join("bf16");
    let out =
        kre(&[&["train"], &common[..], &["--device", "wgpu", "--precision", "bf16", "--out", s(&refused)]].concat());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bf16 is not available on wgpu"), "{}", stderr(&out));
}
