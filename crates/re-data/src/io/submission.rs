//! `submission.csv` I/O: columns `id,pred_label,probs`, where `probs` is a bracketed list of floats in
//! label-map order (the competition's format, e.g. `"[0.01, 0.9, …]"`). Reading is tolerant (quoting,
//! whitespace, scientific notation); writing produces exactly that layout, atomically.
use std::path::Path;

use crate::error::{DataError, Result};
use crate::fsutil::write_atomic_with;

#[derive(Clone, Debug, PartialEq)]
pub struct SubmissionRow {
    /// The record's id/guid as given in the input.
    pub id: String,
    pub pred_label: String,
    /// One probability per label, in label-map order.
    pub probs: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Submission {
    pub rows: Vec<SubmissionRow>,
}

/// Parse `[0.1, 0.2, 3e-4]` (brackets optional, commas or whitespace between numbers).
pub fn parse_probs(text: &str) -> std::result::Result<Vec<f64>, String> {
    let t = text.trim();
    let t = t.strip_prefix('[').unwrap_or(t);
    let t = t.strip_suffix(']').unwrap_or(t);
    t.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>().map_err(|_| format!("{s:?} is not a number")))
        .collect()
}

impl Submission {
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        Self::parse(&bytes, path)
    }

    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(bytes);
        let headers = reader.headers().map_err(|e| DataError::parse(path, "header", e.to_string()))?.clone();
        let col = |name: &str| {
            headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name).ok_or_else(|| {
                DataError::parse(path, "header", format!("missing column {name:?} (expected id,pred_label,probs)"))
            })
        };
        let (ci, cl, cp) = (col("id")?, col("pred_label")?, col("probs")?);
        let mut rows = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let line = format!("line {}", i + 2);
            let rec = rec.map_err(|e| DataError::parse(path, &line, e.to_string()))?;
            let get = |c: usize| rec.get(c).unwrap_or("").to_string();
            let id = get(ci);
            let probs =
                parse_probs(&get(cp)).map_err(|m| DataError::invalid_record(path, format!("id={id} ({line})"), m))?;
            rows.push(SubmissionRow { id, pred_label: get(cl), probs });
        }
        Ok(Submission { rows })
    }

    /// Write `id,pred_label,probs` atomically; probabilities with Rust's shortest round-trip formatting.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomic_with(path, |w| {
            let mut out = csv::WriterBuilder::new().from_writer(w);
            let io = |e: csv::Error| std::io::Error::other(e.to_string());
            out.write_record(["id", "pred_label", "probs"]).map_err(io)?;
            for r in &self.rows {
                let probs = format!("[{}]", r.probs.iter().map(|p| format!("{p}")).collect::<Vec<_>>().join(", "));
                out.write_record([r.id.as_str(), r.pred_label.as_str(), probs.as_str()]).map_err(io)?;
            }
            out.flush()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tolerant_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        let s = Submission {
            rows: vec![
                SubmissionRow { id: "7".into(), pred_label: "org:founded".into(), probs: vec![0.25, 0.75] },
                SubmissionRow { id: "a,b".into(), pred_label: "no_relation".into(), probs: vec![1.0, 0.0] },
            ],
        };
        s.write(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("id,pred_label,probs\n7,org:founded,\"[0.25, 0.75]\"\n"), "{text}");
        assert_eq!(Submission::read(&p).unwrap(), s);
        let loose = b"\xef\xbb\xbfid,pred_label,probs\r\n 3 , per:title ,\"[ 1e-1,0.9 ]\"\r\n";
        let r = Submission::parse(loose, &p).unwrap();
        assert_eq!(r.rows[0].probs, vec![0.1, 0.9]);
        assert_eq!(r.rows[0].id, "3");
    }

    #[test]
    fn bad_rows_name_the_file_and_id() {
        let p = Path::new("sub.csv");
        let err = Submission::parse(b"id,pred_label,probs\n9,x,\"[0.1, abc]\"\n", p).unwrap_err().to_string();
        assert!(err.contains("sub.csv") && err.contains("id=9"), "{err}");
        let err = Submission::parse(b"id,probs\n9,[1]\n", p).unwrap_err().to_string();
        assert!(err.contains("pred_label"), "{err}");
    }
}
