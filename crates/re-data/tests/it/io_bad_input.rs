//! Bad input: every case is an error that names the file and the record or line, never a panic.
use re_data::io::{read_records, write_records, Format, ReadOptions};
use re_data::labels::LabelMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/io").join(name)
}

/// Write `bytes` to `dir/name`, read it, and return the error text (panics if reading succeeds).
fn read_err(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = read_records(&path, &ReadOptions::default()).expect_err("bad input must be an error").to_string();
    assert!(err.contains(name), "error must name the file: {err}");
    err
}

/// The first `n` bytes of `text`, moved back to a character boundary (truncation, not a UTF-8 error).
fn prefix(text: &str, mut n: usize) -> &[u8] {
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    &text.as_bytes()[..n]
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

#[test]
fn truncated_json() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("klue.json");
    let err = read_err(dir.path(), "trunc.json", prefix(&text, text.len() / 2));
    assert!(err.contains("truncated JSON") && err.contains("line "), "{err}");
}

#[test]
fn invalid_json() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("klue.json").replacen("\"start_idx\": 24,", "\"start_idx\": 24,,", 1);
    let err = read_err(dir.path(), "invalid.json", text.as_bytes());
    assert!(err.contains("invalid JSON") && err.contains("line 7"), "{err}");
    // a well-formed record with a wrongly typed field names the record by guid
    let text = fixture_text("klue.json").replacen("\"start_idx\": 3,", "\"start_idx\": \"3\",", 1);
    let err = read_err(dir.path(), "typed.json", text.as_bytes());
    assert!(err.contains("guid=fx-1") && err.contains("invalid type"), "{err}");
}

#[test]
fn truncated_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("records.jsonl");
    let cut = text.find("fx-3").unwrap() + 20;
    let err = read_err(dir.path(), "trunc.jsonl", prefix(&text, cut));
    assert!(err.contains("line 4") && err.contains("truncated"), "{err}");
}

#[test]
fn truncated_csv_and_bad_quoting() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("competition.csv");
    // cut inside the quoted entity cell of the fx-3 row (line 5): the row ends early
    let cut = text.find("fx-3").unwrap() + 60;
    let err = read_err(dir.path(), "trunc.csv", prefix(&text, cut));
    assert!(err.contains("line 5"), "{err}");
    // an unbalanced quote swallows the rest of the file into one field
    let bad = text.replacen("\"{'word': '서울대학교'", "\"{'word': \"서울대학교'", 1);
    let err = read_err(dir.path(), "quotes.csv", bad.as_bytes());
    assert!(err.contains("line 6"), "{err}");
    // an entity cell that is not a dict literal
    let bad = text.replacen("{'word': '이순신', 'start_idx': 0,", "{'word': '이순신' 'start_idx': 0,", 1);
    let err = read_err(dir.path(), "literal.csv", bad.as_bytes());
    assert!(err.contains("line 5") && err.contains("id=fx-3") && err.contains("subject_entity"), "{err}");
}

#[test]
fn missing_csv_column() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("competition.csv").replacen("object_entity", "obj", 1);
    let err = read_err(dir.path(), "cols.csv", text.as_bytes());
    assert!(err.contains("missing column \"object_entity\"") && err.contains("line 1"), "{err}");
}

#[test]
fn non_utf8_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (name, src) in [("latin.csv", "competition.csv"), ("latin.json", "klue.json"), ("latin.jsonl", "records.jsonl")]
    {
        let mut bytes = std::fs::read(fixture(src)).unwrap();
        // replace the first byte of the line-3 text with an invalid UTF-8 byte
        let line3 = bytes.iter().enumerate().filter(|(_, &b)| b == b'\n').nth(1).unwrap().0 + 1;
        bytes[line3 + 1] = 0xff;
        let err = read_err(dir.path(), name, &bytes);
        assert!(err.contains("UTF-8") && err.contains("line 3"), "{name}: {err}");
    }
}

#[test]
fn bad_parquet() {
    let dir = tempfile::tempdir().unwrap();
    // random bytes with the magic at the start (so detection says parquet) and none at the end
    let mut bytes = b"PAR1".to_vec();
    let mut x: u32 = 12345;
    for _ in 0..500 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        bytes.push((x >> 16) as u8);
    }
    let err = read_err(dir.path(), "random.parquet", &bytes);
    assert!(err.contains("parquet"), "{err}");
    // a truncated real file
    let real = std::fs::read(fixture("klue_re.parquet")).unwrap();
    let err = read_err(dir.path(), "trunc.parquet", &real[..real.len() / 2]);
    assert!(err.contains("parquet"), "{err}");
    // not parquet at all, but named .parquet
    let err = read_err(dir.path(), "text.parquet", b"guid,sentence\n");
    assert!(err.contains("PAR1"), "{err}");
}

#[test]
fn parquet_missing_column_and_other_codec() {
    let err =
        read_records(&fixture("klue_re_missing_column.parquet"), &ReadOptions::default()).unwrap_err().to_string();
    assert!(
        err.contains("klue_re_missing_column.parquet") && err.contains("missing column \"object_entity\""),
        "{err}"
    );
    let err = read_records(&fixture("klue_re_gzip.parquet"), &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("klue_re_gzip.parquet") && err.contains("GZIP") && err.contains("snappy"), "{err}");
}

#[test]
fn wrong_offsets_show_both_strings() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("klue.json").replacen("\"start_idx\": 13,", "\"start_idx\": 12,", 1);
    let err = read_err(dir.path(), "offsets.json", text.as_bytes());
    // fx-0's object is 조지 해리슨 at 13..=18; 12..=18 selects " 조지 해리슨"
    assert!(
        err.contains("record id=fx-0") && err.contains("\" 조지 해리슨\"") && err.contains("\"조지 해리슨\""),
        "{err}"
    );
    let text = fixture_text("records.jsonl").replacen("\"end\":22", "\"end\":99", 1);
    let err = read_err(dir.path(), "outside.jsonl", text.as_bytes());
    assert!(err.contains("id=fx-3") && err.contains("outside the sentence"), "{err}");
}

#[test]
fn unknown_label() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("competition.csv").replacen("per:origin", "per:favourite_food", 1);
    let err = read_err(dir.path(), "label.csv", text.as_bytes());
    assert!(err.contains("id=fx-3") && err.contains("per:favourite_food") && err.contains("KLUE-RE"), "{err}");
    let text = fixture_text("klue_int.json").replacen("\"label\": 17,", "\"label\": 31,", 1);
    let err = read_err(dir.path(), "label.json", text.as_bytes());
    assert!(err.contains("id=fx-3") && err.contains("31"), "{err}");
}

#[test]
fn unknown_entity_type() {
    let dir = tempfile::tempdir().unwrap();
    let text = fixture_text("competition.csv").replacen("'type': 'LOC'", "'type': 'PLACE'", 1);
    let err = read_err(dir.path(), "type.csv", text.as_bytes());
    assert!(err.contains("id=fx-3") && err.contains("PLACE"), "{err}");
}

#[test]
fn failed_write_leaves_the_existing_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    std::fs::write(&path, b"previous contents").unwrap();
    let records = read_records(&fixture("klue.json"), &ReadOptions::default()).unwrap().records;
    // the label map lacks most labels: parquet cannot store them
    let tiny = LabelMap::new(vec!["no_relation".into()]).unwrap();
    let err = write_records(&path, Format::Parquet, &records, &tiny).unwrap_err().to_string();
    assert!(err.contains("out.parquet") && err.contains("id=fx-1"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"previous contents");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
}
