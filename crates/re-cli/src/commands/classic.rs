//! `kre classic …`: the feature-based competition-relation system (re-classic).
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use re_classic::clues::{propose_corpus_clues, ClueLexicon};
use re_classic::eval::{
    compare, cross_validate, evaluate_predictions, markdown_table, read_predictions, standard_systems,
    write_predictions,
};
use re_classic::features::{DistanceUnit, FeatureConfig, FeatureSet};
use re_classic::mecab::Mecab;
use re_classic::morph::Morphology;
use re_classic::pipeline::{read_blacklist, ClassicConfig, ClassicModel, Corpus, Filters, Learner};
use re_data::io::{read_records, LabelSource, ReadOptions};
use re_data::RelationRecord;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ClassicArgs {
    #[command(subcommand)]
    command: ClassicCommand,
}

#[derive(Subcommand, Debug)]
enum ClassicCommand {
    /// Train a model directory (model.json).
    Train(TrainArgs),
    /// Predict a data file; writes CSV `id,pred_label,score`.
    Predict(PredictArgs),
    /// Score a prediction CSV against gold records (POS/NEG precision, accuracy, P/R/F1).
    Evaluate(EvaluateArgs),
    /// Print `surface<TAB>TAG` for each morpheme of a text (MeCab + mecab-ko-dic).
    Morph(MorphArgs),
    /// Propose clue words from positive sentences (log-odds), for a person to review.
    Clues(CluesArgs),
    /// Rule baseline vs learner vs learner+filters on a train/test split or by cross-validation.
    Compare(CompareArgs),
    /// Write the pair feature vectors in svmlight format (for the scikit-learn comparison).
    ExportFeatures(ExportArgs),
    /// Train Pegasos on an svmlight file and print the training time as JSON (benchmark helper).
    FitSvmlight(FitArgs),
    /// Generate the SYNTHETIC competition-relation set (KLUE JSON: train.json, test.json).
    Synth(SynthArgs),
}

/// Options shared by commands that read data and extract features.
#[derive(Args, Debug, Clone)]
struct ModelOpts {
    /// Clue-word lexicon (one word per line); default: the built-in competition clue words.
    #[arg(long)]
    clues: Option<PathBuf>,
    /// Feature families, e.g. `f3,f4,f5,f6,f7` (the paper's best, default), `all`.
    #[arg(long, default_value = "f3,f4,f5,f6,f7")]
    feature_set: String,
    /// pegasos (linear SVM) or maxent (logistic regression).
    #[arg(long, default_value = "pegasos")]
    learner: String,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Regularisation (λ of Pegasos, L2 of max-ent).
    #[arg(long, default_value_t = 1e-4)]
    lambda: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// log2 of the hashed feature space.
    #[arg(long, default_value_t = 18)]
    hash_bits: u32,
    /// Distance unit of f5: bytes (as the paper) or chars.
    #[arg(long, default_value = "bytes")]
    distance_unit: String,
    /// Negative label (default: no_relation, or `no`).
    #[arg(long)]
    negative_label: Option<String>,
    /// Collapse every non-negative label into `relation` (binary task; e.g. the KAIST gold data).
    #[arg(long)]
    binary: bool,
}

impl ModelOpts {
    fn lexicon(&self) -> anyhow::Result<ClueLexicon> {
        Ok(match &self.clues {
            Some(p) => ClueLexicon::read(p)?,
            None => ClueLexicon::default_competition(),
        })
    }

    fn config(&self, filters: Filters) -> anyhow::Result<ClassicConfig> {
        if !(4..=26).contains(&self.hash_bits) {
            bail!("--hash-bits must be within 4..=26");
        }
        let distance_unit = match self.distance_unit.as_str() {
            "bytes" => DistanceUnit::Bytes,
            "chars" => DistanceUnit::Chars,
            other => bail!("--distance-unit must be bytes or chars, not {other:?}"),
        };
        Ok(ClassicConfig {
            features: FeatureConfig {
                families: FeatureSet::parse(&self.feature_set)?,
                hash_bits: self.hash_bits,
                distance_unit,
                max_eojeol_distance: None,
            },
            learner: Learner::parse(&self.learner, self.epochs, self.seed, self.lambda)?,
            filters,
            negative_label: self.negative_label.clone(),
            collapse_positive: self.binary.then(|| "relation".to_string()),
            ..Default::default()
        })
    }
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Blacklist pairs (two entity words per line, tab-separated) for the spam filter; default: derived from data.
    #[arg(long)]
    blacklist: Option<PathBuf>,
    /// Filters of the paper's Fig. 5: `sentence,spam,distance:2`, `all` or `none`.
    #[arg(long, default_value = "none")]
    filters: String,
    #[command(flatten)]
    opts: ModelOpts,
}

#[derive(Args, Debug)]
struct PredictArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct EvaluateArgs {
    #[arg(long)]
    gold: PathBuf,
    #[arg(long)]
    pred: PathBuf,
    /// text or json
    #[arg(long, default_value = "text")]
    format: String,
    #[arg(long, default_value = "no_relation")]
    negative_label: String,
}

#[derive(Args, Debug)]
struct MorphArgs {
    #[arg(long)]
    text: String,
}

#[derive(Args, Debug)]
struct CluesArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 30)]
    top: usize,
    /// Minimum number of positive sentences a word must occur in.
    #[arg(long, default_value_t = 3)]
    min_count: usize,
    #[arg(long, default_value = "no_relation")]
    negative_label: String,
}

#[derive(Args, Debug)]
struct CompareArgs {
    #[arg(long)]
    train: PathBuf,
    /// Test file; without it, k-fold cross-validation on --train.
    #[arg(long)]
    test: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Eojeol window of the distance filter.
    #[arg(long, default_value_t = 2)]
    distance: usize,
    #[arg(long)]
    blacklist: Option<PathBuf>,
    /// text (Markdown table) or json
    #[arg(long, default_value = "text")]
    format: String,
    #[command(flatten)]
    opts: ModelOpts,
}

#[derive(Args, Debug)]
struct ExportArgs {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    opts: ModelOpts,
}

#[derive(Args, Debug)]
struct FitArgs {
    #[arg(long)]
    svmlight: PathBuf,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 1e-4)]
    lambda: f64,
    #[arg(long, default_value_t = 18)]
    hash_bits: u32,
}

#[derive(Args, Debug)]
struct SynthArgs {
    /// Output directory (train.json, test.json).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1500)]
    train: usize,
    #[arg(long, default_value_t = 500)]
    test: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(args: ClassicArgs) -> anyhow::Result<()> {
    match args.command {
        ClassicCommand::Train(a) => train(a),
        ClassicCommand::Predict(a) => predict(a),
        ClassicCommand::Evaluate(a) => evaluate(a),
        ClassicCommand::Morph(a) => morph(a),
        ClassicCommand::Clues(a) => clues(a),
        ClassicCommand::Compare(a) => compare_cmd(a),
        ClassicCommand::ExportFeatures(a) => export(a),
        ClassicCommand::FitSvmlight(a) => fit(a),
        ClassicCommand::Synth(a) => synth(a),
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<RelationRecord>> {
    // Labels come from the data (competition/no_relation, KAIST relation names …), not the KLUE map.
    let opts = ReadOptions { labels: LabelSource::Infer, ..Default::default() };
    Ok(read_records(path, &opts).with_context(|| format!("reading {}", path.display()))?.records)
}

fn build_corpus(records: &[RelationRecord], lexicon: &ClueLexicon) -> anyhow::Result<Corpus> {
    let mecab = Mecab::new()?;
    let unique: std::collections::HashSet<&str> = records.iter().map(|r| r.sentence.as_str()).collect();
    let bar = ProgressBar::new(unique.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("morphology {bar:30} {pos}/{len} sentences {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let corpus = Corpus::build(records, &mecab, lexicon, &|| bar.inc(1))?;
    bar.finish_and_clear();
    Ok(corpus)
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    let records = read(&a.data)?;
    let lexicon = a.opts.lexicon()?;
    let config = a.opts.config(Filters::parse(&a.filters)?)?;
    let blacklist = a.blacklist.as_deref().map(read_blacklist).transpose()?;
    let corpus = build_corpus(&records, &lexicon)?;
    let items: Vec<usize> = (0..corpus.pairs.len()).collect();
    let model = ClassicModel::train(&corpus, &items, &config, blacklist)?;
    model.save(&a.out)?;
    eprintln!(
        "trained on {} pairs ({} sentences); filters: {}; model: {}",
        items.len(),
        corpus.sentences.len(),
        config.filters,
        a.out.join("model.json").display()
    );
    Ok(())
}

fn predict(a: PredictArgs) -> anyhow::Result<()> {
    let model = ClassicModel::load(&a.model)?;
    let records = read(&a.data)?;
    let corpus = build_corpus(&records, &model.lexicon)?;
    let items: Vec<usize> = (0..corpus.pairs.len()).collect();
    let preds = model.predict(&corpus, &items);
    write_predictions(&a.out, &preds)?;
    let positives = preds.iter().filter(|p| p.label != model.negative_label).count();
    eprintln!("{} predictions ({positives} positive) written to {}", preds.len(), a.out.display());
    Ok(())
}

fn evaluate(a: EvaluateArgs) -> anyhow::Result<()> {
    let gold = read(&a.gold)?;
    let preds = read_predictions(&a.pred)?;
    let scores = evaluate_predictions(&gold, &preds, &a.negative_label, &a.pred)?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&scores)?),
        "text" => {
            let b = &scores.binary;
            println!("n              {}", scores.n);
            println!("POS precision  {:.4}", b.pos_precision);
            println!("NEG precision  {:.4}", b.neg_precision);
            println!("accuracy       {:.4}", b.accuracy);
            println!("recall         {:.4}", scores.recall);
            println!("F1             {:.4}", scores.f1);
            println!(
                "TP {} FP {} TN {} FN {}",
                b.true_positives, b.false_positives, b.true_negatives, b.false_negatives
            );
        }
        other => bail!("--format must be text or json, not {other:?}"),
    }
    Ok(())
}

fn morph(a: MorphArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let mecab = Mecab::new()?;
    // Write errors (a closed pipe) end the command with an error instead of a panic.
    let mut out = std::io::stdout().lock();
    for m in mecab.analyze(&a.text)? {
        writeln!(out, "{}\t{}", m.surface, m.tag)?;
    }
    Ok(())
}

fn clues(a: CluesArgs) -> anyhow::Result<()> {
    let records = read(&a.data)?;
    let corpus = build_corpus(&records, &ClueLexicon::default())?;
    let clues = propose_corpus_clues(&corpus, &a.negative_label, a.min_count, 0.5, a.top);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "# word\ttag\tz\tlog_odds\tpos_sentences\tneg_sentences  (review before use as --clues)")?;
    for c in clues {
        writeln!(out, "{}\t{}\t{:.2}\t{:.2}\t{}\t{}", c.word, c.tag, c.z, c.log_odds, c.pos_count, c.neg_count)?;
    }
    Ok(())
}

fn compare_cmd(a: CompareArgs) -> anyhow::Result<()> {
    let lexicon = a.opts.lexicon()?;
    let base = a.opts.config(Filters::default())?;
    let systems = standard_systems(&base, a.distance);
    let blacklist = a.blacklist.as_deref().map(read_blacklist).transpose()?;
    let mut records = read(&a.train)?;
    let n_train = records.len();
    let rows = match &a.test {
        Some(t) => {
            records.extend(read(t)?);
            let corpus = build_corpus(&records, &lexicon)?;
            let train: Vec<usize> = (0..n_train).collect();
            let test: Vec<usize> = (n_train..records.len()).collect();
            compare(&corpus, &train, &test, &systems, blacklist.as_ref())?
        }
        None => {
            let corpus = build_corpus(&records, &lexicon)?;
            cross_validate(&corpus, a.folds, a.opts.seed, &systems, blacklist.as_ref())?
        }
    };
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&rows)?),
        _ => print!("{}", markdown_table(&rows)),
    }
    Ok(())
}

fn export(a: ExportArgs) -> anyhow::Result<()> {
    let records = read(&a.data)?;
    let lexicon = a.opts.lexicon()?;
    let config = a.opts.config(Filters::default())?;
    let corpus = build_corpus(&records, &lexicon)?;
    let negative = config.negative_label.clone().unwrap_or_else(|| "no_relation".into());
    let xs: Vec<_> = (0..corpus.pairs.len()).map(|i| corpus.pair_vector(i, &config.features)).collect();
    let ys: Vec<bool> = corpus.pairs.iter().map(|p| p.label.as_deref().is_some_and(|l| l != negative)).collect();
    re_classic::svmlight::write_svmlight(&a.out, &xs, &ys)?;
    eprintln!("{} vectors (dim 2^{}) written to {}", xs.len(), config.features.hash_bits, a.out.display());
    Ok(())
}

fn fit(a: FitArgs) -> anyhow::Result<()> {
    let (xs, ys) = re_classic::svmlight::read_svmlight(&a.svmlight)?;
    let cfg = re_classic::learn::PegasosConfig { lambda: a.lambda, epochs: a.epochs, ..Default::default() };
    let start = std::time::Instant::now();
    let w = re_classic::learn::train_pegasos(&xs, &ys, 1 << a.hash_bits, &cfg);
    let seconds = start.elapsed().as_secs_f64();
    let correct = xs.iter().zip(&ys).filter(|(x, &y)| (w.score(x) > 0.0) == y).count();
    let out = serde_json::json!({
        "n": xs.len(), "epochs": a.epochs, "lambda": a.lambda, "seconds": seconds,
        "train_accuracy": correct as f64 / xs.len().max(1) as f64,
    });
    println!("{out}");
    Ok(())
}

fn synth(a: SynthArgs) -> anyhow::Result<()> {
    use re_data::synth::competition::{generate_competition, CompetitionSynthConfig};
    let train = generate_competition(&CompetitionSynthConfig {
        sentences: a.train,
        seed: a.seed,
        id_prefix: "comp-train".into(),
        ..Default::default()
    });
    let test = generate_competition(&CompetitionSynthConfig {
        sentences: a.test,
        seed: a.seed.wrapping_add(1_000_003),
        id_prefix: "comp-test".into(),
        ..Default::default()
    });
    for (name, recs) in [("train.json", &train), ("test.json", &test)] {
        let path = a.out.join(name);
        re_data::synth::write_klue_json(&path, recs)?;
        eprintln!("{} SYNTHETIC records written to {}", recs.len(), path.display());
    }
    Ok(())
}
