//! kre's samplers on cheap objectives, the kre half of `scripts/bench/tpe_vs_optuna.sh` (the Optuna half is
//! `scripts/bench/tpe_vs_optuna.py`, with the same objectives written the same way; see docs/search.md).
//!
//! ```sh
//! cargo run --example tpe_bench -- --seeds 20 --trials 100 --out target/bench-results/tpe/kre.jsonl
//! ```
//! Every objective is maximised. One JSON line per (objective, sampler, seed): the best value after each trial.
//! Objectives:
//! - `report`: shaped like the KLUE-RE report's space (log lr, batch size, epochs, max_length, dropout, scheduler,
//!   focal loss with conditional γ/α, label smoothing, markers, pooling, concat-CLS), a made-up smooth "dev F1"
//!   with its maximum 73.5 at lr 2.8e-5, 6 epochs, cosine, focal γ 1 α 0.25, label smoothing 0.12 …;
//! - `branin`: −Branin on [−5, 10] × [0, 15] (maximum −0.397887);
//! - `hartmann6`: −Hartmann-6 on [0, 1]^6 (maximum 3.32237);
//! - `rosenbrock5`: −Rosenbrock in 5-D on [−2.048, 2.048]^5 (maximum 0).
use std::collections::BTreeMap;
use std::io::Write;

use re_train::search::{Distribution, Observation, Outcome, SamplerConfig, SamplerKind, TrialSampler};

/// Asks one trial's parameters of the sampler.
struct Trial<'a> {
    sampler: TrialSampler<'a>,
    params: BTreeMap<String, f64>,
}

impl Trial<'_> {
    fn ask(&mut self, name: &str, d: Distribution) -> f64 {
        let v = self.sampler.suggest(name, &d);
        self.params.insert(name.into(), v);
        v
    }
    fn float(&mut self, name: &str, low: f64, high: f64, log: bool) -> f64 {
        self.ask(name, Distribution::Float { low, high, log })
    }
    fn int(&mut self, name: &str, low: i64, high: i64) -> i64 {
        self.ask(name, Distribution::Int { low, high, step: 1 }) as i64
    }
    fn cat(&mut self, name: &str, n: usize) -> usize {
        self.ask(name, Distribution::Categorical { n }) as usize
    }
}

fn report(t: &mut Trial) -> f64 {
    let lr = t.float("lr", 1e-5, 5e-5, true);
    let batch = [-1.0, 0.0, -0.5][t.cat("batch_size", 3)]; // 8, 16, 32
    let epochs = t.int("epochs", 3, 8) as f64;
    let max_length = [-0.8, 0.0, 0.3][t.cat("max_length", 3)]; // 128, 160, 200
    let dropout = t.float("dropout", 0.0, 0.2, false);
    let scheduler = [0.0, 0.6, -0.3, -1.5][t.cat("scheduler", 4)]; // linear, cosine, polynomial, constant
    let loss = if t.cat("loss", 2) == 1 {
        // focal: γ ∈ {0.5, 1, 1.5, 2}, α ∈ {0.25, 0.5, 0.75, 1}
        let gamma = [0.5, 1.0, 1.5, 2.0][t.cat("gamma", 4)];
        let alpha = [0.4, 0.2, 0.0, -0.3][t.cat("alpha", 4)];
        0.5 - 0.8 * (gamma - 1.0f64).powi(2) + alpha
    } else {
        0.0
    };
    let smoothing = t.float("label_smoothing", 0.05, 0.2, false);
    let markers = [0.8, 0.5, 0.0][t.cat("markers", 3)]; // typed-punct, typed, entity
    let pooling = [0.5, 0.2, 0.7, -2.0][t.cat("pooling", 4)]; // entity-start, mean, attention, cls
    let concat_cls = [0.0, 0.2][t.cat("concat_cls", 2)];
    let lr_term = -12.0 * ((lr.ln() - 2.8e-5f64.ln()) / 5f64.ln()).powi(2);
    70.0 + lr_term + batch - 0.4 * (epochs - 6.0).powi(2) + max_length - 20.0 * (dropout - 0.1).powi(2)
        + scheduler
        + loss
        - 60.0 * (smoothing - 0.12).powi(2)
        + markers
        + pooling
        + concat_cls
}

fn branin(t: &mut Trial) -> f64 {
    let x1 = t.float("x1", -5.0, 10.0, false);
    let x2 = t.float("x2", 0.0, 15.0, false);
    let pi = std::f64::consts::PI;
    let (b, c, tt) = (5.1 / (4.0 * pi * pi), 5.0 / pi, 1.0 / (8.0 * pi));
    -((x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - tt) * x1.cos() + 10.0)
}

fn hartmann6(t: &mut Trial) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ];
    let x: Vec<f64> = (0..6).map(|j| t.float(&format!("x{j}"), 0.0, 1.0, false)).collect();
    (0..4)
        .map(|i| {
            let inner: f64 = (0..6).map(|j| A[i][j] * (x[j] - P[i][j] * 1e-4).powi(2)).sum();
            ALPHA[i] * (-inner).exp()
        })
        .sum()
}

fn rosenbrock5(t: &mut Trial) -> f64 {
    let x: Vec<f64> = (0..5).map(|j| t.float(&format!("x{j}"), -2.048, 2.048, false)).collect();
    -(0..4).map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2)).sum::<f64>()
}

type Objective = fn(&mut Trial) -> f64;

/// Every parameter an objective may ask for (multivariate TPE draws those all trials have jointly).
fn space(objective: &str) -> Vec<(String, Distribution)> {
    let f = |name: &str, low, high, log| (name.to_string(), Distribution::Float { low, high, log });
    let c = |name: &str, n| (name.to_string(), Distribution::Categorical { n });
    match objective {
        "report" => vec![
            f("lr", 1e-5, 5e-5, true),
            c("batch_size", 3),
            ("epochs".into(), Distribution::Int { low: 3, high: 8, step: 1 }),
            c("max_length", 3),
            f("dropout", 0.0, 0.2, false),
            c("scheduler", 4),
            c("loss", 2),
            c("gamma", 4),
            c("alpha", 4),
            f("label_smoothing", 0.05, 0.2, false),
            c("markers", 3),
            c("pooling", 4),
            c("concat_cls", 2),
        ],
        "branin" => vec![f("x1", -5.0, 10.0, false), f("x2", 0.0, 15.0, false)],
        "hartmann6" => (0..6).map(|j| f(&format!("x{j}"), 0.0, 1.0, false)).collect(),
        "rosenbrock5" => (0..5).map(|j| f(&format!("x{j}"), -2.048, 2.048, false)).collect(),
        other => unreachable!("{other}"),
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let seeds: u64 = flag("--seeds").map(|s| s.parse()).transpose()?.unwrap_or(20);
    let trials: usize = flag("--trials").map(|s| s.parse()).transpose()?.unwrap_or(100);
    let out = flag("--out").unwrap_or_else(|| "target/bench-results/tpe/kre.jsonl".into());
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    let objectives: [(&str, Objective); 4] =
        [("report", report), ("branin", branin), ("hartmann6", hartmann6), ("rosenbrock5", rosenbrock5)];
    for (name, objective) in objectives {
        let space = space(name);
        let samplers = [
            ("kre-tpe", SamplerConfig::default()),
            ("kre-tpe-indep", SamplerConfig { multivariate: false, ..SamplerConfig::default() }),
            ("kre-random", SamplerConfig { kind: SamplerKind::Random, ..SamplerConfig::default() }),
        ];
        for (label, sampler) in samplers {
            let started = std::time::Instant::now();
            for seed in 0..seeds {
                let mut history: Vec<Observation> = Vec::new();
                let mut best = Vec::with_capacity(trials);
                for number in 0..trials {
                    let mut t =
                        Trial { sampler: sampler.start_trial(seed, number, &history, &space), params: BTreeMap::new() };
                    let value = objective(&mut t);
                    let params = std::mem::take(&mut t.params);
                    best.push(best.last().map_or(value, |b: &f64| b.max(value)));
                    history.push(Observation { number, outcome: Outcome::Complete(value), params });
                }
                let line = serde_json::json!({ "objective": name, "sampler": label, "seed": seed, "best": best });
                writeln!(file, "{line}")?;
            }
            eprintln!(
                "{name:12} {label:10} {seeds} seeds × {trials} trials in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    file.flush()?;
    eprintln!("wrote {out}");
    Ok(())
}
