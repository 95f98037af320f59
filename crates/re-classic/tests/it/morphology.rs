//! MeCab morphology on real sentences: tags, offsets, long input, Latin/Hanja, empty input, threads.
use crate::common::{mecab, read_kaist};
use re_classic::mecab::Mecab;
use re_classic::morph::{Morpheme, Morphology};

fn pairs(ms: &[Morpheme]) -> Vec<(&str, &str)> {
    ms.iter().map(|m| (m.surface.as_str(), m.tag.as_str())).collect()
}

/// Offsets select the surface, morphemes are ordered and disjoint, and (whitespace aside) they cover the text.
fn check_invariants(text: &str, ms: &[Morpheme]) {
    let chars: Vec<char> = text.chars().collect();
    let mut last_end = 0;
    for m in ms {
        assert_eq!(&text[m.byte_range()], m.surface, "byte offsets of {m:?}");
        assert_eq!(chars[m.start..m.end].iter().collect::<String>(), m.surface, "char offsets of {m:?}");
        assert!(m.byte_start >= last_end, "overlap at {m:?}");
        assert!(text[last_end..m.byte_start].chars().all(char::is_whitespace), "gap before {m:?} is not whitespace");
        last_end = m.byte_end;
        assert!(!m.tag.is_empty());
    }
    assert!(text[last_end..].chars().all(char::is_whitespace));
}

#[test]
fn tags_and_offsets_of_a_competition_sentence() {
    let m = mecab();
    let text = "삼성전자와 애플은 스마트폰 시장에서 경쟁한다.";
    let ms = m.analyze(text).unwrap();
    assert_eq!(
        pairs(&ms),
        [
            ("삼성전자", "NNP"),
            ("와", "JC"),
            ("애플", "NNP"),
            ("은", "JX"),
            ("스마트폰", "NNP"),
            ("시장", "NNG"),
            ("에서", "JKB"),
            ("경쟁", "NNG"),
            ("한다", "XSV+EF"),
            (".", "SF")
        ]
    );
    // 애플 starts after "삼성전자와 " (6 characters, 16 bytes).
    assert_eq!((ms[2].start, ms[2].end, ms[2].byte_start, ms[2].byte_end), (6, 8, 16, 22));
    check_invariants(text, &ms);
}

#[test]
fn every_kaist_gold_sentence_is_analysed_consistently() {
    let m = mecab();
    let records = read_kaist();
    assert_eq!(records.len(), 295);
    let mut n = 0;
    for r in &records {
        let ms = m.analyze(&r.sentence).unwrap_or_else(|e| panic!("{}: {e}", r.id));
        check_invariants(&r.sentence, &ms);
        n += ms.len();
    }
    assert!(n > 295 * 10, "{n} morphemes");
}

#[test]
fn latin_hanja_digits_and_whitespace() {
    let m = mecab();
    let text = "  Apple은\t三星電子와 競爭한다 2024년 vs 구글  ";
    let ms = m.analyze(text).unwrap();
    check_invariants(text, &ms);
    let p = pairs(&ms);
    assert!(p.contains(&("Apple", "SL")), "{p:?}");
    assert!(p.contains(&("三星電子", "SH")), "{p:?}");
    assert!(p.contains(&("2024", "SN")), "{p:?}");
    assert!(p.contains(&("vs", "SL")), "{p:?}");
    let apple = &ms[0];
    assert_eq!((apple.start, apple.byte_start), (2, 2));
}

#[test]
fn empty_and_blank_input() {
    let m = mecab();
    assert!(m.analyze("").unwrap().is_empty());
    assert!(m.analyze(" \t\n").unwrap().is_empty());
    // A NUL byte does not cut the sentence short.
    let ms = m.analyze("경쟁\0애플").unwrap();
    assert_eq!(ms.last().map(|x| x.surface.as_str()), Some("애플"));
}

#[test]
fn long_sentence() {
    let m = mecab();
    let unit = "삼성전자와 애플은 스마트폰 시장에서 치열하게 경쟁하고 있으며, ";
    let text = unit.repeat(300); // ~10,000 characters
    let ms = m.analyze(&text).unwrap();
    check_invariants(&text, &ms);
    assert_eq!(ms.iter().filter(|x| x.surface == "애플").count(), 300);
    assert_eq!(ms.last().unwrap().end, text.trim_end().chars().count());
}

#[test]
fn missing_dictionary_says_how_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let err = Mecab::with_dicdir(dir.path()).err().expect("no dictionary here").to_string();
    assert!(err.contains("install-mecab-ko.sh") && err.contains("sys.dic"), "{err}");
}

#[test]
fn shared_handle_and_new_instances_work_from_threads() {
    let m = mecab();
    let text = "삼성전자와 애플은 스마트폰 시장에서 경쟁한다.";
    let expected = m.analyze(text).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    assert_eq!(m.analyze(text).unwrap(), expected);
                }
            });
            let own = m.new_instance().unwrap();
            let expected = &expected;
            s.spawn(move || assert_eq!(&own.analyze(text).unwrap(), expected));
        }
    });
}
