//! KLUE official JSON: an array of
//! `{"guid", "sentence", "subject_entity": {"word", "start_idx", "end_idx", "type"}, "object_entity": {…}, "label", "source"}`.
//!
//! Reading: `label` may be a string, an integer in the active map's order (KLUE by default; `100`/`-1` = unlabeled),
//! `null` or absent (unlabeled). `guid` may also be spelled `id`; `source` is optional.
//! Writing: labels are written as **strings** (unambiguous whatever the label order); unlabeled records get no
//! `label` key. Output is pretty-printed UTF-8 (Korean is not `\u`-escaped).
use crate::error::{DataError, Result};
use crate::fsutil::write_atomic_with;
use crate::io::{decode_int_label, read_text};
use crate::labels::LabelMap;
use crate::record::{Entity, RelationRecord};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One entity as KLUE writes it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KlueEntity {
    pub word: String,
    pub start_idx: usize,
    pub end_idx: usize,
    #[serde(rename = "type")]
    pub entity_type: String,
}

impl From<KlueEntity> for Entity {
    fn from(e: KlueEntity) -> Self {
        Entity::new(e.word, e.start_idx, e.end_idx, e.entity_type)
    }
}

impl From<&Entity> for KlueEntity {
    fn from(e: &Entity) -> Self {
        KlueEntity { word: e.word.clone(), start_idx: e.start, end_idx: e.end, entity_type: e.entity_type.to_string() }
    }
}

#[derive(Debug, Deserialize)]
struct KlueRecordIn {
    #[serde(alias = "id")]
    guid: serde_json::Value,
    sentence: String,
    subject_entity: KlueEntity,
    object_entity: KlueEntity,
    #[serde(default)]
    label: serde_json::Value,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Serialize)]
struct KlueRecordOut<'a> {
    guid: &'a str,
    sentence: &'a str,
    subject_entity: KlueEntity,
    object_entity: KlueEntity,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
}

/// Parse KLUE JSON; integer labels are decoded with `numeric_labels`.
pub fn read(path: &Path, numeric_labels: &LabelMap) -> Result<Vec<RelationRecord>> {
    let text = read_text(path)?;
    parse_str(&text, path, numeric_labels)
}

/// Parse KLUE JSON text; `path` names the source in errors.
pub fn parse_str(text: &str, path: &Path, numeric_labels: &LabelMap) -> Result<Vec<RelationRecord>> {
    let items: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() { "truncated JSON" } else { "invalid JSON (expected an array of records)" };
        DataError::parse(path, format!("line {} column {}", e.line(), e.column()), format!("{what}: {e}"))
    })?;
    items.into_iter().enumerate().map(|(index, item)| parse_record(item, index, path, numeric_labels)).collect()
}

/// One KLUE record from its JSON value: `index` (0-based) is its position in the array and `source` names where it
/// came from (a file, or e.g. `request body` for `kre serve`), both used in errors. The error names the field
/// (`subject_entity.start_idx`, …) and the record (position and guid). The record is not validated.
pub fn parse_record(
    item: serde_json::Value,
    index: usize,
    source: &Path,
    numeric_labels: &LabelMap,
) -> Result<RelationRecord> {
    // name the record by its guid when it has one, else by its position in the array
    let guid_hint = item.get("guid").or_else(|| item.get("id")).map(json_id_string);
    let locate = |guid: &Option<String>| match guid {
        Some(g) => format!("record {} (guid={g})", index + 1),
        None => format!("record {}", index + 1),
    };
    if !item.is_object() {
        return Err(DataError::parse(source, locate(&guid_hint), format!("expected a JSON object, got {item}")));
    }
    // serde names a missing or mistyped field of an entity without saying which entity: check those first.
    for key in ["subject_entity", "object_entity"] {
        if let Some(entity) = item.get(key) {
            if let Err(e) = KlueEntity::deserialize(entity) {
                return Err(DataError::parse(source, locate(&guid_hint), format!("{key}: {e}")));
            }
        }
    }
    let raw: KlueRecordIn =
        serde_json::from_value(item).map_err(|e| DataError::parse(source, locate(&guid_hint), e.to_string()))?;
    let path = source;
    let id = json_id_string(&raw.guid);
    let label = match &raw.label {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => decode_int_label(i, numeric_labels)
                .map_err(|msg| DataError::invalid_record(path, format!("id={id}"), msg))?,
            None => {
                return Err(DataError::invalid_record(path, format!("id={id}"), format!("label {n} is not an integer")))
            }
        },
        other => {
            return Err(DataError::invalid_record(
                path,
                format!("id={id}"),
                format!("label must be a string or an integer, got {other}"),
            ))
        }
    };
    Ok(RelationRecord {
        id,
        sentence: raw.sentence,
        subject: raw.subject_entity.into(),
        object: raw.object_entity.into(),
        label,
        source: raw.source,
    })
}

fn json_id_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Serialize records as KLUE JSON (string labels).
pub fn to_string(records: &[RelationRecord]) -> String {
    let out: Vec<KlueRecordOut> = records.iter().map(to_out).collect();
    // plain strings and integers only: serialization cannot fail
    serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
}

fn to_out(r: &RelationRecord) -> KlueRecordOut<'_> {
    KlueRecordOut {
        guid: &r.id,
        sentence: &r.sentence,
        subject_entity: (&r.subject).into(),
        object_entity: (&r.object).into(),
        label: r.label.as_deref(),
        source: r.source.as_deref(),
    }
}

/// Write KLUE JSON atomically.
pub fn write(path: &Path, records: &[RelationRecord]) -> Result<()> {
    write_atomic_with(path, |w| {
        let out: Vec<KlueRecordOut> = records.iter().map(to_out).collect();
        serde_json::to_writer_pretty(&mut *w, &out).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"[{"guid": "g1", "sentence": "가나다", "subject_entity": {"word": "가", "start_idx": 0, "end_idx": 0, "type": "PER"},
        "object_entity": {"word": "다", "start_idx": 2, "end_idx": 2, "type": "ORG"}, "label": 2, "source": "wikipedia"}]"#;

    #[test]
    fn integer_labels_use_the_klue_order() {
        let r = parse_str(ONE, Path::new("x.json"), &LabelMap::klue()).unwrap();
        assert_eq!(r[0].label.as_deref(), Some("org:founded"));
        assert_eq!(r[0].subject.entity_type.as_str(), "PER");
        let back = parse_str(&to_string(&r), Path::new("y.json"), &LabelMap::klue()).unwrap();
        assert_eq!(back, r);
        assert!(to_string(&r).contains("\"label\": \"org:founded\""));
    }

    #[test]
    fn missing_field_names_the_record() {
        let text = r#"[{"guid": "g7", "sentence": "가", "subject_entity": {"word": "가", "start_idx": 0, "end_idx": 0, "type": "PER"}}]"#;
        let err = parse_str(text, Path::new("x.json"), &LabelMap::klue()).unwrap_err().to_string();
        assert!(err.contains("x.json") && err.contains("guid=g7") && err.contains("object_entity"), "{err}");
    }

    #[test]
    fn out_of_range_integer_label_is_an_error() {
        let text = ONE.replace("\"label\": 2", "\"label\": 57");
        let err = parse_str(&text, Path::new("x.json"), &LabelMap::klue()).unwrap_err().to_string();
        assert!(err.contains("id=g1") && err.contains("57"), "{err}");
    }
}
