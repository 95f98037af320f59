//! `kre train` argument handling: typed flags fail while the arguments are parsed (nothing is written), the help
//! documents the per-model learning-rate default, and `--tiny-*` flags refuse a checkpoint model.
use std::process::Command;

fn kre(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kre")).args(args).output().unwrap()
}

#[test]
fn bad_values_fail_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out = out_dir.to_str().unwrap();
    for (flag, value, expected) in [
        ("--pooling", "sum", "possible values"),
        ("--markers", "brackets", "unknown marker scheme"),
        ("--loss", "hinge", "possible values"),
        ("--scheduler", "step", "possible values"),
        ("--device", "tpu", "bad device"),
        ("--precision", "f64", "possible values"),
        ("--label-smoothing", "1.5", "label smoothing"),
        ("--model", "/nonexistent/checkpoint", "no config.json"),
    ] {
        let result = kre(&["train", flag, value, "--out", out]);
        assert!(!result.status.success(), "{flag} {value} was accepted");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(expected), "{flag} {value}: {stderr}");
        assert!(!out_dir.exists(), "{flag} {value}: the run directory was created");
    }
    let result = kre(&["train", "--model", "/nonexistent/checkpoint", "--tiny-layers", "2", "--out", out]);
    assert!(!result.status.success());
    assert!(String::from_utf8_lossy(&result.stderr).contains("--tiny-"), "{result:?}");
}

#[test]
fn help_documents_the_per_model_learning_rate_and_every_setting() {
    let help = String::from_utf8_lossy(&kre(&["train", "--help"]).stdout).to_string();
    assert!(help.contains("1e-3 with --model tiny"), "{help}");
    assert!(help.contains("5e-5 with a checkpoint"), "{help}");
    for flag in ["--dropout", "--eval-batch-size", "--tiny-hidden-size", "--length-bucketing", "--concat-cls"] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("entity-start") && help.contains("cosine"), "{help}");
}
