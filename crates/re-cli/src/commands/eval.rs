//! `kre evaluate` (score a submission.csv against gold labels) and `kre ensemble` (combine submissions).
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use re_data::io::read_records;
use re_data::labels::LabelMap;
use re_ensemble::{align, align_gold, combine, fit_weights, Aligned, Method, ModelOutput, WeightFit};
use re_metrics::{Predictions, Report};

/// Output format of `kre evaluate`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportFormat {
    /// The full report as JSON (stdout).
    #[default]
    Json,
    /// A human-readable table.
    Table,
}

#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// Gold data (any format `kre convert` reads); records are matched to predictions by id/guid.
    #[arg(long, value_name = "FILE")]
    pub gold: PathBuf,
    /// Predictions: submission.csv (`id,pred_label,probs`).
    #[arg(long, value_name = "FILE")]
    pub pred: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    pub format: ReportFormat,
    /// Directory for confusion_matrix.png (heatmap) and pr_curves.png (per-class precision-recall curves).
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    #[command(flatten)]
    pub data_opts: super::common::DataOpts,
}

/// Reads gold data and returns its label map and `(id, label id)` pairs.
fn read_gold(
    path: &Path,
    data_opts: &super::common::DataOpts,
) -> anyhow::Result<(LabelMap, Vec<(String, Option<usize>)>)> {
    let data = read_records(path, &data_opts.read_options()?)?;
    let pairs = data.records.iter().zip(data.label_ids()).map(|(r, l)| (r.id.clone(), l)).collect();
    Ok((data.labels, pairs))
}

fn no_relation_id(labels: &LabelMap) -> anyhow::Result<usize> {
    labels.no_relation_id().with_context(|| format!("{} has no `no_relation` label", labels.describe()))
}

pub fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    let (labels, gold_pairs) = read_gold(&args.gold, &args.data_opts)?;
    let no_relation = no_relation_id(&labels)?;
    let pred = ModelOutput::read(&args.pred)?;
    let aligned = align(std::slice::from_ref(&pred), labels.len())?;
    let gold = align_gold(&aligned.ids, &gold_pairs, &args.gold, &args.pred)?;
    let report = Report::compute(&gold, Predictions::Probabilities(&aligned.probs[0]), labels.names(), no_relation)?;
    if let Some(dir) = &args.plots {
        write_plots(dir, &gold, &aligned.probs[0], labels.names(), &report)?;
    }
    match args.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Table => print!("{}", report.to_table()),
    }
    tracing::info!(micro_f1 = report.micro_f1, auprc = ?report.auprc, "evaluated {}", args.pred.display());
    Ok(())
}

/// `confusion_matrix.png` and `pr_curves.png` (one panel per class) in `dir`.
fn write_plots(dir: &Path, gold: &[usize], probs: &[f64], labels: &[String], report: &Report) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cm = dir.join("confusion_matrix.png");
    re_plots::eval::confusion_matrix(&cm, labels, &report.confusion_matrix, "Confusion matrix")?;
    let mut curves = Vec::with_capacity(labels.len());
    for (class, label) in labels.iter().enumerate() {
        let curve = re_metrics::class_precision_recall_curve(gold, probs, labels.len(), class)?;
        let auc = re_metrics::auc(&curve.recall, &curve.precision)?;
        curves.push(re_plots::eval::PrCurve {
            label: label.clone(),
            recall: curve.recall,
            precision: curve.precision,
            auc,
        });
    }
    let pr = dir.join("pr_curves.png");
    re_plots::eval::pr_curves(
        &pr,
        &curves,
        "Precision-recall curve per class (one-vs-rest; x = recall, y = precision)",
    )?;
    tracing::info!("wrote {} and {}", cm.display(), pr.display());
    Ok(())
}

/// Ensemble method on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    /// Majority vote of the argmax labels (ties: highest summed probability).
    Hard,
    /// Mean of the probabilities.
    Soft,
    /// Mean of the log-probabilities, then softmax.
    Logit,
    /// Weighted mean of the probabilities (needs --weights, --weights-from-dev or --search-weights).
    Weighted,
}

#[derive(clap::Args, Debug)]
pub struct EnsembleArgs {
    /// A submission.csv to combine (repeat: --pred a.csv --pred b.csv ...). Rows are matched by id; the output
    /// follows the first file's order.
    #[arg(long, value_name = "FILE", required = true)]
    pub pred: Vec<PathBuf>,
    #[arg(long, value_enum)]
    pub method: MethodArg,
    /// Weights for --method weighted, one per --pred (normalised to sum to 1).
    #[arg(long, value_name = "W,..", value_delimiter = ',', conflicts_with_all = ["weights_from_dev", "search_weights"])]
    pub weights: Option<Vec<f64>>,
    /// Weights proportional to each model's micro-F1 on this gold (dev) file.
    #[arg(long, value_name = "GOLD", conflicts_with = "search_weights")]
    pub weights_from_dev: Option<PathBuf>,
    /// Weights searched on this gold (dev) file: grid over the simplex (step --grid-step) maximising micro-F1.
    #[arg(long, value_name = "GOLD")]
    pub search_weights: Option<PathBuf>,
    /// Dev-set predictions of the same models (same order as --pred) used to fit the weights; without it the
    /// --pred files themselves must cover the gold ids.
    #[arg(long, value_name = "FILE")]
    pub dev_pred: Vec<PathBuf>,
    /// Grid step of --search-weights.
    #[arg(long, default_value_t = 0.1)]
    pub grid_step: f64,
    /// Output submission.csv.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub data_opts: super::common::DataOpts,
}

fn read_models(paths: &[PathBuf], num_labels: usize) -> anyhow::Result<Aligned> {
    let models = paths.iter().map(|p| ModelOutput::read(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(align(&models, num_labels)?)
}

pub fn ensemble(args: EnsembleArgs) -> anyhow::Result<()> {
    let dev_gold = args.weights_from_dev.as_ref().or(args.search_weights.as_ref());
    if args.method != MethodArg::Weighted && (args.weights.is_some() || dev_gold.is_some()) {
        bail!("--weights, --weights-from-dev and --search-weights only apply to --method weighted");
    }
    if !args.dev_pred.is_empty() && args.dev_pred.len() != args.pred.len() {
        bail!("{} --dev-pred files for {} --pred files; give one per model", args.dev_pred.len(), args.pred.len());
    }
    // Labels: the dev gold's map when there is one (it may be inferred), else --label-map, else KLUE-RE.
    let gold = match dev_gold {
        Some(path) => Some((path, read_gold(path, &args.data_opts)?)),
        None => None,
    };
    let labels = match (&gold, &args.data_opts.label_map) {
        (Some((_, (labels, _))), _) => labels.clone(),
        (None, Some(path)) => LabelMap::load(path)?,
        (None, None) => LabelMap::klue(),
    };
    let aligned = read_models(&args.pred, labels.len())?;

    let mut summary = serde_json::json!({ "method": format!("{:?}", args.method).to_lowercase(), "models": args.pred });
    let method = match args.method {
        MethodArg::Hard => Method::Hard,
        MethodArg::Soft => Method::Soft,
        MethodArg::Logit => Method::Logit,
        MethodArg::Weighted => {
            let weights = if let Some(w) = &args.weights {
                re_ensemble::normalise_weights(w, aligned.num_models())?
            } else if let Some((gold_path, (labels, pairs))) = &gold {
                let no_relation = no_relation_id(labels)?;
                let (dev, dev_first) = if args.dev_pred.is_empty() {
                    (aligned.clone(), &args.pred[0])
                } else {
                    (read_models(&args.dev_pred, labels.len())?, &args.dev_pred[0])
                };
                let gold_ids = align_gold(&dev.ids, pairs, gold_path, dev_first)?;
                let fit = if args.search_weights.is_some() {
                    WeightFit::Search { step: args.grid_step }
                } else {
                    WeightFit::DevF1
                };
                let fitted = fit_weights(&dev, &gold_ids, no_relation, fit)?;
                summary["model_dev_micro_f1"] = serde_json::json!(fitted.model_dev_micro_f1);
                summary["dev_micro_f1"] = serde_json::json!(fitted.dev_micro_f1);
                if let Some(candidates) = fitted.candidates {
                    summary["candidates"] = serde_json::json!(candidates);
                }
                fitted.weights
            } else {
                bail!("--method weighted needs --weights, --weights-from-dev GOLD or --search-weights GOLD");
            };
            summary["weights"] = serde_json::json!(weights);
            Method::Weighted(weights)
        }
    };
    let combined = combine(&aligned, &method)?;
    let submission = re_ensemble::to_submission(&aligned, &combined, labels.names())?;
    submission.write(&args.out)?;
    summary["out"] = serde_json::json!(args.out);
    summary["rows"] = serde_json::json!(aligned.ids.len());
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
