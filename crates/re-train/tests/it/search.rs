//! The study resumes after an interruption: finished trials are not re-run.
use std::path::Path;

use crate::serial;
use re_data::io::{read_records, ReadOptions};
use re_train::config::{ModelSource, TinyConfig, TrainConfig};
use re_train::progress::Silent;
use re_train::search::{read_trials, run_study, Pruner, SamplerConfig, SearchConfig, SearchSpace};

type B = burn::backend::Autodiff<burn::backend::NdArray<f32>>;

/// A 2-epoch `tiny` base config on the first `n_train` / `n_dev` shipped synthetic records, written into `dir`.
fn tiny_base(dir: &Path, n_train: usize, n_dev: usize) -> TrainConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/synthetic-klue-re");
    let write = |name: &str, n: usize| {
        let recs: Vec<_> =
            read_records(&root.join(name), &ReadOptions::default()).unwrap().records.into_iter().take(n).collect();
        let p = dir.join(name);
        re_data::io::klue_json::write(&p, &recs).unwrap();
        p
    };
    TrainConfig {
        train: write("train.json", n_train),
        dev: Some(write("dev.json", n_dev)),
        epochs: 2,
        model: ModelSource::Tiny(TinyConfig {
            vocab_size: 300,
            hidden_size: 16,
            num_layers: 1,
            num_heads: 2,
            intermediate_size: 32,
            dropout: 0.1,
        }),
        ..TrainConfig::default()
    }
}

#[test]
fn study_appends_trials_and_resumes() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_base(dir.path(), 120, 40);
    let space = SearchSpace {
        max_length: vec![48, 64],
        batch_size: vec![16, 32],
        lr: Some([1e-3, 3e-3]),
        ..SearchSpace::default()
    };
    let cfg = SearchConfig {
        seed: 5,
        base,
        space,
        sampler: SamplerConfig::default(),
        pruner: Pruner::Halving { min_epochs: 1, reduction_factor: 2 },
    };
    let study = dir.path().join("study");

    // "Interrupted" after 2 trials, then the same command with 3 trials resumes.
    let first = run_study::<B>(&cfg, 2, &study, &Default::default(), &mut Silent).unwrap();
    assert_eq!(first.len(), 2);
    let log = study.join("trials.jsonl");
    let before = std::fs::read_to_string(&log).unwrap();
    let all = run_study::<B>(&cfg, 3, &study, &Default::default(), &mut Silent).unwrap();
    assert_eq!(all.len(), 3);
    let after = std::fs::read_to_string(&log).unwrap();
    assert!(after.starts_with(&before), "finished trials must not be rewritten");
    let recs = read_trials(&log).unwrap();
    assert_eq!(recs.iter().map(|r| r.trial).collect::<Vec<_>>(), vec![0, 1, 2]);
    // Each record carries its parameters, and they are what the configuration says.
    for r in &recs {
        assert_eq!(r.config.lr, Some(r.params["lr"]));
        assert_eq!(r.params.contains_key("gamma"), r.config.loss == re_train::config::LossKind::Focal);
    }
    assert!(all.windows(2).all(|w| w[0].best_micro_f1 >= w[1].best_micro_f1), "summary is best first");
    // The reproduce command points at the trial's full configuration, which loads back as the trial ran.
    let command = &all[0].command;
    let config_path = command.strip_prefix("kre train --config ").expect(command);
    let saved = TrainConfig::from_toml_file(Path::new(config_path)).unwrap();
    assert_eq!(saved, all[0].config.resolved());
    assert!(matches!(saved.model, ModelSource::Tiny(ref t) if t.hidden_size == 16));
    // Same command again: nothing new runs.
    let again = run_study::<B>(&cfg, 3, &study, &Default::default(), &mut Silent).unwrap();
    assert_eq!(again.len(), 3);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), after);
    // A different search configuration in the same study directory is refused.
    let other = SearchConfig { seed: 6, ..cfg };
    assert!(run_study::<B>(&other, 3, &study, &Default::default(), &mut Silent).is_err());
}

/// With TPE active after two trials, a study interrupted after trial 1 and resumed proposes exactly the trials an
/// uninterrupted study proposes (same parameters, same configurations), and the median pruner runs.
#[test]
fn resumed_tpe_study_proposes_what_an_uninterrupted_one_does() {
    let _guard = serial();
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_base(dir.path(), 80, 30);
    let space = SearchSpace { max_length: vec![48, 64], batch_size: vec![16, 32], ..SearchSpace::default() };
    let cfg = SearchConfig {
        seed: 11,
        base,
        space,
        sampler: SamplerConfig { n_startup_trials: 2, ..SamplerConfig::default() },
        pruner: Pruner::Median { n_startup_trials: 1, n_warmup_steps: 0, interval_steps: 1 },
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_study::<B>(&cfg, 4, &a, &Default::default(), &mut Silent).unwrap();
    run_study::<B>(&cfg, 2, &b, &Default::default(), &mut Silent).unwrap();
    run_study::<B>(&cfg, 4, &b, &Default::default(), &mut Silent).unwrap();
    let (ra, rb) = (read_trials(&a.join("trials.jsonl")).unwrap(), read_trials(&b.join("trials.jsonl")).unwrap());
    assert_eq!(ra.len(), 4);
    for (x, y) in ra.iter().zip(&rb) {
        assert_eq!(x.trial, y.trial);
        assert_eq!(x.params, y.params, "trial {}", x.trial);
        assert_eq!(TrainConfig { out: y.config.out.clone(), ..x.config.clone() }, y.config, "trial {}", x.trial);
    }
    // Trials 2 and 3 came from TPE, so the history mattered: they are not trial 0/1 again.
    assert_ne!(ra[2].params, ra[0].params);
}
