//! Rule baseline vs SVM vs SVM+filters without the `kre` binary (same code path as `kre classic compare`).
//!
//! ```text
//! cargo run -p re-classic --example compare -- TRAIN [TEST|--folds K] [--binary] [--feature-set f3,f4,f5,f6,f7]
//! ```
use re_classic::clues::ClueLexicon;
use re_classic::eval::{compare, cross_validate, markdown_table, standard_systems};
use re_classic::features::FeatureSet;
use re_classic::mecab::Mecab;
use re_classic::pipeline::{ClassicConfig, Corpus};
use re_data::io::{read_records, LabelSource, ReadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let positional: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with("--") && (*i == 0 || !args[i - 1].starts_with("--") || args[i - 1] == "--binary")
        })
        .map(|(_, a)| a)
        .collect();
    let opts = ReadOptions { labels: LabelSource::Infer, ..Default::default() };
    let train_path = positional.first().ok_or("usage: compare TRAIN [TEST|--folds K] [--binary]")?;
    let mut records = read_records(train_path.as_ref(), &opts)?.records;
    let n_train = records.len();
    let mut base = ClassicConfig::default();
    if let Some(fs) = flag("--feature-set") {
        base.features.families = FeatureSet::parse(&fs)?;
    }
    if args.iter().any(|a| a == "--binary") {
        base.collapse_positive = Some("relation".into());
    }
    let systems = standard_systems(&base, 2);
    let mecab = Mecab::new()?;
    let lexicon = ClueLexicon::default_competition();
    let rows = if let Some(test) = positional.get(1) {
        records.extend(read_records(test.as_ref(), &opts)?.records);
        let corpus = Corpus::build(&records, &mecab, &lexicon, &|| {})?;
        let train: Vec<usize> = (0..n_train).collect();
        let test: Vec<usize> = (n_train..records.len()).collect();
        compare(&corpus, &train, &test, &systems, None)?
    } else {
        let folds = flag("--folds").map(|f| f.parse()).transpose()?.unwrap_or(5);
        let corpus = Corpus::build(&records, &mecab, &lexicon, &|| {})?;
        cross_validate(&corpus, folds, 42, &systems, None)?
    };
    print!("{}", markdown_table(&rows));
    Ok(())
}
