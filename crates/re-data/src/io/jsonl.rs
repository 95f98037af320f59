//! JSONL of our own records: one serialized [`RelationRecord`] per line
//! (`{"id", "sentence", "subject": {"word", "start", "end", "type"}, "object": {…}, "label"?, "source"?}`).
//! Blank lines are skipped; errors name the 1-based line.
use crate::error::{DataError, Result};
use crate::fsutil::write_atomic_with;
use crate::io::read_text;
use crate::record::RelationRecord;
use std::path::Path;

/// Read a JSONL file of records.
pub fn read(path: &Path) -> Result<Vec<RelationRecord>> {
    let text = read_text(path)?;
    parse_str(&text, path)
}

/// Parse JSONL text; `path` names the source in errors.
pub fn parse_str(text: &str, path: &Path) -> Result<Vec<RelationRecord>> {
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: RelationRecord = serde_json::from_str(line).map_err(|e| {
            let what = if e.is_eof() { "truncated record" } else { "invalid record" };
            DataError::parse(path, format!("line {}", i + 1), format!("{what}: {e}"))
        })?;
        records.push(record);
    }
    Ok(records)
}

/// One line per record, each ending in `\n`.
pub fn to_string(records: &[RelationRecord]) -> String {
    let mut out = String::new();
    for r in records {
        // a RelationRecord holds only strings and integers: serialization cannot fail
        out.push_str(&serde_json::to_string(r).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Write a JSONL file atomically.
pub fn write(path: &Path, records: &[RelationRecord]) -> Result<()> {
    write_atomic_with(path, |w| {
        for r in records {
            serde_json::to_writer(&mut *w, r).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}
