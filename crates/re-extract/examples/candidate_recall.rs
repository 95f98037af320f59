//! Candidate recall of the MeCab mention finder on the KAIST gold sentences (docs/extract.md).
//!
//! `cargo run -p re-extract --example candidate_recall [-- PATH_TO_agreement_content.tsv] [--misses] [--outermost]`
use re_data::record::EntityType;
use re_extract::mentions::Candidates;
use re_extract::recall::candidate_recall;
use re_extract::{Extractor, MentionFinder, Sentence};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_misses = args.iter().any(|a| a == "--misses");
    let path = args.iter().find(|a| !a.starts_with("--")).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kor-re-gold/agreement_content.tsv")
    });
    let records = re_data::io::kaist_gold::read(&path)?;
    // `--outermost`: measure the outermost candidates only.
    let candidates = if args.iter().any(|a| a == "--outermost") { Candidates::Outermost } else { Candidates::All };
    let finder = MentionFinder::mecab()?.with_candidates(candidates);
    let report = candidate_recall(&finder, &records)?;
    // What the candidates cost downstream: ordered, non-overlapping pairs per sentence, with every type combination
    // and with KLUE's (subjects PER or ORG, objects any type).
    let sentences: Vec<Sentence> = records
        .iter()
        .map(|r| Sentence { sentence_id: r.id.clone(), text: r.sentence.clone(), entities: None })
        .collect();
    let klue: Vec<(EntityType, EntityType)> = [EntityType::Per, EntityType::Org]
        .iter()
        .flat_map(|s| EntityType::KLUE.iter().map(move |o| (s.clone(), o.clone())))
        .collect();
    let all_pairs =
        Extractor::new(None, Some(MentionFinder::mecab()?.with_candidates(candidates))).pairs(&sentences)?.len();
    let klue_pairs =
        Extractor::new(Some(klue), Some(MentionFinder::mecab()?.with_candidates(candidates))).pairs(&sentences)?.len();
    if show_misses {
        for (id, word) in &report.misses {
            let r = records.iter().find(|r| &r.id == id).map(|r| r.sentence.as_str()).unwrap_or("");
            let found = finder.find(r)?;
            let c: Vec<String> = found.iter().map(|m| format!("{}/{}", m.word, m.entity_type)).collect();
            println!("MISS {id}: {word:?}\n   {r}\n   {}", c.join(" | "));
        }
    }
    println!(
        "{}: {} sentences, {} gold words: covered {} ({:.1} %), exact {} ({:.1} %); {:.1} candidates/sentence, {:.1} chars each",
        path.display(),
        report.sentences,
        report.gold_words,
        report.covered,
        100.0 * report.recall(),
        report.exact,
        100.0 * report.exact_recall(),
        report.candidates_per_sentence(),
        report.mean_candidate_chars()
    );
    println!(
        "candidate pairs per sentence: {:.0} (every type combination), {:.0} (subjects PER/ORG)",
        all_pairs as f64 / sentences.len() as f64,
        klue_pairs as f64 / sentences.len() as f64
    );
    Ok(())
}
