//! A study's trials in Optuna's terms: parameters in their user representation (the choice itself, not its
//! index), distributions as Optuna serialises them (`optuna.distributions.json_to_distribution` reads them), and
//! `Study.trials_dataframe()`'s columns. `kre search export` writes the JSON form ([`optuna_json`]) or the CSV
//! form ([`trials_dataframe_csv`]); `scripts/optuna_import.py` rebuilds the study in Optuna from the JSON.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use super::sampler::Distribution;
use super::{SearchConfig, TrialRecord, TrialStatus};
use crate::checkpoint::METRICS_FILE;
use crate::error::{Result, TrainError};
use crate::trainer::read_metrics;

/// Version tag of the JSON export, checked by `scripts/optuna_import.py`.
pub const EXPORT_FORMAT: &str = "kre-optuna-trials/1";

/// One parameter of the search space: its name, range (internal representation) and, for a categorical one, the
/// choices as a user writes them in search.toml.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub distribution: Distribution,
    /// `Some` exactly for categoricals, one entry per index.
    pub choices: Option<Vec<Value>>,
}

impl ParamSpec {
    /// The user representation of `x` (internal representation): the choice for a categorical, an integer for an
    /// integer range, the number otherwise. `None` when `x` is outside the range (a study written with another
    /// space).
    pub fn user_value(&self, x: f64) -> Option<Value> {
        if !self.distribution.contains(x) {
            return None;
        }
        match (&self.distribution, &self.choices) {
            (Distribution::Categorical { .. }, Some(c)) => c.get(x as usize).cloned(),
            (Distribution::Int { .. }, _) => Some(json!(x as i64)),
            _ => Some(json!(x)),
        }
    }

    /// `x` as text for tables and plot labels: choices as written, floats with 4 significant digits.
    pub fn display(&self, x: f64) -> String {
        match self.user_value(x) {
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) if n.is_f64() => format_sig(n.as_f64().unwrap_or(x), 4),
            Some(v) => v.to_string(),
            None => format!("{x} (outside the space)"),
        }
    }

    /// The distribution as `optuna.distributions.distribution_to_json` writes it.
    pub fn optuna_distribution(&self) -> Value {
        match (&self.distribution, &self.choices) {
            (Distribution::Float { low, high, log }, _) => json!({
                "name": "FloatDistribution",
                "attributes": {"low": low, "high": high, "log": log, "step": null}
            }),
            (Distribution::Int { low, high, step }, _) => json!({
                "name": "IntDistribution",
                "attributes": {"low": low, "high": high, "log": false, "step": step}
            }),
            (Distribution::Categorical { .. }, choices) => json!({
                "name": "CategoricalDistribution",
                "attributes": {"choices": choices.clone().unwrap_or_default()}
            }),
        }
    }
}

/// `x` with `digits` significant digits, without trailing zeros (`0.000123`, `1.5e-5`, `42`).
pub fn format_sig(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        let s = format!("{:.*e}", digits.saturating_sub(1), x);
        // "1.500e-5" → "1.5e-5"
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
            _ => s,
        };
    }
    let decimals = (digits as i32 - 1 - exp).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Every parameter `cfg`'s space may sample, in the order it asks for them, with the choices of categoricals.
pub fn param_specs(cfg: &SearchConfig) -> Result<Vec<ParamSpec>> {
    let space = &cfg.space;
    fn values<T: Serialize>(v: &[T]) -> Vec<Value> {
        v.iter().map(|x| serde_json::to_value(x).unwrap_or(Value::Null)).collect()
    }
    let mut out = Vec::new();
    for (name, distribution) in space.distributions(&cfg.base) {
        let choices = match name.as_str() {
            "lr" | "epochs" | "dropout" | "label_smoothing" => None,
            "batch_size" => Some(values(&space.batch_size)),
            "max_length" => Some(values(&space.max_length)),
            "scheduler" => Some(values(&space.scheduler)),
            "loss" => Some(values(&space.loss)),
            "gamma" => Some(values(&space.gamma)),
            "alpha" => Some(values(&space.alpha)),
            // The flag's spelling (`typed-punct:en`), a string as Optuna's choices must be.
            "markers" => Some(space.markers.iter().map(|m| Value::String(m.to_string())).collect()),
            "pooling" => Some(values(&space.pooling)),
            "concat_cls" => Some(values(&space.concat_cls)),
            other => {
                return Err(TrainError::Other(format!("search space parameter `{other}` has no export mapping")));
            }
        };
        if let (Distribution::Categorical { n }, Some(c)) = (&distribution, &choices) {
            if *n != c.len() || c.iter().any(|v| v.is_null() || v.is_object() || v.is_array()) {
                return Err(TrainError::Other(format!(
                    "search space parameter `{name}`: choices {c:?} not exportable"
                )));
            }
        }
        out.push(ParamSpec { name, distribution, choices });
    }
    Ok(out)
}

/// The run directory of a trial: `STUDY/trial-NNN` when it is there (the study may have moved since it ran),
/// else the `out` recorded in its configuration.
pub fn run_dir(rec: &TrialRecord, study_dir: &Path) -> PathBuf {
    match rec.config.out.file_name().map(|name| study_dir.join(name)) {
        Some(local) if local.is_dir() || !rec.config.out.is_dir() => local,
        _ => rec.config.out.clone(),
    }
}

/// When a trial ran, from its run directory's `metrics.jsonl`: finished at the file's last modification, lasted
/// the sum of its epochs' seconds (evaluation included). `None` when the file is gone or empty.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialTiming {
    /// Seconds since the Unix epoch (UTC).
    pub start: f64,
    pub complete: f64,
    pub seconds: f64,
}

pub fn trial_timing(run_dir: &Path) -> Option<TrialTiming> {
    let path = run_dir.join(METRICS_FILE);
    let epochs = read_metrics(&path).ok()?;
    if epochs.is_empty() {
        return None;
    }
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    let complete = modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
    let seconds: f64 = epochs.iter().map(|m| m.epoch_seconds).sum();
    Some(TrialTiming { start: complete - seconds, complete, seconds })
}

/// pandas' text form of a timestamp, `2026-12-02 23:45:02.123456` (UTC).
pub fn format_datetime(unix_seconds: f64) -> String {
    let micros = (unix_seconds * 1e6).round() as i64;
    let (secs, us) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{us:06}", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// pandas' text form of a duration, `0 days 00:01:02.500000`.
pub fn format_timedelta(seconds: f64) -> String {
    let micros = (seconds.max(0.0) * 1e6).round() as i64;
    let (secs, us) = (micros / 1_000_000, micros % 1_000_000);
    let (days, sod) = (secs / 86_400, secs % 86_400);
    format!("{days} days {:02}:{:02}:{:02}.{us:06}", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// The state as Optuna spells it.
pub fn optuna_state(status: &TrialStatus) -> &'static str {
    match status {
        TrialStatus::Complete => "COMPLETE",
        TrialStatus::Pruned => "PRUNED",
    }
}

/// The objective value Optuna would store: the best dev micro-F1 of a complete trial; for a pruned one the last
/// reported value, as Optuna's `Study.tell` does. `None` when it is not finite (Optuna cannot hold NaN there).
pub fn optuna_value(rec: &TrialRecord) -> Option<f64> {
    let v = match rec.status {
        TrialStatus::Complete => rec.best_micro_f1,
        TrialStatus::Pruned => rec.curve.last().copied().unwrap_or(f64::NAN),
    };
    v.is_finite().then_some(v)
}

/// One trial in Optuna's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportedTrial {
    pub number: usize,
    pub state: &'static str,
    pub value: Option<f64>,
    pub timing: Option<TrialTiming>,
    /// User representation; parameters the trial did not use, or with a value outside the space, are absent.
    pub params: BTreeMap<String, Value>,
    /// Epoch (1-based) → dev micro-F1; epochs without a value are left out.
    pub intermediate_values: BTreeMap<usize, f64>,
    pub user_attrs: BTreeMap<String, Value>,
}

/// The trials of a study in Optuna's terms, by trial number. `study_dir` is where run directories are looked for
/// (timings); it may be missing.
pub fn export_trials(records: &[TrialRecord], specs: &[ParamSpec], study_dir: &Path) -> Vec<ExportedTrial> {
    let mut sorted: Vec<&TrialRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.trial);
    sorted
        .into_iter()
        .map(|r| {
            let mut params = BTreeMap::new();
            for spec in specs {
                if let Some(&x) = r.params.get(&spec.name) {
                    match spec.user_value(x) {
                        Some(v) => {
                            params.insert(spec.name.clone(), v);
                        }
                        None => {
                            tracing::warn!("trial {}: {} = {x} lies outside the space; left out", r.trial, spec.name)
                        }
                    }
                }
            }
            let intermediate_values =
                r.curve.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| (i + 1, v)).collect();
            let dir = run_dir(r, study_dir);
            let user_attrs = BTreeMap::from([
                ("best_epoch".to_string(), json!(r.best_epoch)),
                ("epochs_run".to_string(), json!(r.curve.len())),
                ("command".to_string(), json!(r.command)),
                ("run_dir".to_string(), json!(dir.display().to_string())),
            ]);
            ExportedTrial {
                number: r.trial,
                state: optuna_state(&r.status),
                value: optuna_value(r),
                timing: trial_timing(&dir),
                params,
                intermediate_values,
                user_attrs,
            }
        })
        .collect()
}

/// The JSON export: the distributions of every parameter, then every trial with its parameters, value,
/// intermediate values (step = epoch) and user attributes. `scripts/optuna_import.py` turns it into an Optuna
/// study.
pub fn optuna_json(study_name: &str, specs: &[ParamSpec], trials: &[ExportedTrial]) -> Value {
    let distributions: serde_json::Map<String, Value> =
        specs.iter().map(|s| (s.name.clone(), s.optuna_distribution())).collect();
    let trials: Vec<Value> = trials
        .iter()
        .map(|t| {
            let iv: serde_json::Map<String, Value> =
                t.intermediate_values.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            json!({
                "number": t.number,
                "state": t.state,
                "value": t.value,
                "datetime_start": t.timing.as_ref().map(|x| format_datetime(x.start)),
                "datetime_complete": t.timing.as_ref().map(|x| format_datetime(x.complete)),
                "duration_seconds": t.timing.as_ref().map(|x| x.seconds),
                "params": t.params,
                "intermediate_values": iv,
                "user_attrs": t.user_attrs,
            })
        })
        .collect();
    json!({
        "format": EXPORT_FORMAT,
        "study_name": study_name,
        "direction": "maximize",
        "objective": "dev micro-F1 (%) at the trial's best epoch",
        "distributions": distributions,
        "trials": trials,
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        // pandas writes booleans as True/False.
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        other => csv_field(&other.to_string()),
    }
}

/// `Study.trials_dataframe()` written by pandas' `to_csv(index=False)`: `number, value, datetime_start,
/// datetime_complete, duration, params_<name>…, user_attrs_<name>…, state`, names sorted as Optuna sorts them.
/// Empty cells where Optuna has NaN/NaT.
pub fn trials_dataframe_csv(specs: &[ParamSpec], trials: &[ExportedTrial]) -> String {
    let mut param_names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    param_names.sort_unstable();
    let mut attr_names: Vec<&str> = trials.iter().flat_map(|t| t.user_attrs.keys().map(String::as_str)).collect();
    attr_names.sort_unstable();
    attr_names.dedup();
    let mut header = vec!["number", "value", "datetime_start", "datetime_complete", "duration"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    header.extend(param_names.iter().map(|n| format!("params_{n}")));
    header.extend(attr_names.iter().map(|n| format!("user_attrs_{n}")));
    header.push("state".into());
    let mut out = header.join(",");
    out.push('\n');
    for t in trials {
        let mut row = vec![
            t.number.to_string(),
            t.value.map(|v| json!(v).to_string()).unwrap_or_default(),
            t.timing.as_ref().map(|x| format_datetime(x.start)).unwrap_or_default(),
            t.timing.as_ref().map(|x| format_datetime(x.complete)).unwrap_or_default(),
            t.timing.as_ref().map(|x| format_timedelta(x.seconds)).unwrap_or_default(),
        ];
        row.extend(param_names.iter().map(|n| t.params.get(*n).map(csv_value).unwrap_or_default()));
        row.extend(attr_names.iter().map(|n| t.user_attrs.get(*n).map(csv_value).unwrap_or_default()));
        row.push(t.state.to_string());
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::TrainConfig;
    use crate::search::{train_command, SearchSpace};

    pub(crate) fn rec(trial: usize, status: TrialStatus, curve: &[f64], params: &[(&str, f64)]) -> TrialRecord {
        let config =
            TrainConfig { out: PathBuf::from(format!("/nonexistent/trial-{trial:03}")), ..TrainConfig::default() };
        TrialRecord {
            trial,
            status,
            best_micro_f1: curve.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            best_epoch: 1 + curve.iter().enumerate().fold(0, |b, (i, v)| if *v > curve[b] { i } else { b }),
            curve: curve.to_vec(),
            command: train_command(&config),
            config,
            params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    fn cfg() -> SearchConfig {
        SearchConfig {
            space: SearchSpace { epochs: Some([2, 4]), ..SearchSpace::default() },
            ..SearchConfig::default()
        }
    }

    #[test]
    fn every_parameter_of_the_space_has_a_user_representation() {
        let specs = param_specs(&cfg()).unwrap();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let listed: Vec<String> = cfg().space.distributions(&cfg().base).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, listed);
        let by = |n: &str| specs.iter().find(|s| s.name == n).unwrap();
        assert_eq!(by("markers").user_value(0.0), Some(json!("typed-punct:en")));
        assert_eq!(by("markers").user_value(2.0), Some(json!("entity")));
        assert_eq!(by("scheduler").user_value(1.0), Some(json!("cosine")));
        assert_eq!(by("pooling").user_value(2.0), Some(json!("attention")));
        assert_eq!(by("concat_cls").user_value(1.0), Some(json!(true)));
        assert_eq!(by("batch_size").user_value(2.0), Some(json!(32)));
        assert_eq!(by("gamma").user_value(3.0), Some(json!(2.0)));
        assert_eq!(by("epochs").user_value(3.0), Some(json!(3)));
        assert_eq!(by("lr").user_value(1e-3), Some(json!(1e-3)));
        // Outside the space: no user value.
        assert_eq!(by("markers").user_value(3.0), None);
        assert_eq!(by("lr").user_value(1.0), None);
        assert_eq!(by("lr").display(0.00123456), "0.001235");
        assert_eq!(by("markers").display(1.0), "typed");
    }

    #[test]
    fn optuna_distributions_have_optunas_layout() {
        let specs = param_specs(&cfg()).unwrap();
        let by = |n: &str| specs.iter().find(|s| s.name == n).unwrap().optuna_distribution();
        assert_eq!(
            by("lr"),
            json!({"name": "FloatDistribution", "attributes": {"low": 3e-4, "high": 3e-3, "log": true, "step": null}})
        );
        assert_eq!(
            by("epochs"),
            json!({"name": "IntDistribution", "attributes": {"low": 2, "high": 4, "log": false, "step": 1}})
        );
        assert_eq!(by("loss"), json!({"name": "CategoricalDistribution", "attributes": {"choices": ["ce", "focal"]}}));
    }

    #[test]
    fn csv_has_trials_dataframe_columns_and_user_values() {
        let specs = param_specs(&cfg()).unwrap();
        let records = vec![
            rec(1, TrialStatus::Pruned, &[10.0, 12.5], &[("lr", 1e-3), ("markers", 1.0), ("concat_cls", 0.0)]),
            rec(0, TrialStatus::Complete, &[20.0, 30.0, 25.0], &[("lr", 5e-4), ("markers", 0.0), ("gamma", 3.0)]),
        ];
        let trials = export_trials(&records, &specs, Path::new("/nonexistent"));
        let csv = trials_dataframe_csv(&specs, &trials);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "number,value,datetime_start,datetime_complete,duration,params_alpha,params_batch_size,\
             params_concat_cls,params_dropout,params_epochs,params_gamma,params_label_smoothing,params_loss,\
             params_lr,params_markers,params_max_length,params_pooling,params_scheduler,user_attrs_best_epoch,\
             user_attrs_command,user_attrs_epochs_run,user_attrs_run_dir,state"
        );
        assert_eq!(lines.len(), 3);
        // Sorted by number; pruned value = last intermediate value (Optuna's convention).
        let row0: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(row0.len(), 23);
        assert_eq!((row0[0], row0[1], row0[22]), ("0", "30.0", "COMPLETE"));
        assert_eq!((row0[10], row0[13], row0[14]), ("2.0", "0.0005", "typed-punct:en"));
        assert_eq!(row0[18], "2", "best epoch");
        assert_eq!(row0[20], "3", "epochs run");
        let row1: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(
            (row1[0], row1[1], row1[7], row1[10], row1[14], row1[22]),
            ("1", "12.5", "False", "", "typed", "PRUNED")
        );
    }

    #[test]
    fn json_export_holds_distributions_intermediate_values_and_user_params() {
        let specs = param_specs(&cfg()).unwrap();
        let records = vec![rec(0, TrialStatus::Pruned, &[10.0, f64::NAN, 12.5], &[("pooling", 1.0)])];
        let j = optuna_json("s", &specs, &export_trials(&records, &specs, Path::new("/nonexistent")));
        assert_eq!(j["format"], EXPORT_FORMAT);
        assert_eq!(j["direction"], "maximize");
        assert_eq!(j["distributions"].as_object().unwrap().len(), specs.len());
        let t = &j["trials"][0];
        assert_eq!(t["state"], "PRUNED");
        assert_eq!(t["value"], json!(12.5));
        assert_eq!(t["params"], json!({"pooling": "mean"}));
        assert_eq!(t["intermediate_values"], json!({"1": 10.0, "3": 12.5}));
        assert_eq!(t["datetime_start"], Value::Null);
        assert_eq!(t["user_attrs"]["epochs_run"], json!(3));
    }

    #[test]
    fn timing_comes_from_the_run_directory() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("trial-000");
        std::fs::create_dir_all(&run).unwrap();
        let line = |e: usize, s: f64| {
            format!(
                "{{\"epoch\":{e},\"step\":1,\"train_loss\":1.0,\"lr\":0.001,\"dev_loss\":null,\"micro_f1\":10.0,\
                 \"auprc\":null,\"accuracy\":null,\"fallback_spans\":0,\"label_smoothing\":0.0,\
                 \"samples_per_sec\":1.0,\"epoch_seconds\":{s}}}\n"
            )
        };
        std::fs::write(run.join(METRICS_FILE), format!("{}{}", line(1, 1.5), line(2, 2.25))).unwrap();
        let t = trial_timing(&run).unwrap();
        assert!((t.seconds - 3.75).abs() < 1e-12 && (t.complete - t.start - 3.75).abs() < 1e-9);
        let r = rec(0, TrialStatus::Complete, &[10.0], &[]);
        assert_eq!(run_dir(&r, dir.path()), run, "the study's own copy wins over the recorded path");
        assert!(trial_timing(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn pandas_text_forms() {
        assert_eq!(format_datetime(0.0), "1970-01-01 00:00:00.000000");
        // 2024-02-29 12:34:56.5 UTC
        assert_eq!(format_datetime(1_709_210_096.5), "2024-02-29 12:34:56.500000");
        assert_eq!(format_timedelta(62.5), "0 days 00:01:02.500000");
        assert_eq!(format_timedelta(90_061.0), "1 days 01:01:01.000000");
        assert_eq!(format_sig(1.5e-5, 4), "1.5e-5");
        assert_eq!(format_sig(0.1234567, 4), "0.1235");
        assert_eq!(format_sig(67.8, 4), "67.8");
        assert_eq!(format_sig(128.0, 4), "128");
    }
}
