//! `kre extract` on a tiny model trained by `kre train` (1 epoch on the shipped synthetic data): the triples for
//! given entities equal `kre predict` on the same pairs written as records; the options filter them; plain text
//! goes through the MeCab mention finder; bad input fails with the file, line and field, leaving --out untouched.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::common::{kre, s, slice, TinySize};
use re_data::io::submission::Submission;
use re_data::io::{read_records, ReadOptions};
use re_data::record::{EntityType, RelationRecord};

fn train_tiny(d: &Path) -> PathBuf {
    let (train, dev) = (slice("train.json", 240, d), slice("dev.json", 32, d));
    crate::common::train_tiny(d, TinySize::SMALL, &train, &dev, &[])
}

fn triples(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn extract(run: &Path, input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let args = [&["extract", "--model-dir", s(run), "--input", s(input), "--out", s(out), "--batch-size", "8"], extra];
    kre(&args.concat())
}

#[test]
fn extract_matches_predict_and_follows_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = train_tiny(d);

    // The training run stored its (subject type, object type) combinations.
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("best/model_spec.json")).unwrap()).unwrap();
    let allowed: Vec<(EntityType, EntityType)> = serde_json::from_value(spec["entity_type_pairs"].clone()).unwrap();
    let train = read_records(&d.join("train.json"), &ReadOptions::default()).unwrap().records;
    assert!(!allowed.is_empty() && allowed.windows(2).all(|w| w[0] < w[1]));
    for r in &train {
        assert!(allowed.contains(&(r.subject.entity_type.clone(), r.object.entity_type.clone())));
    }

    // Given entities: each test sentence with its two entities (the extractor tries both orders).
    let test: Vec<RelationRecord> = read_records(&slice("test.json", 30, d), &ReadOptions::default()).unwrap().records;
    let mut input = String::new();
    let mut expected: Vec<RelationRecord> = Vec::new(); // the same pairs as records, for `kre predict`
    for (i, r) in test.iter().enumerate() {
        let line = serde_json::json!({"id": format!("t{i}"), "text": r.sentence, "entities": [r.subject, r.object]});
        input.push_str(&format!("{line}\n"));
        for (sub, obj) in [(&r.subject, &r.object), (&r.object, &r.subject)] {
            if allowed.contains(&(sub.entity_type.clone(), obj.entity_type.clone())) && !sub.overlaps(obj) {
                let id = format!("t{i}:{}:{}", sub.start, obj.start);
                expected.push(RelationRecord {
                    id,
                    sentence: r.sentence.clone(),
                    subject: sub.clone(),
                    object: obj.clone(),
                    label: None,
                    source: None,
                });
            }
        }
    }
    let input_path = d.join("given.jsonl");
    std::fs::write(&input_path, &input).unwrap();
    let records_path = d.join("pairs.jsonl");
    re_data::io::jsonl::write(&records_path, &expected).unwrap();
    let sub_path = d.join("submission.csv");
    let out = kre(&["predict", "--model-dir", s(&run), "--data", s(&records_path), "--out", s(&sub_path)]);
    assert!(out.status.success(), "kre predict: {}", String::from_utf8_lossy(&out.stderr));
    let predicted: HashMap<String, (String, f64)> = Submission::read(&sub_path)
        .unwrap()
        .rows
        .into_iter()
        .map(|r| (r.id, (r.pred_label, r.probs.iter().cloned().fold(f64::MIN, f64::max))))
        .collect();

    let all_path = d.join("all.jsonl");
    let out = extract(&run, &input_path, &all_path, &["--include-no-relation", "--chunk-lines", "7"]);
    assert!(out.status.success(), "kre extract: {}", String::from_utf8_lossy(&out.stderr));
    let all = triples(&all_path);
    assert_eq!(all.len(), expected.len(), "one triple per allowed pair with --include-no-relation");
    let mut max_diff = 0.0f64;
    for t in &all {
        let key = format!("{}:{}:{}", t["sentence_id"].as_str().unwrap(), t["subject"]["start"], t["object"]["start"]);
        let (label, p) = predicted.get(&key).unwrap_or_else(|| panic!("{key} not among the predicted pairs"));
        assert_eq!(t["relation"].as_str().unwrap(), label, "{key}");
        max_diff = max_diff.max((t["probability"].as_f64().unwrap() - p).abs());
        let sentence = t["sentence"].as_str().unwrap();
        let word: String = sentence
            .chars()
            .skip(t["subject"]["start"].as_u64().unwrap() as usize)
            .take(t["subject"]["word"].as_str().unwrap().chars().count())
            .collect();
        assert_eq!(word, t["subject"]["word"].as_str().unwrap());
    }
    println!("kre extract vs kre predict on {} pairs: max |Δp| = {max_diff:.3e}", all.len());
    assert!(max_diff <= 1e-5, "max |Δp| {max_diff}");

    // Options: the default drops no_relation; a threshold and top-k filter further.
    let relations = |path: &Path| triples(path);
    let default_path = d.join("default.jsonl");
    assert!(extract(&run, &input_path, &default_path, &[]).status.success());
    let kept = relations(&default_path);
    let not_none = all.iter().filter(|t| t["relation"] != "no_relation").count();
    assert_eq!(kept.len(), not_none);
    let threshold = 0.2;
    let thr_path = d.join("thr.jsonl");
    assert!(extract(&run, &input_path, &thr_path, &["--include-no-relation", "--threshold", "0.2"]).status.success());
    let above = all.iter().filter(|t| t["probability"].as_f64().unwrap() >= threshold).count();
    assert_eq!(relations(&thr_path).len(), above);
    let top_path = d.join("top1.jsonl");
    assert!(extract(&run, &input_path, &top_path, &["--include-no-relation", "--top-k", "1"]).status.success());
    let sentences_with_pairs: std::collections::BTreeSet<&str> =
        expected.iter().map(|r| r.id.split(':').next().unwrap()).collect();
    assert_eq!(relations(&top_path).len(), sentences_with_pairs.len(), "one triple per sentence");
    let per_class = d.join("thresholds.json");
    std::fs::write(&per_class, r#"{"no_relation": 1.0}"#).unwrap();
    let pc_path = d.join("per_class.jsonl");
    let out = extract(&run, &input_path, &pc_path, &["--include-no-relation", "--threshold", s(&per_class)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(relations(&pc_path).len(), not_none + all.iter().filter(|t| t["probability"] == 1.0).count());

    // A model saved before the combinations were stored: every type pairs with every type, with a warning.
    let old = d.join("old-model");
    std::fs::create_dir_all(&old).unwrap();
    for entry in std::fs::read_dir(run.join("best")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), old.join(entry.file_name())).unwrap();
    }
    let mut old_spec = spec.clone();
    old_spec.as_object_mut().unwrap().remove("entity_type_pairs");
    std::fs::write(old.join("model_spec.json"), serde_json::to_string(&old_spec).unwrap()).unwrap();
    let old_out = d.join("old.jsonl");
    let out = extract(&old, &input_path, &old_out, &["--include-no-relation"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stores no"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(relations(&old_out).len(), 2 * test.len(), "both orders of every sentence's two entities");

    // Plain text and markup: MeCab candidates / marked mentions, spans that select their words.
    let text_path = d.join("text.txt");
    std::fs::write(
        &text_path,
        "이순신은 조선의 장군이다. 삼성전자는 2023년 미국 뉴욕에 공장을 세웠다.\n\n[[제주 스틸러스|ORG]]는 [[이반 앤더슨|PER]]을 감독으로 선임했다.\n",
    )
    .unwrap();
    let text_out = d.join("text.jsonl");
    let out = extract(&run, &text_path, &text_out, &["--include-no-relation"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ts = triples(&text_out);
    let ids: std::collections::BTreeSet<&str> = ts.iter().map(|t| t["sentence_id"].as_str().unwrap()).collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["1.1", "1.2", "3"], "{ts:?}");
    assert!(ts.iter().any(|t| t["sentence_id"] == "3" && t["subject"]["word"] == "제주 스틸러스"));
    let pair_count = |out: &std::process::Output| -> usize {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let before = stdout.split(" candidate pairs").next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{stdout}"))
    };
    let outer =
        extract(&run, &text_path, &d.join("outer.jsonl"), &["--include-no-relation", "--candidates", "outermost"]);
    assert!(outer.status.success(), "{}", String::from_utf8_lossy(&outer.stderr));
    assert!(pair_count(&outer) < pair_count(&out), "outermost candidates make fewer pairs");
    assert_eq!(triples(&d.join("outer.jsonl")).len(), pair_count(&outer));

    // Bad input: the file, line and field are named, the exit is non-zero and an existing --out is kept.
    let bad = d.join("bad.jsonl");
    std::fs::write(&bad, format!("{}{}", input.lines().next().unwrap(), "\n\n{\"text\": \"가나\", \"entities\": [{\"word\": \"다\", \"start\": 0, \"end\": 0, \"type\": \"PER\"}]}\n")).unwrap();
    let kept_out = d.join("kept.jsonl");
    std::fs::write(&kept_out, "precious\n").unwrap();
    let out = extract(&run, &bad, &kept_out, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl") && err.contains("line 3") && err.contains("entities[0].word"), "{err}");
    assert_eq!(std::fs::read_to_string(&kept_out).unwrap(), "precious\n");
    let out = extract(&run, &input_path, &kept_out, &["--threshold", "1.5"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("outside [0, 1]"));
    let out = extract(&d.join("no-run"), &input_path, &kept_out, &[]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no-run"));
    assert_eq!(std::fs::read_to_string(&kept_out).unwrap(), "precious\n");
}
