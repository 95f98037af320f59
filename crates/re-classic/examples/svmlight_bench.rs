//! Helper of `scripts/bench/sklearn_linearsvc.py` (same code as `kre classic export-features` / `fit-svmlight`):
//! - `export SENTENCES OUT.svm`: SYNTHETIC competition pairs → paper-best features (2^18 hashed) in svmlight;
//! - `fit FILE.svm EPOCHS LAMBDA`: train Pegasos on it, print `{"n", "seconds", "train_accuracy"}` as JSON.
use re_classic::clues::ClueLexicon;
use re_classic::features::FeatureConfig;
use re_classic::learn::{train_pegasos, PegasosConfig};
use re_classic::pipeline::Corpus;
use re_classic::svmlight::{read_svmlight, write_svmlight};
use re_data::synth::competition::{generate_competition, CompetitionSynthConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("export") if args.len() == 3 => {
            let records = generate_competition(&CompetitionSynthConfig {
                sentences: args[1].parse()?,
                seed: 7,
                ..Default::default()
            });
            let mecab = re_classic::mecab::Mecab::new()?;
            let corpus = Corpus::build(&records, &mecab, &ClueLexicon::default_competition(), &|| {})?;
            let cfg = FeatureConfig::default();
            let n = corpus.pairs.len().min(50_000);
            let xs: Vec<_> = (0..n).map(|i| corpus.pair_vector(i, &cfg)).collect();
            let ys: Vec<bool> = corpus.pairs[..n].iter().map(|p| p.label.as_deref() == Some("competition")).collect();
            write_svmlight(args[2].as_ref(), &xs, &ys)?;
            eprintln!("{n} pairs written to {}", args[2]);
        }
        Some("fit") if args.len() == 4 => {
            let (xs, ys) = read_svmlight(args[1].as_ref())?;
            let cfg = PegasosConfig { epochs: args[2].parse()?, lambda: args[3].parse()?, ..Default::default() };
            let start = std::time::Instant::now();
            let w = train_pegasos(&xs, &ys, 1 << 18, &cfg);
            let seconds = start.elapsed().as_secs_f64();
            let correct = xs.iter().zip(&ys).filter(|(x, &y)| (w.score(x) > 0.0) == y).count();
            println!(
                "{{\"n\": {}, \"seconds\": {seconds}, \"train_accuracy\": {}}}",
                xs.len(),
                correct as f64 / xs.len().max(1) as f64
            );
        }
        _ => return Err("usage: svmlight_bench export SENTENCES OUT.svm | fit FILE.svm EPOCHS LAMBDA".into()),
    }
    Ok(())
}
