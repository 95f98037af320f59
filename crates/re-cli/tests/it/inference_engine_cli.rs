//! `--engine burn|fused`: `kre predict` on a tiny model trained by `kre train` (whose CPU dev evaluation and `--test`
//! prediction use the fused engine) gives the same labels and probabilities within 1e-5 with both engines, and
//! `kre encode` the same embeddings.
use crate::common::{kre, s, slice, train_tiny, TinySize};
use re_data::io::submission::Submission;

#[test]
fn predict_engines_agree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (train, dev, test) = (slice("train.json", 240, d), slice("dev.json", 64, d), slice("test.json", 80, d));
    let run = train_tiny(d, TinySize::TWO_LAYERS, &train, &dev, &["--test", s(&test)]);
    let from_train = Submission::read(&run.join("submission.csv")).unwrap();

    let mut subs = Vec::new();
    for engine in ["burn", "fused"] {
        let path = d.join(format!("{engine}.csv"));
        let out = kre(&[
            "predict",
            "--model-dir",
            s(&run),
            "--data",
            s(&test),
            "--out",
            s(&path),
            "--engine",
            engine,
            "--batch-size",
            "16",
        ]);
        assert!(out.status.success(), "kre predict --engine {engine}: {}", String::from_utf8_lossy(&out.stderr));
        subs.push(Submission::read(&path).unwrap());
    }
    let mut diff = 0.0f64;
    for other in [&subs[1], &from_train] {
        assert_eq!(subs[0].rows.len(), 80);
        assert_eq!(other.rows.len(), 80);
        for (a, b) in subs[0].rows.iter().zip(&other.rows) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.pred_label, b.pred_label, "id {}: {:?} vs {:?}", a.id, a.probs, b.probs);
            for (x, y) in a.probs.iter().zip(&b.probs) {
                diff = diff.max((x - y).abs());
            }
        }
    }
    println!("kre predict --engine burn vs fused (and kre train --test): max |Δ| = {diff:.3e}");
    assert!(diff <= 1e-5, "max |Δ| {diff}");
}

#[test]
fn predict_help_documents_the_engine_and_fused_needs_the_cpu() {
    let out = kre(&["predict", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--engine") && help.contains("fused") && help.contains("burn"), "{help}");
    let out = kre(&[
        "predict",
        "--model-dir",
        "/nonexistent",
        "--data",
        "x.json",
        "--out",
        "p.csv",
        "--device",
        "cuda",
        "--engine",
        "fused",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--engine fused"), "{stderr}");
}

#[test]
fn encode_engines_agree() {
    let model = crate::minilm_weights::minilm_dir();
    let texts = [
        "삼성전자는 1969년 수원에서 설립되었다.",
        "A short one.",
        "이재용은 삼성전자의 회장이다. 그는 서울에서 태어났다.",
    ];
    let run = |engine: &str, pooling: &str| -> Vec<Vec<f64>> {
        let mut args = vec!["encode", "--model", s(&model), "--pooling", pooling, "--engine", engine];
        for t in &texts {
            args.extend(["--text", t]);
        }
        let out = kre(&args);
        assert!(out.status.success(), "kre encode --engine {engine}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
            })
            .collect()
    };
    for pooling in ["mean", "cls"] {
        let (burn, fused) = (run("burn", pooling), run("fused", pooling));
        assert_eq!(burn.len(), texts.len());
        assert_eq!(fused.len(), texts.len());
        let diff = burn.iter().flatten().zip(fused.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        println!("kre encode --pooling {pooling}: burn vs fused max |Δ| = {diff:.3e}");
        assert!(diff <= 1e-5, "{pooling}: max |Δ| {diff}");
    }
}
