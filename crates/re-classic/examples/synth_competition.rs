//! Write the SYNTHETIC competition-relation set (same as `kre classic synth`):
//! `cargo run -p re-classic --example synth_competition -- OUT_DIR [TRAIN_SENTENCES TEST_SENTENCES SEED]`.
use re_data::synth::competition::{generate_competition, CompetitionSynthConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = std::path::PathBuf::from(args.first().ok_or("usage: synth_competition OUT_DIR [TRAIN TEST SEED]")?);
    let num = |i: usize, d: u64| args.get(i).map(|s| s.parse::<u64>()).transpose().map(|v| v.unwrap_or(d));
    let (n_train, n_test, seed) = (num(1, 1500)? as usize, num(2, 500)? as usize, num(3, 1)?);
    let train = generate_competition(&CompetitionSynthConfig {
        sentences: n_train,
        seed,
        id_prefix: "comp-train".into(),
        ..Default::default()
    });
    let test = generate_competition(&CompetitionSynthConfig {
        sentences: n_test,
        seed: seed.wrapping_add(1_000_003),
        id_prefix: "comp-test".into(),
        ..Default::default()
    });
    re_data::synth::write_klue_json(&out.join("train.json"), &train)?;
    re_data::synth::write_klue_json(&out.join("test.json"), &test)?;
    println!("{} train / {} test SYNTHETIC records in {}", train.len(), test.len(), out.display());
    Ok(())
}
