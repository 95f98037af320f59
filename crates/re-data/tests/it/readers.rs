//! Every reader against the Python-made fixtures (tools/make_data_fixtures.py), and every writer round trip.
use re_data::io::{
    self, detect_format, read_records, read_records_as, write_records, Format, LabelSource, ReadOptions,
};
use re_data::labels::LabelMap;
use re_data::record::Validation;
use re_data::RelationRecord;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/io").join(name)
}

/// The reference records, as Python wrote them in kre's JSONL layout.
fn expected() -> Vec<RelationRecord> {
    read_records(&fixture("records.jsonl"), &ReadOptions::default()).unwrap().records
}

#[test]
fn reference_records_cover_the_edge_cases() {
    let r = expected();
    assert_eq!(r.len(), 8);
    // subject after object, multi-byte text
    assert!(r[0].subject.start > r[0].object.end);
    assert_eq!(r[0].subject_text(), Some("비틀즈"));
    // start and end of the sentence
    assert_eq!(r[3].subject.start, 0);
    assert_eq!(r[3].object.end + 1, r[3].sentence.chars().count());
    // adjacent
    assert_eq!(r[4].subject.end + 1, r[4].object.start);
    // astral emoji counts as one character (Python indexing): "😀 경로 " is 5 characters
    assert_eq!(r[5].object.start, 5);
    assert_eq!(r[5].object_text(), Some("C:\\Users"));
    assert_eq!(r[5].label, None);
    // second occurrence of a repeated word
    assert_eq!((r[7].subject.start, r[7].subject.end), (19, 21));
}

#[test]
fn every_reader_returns_the_reference_records() {
    let want = expected();
    for name in ["klue.json", "klue_int.json", "competition.csv", "klue_re.parquet"] {
        let path = fixture(name);
        let data = read_records(&path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(data.records.len(), want.len(), "{name}");
        for (got, want) in data.records.iter().zip(&want) {
            if name == "competition.csv" && want.source.is_none() {
                // the CSV writes a missing source as an empty cell, read back as None too
                assert_eq!(got.source, None);
            }
            assert_eq!(got, want, "{name}");
        }
        assert!(data.labels.is_klue());
    }
}

#[test]
fn formats_are_detected_by_extension_and_content() {
    assert_eq!(detect_format(&fixture("klue.json")).unwrap(), Format::KlueJson);
    assert_eq!(detect_format(&fixture("records.jsonl")).unwrap(), Format::Jsonl);
    assert_eq!(detect_format(&fixture("competition.csv")).unwrap(), Format::CompetitionCsv);
    assert_eq!(detect_format(&fixture("klue_re.parquet")).unwrap(), Format::Parquet);
    let dir = tempfile::tempdir().unwrap();
    // content wins where it is decisive, and sniffing works without an extension
    for (src, name, want) in [
        ("records.jsonl", "records.json", Format::Jsonl),
        ("klue.json", "klue.jsonl", Format::KlueJson),
        ("klue_re.parquet", "data.bin", Format::Parquet),
        ("competition.csv", "train", Format::CompetitionCsv),
        ("klue.json", "noext", Format::KlueJson),
    ] {
        let p = dir.path().join(name);
        std::fs::copy(fixture(src), &p).unwrap();
        assert_eq!(detect_format(&p).unwrap(), want, "{name}");
    }
    let kaist = dir.path().join("gold");
    std::fs::write(&kaist, "가\t나\tchild\t[[ _sbj_ ]] [[ _obj_ ]]\tc1\tyes\n").unwrap();
    assert_eq!(detect_format(&kaist).unwrap(), Format::KaistGold);
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "  \n").unwrap();
    assert!(detect_format(&empty).unwrap_err().to_string().contains("empty"));
}

#[test]
fn csv_writer_reproduces_python_byte_for_byte() {
    // Python wrote competition.csv with csv.writer + str(dict); kre must write the same bytes, which is what
    // makes pandas.read_csv + ast.literal_eval read kre's files (tools/make_data_fixtures.py --check-csv checks it).
    let data = read_records(&fixture("competition.csv"), &ReadOptions::default()).unwrap();
    let ours = io::competition_csv::to_bytes(&data.records).unwrap();
    let python = std::fs::read(fixture("competition.csv")).unwrap();
    assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(python).unwrap());
}

#[test]
fn json_and_jsonl_writers_reproduce_python_byte_for_byte() {
    let records = expected();
    let python_json = std::fs::read_to_string(fixture("klue.json")).unwrap();
    assert_eq!(io::klue_json::to_string(&records), python_json);
    let python_jsonl = std::fs::read_to_string(fixture("records.jsonl")).unwrap();
    assert_eq!(io::jsonl::to_string(&records), python_jsonl);
}

#[test]
fn every_writer_round_trips() {
    let records = expected();
    let labels = LabelMap::klue();
    let dir = tempfile::tempdir().unwrap();
    for format in [Format::KlueJson, Format::CompetitionCsv, Format::Parquet, Format::Jsonl] {
        let path = dir.path().join(format!("out.{}", format.extension()));
        write_records(&path, format, &records, &labels).unwrap();
        assert_eq!(detect_format(&path).unwrap(), format);
        let back = read_records(&path, &ReadOptions::default()).unwrap();
        assert_eq!(back.records, records, "{format}");
    }
    // KAIST TSV cannot hold unlabeled records or tabs/newlines: round-trip the others
    let labeled: Vec<_> =
        records.iter().filter(|r| r.label.is_some() && !r.sentence.contains(['\t', '\n'])).cloned().collect();
    assert_eq!(labeled.len(), 6);
    let path = dir.path().join("out.tsv");
    write_records(&path, Format::KaistGold, &labeled, &labels).unwrap();
    let back = read_records(&path, &ReadOptions::default()).unwrap();
    for (b, r) in back.records.iter().zip(&labeled) {
        assert_eq!((&b.id, &b.sentence, &b.label), (&r.id, &r.sentence, &r.label));
        assert_eq!(
            (b.subject.start, b.subject.end, &b.subject.word),
            (r.subject.start, r.subject.end, &r.subject.word)
        );
        assert_eq!((b.object.start, b.object.end, &b.object.word), (r.object.start, r.object.end, &r.object.word));
    }
    let err = write_records(&dir.path().join("u.tsv"), Format::KaistGold, &records, &labels).unwrap_err();
    assert!(err.to_string().contains("id=fx-5") && err.to_string().contains("unlabeled"), "{err}");
    let err = write_records(&dir.path().join("t.tsv"), Format::KaistGold, &records[6..], &labels).unwrap_err();
    assert!(err.to_string().contains("id=fx-6") && err.to_string().contains("newline"), "{err}");
    assert!(!dir.path().join("u.tsv").exists() && !dir.path().join("t.tsv").exists());
}

#[test]
fn parquet_labels_follow_the_given_map() {
    // written with the competition order, read back with it: names survive; read with KLUE: ids are reinterpreted
    let records = expected();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("comp.parquet");
    let competition = LabelMap::competition();
    write_records(&path, Format::Parquet, &records, &competition).unwrap();
    let opts = ReadOptions { labels: LabelSource::Map(competition), ..Default::default() };
    assert_eq!(read_records(&path, &opts).unwrap().records, records);
    let klue = read_records(&path, &ReadOptions::default()).unwrap();
    assert_ne!(klue.records[1].label, records[1].label);
}

#[test]
fn infer_labels_builds_the_map_from_the_data() {
    let opts = ReadOptions { labels: LabelSource::Infer, ..Default::default() };
    let data = read_records(&fixture("klue.json"), &opts).unwrap();
    assert_eq!(
        data.labels.names(),
        ["no_relation", "org:founded", "org:product", "org:top_members/employees", "per:origin", "per:product"]
    );
    let ids = data.label_ids();
    assert_eq!(ids[0], Some(0));
    assert_eq!(ids[5], None);
}

#[test]
fn custom_label_map_rejects_labels_outside_it() {
    let opts = ReadOptions {
        labels: LabelSource::Map(LabelMap::new(vec!["no_relation".into(), "org:product".into()]).unwrap()),
        ..Default::default()
    };
    let err = read_records(&fixture("klue.json"), &opts).unwrap_err().to_string();
    assert!(err.contains("klue.json") && err.contains("id=fx-2") && err.contains("per:product"), "{err}");
    assert!(err.contains("--infer-labels"), "{err}");
}

#[test]
fn fix_offsets_relocates_a_unique_word() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shifted.jsonl");
    let mut records = expected();
    records[0].subject.start += 1;
    records[0].subject.end += 1;
    io::jsonl::write(&path, &records).unwrap();
    let err = read_records(&path, &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("id=fx-0") && err.contains("\"비틀즈\"") && err.contains("\"틀즈가\""), "{err}");
    let fix = ReadOptions { validation: Validation { fix_offsets: true, ..Default::default() }, ..Default::default() };
    let fixed = read_records(&path, &fix).unwrap();
    assert_eq!(fixed.records[0], expected()[0]);
    // fx-7's subject word occurs twice: not fixable
    let mut records = expected();
    records[7].subject.start = 3;
    records[7].subject.end = 5;
    io::jsonl::write(&path, &records).unwrap();
    let err = read_records(&path, &fix).unwrap_err().to_string();
    assert!(err.contains("id=fx-7") && err.contains("not fixable"), "{err}");
}

#[test]
fn declared_entity_types_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("types.jsonl");
    let mut records = expected();
    records[2].object.entity_type = "WORK".into();
    io::jsonl::write(&path, &records).unwrap();
    let err = read_records(&path, &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("id=fx-2") && err.contains("WORK"), "{err}");
    let opts = ReadOptions {
        validation: Validation { extra_types: vec!["WORK".into()], ..Default::default() },
        ..Default::default()
    };
    assert_eq!(read_records(&path, &opts).unwrap().records[2].object.entity_type.as_str(), "WORK");
}

#[test]
fn explicit_format_overrides_detection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.txt");
    std::fs::copy(fixture("competition.csv"), &path).unwrap();
    let data = read_records_as(&path, Format::CompetitionCsv, &ReadOptions::default()).unwrap();
    assert_eq!(data.records, expected());
    assert_eq!(Format::parse("klue-json").unwrap(), Format::KlueJson);
    assert_eq!(Format::parse("KAIST").unwrap(), Format::KaistGold);
    assert!(Format::parse("xml").is_err());
}

#[test]
fn repeated_ids_are_listed_and_refused_on_request_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = expected();
    assert!(records.len() >= 4);
    records[2].id = records[0].id.clone();
    records[3].id = records[0].id.clone();
    let path = dir.path().join("dup.jsonl");
    write_records(&path, Format::Jsonl, &records, &LabelMap::klue()).unwrap();
    // Reading still works (train and eda only warn).
    let data = read_records(&path, &ReadOptions::default()).unwrap();
    assert_eq!(data.duplicate_ids(), [(records[0].id.as_str(), 3)]);
    let err = data.require_unique_ids("ids must be unique here").unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains(&format!("id={} occurs 3 times", records[0].id)), "{err}");
    data.require_records().unwrap();

    let unique = read_records(&fixture("records.jsonl"), &ReadOptions::default()).unwrap();
    assert!(unique.duplicate_ids().is_empty());
    unique.require_unique_ids("x").unwrap();
}

#[test]
fn a_file_without_records_is_refused_on_request_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.json");
    std::fs::write(&path, "[]").unwrap();
    let data = read_records(&path, &ReadOptions::default()).unwrap();
    let err = data.require_records().unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()) && err.contains("no records"), "{err}");
}

#[test]
fn encoding_errors_name_the_record_and_in_file_adds_the_file() {
    let mut record = expected().remove(0);
    record.object = record.subject.clone(); // subject and object now overlap
    let err = re_data::markers::mark(&record, &re_data::markers::MarkerScheme::Typed).unwrap_err();
    assert!(err.to_string().starts_with(&format!("record {}:", record.id)), "{err}");
    let err = err.in_file("data/test.json").to_string();
    assert!(err.starts_with(&format!("data/test.json: record id={}:", record.id)) && err.contains("overlap"), "{err}");
}
