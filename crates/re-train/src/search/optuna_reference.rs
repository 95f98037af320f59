//! kre's TPE internals against Optuna's own numbers (`tests/fixtures/tpe.json`, written by
//! `tools/make_tpe_fixtures.py`): everything that does not depend on random draws agrees within 1e-9.
use std::collections::BTreeMap;

use serde_json::Value;

use super::sampler::{split_trials, Distribution, Observation, Outcome, SamplerConfig};
use super::tpe::{log_gauss_mass, truncnorm_ppf, ParzenEstimator};

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tpe.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect(path)).expect("tpe.json parses")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn dist(v: &Value) -> Distribution {
    match v["kind"].as_str().unwrap() {
        "float" => Distribution::Float {
            low: v["low"].as_f64().unwrap(),
            high: v["high"].as_f64().unwrap(),
            log: v["log"].as_bool().unwrap(),
        },
        "int" => Distribution::Int {
            low: v["low"].as_i64().unwrap(),
            high: v["high"].as_i64().unwrap(),
            step: v["step"].as_i64().unwrap(),
        },
        "categorical" => Distribution::Categorical { n: v["n"].as_u64().unwrap() as usize },
        k => panic!("kind {k}"),
    }
}

#[track_caller]
fn close(got: f64, want: f64, what: &str) {
    let tol = 1e-9 * want.abs().max(1.0);
    assert!((got - want).abs() <= tol, "{what}: kre {got:e} vs optuna {want:e} (diff {:e})", (got - want).abs());
}

#[test]
fn parzen_estimators_match_optuna() {
    let f = fixture();
    for case in f["parzen"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let pe = ParzenEstimator::univariate(&floats(&case["observations"]), &dist(&case["dist"]), 1.0);
        let want_w = floats(&case["weights"]);
        assert_eq!(pe.weights().len(), want_w.len(), "{name}: number of kernels");
        for (g, w) in pe.weights().iter().zip(&want_w) {
            close(*g, *w, &format!("{name} weight"));
        }
        if let Some((mus, sigmas)) = pe.mus_sigmas(0) {
            for (g, w) in mus.iter().zip(floats(&case["mus"])) {
                close(*g, w, &format!("{name} mu"));
            }
            for (g, w) in sigmas.iter().zip(floats(&case["sigmas"])) {
                close(*g, w, &format!("{name} sigma"));
            }
        }
        for (x, want) in floats(&case["points"]).into_iter().zip(floats(&case["log_pdf"])) {
            close(pe.log_pdf(&[x]), want, &format!("{name} log_pdf({x})"));
        }
    }
}

#[test]
fn truncnorm_matches_optuna() {
    let f = fixture();
    for c in f["ppf"].as_array().unwrap() {
        let (q, a, b) = (c["q"].as_f64().unwrap(), c["a"].as_f64().unwrap(), c["b"].as_f64().unwrap());
        close(truncnorm_ppf(q, a, b), c["x"].as_f64().unwrap(), &format!("ppf({q}, {a}, {b})"));
    }
    for c in f["log_mass"].as_array().unwrap() {
        let (a, b) = (c["a"].as_f64().unwrap(), c["b"].as_f64().unwrap());
        close(log_gauss_mass(a, b), c["log_mass"].as_f64().unwrap(), &format!("log_mass({a}, {b})"));
    }
}

#[test]
fn tpe_split_and_acquisition_match_optuna() {
    let f = fixture();
    for case in f["tpe"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let d = dist(&case["dist"]);
        let trials: Vec<Observation> = case["trials"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(number, t)| {
                let outcome = match t["state"].as_str().unwrap() {
                    "complete" => Outcome::Complete(t["value"].as_f64().unwrap()),
                    _ => {
                        let curve = floats(&t["curve"]);
                        Outcome::Pruned { step: curve.len(), value: *curve.last().unwrap() }
                    }
                };
                let params = t["x"].as_f64().map(|x| BTreeMap::from([("x".to_string(), x)])).unwrap_or_default();
                Observation { number, outcome, params }
            })
            .collect();
        let refs: Vec<&Observation> = trials.iter().collect();
        let (below, _) = split_trials(&refs, super::sampler::gamma(refs.len()));
        let below: Vec<u64> = below.iter().map(|o| o.number as u64).collect();
        let want: Vec<u64> = case["below"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(below, want, "{name}: good trials");
        let (l, g) = SamplerConfig::default().estimators(&["x"], std::slice::from_ref(&d), &refs);
        for (x, want) in floats(&case["candidates"]).into_iter().zip(floats(&case["acquisition"])) {
            close(l.log_pdf(&[x]) - g.log_pdf(&[x]), want, &format!("{name} acquisition({x})"));
        }
    }
}

/// Multivariate TPE (Optuna ≥ 5's default): one joint estimator over several parameters of different kinds. The
/// integer parameter has no repeated values: Optuna orders tied observations with numpy's unstable sort, so which
/// of two equal observations gets which bandwidth (which matters once the kernels are products) is not
/// reproducible; kre keeps trial order.
#[test]
fn joint_estimators_match_optuna() {
    let f = fixture();
    for case in f["joint"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let names: Vec<String> = case["names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
        let dists: Vec<Distribution> = case["dists"].as_array().unwrap().iter().map(dist).collect();
        let trials: Vec<Observation> = case["trials"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(number, t)| Observation {
                number,
                outcome: Outcome::Complete(t["value"].as_f64().unwrap()),
                params: names.iter().cloned().zip(floats(&t["x"])).collect(),
            })
            .collect();
        let refs: Vec<&Observation> = trials.iter().collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (l, g) = SamplerConfig::default().estimators(&name_refs, &dists, &refs);
        for (c, want) in case["candidates"].as_array().unwrap().iter().zip(floats(&case["acquisition"])) {
            let x = floats(c);
            close(l.log_pdf(&x) - g.log_pdf(&x), want, &format!("{name} acquisition({x:?})"));
        }
    }
}
