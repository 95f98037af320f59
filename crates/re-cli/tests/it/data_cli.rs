//! `kre split` and `kre convert` end to end.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kre(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kre")).args(args).output().expect("running kre")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../re-data/tests/fixtures/io").join(name)
}

fn gold() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kor-re-gold/agreement_content.tsv");
    assert!(p.exists(), "{} is missing: the KAIST gold data lives in ../shared/data/kor-re-gold/", p.display());
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn split_kaist_gold_writes_both_halves_in_the_input_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("split");
    let o =
        kre(&["split", "--data", s(&gold()), "--dev-ratio", "0.2", "--seed", "42", "--out", s(&out), "--infer-labels"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    // 134 no_relation rows: round(0.2 × 134) = round(26.8) = 27 to dev
    let row = table.lines().find(|l| l.starts_with("no_relation")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols, ["no_relation", "134", "107", "27"], "{table}");
    assert!(table.contains("TOTAL"), "{table}");
    let train = std::fs::read_to_string(out.join("train.tsv")).unwrap();
    let dev = std::fs::read_to_string(out.join("dev.tsv")).unwrap();
    assert_eq!(train.lines().count() + dev.lines().count(), 295);
    // deterministic: the same seed gives the same files
    let out2 = dir.path().join("split2");
    let o = kre(&["split", "--data", s(&gold()), "--seed", "42", "--out", s(&out2), "--infer-labels"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out2.join("dev.tsv")).unwrap(), dev);
}

#[test]
fn split_csv_counts_match_round_ratio_times_class_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let o = kre(&[
        "split",
        "--data",
        s(&fixture("competition.csv")),
        "--dev-ratio",
        "0.5",
        "--seed",
        "1",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    // fixture classes: org:founded ×2 → 1 to dev; the 5 singletons → round(0.5) = 1 each; unlabeled ×1 → 1
    let dev_of = |label: &str| -> Vec<String> {
        let row = table.lines().find(|l| l.split_whitespace().next() == Some(label)).unwrap();
        row.split_whitespace().skip(1).map(str::to_string).collect()
    };
    assert_eq!(dev_of("org:founded"), ["2", "1", "1"], "{table}");
    assert_eq!(dev_of("per:origin"), ["1", "0", "1"], "{table}");
    assert_eq!(dev_of("(unlabeled)"), ["1", "0", "1"], "{table}");
    assert!(out.join("train.csv").exists() && out.join("dev.csv").exists());
}

#[test]
fn convert_round_trips_through_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut current = fixture("competition.csv");
    for name in ["a.parquet", "b.jsonl", "c.json", "d.csv"] {
        let next = dir.path().join(name);
        let o = kre(&["convert", "--data", s(&current), "--out", s(&next)]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        current = next;
    }
    assert_eq!(std::fs::read(&current).unwrap(), std::fs::read(fixture("competition.csv")).unwrap());
    // --to overrides the extension
    let odd = dir.path().join("records.txt");
    let o = kre(&["convert", "--data", s(&fixture("klue.json")), "--out", s(&odd), "--to", "jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&odd).unwrap(), std::fs::read_to_string(fixture("records.jsonl")).unwrap());
}

#[test]
fn convert_with_a_pickled_label_map() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("comp.parquet");
    let pkl = fixture("dict_label_to_num.pkl");
    let o = kre(&["convert", "--data", s(&fixture("klue.json")), "--out", s(&out), "--label-map", s(&pkl)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let back = dir.path().join("back.jsonl");
    let o = kre(&["convert", "--data", s(&out), "--out", s(&back), "--label-map", s(&pkl)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&back).unwrap(), std::fs::read_to_string(fixture("records.jsonl")).unwrap());
}

#[test]
fn bad_input_fails_naming_the_file_and_leaves_outputs_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    let text = std::fs::read_to_string(fixture("klue.json")).unwrap();
    std::fs::write(&bad, &text[..text.find("fx-4").unwrap()]).unwrap();
    let out = dir.path().join("out.jsonl");
    std::fs::write(&out, "keep me\n").unwrap();
    let o = kre(&["convert", "--data", s(&bad), "--out", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.json") && stderr(&o).contains("truncated"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me\n");

    // a split that fails leaves an existing train file as it was
    let split_dir = dir.path().join("split");
    std::fs::create_dir_all(&split_dir).unwrap();
    std::fs::write(split_dir.join("train.tsv"), "old\n").unwrap();
    let o = kre(&["split", "--data", s(&gold()), "--out", s(&split_dir)]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("agreement_content.tsv") && err.contains("--infer-labels"), "{err}");
    assert_eq!(std::fs::read_to_string(split_dir.join("train.tsv")).unwrap(), "old\n");
    let entries = std::fs::read_dir(&split_dir).unwrap().count();
    assert_eq!(entries, 1, "no temp or partial files");
}

#[test]
fn write_failure_is_reported_and_atomic() {
    // klue.json holds an unlabeled record: KAIST TSV cannot store it, so the write fails before renaming
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.tsv");
    std::fs::write(&out, "old\n").unwrap();
    let o = kre(&["convert", "--data", s(&fixture("klue.json")), "--out", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("out.tsv") && stderr(&o).contains("fx-5"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");
}

#[test]
fn data_opts_entity_types_and_fix_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.jsonl");
    let text = std::fs::read_to_string(fixture("records.jsonl")).unwrap();
    // fx-3's object type becomes WORK and fx-0's subject offsets shift by one
    let text = text.replacen("\"type\":\"LOC\"", "\"type\":\"WORK\"", 1).replacen(
        "\"start\":24,\"end\":26",
        "\"start\":25,\"end\":27",
        1,
    );
    std::fs::write(&src, text).unwrap();
    let out = dir.path().join("out.json");
    let o = kre(&["convert", "--data", s(&src), "--out", s(&out)]);
    assert!(!o.status.success() && stderr(&o).contains("in.jsonl"), "{}", stderr(&o));
    let o = kre(&["convert", "--data", s(&src), "--out", s(&out), "--entity-types", "WORK,ART", "--fix-offsets"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("\"type\": \"WORK\""));
    assert!(written.contains("\"start_idx\": 24"), "offsets were fixed back to 24..=26");
    let o = kre(&["convert", "--data", s(&src), "--out", s(&out), "--label-map", "x.json", "--infer-labels"]);
    assert!(!o.status.success(), "--label-map and --infer-labels conflict");
}
