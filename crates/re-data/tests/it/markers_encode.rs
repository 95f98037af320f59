//! Entity markers and encoding against real WordPiece tokenizers and Python `tokenizers` reference outputs.
//!
//! Fixtures (`tests/fixtures/encode/`) come from `tools/make_encode_fixtures.py`: a small Korean WordPiece
//! tokenizer trained there, hand-written records, and for every record × scheme × tokenizer the marked text, ids and
//! character offsets that Python `tokenizers` produced. The second tokenizer is all-MiniLM-L6-v2's
//! (`$KRE_CACHE/all-minilm-l6-v2/tokenizer.json`, bert-base-uncased vocabulary: it lower-cases and NFD-decomposes
//! Hangul into jamo, so Korean words become jamo pieces or `[UNK]`).
use re_data::encode::{truncated_ids, EncodedBatch, EncodedExample, RecordTokenizer};
use re_data::markers::{mark, MarkerScheme};
use re_data::{Entity, EntityType, RelationRecord};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/encode")
}

fn korean_tokenizer_path() -> PathBuf {
    fixtures().join("korean-wordpiece.json")
}

fn minilm_tokenizer_path() -> PathBuf {
    crate::minilm_weights::minilm_dir().join("tokenizer.json")
}

fn tokenizer_path(name: &str) -> PathBuf {
    match name {
        "korean-wordpiece" => korean_tokenizer_path(),
        "all-minilm-l6-v2" => minilm_tokenizer_path(),
        other => panic!("unknown tokenizer {other} in reference.json"),
    }
}

#[derive(Deserialize)]
struct KlueEntity {
    word: String,
    start_idx: usize,
    end_idx: usize,
    #[serde(rename = "type")]
    entity_type: String,
}

#[derive(Deserialize)]
struct KlueRecord {
    guid: String,
    sentence: String,
    subject_entity: KlueEntity,
    object_entity: KlueEntity,
    label: String,
}

fn records() -> Vec<RelationRecord> {
    let text = std::fs::read_to_string(fixtures().join("records.json")).unwrap();
    let rows: Vec<KlueRecord> = serde_json::from_str(&text).unwrap();
    let entity = |e: KlueEntity| Entity::new(e.word, e.start_idx, e.end_idx, e.entity_type);
    rows.into_iter()
        .map(|r| RelationRecord {
            id: r.guid,
            sentence: r.sentence,
            subject: entity(r.subject_entity),
            object: entity(r.object_entity),
            label: Some(r.label),
            source: None,
        })
        .collect()
}

fn record(id: &str) -> RelationRecord {
    records().into_iter().find(|r| r.id == id).unwrap()
}

#[derive(Deserialize)]
struct Reference {
    tokenizers: Vec<ReferenceTokenizer>,
}

#[derive(Deserialize)]
struct ReferenceTokenizer {
    name: String,
    schemes: Vec<ReferenceScheme>,
}

#[derive(Deserialize)]
struct ReferenceScheme {
    scheme: String,
    n_added: usize,
    vocab_size: usize,
    marker_ids: BTreeMap<String, u32>,
    examples: Vec<ReferenceExample>,
}

#[derive(Deserialize)]
struct ReferenceExample {
    guid: String,
    text: String,
    ids: Vec<u32>,
    offsets: Vec<(usize, usize)>,
}

fn reference() -> Reference {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("reference.json")).unwrap()).unwrap()
}

fn encoder(tokenizer: &Path, scheme: &str, max_length: usize) -> (RecordTokenizer, usize) {
    RecordTokenizer::from_file(tokenizer, MarkerScheme::parse(scheme).unwrap(), max_length).unwrap()
}

fn decode(enc: &RecordTokenizer, ids: &[u32]) -> String {
    enc.tokenizer().decode(ids, false).unwrap()
}

/// The character span (in the marked text) covered by a token range, from Python's offsets.
fn char_cover(offsets: &[(usize, usize)], span: &std::ops::Range<usize>) -> (usize, usize) {
    let tokens = &offsets[span.clone()];
    (tokens.iter().map(|o| o.0).min().unwrap(), tokens.iter().map(|o| o.1).max().unwrap())
}

#[test]
fn marked_texts_are_exactly_as_written() {
    let cases: [(&str, &str, &str); 10] = [
        ("subject-after-object", "entity", "[E2] 조지 해리슨 [/E2]이 쓰고 [E1] 비틀즈 [/E1]가 불렀다."),
        ("adjacent-at-start", "none", "대한민국서울에서 국제 회의가 열렸다."),
        ("adjacent-at-start", "entity", "[E1] 대한민국 [/E1][E2] 서울 [/E2]에서 국제 회의가 열렸다."),
        ("adjacent-at-start", "typed", "[E1-LOC] 대한민국 [/E1-LOC][E2-LOC] 서울 [/E2-LOC]에서 국제 회의가 열렸다."),
        ("adjacent-at-start", "typed-punct:ko", "@ * 장소 * 대한민국 @# ^ 장소 ^ 서울 #에서 국제 회의가 열렸다."),
        ("adjacent-at-start", "mask", "[SUBJ-LOC][OBJ-LOC]에서 국제 회의가 열렸다."),
        (
            "start-and-end",
            "typed",
            "[E1-ORG] 한빛전자 [/E1-ORG]는 2001년에 설립되었고 대표는 [E2-PER] 박지훈 [/E2-PER]",
        ),
        (
            "four-byte-chars",
            "typed-punct:ko:object=&",
            "🎵 음악가 @ * 사람 * 베토벤 @은 & ^ 날짜 ^ 1770년 & 본에서 태어났다.",
        ),
        ("quantity", "mask", "[SUBJ-ORG]의 교수는 [OBJ-NOH]이 넘는다."),
        (
            "english",
            "typed-punct:en",
            "# ^ person ^ Bill Gates # founded @ * organization * Microsoft @ in Albuquerque in 1975.",
        ),
    ];
    for (id, scheme, expected) in cases {
        let marked = mark(&record(id), &MarkerScheme::parse(scheme).unwrap()).unwrap();
        assert_eq!(marked.text, expected, "{id} / {scheme}");
    }
}

#[test]
fn marked_texts_match_the_python_reference() {
    let records = records();
    for tokenizer in reference().tokenizers {
        for scheme in &tokenizer.schemes {
            let parsed = MarkerScheme::parse(&scheme.scheme).unwrap();
            for (record, expected) in records.iter().zip(&scheme.examples) {
                assert_eq!(record.id, expected.guid);
                assert_eq!(mark(record, &parsed).unwrap().text, expected.text, "{} / {}", record.id, scheme.scheme);
            }
        }
    }
}

#[test]
fn added_special_token_counts() {
    for path in [korean_tokenizer_path(), minilm_tokenizer_path()] {
        for (scheme, expected) in
            [("none", 0), ("entity", 4), ("typed", 28), ("typed-punct", 0), ("typed-punct:ko", 0), ("mask", 14)]
        {
            let (enc, added) = encoder(&path, scheme, 128);
            assert_eq!(added, expected, "{} / {scheme}", path.display());
            // Adding the same markers to a tokenizer that has them adds nothing.
            let (again, added_again) =
                RecordTokenizer::new(enc.tokenizer().clone(), MarkerScheme::parse(scheme).unwrap(), 128).unwrap();
            assert_eq!((added_again, again.vocab_size()), (0, enc.vocab_size()));
        }
    }
    let (enc, _) = encoder(&minilm_tokenizer_path(), "typed", 128);
    assert_eq!(enc.vocab_size(), 30522 + 28);
}

#[test]
fn token_ids_and_marker_ids_match_python() {
    let records = records();
    for tokenizer in reference().tokenizers {
        let path = tokenizer_path(&tokenizer.name);
        for scheme in &tokenizer.schemes {
            let (enc, added) = encoder(&path, &scheme.scheme, 512);
            let what = format!("{} / {}", tokenizer.name, scheme.scheme);
            assert_eq!(added, scheme.n_added, "{what}");
            assert_eq!(enc.vocab_size(), scheme.vocab_size, "{what}");
            for (marker, id) in &scheme.marker_ids {
                assert_eq!(enc.tokenizer().token_to_id(marker), Some(*id), "{what}: {marker}");
            }
            for (record, expected) in records.iter().zip(&scheme.examples) {
                let e = enc.encode(record, Some(7)).unwrap();
                assert_eq!(e.input_ids, expected.ids, "{what} / {}", record.id);
                assert_eq!(e.attention_mask, vec![1; e.len()]);
                assert_eq!(e.token_type_ids, vec![0; e.len()]);
                assert!(!e.entity_truncated);
                assert_eq!((e.id.as_str(), e.label), (record.id.as_str(), Some(7)));
            }
        }
    }
}

/// The marker token the scheme puts first for an entity.
fn expected_start_token(scheme: &str, role: &str, t: &EntityType) -> Option<String> {
    let n = if role == "subject" { 1 } else { 2 };
    match scheme {
        "entity" => Some(format!("[E{n}]")),
        "typed" => Some(format!("[E{n}-{t}]")),
        "mask" => Some(if role == "subject" { format!("[SUBJ-{t}]") } else { format!("[OBJ-{t}]") }),
        "typed-punct:en" | "typed-punct:ko" => Some(if role == "subject" { "@" } else { "#" }.to_string()),
        "typed-punct:ko:object=&" => Some(if role == "subject" { "@" } else { "&" }.to_string()),
        _ => None,
    }
}

#[test]
fn start_markers_and_spans_point_at_the_entities() {
    let records = records();
    for tokenizer in reference().tokenizers {
        let path = tokenizer_path(&tokenizer.name);
        for scheme in &tokenizer.schemes {
            let (enc, _) = encoder(&path, &scheme.scheme, 512);
            let parsed = MarkerScheme::parse(&scheme.scheme).unwrap();
            for (record, expected) in records.iter().zip(&scheme.examples) {
                let e = enc.encode(record, None).unwrap();
                let marked = mark(record, &parsed).unwrap();
                for (role, entity, start, span, word_chars) in [
                    ("subject", &record.subject, e.subject_start, &e.subject_span, &marked.subject_chars),
                    ("object", &record.object, e.object_start, &e.object_span, &marked.object_chars),
                ] {
                    let what = format!("{} / {} / {} / {role}", tokenizer.name, scheme.scheme, record.id);
                    assert!(!span.is_empty() && span.end < e.len(), "{what}: {span:?}");
                    match expected_start_token(&scheme.scheme, role, &entity.entity_type) {
                        Some(token) => {
                            assert_eq!(e.input_ids[start], enc.tokenizer().token_to_id(&token).unwrap(), "{what}")
                        }
                        None => assert_eq!(start, span.start, "{what}"),
                    }
                    if scheme.scheme == "mask" {
                        assert_eq!(span.clone(), start..start + 1, "{what}");
                        continue;
                    }
                    // Python's character offsets of the span tokens cover the word: exactly when markers delimit
                    // it, possibly more with `none` (a particle glued to the word shares its token).
                    let (lo, hi) = char_cover(&expected.offsets, span);
                    if scheme.scheme == "none" {
                        assert!(lo <= word_chars.start && word_chars.end <= hi, "{what}: {lo}..{hi} vs {word_chars:?}");
                        // … and the tokens just outside the span do not touch the word.
                        assert!(expected.offsets[span.start - 1].1 <= word_chars.start || span.start == 1, "{what}");
                        assert!(expected.offsets[span.end].0 >= word_chars.end || span.end + 1 == e.len(), "{what}");
                    } else {
                        assert_eq!((lo, hi), (word_chars.start, word_chars.end), "{what}");
                    }
                    // The span decodes to the word where the vocabulary spells it (the Korean tokenizer; MiniLM on
                    // English, lower-cased).
                    let decoded = decode(&enc, &e.input_ids[span.clone()]);
                    if tokenizer.name == "korean-wordpiece" && scheme.scheme != "none" {
                        assert_eq!(decoded, entity.word, "{what}");
                    } else if tokenizer.name == "all-minilm-l6-v2" && record.id == "english" {
                        assert_eq!(decoded, entity.word.to_lowercase(), "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn offsets_are_characters_like_python_not_bytes() {
    let reference = reference();
    for tokenizer in &reference.tokenizers {
        let (enc, _) = encoder(&tokenizer_path(&tokenizer.name), "typed-punct:ko", 512);
        let scheme = tokenizer.schemes.iter().find(|s| s.scheme == "typed-punct:ko").unwrap();
        for example in &scheme.examples {
            let chars = enc.tokenizer().encode_char_offsets(example.text.as_str(), true).unwrap();
            assert_eq!(chars.get_offsets(), example.offsets.as_slice(), "{} / {}", tokenizer.name, example.guid);
            if example.guid == "subject-after-object" {
                // `encode` reports bytes: for Hangul (3 bytes a character) they differ.
                let bytes = enc.tokenizer().encode(example.text.as_str(), true).unwrap();
                assert_ne!(bytes.get_offsets(), example.offsets.as_slice());
            }
        }
    }
}

#[test]
fn truncation_cuts_around_both_entities() {
    let record = record("long-entities-at-end");
    let max_length = 48;
    for tokenizer in reference().tokenizers {
        let path = tokenizer_path(&tokenizer.name);
        for scheme in &tokenizer.schemes {
            let what = format!("{} / {}", tokenizer.name, scheme.scheme);
            let full = &scheme.examples.iter().find(|x| x.guid == record.id).unwrap().ids;
            assert!(full.len() > 3 * max_length, "{what}: the fixture sentence must be long");
            let (enc, _) = encoder(&path, &scheme.scheme, max_length);
            let e = enc.encode(&record, None).unwrap();
            assert_eq!(e.len(), max_length, "{what}");
            assert!(!e.entity_truncated, "{what}");
            // [CLS] and [SEP] kept around a contiguous slice of the text's tokens.
            assert_eq!((e.input_ids[0], e.input_ids[max_length - 1]), (full[0], full[full.len() - 1]), "{what}");
            let content = &full[1..full.len() - 1];
            let kept = &e.input_ids[1..max_length - 1];
            let p = (0..=content.len() - kept.len()).find(|&p| &content[p..p + kept.len()] == kept);
            let p = p.unwrap_or_else(|| panic!("{what}: kept tokens are not a slice of the text"));
            // The slice holds both entity blocks (subject marker … object's closing marker; the subject comes
            // first here), with the spare tokens split evenly unless the text ends first.
            let (unlimited, _) = encoder(&path, &scheme.scheme, 4096);
            let f = unlimited.encode(&record, None).unwrap();
            let closing = if matches!(scheme.scheme.as_str(), "none" | "mask") { 0 } else { 1 };
            let needed = f.subject_start - 1..f.object_span.end + closing - 1;
            assert!(p <= needed.start && needed.end <= p + kept.len(), "{what}: {p} {needed:?}");
            let (left, right) = (needed.start - p, p + kept.len() - needed.end);
            assert!(left.abs_diff(right) <= 1 || p + kept.len() == content.len(), "{what}: {left} vs {right}");
            assert_eq!(e.subject_start, f.subject_start - p, "{what}");
            assert_eq!(e.object_span, f.object_span.start - p..f.object_span.end - p, "{what}");
            // Entities still located.
            if let Some(token) = expected_start_token(&scheme.scheme, "subject", &record.subject.entity_type) {
                assert_eq!(e.input_ids[e.subject_start], enc.tokenizer().token_to_id(&token).unwrap(), "{what}");
            }
            if tokenizer.name == "korean-wordpiece" && !matches!(scheme.scheme.as_str(), "none" | "mask") {
                assert_eq!(decode(&enc, &e.input_ids[e.subject_span.clone()]), record.subject.word, "{what}");
                assert_eq!(decode(&enc, &e.input_ids[e.object_span.clone()]), record.object.word, "{what}");
            }
        }
    }
}

#[test]
fn window_in_the_middle_spreads_evenly() {
    // Entities in the middle of a long sentence: the kept window is centred on them.
    let base = record("long-entities-at-end");
    let tail = "그리고 그 뒤로도 행사는 늦게까지 계속되었고 기자들은 질문을 이어 갔다.".repeat(4);
    let sentence = format!("{}{}", base.sentence, tail);
    let rec = RelationRecord { sentence, ..base };
    let (enc, _) = encoder(&korean_tokenizer_path(), "entity", 40);
    let e = enc.encode(&rec, None).unwrap();
    let (full, _) = encoder(&korean_tokenizer_path(), "entity", 4096);
    let f = full.encode(&rec, None).unwrap();
    assert!(!e.entity_truncated);
    // needed = [E1] … [/E2] block; window = needed ± spare/2, located by the subject marker's position.
    let needed = f.subject_start..f.object_span.end + 1;
    let spare = 38 - needed.len();
    let window_start = needed.start - spare / 2; // in full-encoding indices (content starts at 1)
    assert_eq!(&e.input_ids[1..39], &f.input_ids[window_start..window_start + 38]);
    assert_eq!(e.subject_start, f.subject_start - window_start + 1);
    assert_eq!(e.object_span, f.object_span.start - window_start + 1..f.object_span.end - window_start + 1);
}

#[test]
fn entities_that_cannot_both_fit_are_reported() {
    // Subject at the very start, object at the very end of a sentence much longer than max_length.
    let mut rec = record("long-entities-at-end");
    rec.id = "far-apart".into();
    rec.subject = Entity::new("한빛전자", 0, 3, "ORG");
    let (enc, _) = encoder(&korean_tokenizer_path(), "typed", 24);
    let e = enc.encode(&rec, None).unwrap();
    assert!(e.entity_truncated);
    assert_eq!(e.len(), 24);
    // The first entity is kept (window starts at its marker), the second is cut.
    assert_eq!(e.subject_start, 1);
    assert_eq!(enc.tokenizer().id_to_token(e.input_ids[1]).as_deref(), Some("[E1-ORG]"));
    assert_eq!(decode(&enc, &e.input_ids[e.subject_span.clone()]), "한빛전자");
    assert_eq!((e.object_start, e.object_span.clone()), (0, 0..0));
    let mut all = records();
    all.push(rec);
    let examples = enc.encode_all(&all, None).unwrap();
    assert_eq!(truncated_ids(&examples), ["far-apart"]);
}

#[test]
fn encode_all_is_deterministic_and_in_input_order() {
    let records: Vec<RelationRecord> = records().into_iter().cycle().take(64).collect();
    let labels: Vec<Option<usize>> = (0..records.len()).map(|i| (i % 3 != 0).then_some(i % 30)).collect();
    let (enc, _) = encoder(&minilm_tokenizer_path(), "typed", 128);
    let parallel = enc.encode_all(&records, Some(&labels)).unwrap();
    let sequential: Vec<EncodedExample> =
        records.iter().zip(&labels).map(|(r, l)| enc.encode(r, *l).unwrap()).collect();
    assert_eq!(parallel, sequential);
    assert_eq!(enc.encode_all(&records, Some(&labels)).unwrap(), parallel);
    assert!(enc.encode_all(&records, Some(&labels[1..])).is_err());
}

#[test]
fn encoder_is_shared_across_threads_cheaply() {
    let (enc, _) = encoder(&korean_tokenizer_path(), "entity", 64);
    let copy = enc.clone();
    assert!(std::ptr::eq(enc.tokenizer(), copy.tokenizer()), "clones share one tokenizer");
    let records = records();
    let expected = enc.encode(&records[0], None).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let enc = copy.clone();
                let record = &records[0];
                s.spawn(move || enc.encode(record, None).unwrap())
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), expected);
        }
    });
}

#[test]
fn collate_pads_real_examples_with_the_tokenizer_pad_id() {
    let (enc, _) = encoder(&minilm_tokenizer_path(), "entity", 128);
    assert_eq!(enc.pad_id(), enc.tokenizer().token_to_id("[PAD]").unwrap());
    let records = records();
    let labels: Vec<Option<usize>> = (0..records.len()).map(Some).collect();
    let examples = enc.encode_all(&records[..4], Some(&labels[..4])).unwrap();
    let refs: Vec<&EncodedExample> = examples.iter().collect();
    let batch = EncodedBatch::collate(&refs, enc.pad_id());
    let longest = examples.iter().map(|e| e.len()).max().unwrap();
    assert_eq!((batch.batch_size, batch.seq_len), (4, longest));
    for (row, e) in examples.iter().enumerate() {
        let ids = &batch.input_ids[row * longest..(row + 1) * longest];
        let mask = &batch.attention_mask[row * longest..(row + 1) * longest];
        for j in 0..longest {
            if j < e.len() {
                assert_eq!((ids[j], mask[j]), (e.input_ids[j] as i64, 1));
            } else {
                assert_eq!((ids[j], mask[j]), (0, 0));
            }
        }
        assert_eq!(batch.subject_start[row], e.subject_start as i64);
        assert_eq!(batch.object_span[row], (e.object_span.start as i64, e.object_span.end as i64));
    }
    assert_eq!(batch.labels, Some(vec![0, 1, 2, 3]));
    assert_eq!(batch.ids, ["subject-after-object", "adjacent-at-start", "start-and-end", "four-byte-chars"]);
}
