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
use re_data::markers::MarkerScheme;
use re_data::record::EntityType;
use re_models::encoder::EncoderConfig;
use re_models::head::SpanPooling;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::config::TrainConfig;
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
///
/// `model_spec.json` files written before the fields were typed load unchanged: `encoder_config` was and is the HF
/// `config.json` object, `pooling` and `markers` their names.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelSpec {
    /// The encoder's configuration, serialised as its HF-style config.json (vocab_size already includes added
    /// marker tokens).
    pub encoder_config: EncoderConfig,
    pub pooling: SpanPooling,
    pub concat_cls: bool,
    pub dropout: f64,
    pub num_labels: usize,
    pub markers: MarkerScheme,
    pub max_length: usize,
    pub labels: Vec<String>,
    /// The (subject type, object type) combinations of the training records, sorted: the pairs `kre extract`
    /// scores. `None` in models saved before they were stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type_pairs: Option<Vec<(EntityType, EntityType)>>,
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

/// Write `cfg` (resolved, `resume` off) as `run_dir/train_config.toml`, the file `kre train --config` reads back
/// to reproduce the run. Returns its path.
pub fn write_train_config(run_dir: &Path, cfg: &TrainConfig) -> Result<PathBuf> {
    let path = run_dir.join(CONFIG_FILE);
    let text = TrainConfig { resume: false, ..cfg.resolved() }.to_toml_string()?;
    std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    re_data::fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(path)
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
    fn old_model_spec_json_loads() {
        // As written before the fields were typed: the raw HF config.json, names as strings.
        let old = serde_json::json!({
            "encoder_config": {
                "model_type": "roberta", "architectures": ["RobertaModel"], "vocab_size": 620, "hidden_size": 64,
                "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 128, "hidden_act": "gelu",
                "max_position_embeddings": 66, "type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 0,
                "bos_token_id": 2, "eos_token_id": 3
            },
            "pooling": "entity-start", "concat_cls": false, "dropout": 0.1, "num_labels": 30,
            "markers": "typed-punct", "max_length": 64, "labels": ["no_relation"]
        });
        let spec: ModelSpec = serde_json::from_value(old).unwrap();
        assert_eq!(spec.encoder_config.family(), "roberta");
        assert_eq!(spec.encoder_config.vocab_size(), 620);
        assert_eq!(spec.pooling, SpanPooling::EntityStart);
        assert_eq!(spec.markers, MarkerScheme::parse("typed-punct").unwrap());
        let again: ModelSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
        assert_eq!(serde_json::to_value(&spec).unwrap()["encoder_config"]["model_type"], "roberta");
    }

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
