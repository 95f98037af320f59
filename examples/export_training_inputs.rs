//! Writes the encoded inputs of a training-parity case (`tests/fixtures/training/<case>/inputs.json`), encoded by
//! kre itself exactly as `kre train` encodes them (checkpoint tokenizer + marker tokens, truncation), so the
//! PyTorch reference (`tools/make_training_fixtures.py`, which runs this example) and kre see identical tokens.
//!
//! ```sh
//! cargo run --example export_training_inputs -- CHECKPOINT_DIR MARKERS MAX_LENGTH N OUT.json
//! ```
//! The first `N` records of the shipped synthetic training set whose entities survive truncation are exported.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use re_data::encode::RecordTokenizer;
use re_data::io::{read_records, ReadOptions};
use re_data::labels::LabelMap;
use re_data::markers::MarkerScheme;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [checkpoint, markers, max_length, n, out] = args.as_slice() else {
        bail!("usage: export_training_inputs CHECKPOINT_DIR MARKERS MAX_LENGTH N OUT.json");
    };
    let checkpoint = PathBuf::from(checkpoint);
    let max_length: usize = max_length.parse().context("MAX_LENGTH")?;
    let n: usize = n.parse().context("N")?;
    let value = export(&checkpoint, markers, max_length, n)?;
    re_data::fsutil::write_atomic(Path::new(out), serde_json::to_string_pretty(&value)?.as_bytes())?;
    Ok(())
}

/// The shipped synthetic training set (KLUE label order).
pub fn training_records() -> anyhow::Result<Vec<re_data::RelationRecord>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/synthetic-klue-re/train.json");
    Ok(read_records(&path, &ReadOptions::default())?.records)
}

fn export(checkpoint: &Path, markers: &str, max_length: usize, n: usize) -> anyhow::Result<serde_json::Value> {
    let tokenizer = re_models::hub::load_tokenizer(checkpoint)?;
    let base_vocab = tokenizer.get_vocab_size(true);
    let (record_tokenizer, added) = RecordTokenizer::new(tokenizer, MarkerScheme::parse(markers)?, max_length)?;
    let labels = LabelMap::klue();
    let mut examples = Vec::new();
    for record in training_records()? {
        let label = record.label.as_deref().and_then(|l| labels.id(l)).context("record without a KLUE label")?;
        let e = record_tokenizer.encode(&record, Some(label))?;
        if e.entity_truncated || e.subject_span.is_empty() || e.object_span.is_empty() {
            continue;
        }
        examples.push(json!({
            "id": e.id,
            "input_ids": e.input_ids,
            "attention_mask": e.attention_mask,
            "token_type_ids": e.token_type_ids,
            "subject_start": e.subject_start,
            "object_start": e.object_start,
            "subject_span": [e.subject_span.start, e.subject_span.end],
            "object_span": [e.object_span.start, e.object_span.end],
            "label": label,
        }));
        if examples.len() == n {
            break;
        }
    }
    if examples.len() < n {
        bail!("only {} of {n} records fit in {max_length} tokens", examples.len());
    }
    Ok(json!({
        "checkpoint": checkpoint,
        "markers": markers,
        "max_length": max_length,
        "base_vocab_size": base_vocab,
        "added_tokens": added,
        "vocab_size": record_tokenizer.vocab_size(),
        "pad_id": record_tokenizer.pad_id(),
        "num_labels": labels.len(),
        "examples": examples,
    }))
}
