//! The KAIST gold reader on the real shared file (`../shared/data/kor-re-gold/agreement_content.tsv`, 295 rows).
use re_data::io::{read_records, Format, LabelSource, ReadOptions};
use re_data::labels::NO_RELATION;
use re_data::EntityType;
use std::path::PathBuf;

fn gold() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kor-re-gold/agreement_content.tsv");
    assert!(
        p.exists(),
        "{} is missing: the KAIST gold data lives in ../shared/data/kor-re-gold/ beside the checkout (see its README)",
        p.display()
    );
    p
}

fn infer() -> ReadOptions {
    ReadOptions { labels: LabelSource::Infer, ..Default::default() }
}

#[test]
fn all_rows_parse_and_validate() {
    let data = read_records(&gold(), &infer()).unwrap();
    assert_eq!(data.format, Format::KaistGold);
    assert_eq!(data.records.len(), 295);
    // answer counts (cut -f6 | sort | uniq -c): 161 yes, 134 no
    let no = data.records.iter().filter(|r| r.label.as_deref() == Some(NO_RELATION)).count();
    assert_eq!(no, 134);
    // 71 distinct relations among the yes rows, plus no_relation
    assert_eq!(data.labels.len(), 72);
    assert_eq!(data.labels.label(0), Some(NO_RELATION));
    for r in &data.records {
        // read_records validated every offset; check the invariants the reader promises on top
        assert_eq!(r.subject.entity_type, EntityType::Unk);
        assert_eq!(r.subject_text(), Some(r.subject.word.as_str()), "{}", r.id);
        assert_eq!(r.object_text(), Some(r.object.word.as_str()), "{}", r.id);
        assert!(!r.sentence.contains("[[") && !r.sentence.contains("]]") && !r.sentence.contains("  "), "{}", r.id);
        assert_eq!(r.sentence.trim(), r.sentence, "{}", r.id);
        assert_eq!(r.source.as_deref(), Some("kor-re-gold"));
    }
    let ids: std::collections::HashSet<_> = data.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 295, "ids come from the id column and are unique");
}

#[test]
fn first_row_by_hand() {
    // row 1: 판초_비야 / 멕시코_혁명 / battle /
    //   "치와와 주는  [[ _obj_ ]]  때에는 가장 중요한 역할을 한 곳으로,  [[ _sbj_ ]] 가 인솔하는 …" / battle369 / yes
    let data = read_records(&gold(), &infer()).unwrap();
    let r = &data.records[0];
    assert_eq!(r.id, "battle369");
    assert_eq!(
        r.sentence,
        "치와와 주는 멕시코 혁명 때에는 가장 중요한 역할을 한 곳으로, 판초 비야가 인솔하는 혁명군과 연방 정부군의 사이의 전쟁지였다."
    );
    // "치와와 주는 " = 7 characters, "멕시코 혁명" = 6
    assert_eq!((r.object.word.as_str(), r.object.start, r.object.end), ("멕시코 혁명", 7, 12));
    // 7 + 6 + " 때에는"(4) + " 가장"(3) + " 중요한"(4) + " 역할을"(4) + " 한"(2) + " 곳으로,"(5) + " "(1) = 36
    assert_eq!((r.subject.word.as_str(), r.subject.start, r.subject.end), ("판초 비야", 36, 40));
    assert_eq!(r.label.as_deref(), Some("battle"));
}

#[test]
fn leading_space_rows_are_trimmed() {
    // row 6 (keyPerson373) starts with a space in the file: " 미국 최초의 흑인  [[ 퍼스트_레이디 ]] …"
    let data = read_records(&gold(), &infer()).unwrap();
    let r = data.records.iter().find(|r| r.id == "keyPerson373").unwrap();
    assert!(r.sentence.starts_with("미국 최초의 흑인 퍼스트 레이디 미셸 오바마, 전 부통령 에런 버,"), "{}", r.sentence);
    assert_eq!(r.subject_text(), Some("아마존닷컴"));
    assert_eq!(r.object_text(), Some("제프 베조스"));
    assert_eq!(r.label.as_deref(), Some("keyPerson"));
}

#[test]
fn klue_label_map_gives_a_clear_error() {
    let err = read_records(&gold(), &ReadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("agreement_content.tsv") && err.contains("id=battle369"), "{err}");
    assert!(err.contains("\"battle\"") && err.contains("--infer-labels"), "{err}");
}
