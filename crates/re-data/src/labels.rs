//! Label maps: relation name ↔ class id.
//!
//! The default is the official KLUE-RE order (`relation_list.json` of KLUE, also the `ClassLabel` order of the
//! Hugging Face `klue`/`re` data set, whose parquet files store labels as these ids). The boostcamp competition
//! ships its own order in `dict_label_to_num.pkl`, available as [`LabelMap::competition`] and readable from the
//! pickle itself.
//!
//! File formats ([`LabelMap::load`] picks by extension):
//! - JSON (`.json`): either `{"labels": ["no_relation", ...]}` (position = id; this is what [`LabelMap::save_json`]
//!   writes), a label→id object `{"no_relation": 0, ...}`, or a bare array `["no_relation", ...]`.
//! - Python pickle (`.pkl`, `.pickle`): a dict label→id (`dict_label_to_num.pkl`) or id→label
//!   (`dict_num_to_label.pkl`); the direction is detected from the key types.
//!
//! Ids must be exactly `0..n` with no gaps or duplicates.
//!
//! ```
//! use re_data::labels::LabelMap;
//! let klue = LabelMap::klue();
//! assert_eq!(klue.len(), 30);
//! assert_eq!(klue.id("org:founded"), Some(2));
//! assert_eq!(klue.label(29), Some("per:title"));
//! let inferred = LabelMap::from_labels(["b", "no_relation", "a", "b"]);
//! assert_eq!(inferred.names(), ["no_relation", "a", "b"]);
//! ```
use crate::error::{DataError, Result};
use crate::fsutil::write_atomic;
use serde::ser::{SerializeMap, Serializer};
use serde_pickle::{DeOptions, HashableValue, SerOptions, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The label meaning "no relation between the two entities"; always id 0 in the KLUE, competition and inferred maps.
pub const NO_RELATION: &str = "no_relation";

/// The 30 KLUE-RE relations in the official order (KLUE `relation_list.json`; HF `klue`/`re` `ClassLabel`).
pub const KLUE_RE_LABELS: [&str; 30] = [
    "no_relation",
    "org:dissolved",
    "org:founded",
    "org:place_of_headquarters",
    "org:alternate_names",
    "org:member_of",
    "org:members",
    "org:political/religious_affiliation",
    "org:product",
    "org:founded_by",
    "org:top_members/employees",
    "org:number_of_employees/members",
    "per:date_of_birth",
    "per:date_of_death",
    "per:place_of_birth",
    "per:place_of_death",
    "per:place_of_residence",
    "per:origin",
    "per:employee_of",
    "per:schools_attended",
    "per:alternate_names",
    "per:parents",
    "per:children",
    "per:siblings",
    "per:spouse",
    "per:other_family",
    "per:colleagues",
    "per:product",
    "per:religion",
    "per:title",
];

/// The same 30 relations in the order of the boostcamp competition's `dict_label_to_num.pkl`.
pub const COMPETITION_LABELS: [&str; 30] = [
    "no_relation",
    "org:top_members/employees",
    "org:members",
    "org:product",
    "per:title",
    "org:alternate_names",
    "per:employee_of",
    "org:place_of_headquarters",
    "per:product",
    "org:number_of_employees/members",
    "per:children",
    "per:place_of_residence",
    "per:alternate_names",
    "per:other_family",
    "per:colleagues",
    "per:origin",
    "per:siblings",
    "per:spouse",
    "org:founded",
    "org:political/religious_affiliation",
    "org:member_of",
    "per:parents",
    "org:dissolved",
    "per:schools_attended",
    "per:date_of_death",
    "per:date_of_birth",
    "per:place_of_birth",
    "per:place_of_death",
    "org:founded_by",
    "per:religion",
];

/// A bijection between relation names and class ids `0..len`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelMap {
    names: Vec<String>,
    ids: HashMap<String, usize>,
}

impl Default for LabelMap {
    fn default() -> Self {
        LabelMap::klue()
    }
}

impl LabelMap {
    /// The official KLUE-RE map ([`KLUE_RE_LABELS`]).
    pub fn klue() -> Self {
        Self::from_known_unique(KLUE_RE_LABELS.iter().map(|s| s.to_string()).collect())
    }

    /// The competition's map ([`COMPETITION_LABELS`], as in its `dict_label_to_num.pkl`).
    pub fn competition() -> Self {
        Self::from_known_unique(COMPETITION_LABELS.iter().map(|s| s.to_string()).collect())
    }

    fn from_known_unique(names: Vec<String>) -> Self {
        let ids = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        LabelMap { names, ids }
    }

    /// A map whose id `i` is `names[i]`. Duplicate or empty names are an error.
    pub fn new(names: Vec<String>) -> Result<Self> {
        let mut seen = BTreeSet::new();
        for n in &names {
            if n.is_empty() {
                return Err(DataError::Invalid("label map: empty label name".into()));
            }
            if !seen.insert(n.as_str()) {
                return Err(DataError::Invalid(format!("label map: label {n:?} appears twice")));
            }
        }
        Ok(Self::from_known_unique(names))
    }

    /// The label set of some data (`--infer-labels`): the distinct names, sorted, with [`NO_RELATION`] always
    /// first (id 0, added even when the data has none, so that "no relation" has the same id in every map).
    pub fn from_labels<I, S>(labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let set: BTreeSet<String> =
            labels.into_iter().map(|s| s.as_ref().to_string()).filter(|s| !s.is_empty() && s != NO_RELATION).collect();
        let names = std::iter::once(NO_RELATION.to_string()).chain(set).collect();
        Self::from_known_unique(names)
    }

    /// Id of a relation name.
    pub fn id(&self, label: &str) -> Option<usize> {
        self.ids.get(label).copied()
    }

    /// Relation name of an id.
    pub fn label(&self, id: usize) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn contains(&self, label: &str) -> bool {
        self.ids.contains_key(label)
    }

    /// Id of [`NO_RELATION`], if the map has it.
    pub fn no_relation_id(&self) -> Option<usize> {
        self.id(NO_RELATION)
    }

    /// True when this is exactly the KLUE-RE order.
    pub fn is_klue(&self) -> bool {
        self.names.iter().map(String::as_str).eq(KLUE_RE_LABELS.iter().copied())
    }

    /// A short description for messages: "KLUE-RE (30 labels)" or "N labels".
    pub fn describe(&self) -> String {
        if self.is_klue() {
            format!("the KLUE-RE label map ({} labels)", self.len())
        } else {
            format!("the active label map ({} labels)", self.len())
        }
    }

    // ---------------------------------------------------------------- JSON

    /// Parse any of the accepted JSON shapes (see the module docs). `origin` names the source in errors.
    pub fn from_json_str(text: &str, origin: &Path) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| DataError::parse(origin, format!("line {} column {}", e.line(), e.column()), e.to_string()))?;
        let bad = |msg: &str| DataError::parse(origin, "label map", msg.to_string());
        match value {
            serde_json::Value::Array(items) => Self::from_json_array(items, origin),
            serde_json::Value::Object(mut obj) => {
                // {"labels": [...]} is the list shape; any other object maps label -> id
                if obj.len() == 1 && obj.get("labels").is_some_and(|v| v.is_array()) {
                    if let Some(serde_json::Value::Array(items)) = obj.remove("labels") {
                        return Self::from_json_array(items, origin);
                    }
                }
                let pairs = Self::json_object_pairs(&serde_json::Value::Object(obj), origin)?;
                Self::from_pairs(pairs, origin)
            }
            _ => Err(bad("expected {\"labels\": [names]}, an object label -> id, or an array of names")),
        }
    }

    fn from_json_array(items: Vec<serde_json::Value>, origin: &Path) -> Result<Self> {
        let names = items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                serde_json::Value::String(s) => Ok(s),
                other => {
                    Err(DataError::parse(origin, format!("labels[{i}]"), format!("expected a string, got {other}")))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(names).map_err(|e| DataError::parse(origin, "label map", e.to_string()))
    }

    fn json_object_pairs(value: &serde_json::Value, origin: &Path) -> Result<Vec<(String, i64)>> {
        let Some(obj) = value.as_object() else {
            return Err(DataError::parse(origin, "label map", "expected an object label -> id"));
        };
        obj.iter()
            .map(|(k, v)| match v.as_i64() {
                Some(id) => Ok((k.clone(), id)),
                None => {
                    Err(DataError::parse(origin, format!("label {k:?}"), format!("id must be an integer, got {v}")))
                }
            })
            .collect()
    }

    /// Build from (label, id) pairs; ids must be exactly `0..n`.
    fn from_pairs(pairs: Vec<(String, i64)>, origin: &Path) -> Result<Self> {
        let n = pairs.len();
        let mut names: Vec<Option<String>> = vec![None; n];
        for (label, id) in pairs {
            let slot = usize::try_from(id).ok().filter(|&i| i < n).ok_or_else(|| {
                DataError::parse(
                    origin,
                    format!("label {label:?}"),
                    format!("id {id} is outside 0..{n} (ids must be 0..number of labels, without gaps)"),
                )
            })?;
            if let Some(previous) = &names[slot] {
                return Err(DataError::parse(
                    origin,
                    format!("label {label:?}"),
                    format!("id {id} is also the id of {previous:?}"),
                ));
            }
            names[slot] = Some(label);
        }
        // n pairs filled n distinct slots, so every slot is Some
        let names: Vec<String> = names.into_iter().flatten().collect();
        Self::new(names).map_err(|e| DataError::parse(origin, "label map", e.to_string()))
    }

    /// `{"labels": [names in id order]}`, pretty-printed.
    pub fn to_json_string(&self) -> String {
        let value = serde_json::json!({ "labels": self.names });
        // serializing a json! value cannot fail
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    }

    pub fn load_json(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            DataError::parse(path, format!("byte {}", e.valid_up_to()), "file is not valid UTF-8".to_string())
        })?;
        Self::from_json_str(text, path)
    }

    /// Write `{"labels": [...]}` atomically.
    pub fn save_json(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_json_string().as_bytes())
    }

    // ---------------------------------------------------------------- pickle

    /// Read a Python pickle of a dict label→id (`dict_label_to_num.pkl`) or id→label (`dict_num_to_label.pkl`).
    pub fn from_pickle_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        let value = serde_pickle::value_from_slice(bytes, DeOptions::new())
            .map_err(|e| DataError::parse(origin, "pickle", e.to_string()))?;
        let Value::Dict(dict) = value else {
            return Err(DataError::parse(origin, "pickle", "expected a dict label -> id or id -> label"));
        };
        let as_int = |v: &Value| match v {
            Value::I64(i) => Some(*i),
            _ => None,
        };
        let mut pairs = Vec::with_capacity(dict.len());
        for (key, value) in &dict {
            let pair = match (key, value) {
                (HashableValue::String(label), v) => as_int(v).map(|id| (label.clone(), id)),
                (HashableValue::I64(id), Value::String(label)) => Some((label.clone(), *id)),
                _ => None,
            };
            match pair {
                Some(p) => pairs.push(p),
                None => {
                    return Err(DataError::parse(
                        origin,
                        "pickle",
                        format!("dict entry {key:?}: {value:?} is neither str -> int nor int -> str"),
                    ))
                }
            }
        }
        Self::from_pairs(pairs, origin)
    }

    pub fn load_pickle(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        Self::from_pickle_bytes(&bytes, path)
    }

    /// Pickle bytes of `{label: id}` (the shape of `dict_label_to_num.pkl`), entries in id order.
    pub fn to_pickle_label_to_num(&self) -> Result<Vec<u8>> {
        let entries: Vec<(&str, i64)> = self.names.iter().enumerate().map(|(i, n)| (n.as_str(), i as i64)).collect();
        serde_pickle::to_vec(&OrderedMap(&entries), SerOptions::new())
            .map_err(|e| DataError::Invalid(format!("pickling the label map: {e}")))
    }

    /// Pickle bytes of `{id: label}` (the shape of `dict_num_to_label.pkl`), entries in id order.
    pub fn to_pickle_num_to_label(&self) -> Result<Vec<u8>> {
        let entries: Vec<(i64, &str)> = self.names.iter().enumerate().map(|(i, n)| (i as i64, n.as_str())).collect();
        serde_pickle::to_vec(&OrderedMap(&entries), SerOptions::new())
            .map_err(|e| DataError::Invalid(format!("pickling the label map: {e}")))
    }

    /// Write `dict_label_to_num.pkl`-style pickle atomically.
    pub fn save_pickle_label_to_num(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_pickle_label_to_num()?)
    }

    /// Write `dict_num_to_label.pkl`-style pickle atomically.
    pub fn save_pickle_num_to_label(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_pickle_num_to_label()?)
    }

    // ---------------------------------------------------------------- any

    /// Load by extension: `.pkl`/`.pickle` → pickle, anything else → JSON.
    pub fn load(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("pkl") | Some("pickle") => Self::load_pickle(path),
            _ => Self::load_json(path),
        }
    }
}

/// Serializes pairs as a map in the given order (Python dicts keep insertion order; serde-pickle preserves it).
struct OrderedMap<'a, K, V>(&'a [(K, V)]);

impl<K: serde::Serialize, V: serde::Serialize> serde::Serialize for OrderedMap<'_, K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("test.json")
    }

    #[test]
    fn klue_and_competition_hold_the_same_30_labels() {
        let k = LabelMap::klue();
        let c = LabelMap::competition();
        assert_eq!(k.len(), 30);
        let mut a: Vec<_> = k.names().to_vec();
        let mut b: Vec<_> = c.names().to_vec();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert!(k.is_klue() && !c.is_klue());
        assert_eq!(k.id("per:title"), Some(29));
        assert_eq!(c.id("per:title"), Some(4));
        assert_eq!(k.no_relation_id(), Some(0));
        assert_eq!(k.label(30), None);
    }

    #[test]
    fn inferred_labels_are_sorted_with_no_relation_first() {
        let m = LabelMap::from_labels(["birthPlace", "battle", "no_relation", "battle"]);
        assert_eq!(m.names(), ["no_relation", "battle", "birthPlace"]);
        let m = LabelMap::from_labels(["z", "a"]);
        assert_eq!(m.names(), ["no_relation", "a", "z"]);
    }

    #[test]
    fn json_shapes_are_all_accepted() {
        let list = LabelMap::from_json_str(r#"{"labels": ["no_relation", "x", "y"]}"#, p()).unwrap();
        let obj = LabelMap::from_json_str(r#"{"y": 2, "no_relation": 0, "x": 1}"#, p()).unwrap();
        let arr = LabelMap::from_json_str(r#"["no_relation", "x", "y"]"#, p()).unwrap();
        assert_eq!(list, obj);
        assert_eq!(list, arr);
        let back = LabelMap::from_json_str(&list.to_json_string(), p()).unwrap();
        assert_eq!(back, list);
        let single = LabelMap::from_json_str(r#"{"only": 0}"#, p()).unwrap();
        assert_eq!(single.names(), ["only"]);
    }

    #[test]
    fn json_errors_name_the_problem() {
        let gap = LabelMap::from_json_str(r#"{"a": 0, "b": 2}"#, p()).unwrap_err().to_string();
        assert!(gap.contains("test.json") && gap.contains("outside"), "{gap}");
        let dup = LabelMap::from_json_str(r#"{"a": 0, "b": 0}"#, p()).unwrap_err().to_string();
        assert!(dup.contains("also the id"), "{dup}");
        let twice = LabelMap::from_json_str(r#"["a", "a"]"#, p()).unwrap_err().to_string();
        assert!(twice.contains("twice"), "{twice}");
        let bad = LabelMap::from_json_str("{\"labels\": [", p()).unwrap_err().to_string();
        assert!(bad.contains("line 1"), "{bad}");
    }

    #[test]
    fn pickle_round_trips_both_directions() {
        let m = LabelMap::competition();
        let a = LabelMap::from_pickle_bytes(&m.to_pickle_label_to_num().unwrap(), p()).unwrap();
        let b = LabelMap::from_pickle_bytes(&m.to_pickle_num_to_label().unwrap(), p()).unwrap();
        assert_eq!(a, m);
        assert_eq!(b, m);
        assert!(LabelMap::from_pickle_bytes(b"not a pickle", p()).is_err());
    }
}
