//! What a study shows: PED-ANOVA importances against Optuna's on hand-made studies (fixtures by
//! tools/make_importance_fixtures.py, which reads the studies through `kre search export`), and the report's files.
use std::path::{Path, PathBuf};

use re_train::search::export::param_specs;
use re_train::search::importance::PedAnova;
use re_train::search::report::{load_study_dir, StudyReport};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Both studies, every parameter: kre's normalised importances equal Optuna 5.1's within 1e-9 relative (measured
/// agreement is ~1e-15: the same formulas in the same order, in f64).
#[test]
fn ped_anova_matches_optuna() {
    let text = std::fs::read_to_string(fixtures().join("importances_ped_anova.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    for name in ["mixed", "ties"] {
        let (cfg, records) = load_study_dir(&fixtures().join("studies").join(name)).unwrap();
        let expected = reference["studies"][name]["importances"].as_object().unwrap();
        assert_eq!(records.len() as u64, reference["studies"][name]["n_trials"].as_u64().unwrap());
        let got = PedAnova::default().importances(&records, &param_specs(&cfg).unwrap());
        assert_eq!(got.len(), expected.len(), "{name}: parameters assessed");
        let mut worst = 0.0f64;
        for imp in &got {
            let want = expected[&imp.param].as_f64().unwrap_or_else(|| panic!("{name}: {} not in Optuna's", imp.param));
            let rel = (imp.importance - want).abs() / want.abs().max(1e-12);
            worst = worst.max(rel);
            assert!(rel <= 1e-9, "{name}/{}: kre {} vs Optuna {want} (relative {rel:e})", imp.param, imp.importance);
        }
        eprintln!("{name}: worst relative difference {worst:e}");
    }
}

/// The report of the hand-made study: every file written, the best trial right, the CSV well-formed.
#[test]
fn report_files_of_a_hand_made_study() {
    let study = fixtures().join("studies/mixed");
    let (cfg, records) = load_study_dir(&study).unwrap();
    let r = StudyReport::new(&cfg, &records, &study).unwrap();
    let best = records
        .iter()
        .filter(|t| t.status == re_train::search::TrialStatus::Complete)
        .max_by(|a, b| a.best_micro_f1.total_cmp(&b.best_micro_f1))
        .unwrap();
    assert_eq!(r.best.as_ref().unwrap().number, best.trial);
    let out = tempfile::tempdir().unwrap();
    r.write_files(out.path()).unwrap();
    let csv = std::fs::read_to_string(out.path().join("trials.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 61);
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(&header[..5], &["number", "state", "value", "best_epoch", "epochs_run"]);
    assert!(header.contains(&"pooling") && header.contains(&"gamma"));
    assert!(lines[1..].iter().all(|l| l.split(',').count() == header.len()));
    let best_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("best.json")).unwrap()).unwrap();
    assert_eq!(best_json["best_trial"]["number"], best.trial);
    assert_eq!(best_json["n_pruned"], 15);
    assert_eq!(best_json["best_trial"]["model_dir_exists"], false);
    let imp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("importances.json")).unwrap()).unwrap();
    assert_eq!(imp["importances"][0]["param"], "lr");
    assert!(std::fs::read_to_string(out.path().join("trials.md")).unwrap().starts_with("| trial | state |"));
}
