//! Every feature family on a hand-worked sentence, analysed by the real MeCab.
//!
//! "올해 삼성전자와 LG전자는 스마트폰 시장에서 경쟁한다." — MeCab: 올해/NNG 삼성전자/NNP 와/JC LG/SL 전자/NNG 는/JX
//! 스마트폰/NNP 시장/NNG 에서/JKB 경쟁/NNG 한다/XSV+EF ./SF. Bytes: 삼성전자 7..19, LG전자 23..31, 경쟁 61..67.
//! Eojeols: 0 올해 | 1 삼성전자와 | 2 LG전자는 | 3 스마트폰 | 4 시장에서 | 5 경쟁한다.
use crate::common::mecab;
use re_classic::clues::ClueLexicon;
use re_classic::features::*;
use re_classic::morph::AnalyzedSentence;
use re_classic::sparse::{hash_feature, SparseVec};
use std::collections::BTreeSet;

const TEXT: &str = "올해 삼성전자와 LG전자는 스마트폰 시장에서 경쟁한다.";

fn setup() -> (AnalyzedSentence, Candidate, ClueLexicon) {
    let s = AnalyzedSentence::new(TEXT, &mecab()).unwrap();
    let c = Candidate {
        subject: Mention { bytes: 7..19, entity_type: "ORG".into() },
        object: Mention { bytes: 23..31, entity_type: "ORG".into() },
    };
    assert_eq!(&TEXT[c.subject.bytes.clone()], "삼성전자");
    assert_eq!(&TEXT[c.object.bytes.clone()], "LG전자");
    (s, c, ClueLexicon::new(["경쟁"]))
}

fn features(cfg: &FeatureConfig) -> Vec<String> {
    let (s, c, lex) = setup();
    let hits = lex.find(&s.text, &[]);
    let mut sink = StringSink::default();
    pair_features(&s, &c, &lex, &hits, cfg, &mut sink);
    sink.0
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn cfg(families: &str) -> FeatureConfig {
    FeatureConfig { families: FeatureSet::parse(families).unwrap(), ..Default::default() }
}

#[test]
fn f1_morphemes_outside_the_pair() {
    let f: BTreeSet<String> = features(&cfg("f1")).into_iter().collect();
    // LG/SL and 전자/NNG lie inside the object entity and are skipped.
    assert_eq!(
        f,
        set(&[
            "bias",
            "f1:올해/NNG",
            "f1:와/JC",
            "f1:는/JX",
            "f1:스마트폰/NNP",
            "f1:시장/NNG",
            "f1:에서/JKB",
            "f1:경쟁/NNG",
            "f1:한다/XSV+EF",
            "f1:./SF"
        ])
    );
}

#[test]
fn f2_entity_types() {
    assert_eq!(features(&cfg("f2")), ["bias", "f2:ORG-ORG"]);
}

#[test]
fn f3_token_classes_of_eojeol_pieces() {
    // Pieces outside the entities: 올해, 와, 는, 스마트폰, 시장에서 (korean) and "경쟁한다." (Hangul + '.' → other).
    let f = features(&cfg("f3"));
    assert_eq!(f.iter().filter(|x| *x == "f3:korean").count(), 5, "{f:?}");
    assert_eq!(f.iter().filter(|x| *x == "f3:other").count(), 1, "{f:?}");
    assert_eq!(f.len(), 7);
}

#[test]
fn f4_regions_conjoin_with_other_families() {
    let f: BTreeSet<String> = features(&cfg("f1,f3,f4")).into_iter().collect();
    for expected in [
        "f4:order:so",
        "f4:gap:0", // the entities sit in adjacent eojeols
        "f1:올해/NNG@L",
        "f1:와/JC@M",
        "f1:는/JX@R",
        "f1:경쟁/NNG@R",
        "f3:korean@L",
        "f3:korean@M",
        "f3:korean@R",
        "f3:other@R",
    ] {
        assert!(f.contains(expected), "missing {expected} in {f:?}");
    }
    assert!(!f.contains("f1:올해/NNG"), "with f4 the features carry their region");
    // Swapping subject and object flips the order feature only.
    let (s, c, lex) = setup();
    let swapped = Candidate { subject: c.object.clone(), object: c.subject.clone() };
    let mut sink = StringSink::default();
    pair_features(&s, &swapped, &lex, &lex.find(TEXT, &[]), &cfg("f4"), &mut sink);
    assert_eq!(sink.0, ["bias", "f4:order:os", "f4:gap:0"]);
}

#[test]
fn f5_distances_in_bytes_and_characters() {
    // Pair gap "와 " = 4 bytes → bucket 3; clue 경쟁 at byte 61, 30 bytes after LG전자 ends (31) → bucket 5.
    assert_eq!(features(&cfg("f5")), ["bias", "f5:pair:3", "f5:clue:5"]);
    // In characters: "와 " = 2 → bucket 2; "는 스마트폰 시장에서 " = 12 → bucket 4.
    let chars = FeatureConfig { distance_unit: DistanceUnit::Chars, ..cfg("f5") };
    assert_eq!(features(&chars), ["bias", "f5:pair:2", "f5:clue:4"]);
}

#[test]
fn f6_f7_clue_presence_and_identity() {
    assert_eq!(features(&cfg("f6,f7")), ["bias", "f7:경쟁", "f6:clue"]);
    assert_eq!(features(&cfg("f4,f6,f7")), ["bias", "f4:order:so", "f4:gap:0", "f6:clue@R", "f7:경쟁@R", "f6:clue"]);
    // Without the clue word in the lexicon: absence feature.
    let (s, c, _) = setup();
    let lex = ClueLexicon::new(["협력"]);
    let mut sink = StringSink::default();
    pair_features(&s, &c, &lex, &lex.find(TEXT, &[]), &cfg("f6,f7"), &mut sink);
    assert_eq!(sink.0, ["bias", "f6:none"]);
}

#[test]
fn distance_constraint_keeps_only_nearby_context() {
    // distance:1 keeps eojeols 0..=3 (올해, 삼성전자와, LG전자는, 스마트폰); 시장에서 and 경쟁한다 are 2 and 3 away.
    let near = FeatureConfig { max_eojeol_distance: Some(1), ..cfg("f1,f3,f6,f7") };
    let f: BTreeSet<String> = features(&near).into_iter().collect();
    assert_eq!(f, set(&["bias", "f1:올해/NNG", "f1:와/JC", "f1:는/JX", "f1:스마트폰/NNP", "f3:korean", "f6:none"]));
    let far = FeatureConfig { max_eojeol_distance: Some(3), ..cfg("f6,f7") };
    assert_eq!(features(&far), ["bias", "f7:경쟁", "f6:clue"]);
}

#[test]
fn hashed_vector_is_the_hash_of_the_feature_strings() {
    let c = FeatureConfig { hash_bits: 20, ..cfg("all") };
    let strings = features(&c);
    let expected = SparseVec::from_indices_normalized(strings.iter().map(|f| hash_feature(f, 20)).collect());
    let (s, cand, lex) = setup();
    let v = pair_vector(&s, &cand, &lex, &lex.find(TEXT, &[]), &c);
    assert_eq!(v, expected);
    // Unique features by hand: bias, f2, 2×f4, f5:pair (5) + 9 f1 + f3 korean@L/@M/@R, other@R (4)
    // + f6:clue@R, f7:경쟁@R, f5:clue:5, f6:clue (4) = 22 (no hash collision at 2^20).
    assert_eq!(v.len(), 22);
    // The paper's best set has no f1/f2 strings.
    assert!(features(&cfg("best")).iter().all(|f| !f.starts_with("f1:") && !f.starts_with("f2:")));
}
