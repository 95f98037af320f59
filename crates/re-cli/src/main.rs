//! `kre`: the command-line tool. It only parses arguments and wires the library crates together;
//! anything another program could reuse lives in a crate.
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod commands;
mod progress;
use commands::{classic, common, data, encode, eval, extract, serve, train};

#[derive(Parser, Debug)]
#[command(name = "kre", version = commands::train::version_line(), about = "Korean sentence-level relation extraction: data, models, training, scoring")]
struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Stratified train/dev split, written in the input's format.
    Split(data::SplitArgs),
    /// Exploratory statistics (eda.json) and PNG plots of a data file.
    Eda(data::EdaArgs),
    /// Generate the synthetic Korean relation-extraction data set (KLUE-format JSON).
    Synth(data::SynthArgs),
    /// Convert between formats (KLUE JSON, competition CSV, parquet, JSONL), validating every record.
    Convert(data::ConvertArgs),
    /// Score a submission.csv against gold labels (micro-F1, AUPRC, per-class report).
    Evaluate(eval::EvaluateArgs),
    /// Combine several submission.csv files (voting, averaging, weighted).
    Ensemble(eval::EnsembleArgs),
    /// Embed texts with a Hugging Face checkpoint directory (pooled last hidden state).
    Encode(encode::EncodeArgs),
    /// Fine-tune a relation classifier.
    Train(train::TrainArgs),
    /// Write submission.csv with a trained run directory.
    Predict(train::PredictArgs),
    /// Relation triples (JSONL) from text with a trained run: given entities or MeCab mention candidates.
    Extract(extract::ExtractArgs),
    /// Hyper-parameter search (TPE or random sampling; successive halving, median or no pruning), resumable.
    Search(train::SearchArgs),
    /// The feature-based competition-relation system (MeCab morphology, clue words, Pegasos SVM, filters).
    Classic(classic::ClassicArgs),
    /// Serve a trained run over HTTP (POST /v1/predict, POST /v1/extract, GET /healthz, GET /metrics) with dynamic batching.
    Serve(serve::ServeArgs),
}

// mimalloc, set to keep freed pages in the process: burn's CPU backends allocate a fresh buffer for every tensor op
// (tens of MB per op in a roberta-base training step) and free it soon after; returned to the OS, those pages come
// back zero-filled on the next op, which cost 12–15 % of a CPU training step (`clear_page` in perf). Peak memory is
// unchanged. Tokenization's many small strings also gain from it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Linked by the `mimalloc` crate; only the option setter is declared here (libmimalloc-sys's `extended` feature
// would add a dependency for this one call).
extern "C" {
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}

/// `mi_option_purge_delay` in `mimalloc.h` (v2 and v3): ms before freed memory goes back to the OS; -1 = never.
const MI_OPTION_PURGE_DELAY: std::os::raw::c_int = 15;

fn main() -> ExitCode {
    // SAFETY: mi_option_set only stores an integer option, and -1 is a valid purge delay.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Split(a) => data::split(a),
        Command::Eda(a) => data::eda(a),
        Command::Synth(a) => data::synth(a),
        Command::Convert(a) => data::convert(a),
        Command::Evaluate(a) => eval::evaluate(a),
        Command::Ensemble(a) => eval::ensemble(a),
        Command::Encode(a) => encode::encode(a),
        Command::Train(a) => train::train(a),
        Command::Predict(a) => train::predict(a),
        Command::Extract(a) => extract::extract(a),
        Command::Search(a) => train::search(a),
        Command::Classic(a) => classic::run(a),
        Command::Serve(a) => serve::serve(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `kre … | head`: the reader has what it wanted; that is not a failure.
        Err(e) if common::is_closed_stdout(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
