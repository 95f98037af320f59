//! `kre search report` and `kre search export`: what a finished (or running) study shows. The numbers come from
//! `re_train::search::{report, export}`; this module draws the plots and prints.
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use re_plots::study::{HistoryPoint, ParallelLine, ParamAxis, SlicePanel, TrialCurve};
use re_train::search::export::{export_trials, optuna_json, param_specs, trials_dataframe_csv};
use re_train::search::report::{load_study, Axis, StudyReport};
use re_train::search::storage::StorageSpec;
use re_train::search::{SearchConfig, TrialRecord};

#[derive(Subcommand, Debug)]
pub enum StudyCommand {
    /// Trials table (trials.csv, trials.md), best trial (best.json), PED-ANOVA importances (importances.json),
    /// PNG plots and a self-contained report.html.
    Report(ReportArgs),
    /// The trials in Optuna's terms: CSV with `Study.trials_dataframe()` columns, or JSON with the distributions
    /// (scripts/optuna_import.py loads it into Optuna).
    Export(ExportArgs),
}

/// Which study: a directory (`--study`) or a database study (`--storage` + `--study-name`). `kre search` runs a
/// worker on it; `kre search report` / `export` read it.
#[derive(Args, Debug)]
pub struct StudySource {
    /// Study directory (search.toml, trials.jsonl, one run directory per trial): one worker; re-run the same
    /// command to resume. Same as `--storage DIR`.
    #[arg(long, conflicts_with = "storage", required_unless_present = "storage")]
    pub study: Option<PathBuf>,
    /// Where the study lives: `sqlite:FILE.db` (several workers on one machine), `postgres://USER@HOST/DB`
    /// (several machines) or a directory (as --study). Any number of `kre search` workers may share a database
    /// study; see docs/search.md.
    #[arg(long, value_name = "sqlite:PATH|postgres://…|DIR")]
    pub storage: Option<StorageSpec>,
    /// The study's name in a database storage (one database holds many studies; required with sqlite:/postgres);
    /// with a JSON export also the name written into it (default: the study directory's name).
    #[arg(long)]
    pub study_name: Option<String>,
    /// Where the trials' run directories (`trial-NNN/`) go or are found. Default: the study directory, or
    /// `runs/search/NAME` with a database storage.
    #[arg(long)]
    pub runs: Option<PathBuf>,
}

/// A [`StudySource`] resolved: the storage, the study's name (a directory study is named after its directory) and
/// the trials' run directory.
pub struct ResolvedStudy {
    pub spec: StorageSpec,
    pub name: String,
    pub runs: PathBuf,
}

impl StudySource {
    /// The storage, name and run directory the flags name; a database storage without `--study-name` is refused.
    pub fn resolve(&self) -> anyhow::Result<ResolvedStudy> {
        let (spec, name) = match (&self.study, &self.storage) {
            (Some(dir), _) | (None, Some(StorageSpec::Directory(dir))) => {
                (StorageSpec::Directory(dir.clone()), self.study_name.clone().unwrap_or_else(|| study_name(dir)))
            }
            (None, Some(spec)) => match &self.study_name {
                Some(name) => (spec.clone(), name.clone()),
                None => {
                    anyhow::bail!("--study-name is required with --storage {spec} (one database holds many studies)")
                }
            },
            (None, None) => anyhow::bail!("give --study DIR or --storage"),
        };
        let runs = match (&self.runs, &spec) {
            (Some(r), _) => r.clone(),
            (None, StorageSpec::Directory(dir)) => dir.clone(),
            (None, _) => Path::new("runs/search").join(&name),
        };
        Ok(ResolvedStudy { spec, name, runs })
    }

    /// The study's configuration and finished trials, the directory its trial runs are looked for in, and a name
    /// for titles.
    fn load(&self) -> anyhow::Result<(SearchConfig, Vec<TrialRecord>, PathBuf, String)> {
        let ResolvedStudy { spec, name, runs } = self.resolve()?;
        let (cfg, records) = load_study(&spec, &name)?;
        Ok((cfg, records, runs, name))
    }
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub source: StudySource,
    /// Output directory (created; the files in it are replaced).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: StudySource,
    /// Output file; `.csv` or `.json` chooses the format unless --format is given.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
}

pub fn run(cmd: StudyCommand) -> anyhow::Result<()> {
    match cmd {
        StudyCommand::Report(a) => report(a),
        StudyCommand::Export(a) => export(a),
    }
}

fn export(a: ExportArgs) -> anyhow::Result<()> {
    let format = match a.format {
        Some(f) => f,
        None => match a.out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => ExportFormat::Csv,
            Some("json") => ExportFormat::Json,
            _ => anyhow::bail!("--out {}: name a .csv or .json file, or give --format csv|json", a.out.display()),
        },
    };
    let (cfg, records, runs, name) = a.source.load()?;
    let specs = param_specs(&cfg)?;
    let trials = export_trials(&records, &specs, &runs);
    let text = match format {
        ExportFormat::Csv => trials_dataframe_csv(&specs, &trials),
        ExportFormat::Json => serde_json::to_string_pretty(&optuna_json(&name, &specs, &trials))? + "\n",
    };
    re_data::fsutil::write_atomic(&a.out, text.as_bytes())?;
    eprintln!("wrote {} trials to {}", trials.len(), a.out.display());
    Ok(())
}

fn study_name(dir: &Path) -> String {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "kre-study".into())
}

fn plot_axis(a: Axis) -> ParamAxis {
    ParamAxis { name: if a.log { format!("{} (log)", a.name) } else { a.name }, ticks: a.ticks }
}

fn report(a: ReportArgs) -> anyhow::Result<()> {
    let (cfg, records, runs, name) = a.source.load()?;
    let r = StudyReport::new(&cfg, &records, &runs)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create the directory", a.out.display()))?;
    r.write_files(&a.out)?;

    let y = "dev micro-F1 (%)";
    let mut plots: Vec<(String, PathBuf)> = Vec::new();
    let history: Vec<HistoryPoint> = r
        .trials
        .iter()
        .map(|t| HistoryPoint { number: t.number, value: t.value, complete: t.state == "complete" })
        .collect();
    let path = a.out.join("optimization_history.png");
    re_plots::study::optimization_history(&path, &history, y, &format!("Optimization history: {name}"))?;
    plots.push(("Optimization history".into(), path));

    let curves: Vec<TrialCurve> = r
        .trials
        .iter()
        .map(|t| TrialCurve { number: t.number, values: t.curve.clone(), pruned: t.state == "pruned" })
        .collect();
    if curves.iter().any(|c| c.values.iter().any(|v| v.is_finite())) {
        let path = a.out.join("intermediate_values.png");
        re_plots::study::intermediate_values(&path, &curves, y, &format!("Dev micro-F1 per epoch: {name}"))?;
        plots.push(("Intermediate values (per epoch)".into(), path));
    }

    let params = r.used_params();
    let complete: Vec<usize> = (0..r.trials.len()).filter(|&i| r.trials[i].state == "complete").collect();
    if !params.is_empty() && !complete.is_empty() {
        let axes: Vec<ParamAxis> = params.iter().map(|s| plot_axis(r.axis(s))).collect();
        let lines: Vec<ParallelLine> = complete
            .iter()
            .map(|&i| ParallelLine {
                value: r.trials[i].value,
                positions: params.iter().map(|s| r.position(i, s)).collect(),
            })
            .collect();
        let path = a.out.join("parallel_coordinates.png");
        re_plots::study::parallel_coordinates(&path, y, &axes, &lines, &format!("Parallel coordinates: {name}"))?;
        plots.push(("Parallel coordinates (complete trials)".into(), path));

        let panels: Vec<SlicePanel> = params
            .iter()
            .map(|s| SlicePanel {
                axis: plot_axis(r.axis(s)),
                points: complete
                    .iter()
                    .filter_map(|&i| r.position(i, s).map(|p| (p, r.trials[i].value, r.trials[i].number)))
                    .collect(),
            })
            .collect();
        let path = a.out.join("slices.png");
        re_plots::study::slices(&path, &panels, y, &format!("Slices: dev micro-F1 against each parameter: {name}"))?;
        plots.push(("Slice plots (complete trials)".into(), path));
    }
    if !r.importances.is_empty() {
        let imp: Vec<(String, f64)> = r.importances.iter().map(|i| (i.param.clone(), i.importance)).collect();
        let path = a.out.join("param_importances.png");
        re_plots::study::importances(
            &path,
            &imp,
            "PED-ANOVA (Optuna's default evaluator): importance for reaching the top 10 % of complete trials",
            &format!("Parameter importances: {name}"),
        )?;
        plots.push(("Parameter importances".into(), path));
    }
    r.write_html(&a.out, &plots)?;
    print!("{}", r.summary());
    println!("report: {}", a.out.join("report.html").display());
    Ok(())
}
