//! Run-directory layout and atomic directory writes.
//!
//! ```text
//! RUN_DIR/
//!   train_config.toml     the effective configuration (resume checks it)
//!   metrics.jsonl         one line per epoch
//!   best/                 everything `kre predict` needs: model.mpk, model_spec.json, config.json,
//!                         tokenizer.json, label_map.json
//!   last/                 the same plus optimizer.mpk and state.json, for --resume
//! ```
//! A directory is written under a temporary name and renamed into place, so a crash never leaves a
//! half-written `best/` or `last/`.
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

pub const MODEL_FILE: &str = "model"; // burn adds the `.mpk` extension
pub const OPTIMIZER_FILE: &str = "optimizer";
pub const SPEC_FILE: &str = "model_spec.json";
pub const STATE_FILE: &str = "state.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const LABEL_MAP_FILE: &str = "label_map.json";
pub const HF_CONFIG_FILE: &str = "config.json";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const CONFIG_FILE: &str = "train_config.toml";

/// What a saved model is: enough to rebuild the module before loading its weights, and to encode inputs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelSpec {
    /// The encoder's HF-style config.json (vocab_size already includes added marker tokens).
    pub encoder_config: serde_json::Value,
    pub pooling: String,
    pub concat_cls: bool,
    pub dropout: f64,
    pub num_labels: usize,
    pub markers: String,
    pub max_length: usize,
    pub labels: Vec<String>,
}

/// Training progress saved with `last/`, for --resume.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunState {
    /// Epochs completed (1-based count).
    pub epochs_done: usize,
    pub step: usize,
    pub best_micro_f1: f64,
    pub best_epoch: usize,
    pub epochs_without_improvement: usize,
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| TrainError::checkpoint(path, e))?;
    re_data::fsutil::write_atomic(path, &text)?;
    Ok(())
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    serde_json::from_slice(&text).map_err(|e| TrainError::checkpoint(path, e))
}

/// Fill a fresh temporary directory next to `target` with `fill`, then swap it into place.
pub fn write_dir_atomic(target: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("dir");
    let tmp: PathBuf = parent.join(format!(".{name}.tmp"));
    let old: PathBuf = parent.join(format!(".{name}.old"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    fill(&tmp)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    }
    if target.exists() {
        std::fs::rename(target, &old).map_err(|e| TrainError::io(target, e))?;
    }
    std::fs::rename(&tmp, target).map_err(|e| TrainError::io(target, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_fill_keeps_previous_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("best");
        write_dir_atomic(&target, |d| {
            std::fs::write(d.join("a.txt"), "v1").unwrap();
            Ok(())
        })
        .unwrap();
        let r = write_dir_atomic(&target, |d| {
            std::fs::write(d.join("a.txt"), "v2").unwrap();
            Err(TrainError::Other("disk full".into()))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(target.join("a.txt")).unwrap(), "v1");
        write_dir_atomic(&target, |d| {
            std::fs::write(d.join("a.txt"), "v3").unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(target.join("a.txt")).unwrap(), "v3");
    }
}
