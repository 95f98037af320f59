//! The synthetic KLUE-RE generator (validity, coverage, proportions, determinism, lengths, KLUE JSON layout) and the
//! EDA statistics (hand-computed numbers on a tiny hand-made set; token lengths with a real WordPiece tokenizer).
use re_data::eda::{compute, EdaOptions};
use re_data::io::{read_records, ReadOptions};
use re_data::labels::KLUE_RE_LABELS;
use re_data::record::{Entity, RelationRecord, Validation};
use re_data::synth::{generate, label_counts, write_dataset, SynthConfig, SynthDataset, KLUE_RE_TRAIN_COUNTS};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// The default set (`kre synth --n 8000 --seed 1`), generated once for all tests.
fn default_set() -> &'static SynthDataset {
    static SET: OnceLock<SynthDataset> = OnceLock::new();
    SET.get_or_init(|| generate(&SynthConfig::default()).expect("generate"))
}

fn all(d: &SynthDataset) -> impl Iterator<Item = &RelationRecord> {
    d.train.iter().chain(&d.dev).chain(&d.test)
}

#[test]
fn every_generated_record_validates() {
    let d = default_set();
    assert_eq!(all(d).count(), 8000);
    let rules = Validation::default();
    for r in all(d) {
        let mut copy = r.clone();
        copy.validate(&rules).unwrap_or_else(|e| panic!("{}: {e}\n{}", r.id, r.sentence));
        assert_eq!(copy, *r, "validation must not change a generated record");
        assert_eq!(r.subject_text(), Some(r.subject.word.as_str()));
        assert_eq!(r.object_text(), Some(r.object.word.as_str()));
        assert!(!r.subject.overlaps(&r.object), "{}: entities overlap", r.id);
        assert_eq!(r.source.as_deref(), Some("synthetic"));
        assert!(r.label.as_deref().is_some_and(|l| KLUE_RE_LABELS.contains(&l)), "{}: label {:?}", r.id, r.label);
    }
    // A second seed, to cover more template/filler combinations.
    let other = generate(&SynthConfig { n: 3000, seed: 77, ..Default::default() }).unwrap();
    for r in all(&other) {
        r.clone().validate(&rules).unwrap_or_else(|e| panic!("{}: {e}\n{}", r.id, r.sentence));
    }
}

#[test]
fn guids_are_unique_and_name_the_split() {
    let d = default_set();
    let ids: BTreeSet<&str> = all(d).map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 8000);
    assert!(d.train.iter().all(|r| r.id.starts_with("synthetic-klue-re_train_")));
    assert!(d.dev.iter().all(|r| r.id.starts_with("synthetic-klue-re_dev_")));
    assert!(d.test.iter().all(|r| r.id.starts_with("synthetic-klue-re_test_")));
}

#[test]
fn all_30_labels_appear_in_every_split() {
    let d = default_set();
    for (name, part) in [("train", &d.train), ("dev", &d.dev), ("test", &d.test)] {
        let labels: BTreeSet<&str> = part.iter().filter_map(|r| r.label.as_deref()).collect();
        assert_eq!(labels.len(), 30, "{name} has {} labels", labels.len());
    }
    // 80/10/10 per label.
    assert!((6350..=6450).contains(&d.train.len()), "train {}", d.train.len());
    assert!((780..=830).contains(&d.dev.len()), "dev {}", d.dev.len());
    assert!((780..=830).contains(&d.test.len()), "test {}", d.test.len());
}

#[test]
fn label_proportions_follow_klue() {
    let d = default_set();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in all(d) {
        *counts.entry(r.label.as_deref().unwrap()).or_default() += 1;
    }
    let n = 8000.0;
    let total: usize = KLUE_RE_TRAIN_COUNTS.iter().map(|(_, c)| c).sum();
    assert_eq!(total, 32470);
    for (label, klue) in KLUE_RE_TRAIN_COUNTS {
        let share = counts[label] as f64 / n;
        let want = klue as f64 / total as f64;
        assert!((share - want).abs() < 0.001, "{label}: {share:.4} vs KLUE {want:.4}");
    }
    let share = |l: &str| counts[l] as f64 / n;
    assert!((0.28..0.30).contains(&share("no_relation")), "no_relation {}", share("no_relation"));
    assert!((0.125..0.14).contains(&share("org:top_members/employees")));
    let rarest = counts.values().min().copied().unwrap() as f64 / n;
    assert!((0.001..=0.005).contains(&rarest), "rarest share {rarest}");
    // The label order of the counts table is KLUE's official order.
    let order: Vec<&str> = KLUE_RE_TRAIN_COUNTS.iter().map(|(l, _)| *l).collect();
    assert_eq!(order, KLUE_RE_LABELS.to_vec());
}

#[test]
fn label_counts_keep_small_sets_covering_every_label() {
    let counts = label_counts(100).unwrap();
    assert_eq!(counts.iter().map(|(_, c)| c).sum::<usize>(), 100);
    assert!(counts.iter().all(|(_, c)| *c >= 3));
    assert!(label_counts(10).is_err());
    let small = generate(&SynthConfig { n: 120, seed: 5, ..Default::default() }).unwrap();
    let labels: BTreeSet<&str> = small.test.iter().filter_map(|r| r.label.as_deref()).collect();
    assert_eq!(labels.len(), 30);
}

#[test]
fn entity_types_and_order_vary_like_klue() {
    let d = default_set();
    let subject_types: BTreeSet<&str> = all(d).map(|r| r.subject.entity_type.as_str()).collect();
    assert_eq!(subject_types, BTreeSet::from(["ORG", "PER"]));
    let object_types: BTreeSet<&str> = all(d).map(|r| r.object.entity_type.as_str()).collect();
    assert_eq!(object_types, BTreeSet::from(["DAT", "LOC", "NOH", "ORG", "PER", "POH"]));
    let object_first = all(d).filter(|r| r.object.start < r.subject.start).count();
    assert!(object_first > 800, "only {object_first} records put the object first");
    // Hard negatives: no_relation spans many type pairs.
    let pairs: BTreeSet<String> = all(d)
        .filter(|r| r.label.as_deref() == Some("no_relation"))
        .map(|r| format!("{}-{}", r.subject.entity_type, r.object.entity_type))
        .collect();
    assert!(pairs.len() >= 8, "no_relation type pairs: {pairs:?}");
}

#[test]
fn sentence_lengths_are_klue_like() {
    let d = default_set();
    let mut lengths: Vec<usize> = all(d).map(|r| r.sentence.chars().count()).collect();
    lengths.sort_unstable();
    let median = lengths[lengths.len() / 2];
    assert!((75..=100).contains(&median), "median {median}");
    let long = lengths.iter().filter(|&&l| l > 200).count();
    assert!(long >= 20, "only {long} sentences longer than 200 characters");
    assert!(lengths[0] >= 15, "shortest {}", lengths[0]);
}

#[test]
fn generation_is_deterministic_for_a_seed() {
    let a = generate(&SynthConfig { n: 600, seed: 9, ..Default::default() }).unwrap();
    let b = generate(&SynthConfig { n: 600, seed: 9, ..Default::default() }).unwrap();
    let c = generate(&SynthConfig { n: 600, seed: 10, ..Default::default() }).unwrap();
    assert_eq!(a.train, b.train);
    assert_eq!(a.dev, b.dev);
    assert_eq!(a.test, b.test);
    assert_ne!(a.train, c.train);
}

#[test]
fn written_files_have_the_klue_layout_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = generate(&SynthConfig { n: 300, seed: 3, ..Default::default() }).unwrap();
    let paths = write_dataset(dir.path(), &data).unwrap();
    assert_eq!(paths.len(), 3);
    let text = std::fs::read_to_string(dir.path().join("train.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = &json.as_array().unwrap()[0];
    let keys: BTreeSet<&str> = first.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, BTreeSet::from(["guid", "sentence", "subject_entity", "object_entity", "label", "source"]));
    let ent: BTreeSet<&str> = first["subject_entity"].as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(ent, BTreeSet::from(["word", "start_idx", "end_idx", "type"]));
    assert!(first["label"].is_string());
    assert_eq!(first["source"], "synthetic");
    assert!(text.contains('가') || text.chars().any(|c| ('가'..='힣').contains(&c)), "Korean must not be escaped");
    for (name, part) in [("train", &data.train), ("dev", &data.dev), ("test", &data.test)] {
        let back = read_records(&dir.path().join(format!("{name}.json")), &ReadOptions::default()).unwrap();
        assert_eq!(back.records, *part, "{name} round trip");
    }
}

// ------------------------------------------------------------------------------------------------------------
// EDA

fn rec(id: &str, sentence: &str, subj: (&str, &str), obj: (&str, &str), label: Option<&str>) -> RelationRecord {
    let span = |w: &str| {
        let byte = sentence.find(w).unwrap();
        let start = sentence[..byte].chars().count();
        (start, start + w.chars().count() - 1)
    };
    let (ss, se) = span(subj.0);
    let (os, oe) = span(obj.0);
    RelationRecord {
        id: id.into(),
        sentence: sentence.into(),
        subject: Entity::new(subj.0, ss, se, subj.1),
        object: Entity::new(obj.0, os, oe, obj.1),
        label: label.map(Into::into),
        source: None,
    }
}

/// A sentence of exactly `len` characters starting with `head`.
fn padded(head: &str, len: usize) -> String {
    let mut s = head.to_string();
    while s.chars().count() < len {
        s.push('다');
    }
    assert_eq!(s.chars().count(), len);
    s
}

fn tiny_set() -> Vec<RelationRecord> {
    vec![
        rec("a", &padded("김철수 감독 ", 10), ("김철수", "PER"), ("감독", "POH"), Some("per:title")),
        rec("b", &padded("이영희 교수 ", 20), ("이영희", "PER"), ("교수", "POH"), Some("per:title")),
        rec("c", &padded("김철수와 한빛전자 ", 30), ("김철수", "PER"), ("한빛전자", "ORG"), Some("no_relation")),
        rec("d", &padded("한빛전자 서울 ", 40), ("한빛전자", "ORG"), ("서울", "LOC"), Some("no_relation")),
        rec("e", &padded("누리소프트 부산 ", 200), ("누리소프트", "ORG"), ("부산", "LOC"), None),
    ]
}

#[test]
fn eda_numbers_match_a_hand_computation() {
    let records = tiny_set();
    for r in &records {
        r.clone().validate(&Validation::default()).unwrap();
    }
    let report = compute(&records, None, &EdaOptions { top_k: 1, ..Default::default() }).unwrap();
    assert_eq!(report.n_records, 5);
    assert_eq!(report.n_unlabeled, 1);
    assert_eq!(report.label_counts, BTreeMap::from([("no_relation".into(), 2), ("per:title".into(), 2)]));
    assert_eq!(report.label_ratios["per:title"], 0.5);
    assert_eq!(report.no_relation_share, 0.5);
    // Lengths 10, 20, 30, 40, 200: mean 300/5 = 60; p50 = 30; p75 at position 3 = 40;
    // p90 at position 0.9 × 4 = 3.6 → 40 + 0.6 × (200 − 40) = 136; one of five is > 128.
    let c = &report.char_length;
    assert_eq!((c.count, c.max), (5, 200));
    assert_eq!(c.mean, 60.0);
    assert_eq!(c.p50, 30.0);
    assert_eq!(c.p75, 40.0);
    assert!((c.p90 - 136.0).abs() < 1e-9, "p90 {}", c.p90);
    assert_eq!(c.share_over_128, 0.2);
    // Bins of 10: [10,20) [20,30) [30,40) [40,50) hold one each, [200,210) one; 21 bins from 0.
    assert_eq!(report.char_length_histogram.len(), 21);
    assert_eq!(report.char_length_histogram.iter().map(|b| b.count).sum::<usize>(), 5);
    assert_eq!(report.char_length_histogram[1].count, 1);
    assert_eq!(report.char_length_histogram[20].count, 1);
    assert!(report.token_length.is_none());
    assert_eq!(report.subject_type_counts, BTreeMap::from([("ORG".into(), 2), ("PER".into(), 3)]));
    assert_eq!(report.object_type_counts, BTreeMap::from([("LOC".into(), 2), ("ORG".into(), 1), ("POH".into(), 2)]));
    assert_eq!(report.type_pair_relation["PER-POH"], BTreeMap::from([("per:title".into(), 2)]));
    assert_eq!(
        report.type_pair_relation["ORG-LOC"],
        BTreeMap::from([("no_relation".into(), 1), (re_data::eda::UNLABELED.into(), 1)])
    );
    assert_eq!(report.type_pairs_by_count(), vec!["ORG-LOC", "PER-POH", "PER-ORG"]);
    // top_k = 1; ties broken alphabetically ("김철수" < "이영희").
    let title = &report.top_entity_words["per:title"];
    assert_eq!(title.subject, vec![("김철수".to_string(), 1)]);
    assert_eq!(title.object, vec![("감독".to_string(), 1)]);
    assert_eq!(report.labels_by_count(), vec![("no_relation".to_string(), 2), ("per:title".to_string(), 2)]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["label_counts"]["per:title"], 2);
}

#[test]
fn eda_counts_tokens_with_a_real_wordpiece_tokenizer() {
    let path = crate::minilm_weights::minilm_dir().join("tokenizer.json");
    let tokenizer = re_data::eda::load_tokenizer(&path).unwrap();
    // "hello world" → [CLS] hello world [SEP] = 4; 150 × "cat" → 152 (the file's truncation to 128 and fixed
    // padding to 128 must not apply).
    let long = vec!["cat"; 150].join(" ");
    let records = vec![
        rec("x", "hello world", ("hello", "PER"), ("world", "LOC"), Some("no_relation")),
        rec("y", &long, ("cat", "PER"), ("cat cat", "LOC"), Some("no_relation")),
    ];
    let report = compute(&records, Some(&tokenizer), &EdaOptions::default()).unwrap();
    let t = report.token_length.unwrap();
    assert_eq!(t.max, 152);
    assert_eq!(t.p50, 78.0); // (4 + 152) / 2
    assert_eq!(t.share_over_128, 0.5);
    assert!(re_data::eda::load_tokenizer(std::path::Path::new("/nonexistent/tokenizer.json")).is_err());
}
