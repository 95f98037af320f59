//! `kre`: the command-line tool. It only parses arguments and wires the library crates together;
//! anything another program could reuse lives in a crate.
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod commands;
use commands::{classic, data, encode, eval, train};

#[derive(Parser, Debug)]
#[command(name = "kre", version, about = "Korean sentence-level relation extraction: data, models, training, scoring")]
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
    /// Hyper-parameter search (random search with successive halving), resumable.
    Search(train::SearchArgs),
    /// The feature-based competition-relation system (MeCab morphology, clue words, Pegasos SVM, filters).
    Classic(classic::ClassicArgs),
}

// Keeps freed pages: burn's CPU ops allocate a fresh buffer per op (see re_train::alloc).
#[global_allocator]
static GLOBAL: re_train::alloc::MiMalloc = re_train::alloc::MiMalloc;

fn main() -> ExitCode {
    re_train::alloc::retain_freed_memory();
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
        Command::Search(a) => train::search(a),
        Command::Classic(a) => classic::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
