//! Synthetic Korean relation-extraction data (clearly labelled synthetic wherever it appears).
//!
//! - [`klue`]: KLUE-RE-like sentences with the 30 KLUE labels in KLUE's proportions ([`generate`], `kre synth`).
//! - [`competition`]: the synthetic competition-relation set.
//!
//! ```no_run
//! use re_data::synth::{generate, write_dataset, SynthConfig};
//! let data = generate(&SynthConfig { n: 8000, seed: 1, ..Default::default() })?;
//! write_dataset(std::path::Path::new("out"), &data)?; // out/train.json, out/dev.json, out/test.json
//! # Ok::<(), re_data::DataError>(())
//! ```
pub mod competition;
pub mod klue;
pub mod lexicon;

pub use klue::{generate, label_counts, SynthConfig, SynthDataset, KLUE_RE_TRAIN_COUNTS};

use crate::error::{DataError, Result};
use crate::fsutil::write_atomic_with;
use crate::record::RelationRecord;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One entity in KLUE's JSON layout.
#[derive(Serialize)]
struct KlueEntityJson<'a> {
    word: &'a str,
    start_idx: usize,
    end_idx: usize,
    #[serde(rename = "type")]
    entity_type: &'a str,
}

/// One record in KLUE's JSON layout (keys in KLUE's order).
#[derive(Serialize)]
struct KlueRecordJson<'a> {
    guid: &'a str,
    sentence: &'a str,
    subject_entity: KlueEntityJson<'a>,
    object_entity: KlueEntityJson<'a>,
    label: &'a str,
    source: &'a str,
}

fn klue_entity(e: &crate::record::Entity) -> KlueEntityJson<'_> {
    KlueEntityJson { word: &e.word, start_idx: e.start, end_idx: e.end, entity_type: e.entity_type.as_str() }
}

/// Write records as a KLUE-RE JSON array (one record per line, keys `guid, sentence, subject_entity, object_entity,
/// label, source`; entity keys `word, start_idx, end_idx, type`), atomically. Labels must be present.
pub fn write_klue_json(path: &Path, records: &[RelationRecord]) -> Result<()> {
    let mut lines = Vec::with_capacity(records.len());
    for r in records {
        let label = r.label.as_deref().ok_or_else(|| {
            DataError::invalid_record(path, &r.id, "synthetic records must carry a label to be written as KLUE JSON")
        })?;
        let json = KlueRecordJson {
            guid: &r.id,
            sentence: &r.sentence,
            subject_entity: klue_entity(&r.subject),
            object_entity: klue_entity(&r.object),
            label,
            source: r.source.as_deref().unwrap_or("synthetic"),
        };
        lines.push(serde_json::to_string(&json).map_err(|e| DataError::invalid_record(path, &r.id, e.to_string()))?);
    }
    write_atomic_with(path, |w| {
        w.write_all(b"[\n")?;
        for (i, line) in lines.iter().enumerate() {
            w.write_all(line.as_bytes())?;
            w.write_all(if i + 1 < lines.len() { b",\n" } else { b"\n" })?;
        }
        w.write_all(b"]\n")
    })
}

/// Write `dir/train.json`, `dir/dev.json`, `dir/test.json`; returns the paths written.
pub fn write_dataset(dir: &Path, data: &SynthDataset) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, records) in [("train", &data.train), ("dev", &data.dev), ("test", &data.test)] {
        let path = dir.join(format!("{name}.json"));
        write_klue_json(&path, records)?;
        written.push(path);
    }
    Ok(written)
}
