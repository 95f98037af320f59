//! Request and answer bodies. `/v1/predict` takes the records of KLUE JSON files, parsed by re-data's KLUE record
//! parser ([`re_data::io::klue_json::parse_record`]), so a record that works in a file works in a request;
//! `/v1/extract` takes the input lines of `kre extract`, parsed by [`re_extract::parse_line`].
use std::path::Path;

use re_data::labels::LabelMap;
use re_data::record::{RelationRecord, Validation};
use re_extract::{parse_line, ExtractError, ExtractOptions, InputFormat, Sentence, Threshold, Triple};
use serde::Serialize;

use crate::error::ServeError;

/// What errors call the request in messages (where a file reader would name the file).
pub const BODY: &str = "request body";

/// One record's answer.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Prediction {
    pub id: String,
    pub label: String,
    /// Probabilities in the model's label order (`GET /healthz` lists the labels).
    pub probs: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct PredictResponse {
    pub predictions: Vec<Prediction>,
}

/// A JSON body, or 400 naming the line and column where it stops being JSON.
pub fn parse_json(body: &[u8]) -> Result<serde_json::Value, ServeError> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_eof() { "truncated JSON" } else { "malformed JSON" };
        ServeError::BadRequest(format!("{BODY}: {what} at line {} column {}: {e}", e.line(), e.column()))
    })
}

/// The records of a `/v1/predict` body: `{"records": [...]}` or a bare array of KLUE records. Labels in the
/// records are ignored. Errors name the field and the record (1-based position and id): 400 for malformed or
/// invalid records, 422 for a sentence longer than `max_sentence_chars`.
pub fn parse_predict_body(body: &[u8], max_sentence_chars: usize) -> Result<Vec<RelationRecord>, ServeError> {
    let items = match parse_json(body)? {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut map) => match map.remove("records") {
            Some(serde_json::Value::Array(items)) => items,
            Some(other) => {
                return Err(ServeError::BadRequest(format!(
                    "{BODY}: field `records` must be an array of records, got {}",
                    json_kind(&other)
                )))
            }
            None => {
                return Err(ServeError::BadRequest(format!(
                    "{BODY}: missing field `records` (send {{\"records\": [...]}} or a bare array of records)"
                )))
            }
        },
        other => {
            return Err(ServeError::BadRequest(format!(
                "{BODY}: expected {{\"records\": [...]}} or an array of records, got {}",
                json_kind(&other)
            )))
        }
    };
    let labels = LabelMap::klue();
    let rules = Validation::default();
    let mut records = Vec::with_capacity(items.len());
    for (index, mut item) in items.into_iter().enumerate() {
        // The label (if any) is not needed, and an unknown one must not refuse the record.
        if let Some(map) = item.as_object_mut() {
            map.remove("label");
        }
        let mut record = re_data::io::klue_json::parse_record(item, index, Path::new(BODY), &labels)
            .map_err(|e| ServeError::BadRequest(e.to_string()))?;
        check_sentence_length(&record.sentence, max_sentence_chars)
            .map_err(|m| ServeError::Unprocessable(format!("{BODY}: record {} (id={}): {m}", index + 1, record.id)))?;
        record
            .validate(&rules)
            .map_err(|m| ServeError::BadRequest(format!("{BODY}: record {} (id={}): {m}", index + 1, record.id)))?;
        records.push(record);
    }
    Ok(records)
}

/// A sentence over the limit, as a message.
pub fn check_sentence_length(sentence: &str, max_chars: usize) -> Result<(), String> {
    let n = sentence.chars().count();
    if n > max_chars {
        return Err(format!("sentence has {n} characters; this server accepts at most {max_chars}"));
    }
    Ok(())
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Answers in input order: `probs` is row-major `[ids.len(), labels.len()]`.
pub fn predictions(ids: Vec<String>, probs: &[f64], labels: &[String]) -> PredictResponse {
    let n = labels.len().max(1);
    let predictions = ids
        .into_iter()
        .zip(probs.chunks(n))
        .map(|(id, row)| {
            // the first maximum, as `Predictions::label_index` (and so `kre predict`) picks it
            let mut best = 0;
            for (j, &p) in row.iter().enumerate() {
                if p > row[best] {
                    best = j;
                }
            }
            Prediction { id, label: labels.get(best).cloned().unwrap_or_default(), probs: row.to_vec() }
        })
        .collect();
    PredictResponse { predictions }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"guid": "r1", "sentence": "이순신은 조선의 장군이다.",
        "subject_entity": {"word": "이순신", "start_idx": 0, "end_idx": 2, "type": "PER"},
        "object_entity": {"word": "조선", "start_idx": 5, "end_idx": 6, "type": "ORG"}, "label": "whatever"}"#;

    fn err(body: &str) -> ServeError {
        parse_predict_body(body.as_bytes(), 100).unwrap_err()
    }

    #[test]
    fn both_body_shapes_parse_and_labels_are_ignored() {
        let a = parse_predict_body(format!("[{GOOD}]").as_bytes(), 100).unwrap();
        let b = parse_predict_body(format!("{{\"records\": [{GOOD}, {GOOD}]}}").as_bytes(), 100).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(b.len(), 2);
        assert_eq!(a[0].id, "r1");
        assert_eq!(a[0].subject.word, "이순신");
        assert_eq!(a[0].label, None);
    }

    #[test]
    fn errors_name_the_field_and_the_record() {
        let missing = GOOD.replace(r#""start_idx": 5, "#, "");
        let m = err(&format!("[{GOOD}, {missing}]")).to_string();
        assert!(m.contains("record 2") && m.contains("object_entity") && m.contains("start_idx"), "{m}");
        let m = err(&format!("[{}]", GOOD.replace(r#""end_idx": 2"#, r#""end_idx": 3"#))).to_string();
        assert!(m.contains("record 1 (id=r1)") && m.contains("subject entity offsets"), "{m}");
        let m = err(&format!("[{}]", GOOD.replace("\"PER\"", "\"XYZ\""))).to_string();
        assert!(m.contains("unknown type"), "{m}");
        let m = err(&format!("[{}]", GOOD.replace(r#""sentence": "이순신은 조선의 장군이다.","#, ""))).to_string();
        assert!(m.contains("record 1 (guid=r1)") && m.contains("sentence"), "{m}");
        assert!(matches!(err(&format!("[{GOOD}")), ServeError::BadRequest(m) if m.contains("truncated JSON")));
        assert!(matches!(err("{\"recs\": []}"), ServeError::BadRequest(m) if m.contains("missing field `records`")));
        assert!(matches!(err("{\"records\": 3}"), ServeError::BadRequest(m) if m.contains("a number")));
        assert!(matches!(err("[1]"), ServeError::BadRequest(m) if m.contains("record 1")));
        assert!(matches!(err("\"x\""), ServeError::BadRequest(_)));
    }

    #[test]
    fn a_long_sentence_is_unprocessable() {
        let long = GOOD.replace("장군이다.", &"가".repeat(200));
        assert!(matches!(err(&format!("[{long}]")), ServeError::Unprocessable(m) if m.contains("at most 100")));
    }

    #[test]
    fn nasty_bodies_are_refused_without_panicking() {
        for body in [
            "",
            "\u{0}",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]",
            "[{\"guid\": 1, \"sentence\": \"가\", \"subject_entity\": {\"word\": \"가\", \"start_idx\": 0, \"end_idx\": 99999999999, \"type\": \"PER\"}, \"object_entity\": {\"word\": \"가\", \"start_idx\": 0, \"end_idx\": 0, \"type\": \"PER\"}}]",
            "[{\"guid\": 1, \"sentence\": \"가\", \"subject_entity\": {\"word\": \"가\", \"start_idx\": -1, \"end_idx\": 0, \"type\": \"PER\"}, \"object_entity\": null}]",
            "[{\"guid\": null, \"sentence\": \"\", \"subject_entity\": {\"word\": \"\", \"start_idx\": 5, \"end_idx\": 1, \"type\": \"PER\"}, \"object_entity\": {\"word\": \"\", \"start_idx\": 0, \"end_idx\": 0, \"type\": \"PER\"}}]",
        ] {
            assert!(parse_predict_body(body.as_bytes(), 100).is_err(), "{body:?}");
        }
        assert!(parse_predict_body(&[0xff, 0xfe, b'['], 100).is_err());
    }

    fn labels() -> Vec<String> {
        ["no_relation", "per:employee_of"].map(String::from).to_vec()
    }

    #[test]
    fn extract_bodies_parse_like_kre_extract_lines() {
        let body = r#"{"texts": ["[[이순신|PER]]은 [[조선|ORG]]의 장군이다.",
            {"id": "a", "text": "홍길동은 한국 사람이다.", "entities": [{"word": "홍길동", "start": 0, "end": 2, "type": "PER"},
             {"word": "한국", "start": 5, "end": 6, "type": "LOC"}]}],
            "threshold": 0.3, "top_k": 2}"#;
        let (sentences, options) = parse_extract_body(body.as_bytes(), 100, &labels()).unwrap();
        assert_eq!(sentences.len(), 2);
        assert_eq!(sentences[0].sentence_id, "1");
        assert_eq!(sentences[0].entities.as_ref().unwrap()[1].word, "조선");
        assert_eq!(sentences[1].sentence_id, "a");
        assert_eq!(options.threshold, Threshold::Global(0.3));
        assert_eq!(options.top_k, Some(2));
        let (s, o) = parse_extract_body(r#"["한 문장.", "두 문장."]"#.as_bytes(), 100, &labels()).unwrap();
        assert_eq!((s.len(), o.include_no_relation), (2, false));
        let (s, _) =
            parse_extract_body(r#"{"text": "첫 문장이다. 둘째 문장이다."}"#.as_bytes(), 100, &labels()).unwrap();
        assert_eq!(s.len(), 2, "{s:?}");
    }

    #[test]
    fn extract_errors_name_the_field() {
        let e = |b: &str| parse_extract_body(b.as_bytes(), 10, &labels()).unwrap_err();
        assert!(matches!(e(r#"{"texts": [3]}"#), ServeError::BadRequest(m) if m.contains("texts[0]")));
        assert!(matches!(e(r#"{"txt": "a"}"#), ServeError::BadRequest(m) if m.contains("txt")));
        assert!(matches!(e(r#"{"texts": []}"#), ServeError::BadRequest(m) if m.contains("no texts")));
        assert!(matches!(e(r#"{"texts": ["a"], "threshold": 2}"#), ServeError::BadRequest(m) if m.contains("outside")));
        assert!(
            matches!(e(r#"{"texts": ["a"], "threshold": {"x": 0.5}}"#), ServeError::BadRequest(m) if m.contains("unknown relation"))
        );
        assert!(matches!(e(r#"{"texts": ["a"], "format": "xml"}"#), ServeError::BadRequest(m) if m.contains("format")));
        assert!(
            matches!(e(r#"{"texts": ["a", {"text": "b", "entities": [{"word": "b"}]}]}"#), ServeError::BadRequest(m) if m.contains("texts[1]"))
        );
        assert!(
            matches!(e(r#"{"texts": ["가나다라마바사아자차카타"]}"#), ServeError::Unprocessable(m) if m.contains("at most 10"))
        );
    }

    #[test]
    fn the_first_maximum_is_the_label() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let r = predictions(vec!["x".into(), "y".into()], &[0.5, 0.5, 0.2, 0.8], &labels);
        assert_eq!(r.predictions[0].label, "a");
        assert_eq!(r.predictions[1].label, "b");
        assert_eq!(r.predictions[1].probs, vec![0.2, 0.8]);
    }
}

/// A `/v1/extract` body: `{"texts": [...]}` (or `"text": "..."`, or a bare array of texts) with the options of
/// `kre extract`. Each text is one input line as `kre extract` reads it: plain text (a paragraph is split into
/// sentences), inline markup (`[[삼성전자|ORG]]`), or a JSON object (`text`, optional `id` and `entities`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtractBody {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    texts: Option<Vec<serde_json::Value>>,
    /// auto (default), text, markup or jsonl.
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    threshold: Option<Threshold>,
    #[serde(default)]
    top_k: Option<usize>,
    #[serde(default)]
    include_no_relation: Option<bool>,
}

/// Triples of a `/v1/extract` request, in the order of its texts (as `kre extract` writes them).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ExtractResponse {
    pub triples: Vec<Triple>,
}

/// The sentences and options of a `/v1/extract` body. Errors name the field (`texts[2]`, `threshold`, …): 400;
/// a sentence over `max_sentence_chars`: 422. Options are checked against the model's `labels`.
pub fn parse_extract_body(
    body: &[u8],
    max_sentence_chars: usize,
    labels: &[String],
) -> Result<(Vec<Sentence>, ExtractOptions), ServeError> {
    let bad = |m: String| ServeError::BadRequest(format!("{BODY}: {m}"));
    let parsed: ExtractBody = match parse_json(body)? {
        serde_json::Value::Array(texts) => ExtractBody { texts: Some(texts), ..ExtractBody::default() },
        v @ serde_json::Value::Object(_) => serde_json::from_value(v).map_err(|e| bad(e.to_string()))?,
        other => {
            return Err(bad(format!("expected {{\"texts\": [...]}} or an array of texts, got {}", json_kind(&other))))
        }
    };
    let format: InputFormat = match &parsed.format {
        Some(f) => f.parse().map_err(|e: String| bad(format!("field `format`: {e}")))?,
        None => InputFormat::Auto,
    };
    let mut inputs: Vec<serde_json::Value> = Vec::new();
    inputs.extend(parsed.text.map(serde_json::Value::String));
    inputs.extend(parsed.texts.unwrap_or_default());
    if inputs.is_empty() {
        return Err(bad("no texts (send {\"texts\": [\"…\"]} or {\"text\": \"…\"})".into()));
    }
    let mut sentences = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let (line, line_format) = match input {
            serde_json::Value::String(s) => (s, format),
            v @ serde_json::Value::Object(_) => (v.to_string(), InputFormat::Jsonl),
            other => return Err(bad(format!("texts[{i}]: expected a string or an object, got {}", json_kind(&other)))),
        };
        if line.contains('\n') {
            return Err(bad(format!("texts[{i}]: one text per item (no line breaks)")));
        }
        let parsed = parse_line(&line, i + 1, line_format).map_err(|e| match e {
            ExtractError::Input { field, message, .. } => {
                bad(format!("texts[{i}]{}: {message}", field.map(|f| format!(", field `{f}`")).unwrap_or_default()))
            }
            other => bad(format!("texts[{i}]: {other}")),
        })?;
        for s in &parsed {
            check_sentence_length(&s.text, max_sentence_chars).map_err(|m| {
                ServeError::Unprocessable(format!("{BODY}: texts[{i}] (sentence {}): {m}", s.sentence_id))
            })?;
        }
        sentences.extend(parsed);
    }
    let options = ExtractOptions {
        threshold: parsed.threshold.unwrap_or_default(),
        top_k: parsed.top_k,
        include_no_relation: parsed.include_no_relation.unwrap_or(false),
    };
    options.check(labels).map_err(|e| bad(e.to_string()))?;
    Ok((sentences, options))
}
