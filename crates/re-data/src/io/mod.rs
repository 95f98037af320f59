//! Readers and writers, one module per format, and the [`read_records`] / [`write_records`] entry points.
//!
//! | [`Format`] | extension | what it is |
//! |---|---|---|
//! | `KlueJson` | `.json` | KLUE official JSON: an array of `{guid, sentence, subject_entity, object_entity, label, source}` |
//! | `CompetitionCsv` | `.csv` | `id,sentence,subject_entity,object_entity,label,source`; entities are Python dict literals |
//! | `Parquet` | `.parquet` | Hugging Face `klue`/`re` parquet (entity structs, `label` int64 in KLUE order) |
//! | `Jsonl` | `.jsonl` | one serialized [`RelationRecord`] per line |
//! | `KaistGold` | `.tsv` | KAIST `kor-re-gold` TSV (`head, tail, relation, sentence, id, answer`) |
//!
//! [`detect_format`] looks at the content first where it is decisive (the parquet magic `PAR1`; `[` vs `{` for
//! `.json`/`.jsonl`), then at the extension, then sniffs the first line (a `subject_entity` CSV header, or six
//! tab-separated fields for KAIST).
//!
//! Every record is validated ([`RelationRecord::validate`]) and its label checked against the active label map;
//! errors name the file and the record (guid/id, or line). Ids repeated within a file are logged as a warning;
//! callers whose output is keyed by id refuse them ([`Dataset::require_unique_ids`]). Labels:
//! - [`LabelSource::Map`] (default: KLUE): a label outside the map is an error suggesting `--label-map`/`--infer-labels`.
//! - [`LabelSource::Infer`]: the map is built from the data ([`LabelMap::from_labels`]). Integer labels (KLUE JSON,
//!   parquet) are then decoded with the KLUE order.
//! - The integer `100` (the competition's blind test label) and `-1` (Hugging Face's unlabeled `ClassLabel`) mean
//!   "unlabeled" (`label: None`) in every format that stores integers.
//!
//! The KAIST gold file uses 80+ DBpedia relation names (`birthPlace`, `child`, …) that are not KLUE relations, so it
//! must be read with `--infer-labels` (or a matching `--label-map`); reading it with the KLUE map fails on the first
//! record with a message that says so.
//!
//! ```no_run
//! use re_data::io::{read_records, write_records, Format, ReadOptions};
//! let data = read_records("train.csv".as_ref(), &ReadOptions::default())?;
//! write_records("train.parquet".as_ref(), Format::Parquet, &data.records, &data.labels)?;
//! # Ok::<(), re_data::DataError>(())
//! ```
pub mod competition_csv;
pub mod jsonl;
pub mod kaist_gold;
pub mod klue_json;
pub mod parquet;
pub mod submission;

use crate::error::{DataError, Result};
use crate::labels::LabelMap;
use crate::record::{RelationRecord, Validation};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The file formats kre reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    KlueJson,
    CompetitionCsv,
    Parquet,
    Jsonl,
    KaistGold,
}

impl Format {
    pub const ALL: [Format; 5] =
        [Format::KlueJson, Format::CompetitionCsv, Format::Parquet, Format::Jsonl, Format::KaistGold];

    /// The extension a file of this format gets (`json`, `csv`, `parquet`, `jsonl`, `tsv`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::KlueJson => "json",
            Format::CompetitionCsv => "csv",
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::KaistGold => "tsv",
        }
    }

    /// The name used on the command line (`--to`).
    pub fn name(self) -> &'static str {
        match self {
            Format::KlueJson => "klue-json",
            Format::CompetitionCsv => "csv",
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::KaistGold => "kaist",
        }
    }

    /// Parse a format name: `klue-json`/`json`, `csv`, `parquet`, `jsonl`, `kaist`/`tsv`.
    pub fn parse(name: &str) -> Result<Format> {
        match name.to_ascii_lowercase().as_str() {
            "klue-json" | "klue" | "json" => Ok(Format::KlueJson),
            "csv" | "competition-csv" | "competition" => Ok(Format::CompetitionCsv),
            "parquet" | "pq" => Ok(Format::Parquet),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "kaist" | "kaist-gold" | "tsv" => Ok(Format::KaistGold),
            other => Err(DataError::Invalid(format!(
                "unknown format {other:?} (expected one of: klue-json, csv, parquet, jsonl, kaist)"
            ))),
        }
    }

    /// The format an extension stands for (case-insensitive), if any.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Format::KlueJson),
            "csv" => Some(Format::CompetitionCsv),
            "parquet" | "pq" => Some(Format::Parquet),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "tsv" => Some(Format::KaistGold),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where labels come from.
#[derive(Clone, Debug)]
pub enum LabelSource {
    /// A fixed map; a label outside it is an error.
    Map(LabelMap),
    /// Build the map from the data (`--infer-labels`).
    Infer,
}

impl Default for LabelSource {
    fn default() -> Self {
        LabelSource::Map(LabelMap::klue())
    }
}

/// How to read a file: the label map (or inference) and the validation rules.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    pub labels: LabelSource,
    pub validation: Validation,
}

impl ReadOptions {
    /// The map used to decode integer labels: the given map, or KLUE when inferring.
    pub fn numeric_labels(&self) -> LabelMap {
        match &self.labels {
            LabelSource::Map(m) => m.clone(),
            LabelSource::Infer => LabelMap::klue(),
        }
    }
}

/// The records of one file and the label map that goes with them.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub path: PathBuf,
    pub format: Format,
    pub records: Vec<RelationRecord>,
    /// The active map: the one given, or the inferred one.
    pub labels: LabelMap,
}

impl Dataset {
    /// Class ids of the records (`None` for unlabeled ones). Every label is in [`Dataset::labels`] by construction.
    pub fn label_ids(&self) -> Vec<Option<usize>> {
        self.records.iter().map(|r| r.label.as_deref().and_then(|l| self.labels.id(l))).collect()
    }

    /// Ids held by more than one record, with their counts, in order of first occurrence.
    pub fn duplicate_ids(&self) -> Vec<(&str, usize)> {
        duplicate_ids(&self.records)
    }

    /// An error naming the file when it holds no record (a `[]` JSON file, a CSV with only its header).
    pub fn require_records(&self) -> Result<()> {
        if self.records.is_empty() {
            return Err(DataError::NoRecords { path: self.path.clone() });
        }
        Ok(())
    }

    /// An error naming the file and the first repeated id when ids are not unique. `why` tells the user what needs
    /// them unique, e.g. `submission.csv has one row per id`.
    pub fn require_unique_ids(&self, why: &str) -> Result<()> {
        let duplicates = self.duplicate_ids();
        match duplicates.first() {
            None => Ok(()),
            Some(&(id, count)) => Err(DataError::DuplicateId {
                path: self.path.clone(),
                id: id.to_string(),
                count,
                more: match duplicates.len() - 1 {
                    0 => String::new(),
                    1 => " (and 1 other id occurs more than once)".into(),
                    n => format!(" (and {n} other ids occur more than once)"),
                },
                why: why.to_string(),
            }),
        }
    }
}

/// Ids held by more than one of `records`, with their counts, in order of first occurrence.
pub fn duplicate_ids(records: &[RelationRecord]) -> Vec<(&str, usize)> {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(records.len());
    for r in records {
        *counts.entry(r.id.as_str()).or_default() += 1;
    }
    let mut seen = std::collections::HashSet::new();
    records
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| counts[id] > 1 && seen.insert(*id))
        .map(|id| (id, counts[id]))
        .collect()
}

/// Warn (not fail) about repeated ids: training and statistics do not need unique ids, but a repeated id usually
/// means a file was concatenated twice or ids were lost on export. Commands whose output is keyed by id refuse such
/// a file ([`Dataset::require_unique_ids`]).
fn warn_duplicate_ids(path: &Path, records: &[RelationRecord]) {
    let duplicates = duplicate_ids(records);
    if duplicates.is_empty() {
        return;
    }
    let shown: Vec<String> = duplicates.iter().take(5).map(|(id, n)| format!("id={id} ({n}×)")).collect();
    let rest =
        if duplicates.len() > shown.len() { format!(", … ({} ids in all)", duplicates.len()) } else { String::new() };
    let (n, ids_occur) = match duplicates.len() {
        1 => (1, "record id occurs"),
        n => (n, "record ids occur"),
    };
    tracing::warn!(
        "{}: {n} {ids_occur} more than once: {}{rest}; such records cannot be told apart by id",
        path.display(),
        shown.join(", ")
    );
}

/// Detect the format of `path` from its content and extension (see the module docs).
pub fn detect_format(path: &Path) -> Result<Format> {
    let mut head = Vec::with_capacity(4096);
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    file.take(4096).read_to_end(&mut head).map_err(|e| DataError::io(path, e))?;
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    let text = strip_bom(&head);
    let first_char = text.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first_char.is_none() {
        return Err(DataError::UnknownFormat { path: path.into(), message: "the file is empty".into() });
    }
    match (Format::from_extension(path), first_char) {
        (Some(Format::KlueJson), Some(b'{')) | (Some(Format::Jsonl), Some(b'{')) => return Ok(Format::Jsonl),
        (Some(Format::KlueJson), Some(b'[')) | (Some(Format::Jsonl), Some(b'[')) => return Ok(Format::KlueJson),
        (Some(Format::Parquet), _) => {
            return Err(DataError::UnknownFormat {
                path: path.into(),
                message: "the extension says parquet but the file does not start with the parquet magic bytes PAR1"
                    .into(),
            })
        }
        (Some(f), _) => return Ok(f),
        (None, Some(b'[')) => return Ok(Format::KlueJson),
        (None, Some(b'{')) => return Ok(Format::Jsonl),
        _ => {}
    }
    let first_line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let first_line = String::from_utf8_lossy(first_line);
    if first_line.contains("subject_entity") && first_line.contains(',') {
        return Ok(Format::CompetitionCsv);
    }
    if first_line.trim_end_matches('\r').split('\t').count() == 6 {
        return Ok(Format::KaistGold);
    }
    Err(DataError::UnknownFormat {
        path: path.into(),
        message: "use an extension .json, .csv, .parquet, .jsonl or .tsv (or --to/--format)".into(),
    })
}

/// Read, validate and label-check every record of `path` (format detected with [`detect_format`]).
pub fn read_records(path: &Path, options: &ReadOptions) -> Result<Dataset> {
    let format = detect_format(path)?;
    read_records_as(path, format, options)
}

/// Like [`read_records`] with a known format.
pub fn read_records_as(path: &Path, format: Format, options: &ReadOptions) -> Result<Dataset> {
    let numeric = options.numeric_labels();
    let mut records = match format {
        Format::KlueJson => klue_json::read(path, &numeric)?,
        Format::CompetitionCsv => competition_csv::read(path)?,
        Format::Parquet => parquet::read(path, &numeric)?,
        Format::Jsonl => jsonl::read(path)?,
        Format::KaistGold => kaist_gold::read(path)?,
    };
    for record in &mut records {
        record.validate(&options.validation).map_err(|msg| DataError::invalid_record(path, record_ref(record), msg))?;
    }
    let labels = match &options.labels {
        LabelSource::Map(map) => {
            for record in &records {
                if let Some(label) = &record.label {
                    if !map.contains(label) {
                        return Err(DataError::invalid_record(
                            path,
                            record_ref(record),
                            unknown_label_message(label, map, format),
                        ));
                    }
                }
            }
            map.clone()
        }
        LabelSource::Infer => LabelMap::from_labels(records.iter().filter_map(|r| r.label.as_deref())),
    };
    warn_duplicate_ids(path, &records);
    tracing::info!("{}: {} records ({format}), {} labels", path.display(), records.len(), labels.len());
    Ok(Dataset { path: path.to_path_buf(), format, records, labels })
}

fn unknown_label_message(label: &str, map: &LabelMap, format: Format) -> String {
    let hint = if format == Format::KaistGold {
        "; the KAIST gold file uses DBpedia relation names: read it with --infer-labels"
    } else {
        "; pass --label-map FILE or --infer-labels"
    };
    format!("label {label:?} is not in {}{hint}", map.describe())
}

/// How a record is named in errors: `guid=…`/`id=…` as the file gives it.
pub(crate) fn record_ref(record: &RelationRecord) -> String {
    format!("id={}", record.id)
}

/// Write `records` in `format` to `path` atomically (temp file + rename). Integer labels (parquet) use `labels`;
/// a label outside `labels` is then an error.
pub fn write_records(path: &Path, format: Format, records: &[RelationRecord], labels: &LabelMap) -> Result<()> {
    match format {
        Format::KlueJson => klue_json::write(path, records),
        Format::CompetitionCsv => competition_csv::write(path, records),
        Format::Parquet => parquet::write(path, records, labels),
        Format::Jsonl => jsonl::write(path, records),
        Format::KaistGold => kaist_gold::write(path, records),
    }
}

/// Decode an integer label: `100` and `-1` are "unlabeled", anything else must be an id of `labels`.
pub(crate) fn decode_int_label(id: i64, labels: &LabelMap) -> std::result::Result<Option<String>, String> {
    if id == 100 || id == -1 {
        return Ok(None);
    }
    usize::try_from(id)
        .ok()
        .and_then(|i| labels.label(i))
        .map(|l| Some(l.to_string()))
        .ok_or_else(|| format!("integer label {id} is not an id of {} (0..{})", labels.describe(), labels.len()))
}

/// The bytes without a UTF-8 byte-order mark.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes)
}

/// Read a whole file as UTF-8 text (BOM stripped); invalid bytes are a parse error naming the line.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let body = strip_bom(&bytes);
    match std::str::from_utf8(body) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            let line = body[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(DataError::parse(
                path,
                format!("line {line}"),
                format!("invalid UTF-8 at byte {}", at + (bytes.len() - body.len())),
            ))
        }
    }
}
