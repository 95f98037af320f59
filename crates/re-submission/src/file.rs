//! `submission.csv` I/O: columns `id,pred_label,probs`, where `probs` is a bracketed list of floats in label-map
//! order (the competition's format, e.g. `"[0.01, 0.9, …]"`). Reading is tolerant (quoting, whitespace, BOM,
//! scientific notation); writing produces exactly that layout, atomically.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Result, SubmissionError};

/// One row of a submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmissionRow {
    /// The record's id/guid as given in the input.
    pub id: String,
    /// The predicted label's name.
    pub pred_label: String,
    /// One probability per label, in label-map order.
    pub probs: Vec<f64>,
}

/// The rows of a `submission.csv`, in file order.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Submission {
    /// The rows.
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
    /// Reads and parses a `submission.csv`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| SubmissionError::io(path, e))?;
        Self::parse(&bytes, path)
    }

    /// Parses the bytes of a `submission.csv`; `path` is only used in error messages. Columns are found by
    /// header name, so extra columns and any column order are accepted.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(bytes);
        let headers = reader.headers().map_err(|e| SubmissionError::parse(path, "header", e.to_string()))?.clone();
        let col = |name: &str| {
            headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name).ok_or_else(|| {
                SubmissionError::parse(
                    path,
                    "header",
                    format!("missing column {name:?} (expected id,pred_label,probs)"),
                )
            })
        };
        let (ci, cl, cp) = (col("id")?, col("pred_label")?, col("probs")?);
        let mut rows = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let line = i + 2;
            let rec = rec.map_err(|e| SubmissionError::parse(path, format!("line {line}"), e.to_string()))?;
            let get = |c: usize| rec.get(c).unwrap_or("").to_string();
            let id = get(ci);
            let probs = parse_probs(&get(cp)).map_err(|message| SubmissionError::InvalidRow {
                path: path.to_path_buf(),
                id: id.clone(),
                line,
                message,
            })?;
            rows.push(SubmissionRow { id, pred_label: get(cl), probs });
        }
        Ok(Submission { rows })
    }

    /// Writes `id,pred_label,probs` atomically; probabilities with Rust's shortest round-trip formatting.
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

/// A submission and the file it came from (used in messages).
#[derive(Clone, Debug, PartialEq)]
pub struct SubmissionFile {
    /// Where the submission was read from.
    pub path: PathBuf,
    /// Its rows.
    pub submission: Submission,
}

impl SubmissionFile {
    /// Wraps an in-memory submission.
    pub fn new(path: impl Into<PathBuf>, submission: Submission) -> Self {
        SubmissionFile { path: path.into(), submission }
    }

    /// Reads a `submission.csv`.
    pub fn read(path: &Path) -> Result<Self> {
        Ok(SubmissionFile { path: path.to_path_buf(), submission: Submission::read(path)? })
    }
}

/// Streams into a temporary file next to `path`, then renames it into place (atomic on POSIX file systems), so
/// a failed write never leaves a truncated submission behind. Parent directories are created. Written by hand
/// rather than with `tempfile` to keep this crate's dependencies to csv + serde.
fn write_atomic_with<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| SubmissionError::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // pid + counter keep concurrent writers (threads or processes) off each other's temporary file.
    let (tmp_path, file) = loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let candidate = dir.join(format!(".kre-tmp-{}-{n}-{name}", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
            Ok(f) => break (candidate, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(SubmissionError::io(dir, e)),
        }
    };
    let written = (|| {
        let mut buf = std::io::BufWriter::new(&file);
        fill(&mut buf)?;
        buf.flush()?;
        drop(buf);
        // Keep an existing file's mode, else the usual 0644.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0o644);
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        std::fs::rename(&tmp_path, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(SubmissionError::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("re-submission-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn round_trip_and_tolerant_reading() {
        let dir = scratch_dir("round-trip");
        let p = dir.join("s.csv");
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
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_rows_name_the_file_and_id() {
        let p = Path::new("sub.csv");
        let err = Submission::parse(b"id,pred_label,probs\n9,x,\"[0.1, abc]\"\n", p).unwrap_err().to_string();
        assert!(err.contains("sub.csv") && err.contains("id=9"), "{err}");
        let err = Submission::parse(b"id,probs\n9,[1]\n", p).unwrap_err().to_string();
        assert!(err.contains("pred_label"), "{err}");
    }

    #[test]
    fn failed_write_leaves_existing_file_untouched() {
        let dir = scratch_dir("atomic");
        let p = dir.join("out.csv");
        write_atomic_with(&p, |w| w.write_all(b"first")).unwrap();
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "first");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "the temporary file must be removed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o644);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
