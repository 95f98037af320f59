//! svmlight / libsvm text format (`label idx:val …`, 1-based indices) for comparing with scikit-learn on the very
//! same feature vectors.
use crate::error::{ClassicError, Result};
use crate::sparse::SparseVec;
use std::path::Path;

/// Write `(x, y)` pairs as svmlight (`+1`/`-1` labels) atomically.
pub fn write_svmlight(path: &Path, xs: &[SparseVec], ys: &[bool]) -> Result<()> {
    re_data::fsutil::write_atomic_with(path, |w| {
        for (x, &y) in xs.iter().zip(ys) {
            w.write_all(if y { b"+1" } else { b"-1" })?;
            for (i, v) in x.iter() {
                write!(w, " {}:{}", i + 1, v)?;
            }
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Read svmlight written by [`write_svmlight`] (labels `+1`/`1` are positive, anything else negative).
pub fn read_svmlight(path: &Path) -> Result<(Vec<SparseVec>, Vec<bool>)> {
    let text = std::fs::read_to_string(path).map_err(|e| ClassicError::io(path, e))?;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = |m: String| ClassicError::parse(path, format!("line {}", n + 1), m);
        let mut parts = line.split_whitespace();
        let label = parts.next().unwrap_or("");
        let y = label.parse::<f64>().map_err(|e| bad(format!("label {label:?}: {e}")))? > 0.0;
        let mut x = SparseVec::default();
        for p in parts {
            let (i, v) = p.split_once(':').ok_or_else(|| bad(format!("expected idx:val, found {p:?}")))?;
            let i: u32 = i.parse().map_err(|e| bad(format!("index {i:?}: {e}")))?;
            if i == 0 {
                return Err(bad("indices are 1-based".into()));
            }
            x.indices.push(i - 1);
            x.values.push(v.parse().map_err(|e| bad(format!("value {v:?}: {e}")))?);
        }
        xs.push(x);
        ys.push(y);
    }
    Ok((xs, ys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.svm");
        let xs = vec![SparseVec::from_indices_normalized(vec![0, 7]), SparseVec::from_indices_normalized(vec![3])];
        write_svmlight(&p, &xs, &[true, false]).unwrap();
        assert!(std::fs::read_to_string(&p).unwrap().starts_with("+1 1:0.70710677 8:0.70710677\n-1 4:1\n"));
        let (xr, yr) = read_svmlight(&p).unwrap();
        assert_eq!((xr, yr), (xs, vec![true, false]));
        std::fs::write(&p, "+1 0:1\n").unwrap();
        assert!(read_svmlight(&p).unwrap_err().to_string().contains("line 1"));
    }
}
