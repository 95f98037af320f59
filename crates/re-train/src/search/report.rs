//! What a study shows: the trials as a table (parameters in their user representation), the best trial with the
//! command that reproduces it and where its model is, PED-ANOVA parameter importances, and the numbers behind the
//! study plots. `kre search report` writes [`StudyReport::write_files`] and draws the plots (re-plots) from
//! [`StudyReport`]'s fields, then embeds them in `report.html` ([`StudyReport::write_html`]).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::export::{export_trials, param_specs, run_dir, ParamSpec};
use super::importance::{Importance, PedAnova};
use super::sampler::Distribution;
use super::{SearchConfig, TrialRecord, TrialStatus};
use crate::checkpoint::CONFIG_FILE;
use crate::error::{Result, TrainError};

/// One row of the trials table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrialRow {
    pub number: usize,
    /// `complete` or `pruned`.
    pub state: String,
    /// Best dev micro-F1 (%) over the epochs that ran.
    pub value: f64,
    pub best_epoch: usize,
    pub epochs_run: usize,
    /// Parameter → value as text in the user representation; parameters the trial did not use are absent.
    pub params: BTreeMap<String, String>,
    /// Dev micro-F1 after each epoch that ran.
    pub curve: Vec<f64>,
}

/// The best complete trial and how to get its model back.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BestTrial {
    pub number: usize,
    pub value: f64,
    pub best_epoch: usize,
    /// User representation.
    pub params: BTreeMap<String, Value>,
    /// `kre train --config RUN_DIR/train_config.toml`: trains the trial again (same seed and settings).
    pub command: String,
    pub config_file: PathBuf,
    pub config_file_exists: bool,
    pub run_dir: PathBuf,
    /// `RUN_DIR/best`: the model of the trial's best epoch, usable with `kre predict --model-dir RUN_DIR`.
    pub model_dir: PathBuf,
    pub model_dir_exists: bool,
}

/// Everything `kre search report` shows about a study.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyReport {
    pub study_dir: PathBuf,
    pub specs: Vec<ParamSpec>,
    /// By trial number.
    pub trials: Vec<TrialRow>,
    pub best: Option<BestTrial>,
    pub importances: Vec<Importance>,
    /// The parameter importance method, for the outputs.
    pub importance_method: String,
    /// Internal-representation parameters per trial (same order as `trials`), for the plots.
    raw_params: Vec<BTreeMap<String, f64>>,
}

/// A parameter axis of a plot: where a value sits on it (0..1) and the labelled ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub name: String,
    /// `(position in 0..1, label)`.
    pub ticks: Vec<(f64, String)>,
    pub log: bool,
    pub categorical: bool,
}

impl StudyReport {
    /// The report of `records` (any order), a study of `cfg` in `study_dir`. Fails on an empty study.
    pub fn new(cfg: &SearchConfig, records: &[TrialRecord], study_dir: &Path) -> Result<Self> {
        if records.is_empty() {
            return Err(TrainError::Other(format!("{}: the study has no finished trials", study_dir.display())));
        }
        let specs = param_specs(cfg)?;
        let mut sorted: Vec<&TrialRecord> = records.iter().collect();
        sorted.sort_by_key(|r| r.trial);
        let trials = sorted
            .iter()
            .map(|r| TrialRow {
                number: r.trial,
                state: state_name(&r.status).to_string(),
                value: r.best_micro_f1,
                best_epoch: r.best_epoch,
                epochs_run: r.curve.len(),
                params: specs
                    .iter()
                    .filter_map(|s| r.params.get(&s.name).map(|&x| (s.name.clone(), s.display(x))))
                    .collect(),
                curve: r.curve.clone(),
            })
            .collect();
        let exported = export_trials(records, &specs, study_dir);
        let best = sorted
            .iter()
            .filter(|r| r.status == TrialStatus::Complete && r.best_micro_f1.is_finite())
            // The first of equal values, as Optuna's best_trial.
            .fold(None::<&&TrialRecord>, |b, r| match b {
                Some(b) if b.best_micro_f1 >= r.best_micro_f1 => Some(b),
                _ => Some(r),
            })
            .map(|r| {
                let dir = run_dir(r, study_dir);
                let config_file = dir.join(CONFIG_FILE);
                let model_dir = dir.join("best");
                BestTrial {
                    number: r.trial,
                    value: r.best_micro_f1,
                    best_epoch: r.best_epoch,
                    params: exported.iter().find(|t| t.number == r.trial).map(|t| t.params.clone()).unwrap_or_default(),
                    command: format!("kre train --config {}", config_file.display()),
                    config_file_exists: config_file.is_file(),
                    config_file,
                    model_dir_exists: model_dir.is_dir(),
                    model_dir,
                    run_dir: dir,
                }
            });
        let importances = PedAnova::default().importances(records, &specs);
        Ok(StudyReport {
            study_dir: study_dir.to_path_buf(),
            raw_params: sorted.iter().map(|r| r.params.clone()).collect(),
            specs,
            trials,
            best,
            importances,
            importance_method: "PED-ANOVA (Optuna's PedAnovaImportanceEvaluator defaults: top 10 % of complete \
                                trials vs all, 50-point grid), normalised to sum to 1"
                .into(),
        })
    }

    /// Parameters that at least one trial used, in the space's order.
    pub fn used_params(&self) -> Vec<&ParamSpec> {
        self.specs.iter().filter(|s| self.raw_params.iter().any(|p| p.contains_key(&s.name))).collect()
    }

    /// Where trial row `i`'s value of `spec` sits on [`StudyReport::axis`] (0..1), if the trial used it.
    pub fn position(&self, i: usize, spec: &ParamSpec) -> Option<f64> {
        let x = *self.raw_params.get(i)?.get(&spec.name)?;
        if !spec.distribution.contains(x) {
            return None;
        }
        Some(match spec.distribution {
            Distribution::Categorical { n } => {
                if n <= 1 {
                    0.5
                } else {
                    x / (n - 1) as f64
                }
            }
            Distribution::Int { low, high, .. } => {
                if high == low {
                    0.5
                } else {
                    (x - low as f64) / (high - low) as f64
                }
            }
            Distribution::Float { low, high, log } => {
                let t = |v: f64| if log { v.ln() } else { v };
                if high == low {
                    0.5
                } else {
                    (t(x) - t(low)) / (t(high) - t(low))
                }
            }
        })
    }

    /// The axis of `spec`: one tick per choice, or five ticks over a numeric range (geometric on a log range).
    pub fn axis(&self, spec: &ParamSpec) -> Axis {
        let ticks = match spec.distribution {
            Distribution::Categorical { n } => {
                (0..n).map(|i| (if n <= 1 { 0.5 } else { i as f64 / (n - 1) as f64 }, spec.display(i as f64))).collect()
            }
            Distribution::Int { low, high, step } => {
                let count = ((high - low) / step.max(1) + 1).clamp(1, 5);
                (0..count)
                    .map(|k| {
                        let f = if count == 1 { 0.5 } else { k as f64 / (count - 1) as f64 };
                        let v = (low as f64 + f * (high - low) as f64).round();
                        let pos = if high == low { 0.5 } else { (v - low as f64) / (high - low) as f64 };
                        (pos, format!("{v}"))
                    })
                    .collect()
            }
            Distribution::Float { low, high, log } => (0..5)
                .map(|k| {
                    let f = k as f64 / 4.0;
                    let v = if log { (low.ln() + f * (high.ln() - low.ln())).exp() } else { low + f * (high - low) };
                    (f, super::export::format_sig(v, 3))
                })
                .collect(),
        };
        Axis {
            name: spec.name.clone(),
            ticks,
            log: matches!(spec.distribution, Distribution::Float { log: true, .. }),
            categorical: matches!(spec.distribution, Distribution::Categorical { .. }),
        }
    }

    /// `trials.csv` (number, state, value, best_epoch, epochs_run, one column per used parameter).
    pub fn trials_csv(&self) -> String {
        let params = self.used_params();
        let mut out = String::from("number,state,value,best_epoch,epochs_run");
        for p in &params {
            out.push(',');
            out.push_str(&p.name);
        }
        out.push('\n');
        for t in &self.trials {
            out.push_str(&format!("{},{},{},{},{}", t.number, t.state, t.value, t.best_epoch, t.epochs_run));
            for p in &params {
                out.push(',');
                let v = t.params.get(&p.name).map(String::as_str).unwrap_or("");
                if v.contains([',', '"', '\n']) {
                    out.push_str(&format!("\"{}\"", v.replace('"', "\"\"")));
                } else {
                    out.push_str(v);
                }
            }
            out.push('\n');
        }
        out
    }

    /// `trials.md`: the same table in Markdown, best value in bold.
    pub fn trials_markdown(&self) -> String {
        let params = self.used_params();
        let mut out = String::from("| trial | state | dev micro-F1 | best epoch | epochs run |");
        for p in &params {
            out.push_str(&format!(" {} |", p.name));
        }
        out.push_str("\n|---:|---|---:|---:|---:|");
        out.push_str(&"---|".repeat(params.len()));
        out.push('\n');
        let best = self.best.as_ref().map(|b| b.number);
        for t in &self.trials {
            let value = if Some(t.number) == best { format!("**{:.2}**", t.value) } else { format!("{:.2}", t.value) };
            out.push_str(&format!("| {} | {} | {value} | {} | {} |", t.number, t.state, t.best_epoch, t.epochs_run));
            for p in &params {
                out.push_str(&format!(" {} |", t.params.get(&p.name).map(String::as_str).unwrap_or("–")));
            }
            out.push('\n');
        }
        out
    }

    /// `best.json`: the best trial (or `null`) and counts.
    pub fn best_json(&self) -> Value {
        let complete = self.trials.iter().filter(|t| t.state == "complete").count();
        serde_json::json!({
            "study": self.study_dir.display().to_string(),
            "n_trials": self.trials.len(),
            "n_complete": complete,
            "n_pruned": self.trials.len() - complete,
            "objective": "dev micro-F1 (%), maximised",
            "best_trial": self.best,
        })
    }

    /// `importances.json`.
    pub fn importances_json(&self) -> Value {
        serde_json::json!({ "method": self.importance_method, "importances": self.importances })
    }

    /// Write `trials.csv`, `trials.md`, `best.json` and `importances.json` into `out` (each atomically).
    pub fn write_files(&self, out: &Path) -> Result<()> {
        let pretty = |v: &Value| serde_json::to_string_pretty(v).map_err(|e| TrainError::Other(e.to_string()));
        re_data::fsutil::write_atomic(&out.join("trials.csv"), self.trials_csv().as_bytes())?;
        re_data::fsutil::write_atomic(&out.join("trials.md"), self.trials_markdown().as_bytes())?;
        re_data::fsutil::write_atomic(&out.join("best.json"), pretty(&self.best_json())?.as_bytes())?;
        re_data::fsutil::write_atomic(&out.join("importances.json"), pretty(&self.importances_json())?.as_bytes())?;
        Ok(())
    }

    /// A short summary for the terminal.
    pub fn summary(&self) -> String {
        let complete = self.trials.iter().filter(|t| t.state == "complete").count();
        let mut s = format!(
            "{} trials ({complete} complete, {} pruned) in {}\n",
            self.trials.len(),
            self.trials.len() - complete,
            self.study_dir.display()
        );
        match &self.best {
            Some(b) => {
                s.push_str(&format!(
                    "best trial {}: dev micro-F1 {:.2} at epoch {}\n",
                    b.number, b.value, b.best_epoch
                ));
                for (k, v) in &b.params {
                    let shown = match v {
                        Value::Number(n) if n.is_f64() => super::export::format_sig(n.as_f64().unwrap_or(f64::NAN), 4),
                        Value::String(t) => t.clone(),
                        _ => v.to_string(),
                    };
                    s.push_str(&format!("  {k} = {shown}\n"));
                }
                s.push_str(&format!("reproduce: {}\n", b.command));
                if b.model_dir_exists {
                    s.push_str(&format!(
                        "model: {} (kre predict --model-dir {})\n",
                        b.model_dir.display(),
                        b.run_dir.display()
                    ));
                } else {
                    s.push_str(&format!(
                        "model: {} is missing; the command above re-creates it\n",
                        b.model_dir.display()
                    ));
                }
            }
            None => s.push_str("no complete trial yet: no best trial\n"),
        }
        let top: Vec<String> =
            self.importances.iter().take(3).map(|i| format!("{} {:.2}", i.param, i.importance)).collect();
        if !top.is_empty() {
            s.push_str(&format!("most important (PED-ANOVA): {}\n", top.join(", ")));
        }
        s
    }

    /// `report.html`: one self-contained page, the summary, the plots (PNG files embedded as base64 `data:` URIs)
    /// and the trials table.
    pub fn html(&self, plots: &[(String, PathBuf)]) -> Result<String> {
        let mut h = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kre study report</title>\n<style>\
             body{font-family:sans-serif;max-width:1300px;margin:2em auto;color:#222}\
             table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}\
             th{background:#eef}tr.best{background:#ffd}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}\
             code{background:#f4f4f4;padding:1px 4px}</style></head><body>\n",
        );
        h.push_str(&format!(
            "<h1>Study {}</h1>\n<pre>{}</pre>\n",
            esc(&self.study_dir.display().to_string()),
            esc(&self.summary())
        ));
        h.push_str(&format!("<p>Parameter importances: {}.</p>\n", esc(&self.importance_method)));
        for (title, path) in plots {
            let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
            h.push_str(&format!(
                "<h2>{}</h2>\n<img alt=\"{}\" src=\"data:image/png;base64,{}\">\n",
                esc(title),
                esc(title),
                base64(&bytes)
            ));
        }
        h.push_str("<h2>Trials</h2>\n<table>\n<tr><th>trial</th><th>state</th><th>dev micro-F1</th><th>best epoch</th><th>epochs run</th>");
        let params = self.used_params();
        for p in &params {
            h.push_str(&format!("<th>{}</th>", esc(&p.name)));
        }
        h.push_str("</tr>\n");
        let best = self.best.as_ref().map(|b| b.number);
        for t in &self.trials {
            let class = if Some(t.number) == best { " class=\"best\"" } else { "" };
            h.push_str(&format!(
                "<tr{class}><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td>",
                t.number, t.state, t.value, t.best_epoch, t.epochs_run
            ));
            for p in &params {
                h.push_str(&format!("<td>{}</td>", esc(t.params.get(&p.name).map(String::as_str).unwrap_or("–"))));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n</body></html>\n");
        Ok(h)
    }

    /// Write `report.html` into `out` (atomically).
    pub fn write_html(&self, out: &Path, plots: &[(String, PathBuf)]) -> Result<()> {
        re_data::fsutil::write_atomic(&out.join("report.html"), self.html(plots)?.as_bytes())?;
        Ok(())
    }
}

/// The configuration and finished trials of the study in directory `dir` (`search.toml`, `trials.jsonl`). Errors
/// say what is missing: the directory, its `search.toml`, or any finished trial.
pub fn load_study_dir(dir: &Path) -> Result<(SearchConfig, Vec<TrialRecord>)> {
    if !dir.is_dir() {
        return Err(TrainError::Other(format!("{}: no such study directory", dir.display())));
    }
    let toml = dir.join("search.toml");
    if !toml.is_file() {
        return Err(TrainError::Other(format!(
            "{}: not a kre study directory (no search.toml; `kre search --study DIR` makes one)",
            dir.display()
        )));
    }
    let cfg = SearchConfig::from_toml_file(&toml)?;
    let records = super::read_trials(&dir.join("trials.jsonl"))?;
    if records.is_empty() {
        return Err(TrainError::Other(format!(
            "{}: the study has no finished trials (trials.jsonl is missing or empty)",
            dir.display()
        )));
    }
    Ok((cfg, records))
}

fn state_name(s: &TrialStatus) -> &'static str {
    match s {
        TrialStatus::Complete => "complete",
        TrialStatus::Pruned => "pruned",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::export::tests::rec;
    use crate::search::SearchSpace;

    fn cfg() -> SearchConfig {
        SearchConfig {
            space: SearchSpace { epochs: Some([2, 4]), ..SearchSpace::default() },
            ..SearchConfig::default()
        }
    }

    fn study() -> Vec<TrialRecord> {
        vec![
            rec(2, TrialStatus::Pruned, &[5.0], &[("lr", 1e-3), ("markers", 2.0), ("loss", 0.0)]),
            rec(
                0,
                TrialStatus::Complete,
                &[20.0, 40.0],
                &[("lr", 5e-4), ("markers", 0.0), ("loss", 1.0), ("gamma", 3.0)],
            ),
            rec(1, TrialStatus::Complete, &[30.0, 35.0], &[("lr", 2e-3), ("markers", 1.0), ("loss", 0.0)]),
            // Ties with trial 0 later: the earlier trial stays best.
            rec(3, TrialStatus::Complete, &[40.0], &[("lr", 3e-4), ("markers", 1.0), ("loss", 0.0)]),
        ]
    }

    #[test]
    fn best_is_the_first_complete_trial_with_the_highest_value() {
        let r = StudyReport::new(&cfg(), &study(), Path::new("/nonexistent/study")).unwrap();
        let b = r.best.as_ref().unwrap();
        assert_eq!((b.number, b.value, b.best_epoch), (0, 40.0, 2));
        assert_eq!(b.params["markers"], serde_json::json!("typed-punct:en"));
        assert_eq!(b.params["gamma"], serde_json::json!(2.0));
        assert_eq!(b.command, "kre train --config /nonexistent/study/trial-000/train_config.toml");
        assert!(!b.model_dir_exists && !b.config_file_exists);
        assert!(r.summary().contains("is missing; the command above re-creates it"), "{}", r.summary());
        let numbers: Vec<usize> = r.trials.iter().map(|t| t.number).collect();
        assert_eq!(numbers, vec![0, 1, 2, 3]);
        // Only pruned trials: no best trial.
        let pruned: Vec<TrialRecord> = study().into_iter().filter(|t| t.status == TrialStatus::Pruned).collect();
        assert!(StudyReport::new(&cfg(), &pruned, Path::new("/s")).unwrap().best.is_none());
    }

    #[test]
    fn tables_show_user_values_and_only_used_parameters() {
        let r = StudyReport::new(&cfg(), &study(), Path::new("/s")).unwrap();
        let csv = r.trials_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "number,state,value,best_epoch,epochs_run,lr,loss,gamma,markers");
        assert_eq!(lines[1], "0,complete,40,2,2,0.0005,focal,2,typed-punct:en");
        assert_eq!(lines[3], "2,pruned,5,1,1,0.001,ce,,entity");
        let md = r.trials_markdown();
        assert!(md.contains("| 0 | complete | **40.00** | 2 | 2 | 0.0005 | focal | 2 | typed-punct:en |"), "{md}");
        assert!(md.contains("| 2 | pruned | 5.00 | 1 | 1 | 0.001 | ce | – | entity |"), "{md}");
    }

    #[test]
    fn axes_and_positions() {
        let r = StudyReport::new(&cfg(), &study(), Path::new("/s")).unwrap();
        let lr = r.specs.iter().find(|s| s.name == "lr").unwrap();
        let markers = r.specs.iter().find(|s| s.name == "markers").unwrap();
        assert!((r.position(0, lr).unwrap() - (5e-4f64 / 3e-4).ln() / 10f64.ln()).abs() < 1e-12);
        assert_eq!(r.position(1, markers), Some(0.5));
        let gamma = r.specs.iter().find(|s| s.name == "gamma").unwrap();
        assert_eq!(r.position(1, gamma), None, "trial 1 did not use gamma");
        let ax = r.axis(markers);
        assert!(ax.categorical);
        assert_eq!(ax.ticks, vec![(0.0, "typed-punct:en".into()), (0.5, "typed".into()), (1.0, "entity".into())]);
        let ax = r.axis(lr);
        assert!(ax.log && ax.ticks.len() == 5);
        assert_eq!(ax.ticks[0].1, "0.0003");
        assert_eq!(ax.ticks[4].1, "0.003");
    }

    /// Records written before TPE have no parameters: the report still has its table and best trial, and no
    /// importances.
    #[test]
    fn trials_without_parameters_still_report() {
        let old = vec![rec(0, TrialStatus::Complete, &[10.0], &[]), rec(1, TrialStatus::Complete, &[20.0], &[])];
        let r = StudyReport::new(&cfg(), &old, Path::new("/s")).unwrap();
        assert_eq!(r.best.as_ref().unwrap().number, 1);
        assert!(r.used_params().is_empty() && r.importances.is_empty());
        assert_eq!(r.trials_csv().lines().next(), Some("number,state,value,best_epoch,epochs_run"));
    }

    #[test]
    fn empty_study_is_an_error() {
        let e = StudyReport::new(&cfg(), &[], Path::new("/some/study")).unwrap_err().to_string();
        assert!(e.contains("/some/study") && e.contains("no finished trials"), "{e}");
    }

    #[test]
    fn loading_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_study_dir(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(e.contains("nope: no such study directory"), "{e}");
        let e = load_study_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no search.toml"), "{e}");
        std::fs::write(dir.path().join("search.toml"), "").unwrap();
        let e = load_study_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no finished trials"), "{e}");
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn html_embeds_plots_and_escapes_text() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("p.png");
        std::fs::write(&png, b"\x89PNG").unwrap();
        let r = StudyReport::new(&cfg(), &study(), Path::new("/s<x>")).unwrap();
        let h = r.html(&[("History".into(), png)]).unwrap();
        assert!(h.contains("<h2>History</h2>") && h.contains("data:image/png;base64,iVBORw=="), "{h}");
        assert!(h.contains("/s&lt;x&gt;") && !h.contains("/s<x>"));
        assert!(h.contains("<tr class=\"best\"><td>0</td>"));
        let missing = r.html(&[("x".into(), dir.path().join("none.png"))]).unwrap_err().to_string();
        assert!(missing.contains("none.png"), "{missing}");
    }
}
