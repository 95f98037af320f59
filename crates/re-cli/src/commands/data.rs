//! `kre split`, `kre eda`, `kre synth`, `kre convert`: the data commands. Reading, validation, splitting, statistics
//! and generation are in `re-data`, drawing in `re-plots`; this module parses flags, wires them and prints.
use std::io::Write;

use super::common::{stdout, DataOpts};
/// `kre split`: stratified train/dev split, written in the input's format.
#[derive(clap::Args, Debug)]
pub struct SplitArgs {
    /// Data file (KLUE JSON, competition CSV, parquet, JSONL or KAIST TSV; detected from extension and content).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Share of each class sent to dev: round(ratio × class size).
    #[arg(long, default_value_t = 0.2)]
    pub dev_ratio: f64,
    /// Seed of the shuffle (ChaCha8): the same seed gives the same split.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory: train.<ext> and dev.<ext> in the input's format.
    #[arg(long)]
    pub out: std::path::PathBuf,
    #[command(flatten)]
    pub data_opts: DataOpts,
}

pub fn split(args: SplitArgs) -> anyhow::Result<()> {
    use re_data::io::{read_records, write_records};
    let data = read_records(&args.data, &args.data_opts.read_options()?)?;
    let result = re_data::split::stratified_split(&data.records, args.dev_ratio, args.seed)?;
    let ext = data.format.extension();
    let train_path = args.out.join(format!("train.{ext}"));
    let dev_path = args.out.join(format!("dev.{ext}"));
    write_records(&train_path, data.format, &result.train, &data.labels)?;
    write_records(&dev_path, data.format, &result.dev, &data.labels)?;
    let mut out = stdout();
    write!(out, "{}", re_data::split::format_counts(&result.per_class))?;
    writeln!(
        out,
        "wrote {} ({} records) and {} ({} records)",
        train_path.display(),
        result.train.len(),
        dev_path.display(),
        result.dev.len()
    )?;
    out.flush()?;
    Ok(())
}
/// `kre eda`: statistics of one data file (any format `read_records` detects) and three PNG plots.
#[derive(clap::Args, Debug)]
pub struct EdaArgs {
    /// Data file (KLUE JSON, competition CSV, parquet, JSONL or KAIST TSV; detected from extension and content).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Output directory: eda.json, label_distribution.png, length_histogram.png, type_pair_heatmap.png.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Hugging Face tokenizer.json: adds token-length statistics (with special tokens).
    #[arg(long)]
    pub tokenizer: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub data_opts: DataOpts,
    /// Number of most frequent entity words listed per label.
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
}

pub fn eda(args: EdaArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let data = re_data::io::read_records(&args.data, &args.data_opts.read_options()?)?;
    // The label plots need labels; say so about the data file before anything is written (plotters would only
    // name the PNG).
    if data.records.iter().all(|r| r.label.is_none()) {
        anyhow::bail!(
            "{}: no labelled records (of {}); `kre eda` plots the label distribution, so it needs a labelled file",
            args.data.display(),
            data.records.len()
        );
    }
    let tokenizer = match &args.tokenizer {
        Some(path) => Some(re_data::eda::load_tokenizer(path)?),
        None => None,
    };
    let opts = re_data::eda::EdaOptions { top_k: args.top_k, ..Default::default() };
    let report = re_data::eda::compute(&data.records, tokenizer.as_ref(), &opts)?;

    let json = serde_json::to_string_pretty(&report).context("serializing eda.json")?;
    let json_path = args.out.join("eda.json");
    re_data::fsutil::write_atomic(&json_path, format!("{json}\n").as_bytes())?;

    let name = args.data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let by_count = report.labels_by_count();
    re_plots::eda::label_distribution(
        &args.out.join("label_distribution.png"),
        &by_count,
        &format!("Label distribution: {name} ({} labelled records)", report.n_records - report.n_unlabeled),
    )?;

    let panel = |title: String, x_label: &str, bins: &[re_data::eda::HistogramBin], s: &re_data::eda::LengthStats| {
        re_plots::eda::LengthPanel {
            title,
            x_label: x_label.to_string(),
            bins: bins.iter().map(|b| (b.start, b.end, b.count)).collect(),
            markers: vec![
                (format!("p50 = {:.0}", s.p50), s.p50),
                (format!("p90 = {:.0}", s.p90), s.p90),
                (format!("max = {}", s.max), s.max as f64),
            ],
        }
    };
    let mut panels = vec![panel(
        format!("Sentence length in characters: {name}"),
        "characters",
        &report.char_length_histogram,
        &report.char_length,
    )];
    if let (Some(stats), Some(bins)) = (&report.token_length, &report.token_length_histogram) {
        let mut p = panel(
            format!("Sentence length in tokens ({:.1}% longer than 128)", 100.0 * stats.share_over_128),
            "tokens (with special tokens)",
            bins,
            stats,
        );
        p.markers.push(("128".to_string(), 128.0));
        panels.push(p);
    }
    re_plots::eda::length_histograms(&args.out.join("length_histogram.png"), &panels)?;

    let mut rows: Vec<String> = by_count.iter().map(|(l, _)| l.clone()).collect();
    if report.n_unlabeled > 0 {
        rows.push(re_data::eda::UNLABELED.to_string());
    }
    let pairs = report.type_pairs_by_count();
    let matrix: Vec<Vec<usize>> = rows
        .iter()
        .map(|label| {
            pairs
                .iter()
                .map(|pair| report.type_pair_relation.get(pair).and_then(|m| m.get(label)).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    re_plots::eda::type_pair_heatmap(
        &args.out.join("type_pair_heatmap.png"),
        &rows,
        &pairs,
        &matrix,
        &format!("Entity type pairs per relation: {name}"),
    )?;

    let mut out = stdout();
    writeln!(
        out,
        "{}: {} records, {} labels, no_relation share {:.3}",
        args.data.display(),
        report.n_records,
        report.label_counts.len(),
        report.no_relation_share
    )?;
    let c = &report.char_length;
    writeln!(
        out,
        "  characters: p50 {:.0}, p75 {:.0}, p90 {:.0}, max {}, > 128: {:.1}%",
        c.p50,
        c.p75,
        c.p90,
        c.max,
        100.0 * c.share_over_128
    )?;
    if let Some(t) = &report.token_length {
        writeln!(
            out,
            "  tokens:     p50 {:.0}, p75 {:.0}, p90 {:.0}, max {}, > 128: {:.1}%",
            t.p50,
            t.p75,
            t.p90,
            t.max,
            100.0 * t.share_over_128
        )?;
    }
    writeln!(out, "  wrote {} and 3 PNGs in {}", json_path.display(), args.out.display())?;
    out.flush()?;
    Ok(())
}
/// `kre synth`: the SYNTHETIC KLUE-RE-like data set (kre's own templates; not KLUE data).
#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Total number of records (train + dev + test).
    #[arg(long, default_value_t = 8000)]
    pub n: usize,
    /// Random seed; the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory: train.json, dev.json, test.json (KLUE JSON layout, string labels, source "synthetic").
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Share of each label that goes to dev.
    #[arg(long, default_value_t = 0.1)]
    pub dev_ratio: f64,
    /// Share of each label that goes to test (test keeps its labels, as KLUE's test set does).
    #[arg(long, default_value_t = 0.1)]
    pub test_ratio: f64,
}

pub fn synth(args: SynthArgs) -> anyhow::Result<()> {
    let cfg = re_data::synth::SynthConfig {
        n: args.n,
        seed: args.seed,
        dev_ratio: args.dev_ratio,
        test_ratio: args.test_ratio,
    };
    let data = re_data::synth::generate(&cfg)?;
    let written = re_data::synth::write_dataset(&args.out, &data)?;
    let mut out = stdout();
    writeln!(
        out,
        "synthetic KLUE-RE-like data (seed {}): train {}, dev {}, test {} records",
        args.seed,
        data.train.len(),
        data.dev.len(),
        data.test.len()
    )?;
    for path in written {
        writeln!(out, "  wrote {}", path.display())?;
    }
    out.flush()?;
    Ok(())
}
/// `kre convert`: read any supported format (validating every record), write another.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// Input data file (format detected from extension and content).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Output file; its extension picks the format unless --to is given.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Output format: klue-json, csv, parquet, jsonl or kaist.
    #[arg(long, value_name = "FORMAT")]
    pub to: Option<String>,
    #[command(flatten)]
    pub data_opts: DataOpts,
}

pub fn convert(args: ConvertArgs) -> anyhow::Result<()> {
    use re_data::io::{read_records, write_records, Format};
    let format = match &args.to {
        Some(name) => Format::parse(name)?,
        None => Format::from_extension(&args.out).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: cannot tell the output format from the extension; use .json, .csv, .parquet, .jsonl, .tsv or --to",
                args.out.display()
            )
        })?,
    };
    let data = read_records(&args.data, &args.data_opts.read_options()?)?;
    write_records(&args.out, format, &data.records, &data.labels)?;
    let mut out = stdout();
    writeln!(
        out,
        "{} ({}) -> {} ({format}): {} records",
        args.data.display(),
        data.format,
        args.out.display(),
        data.records.len()
    )?;
    out.flush()?;
    Ok(())
}
