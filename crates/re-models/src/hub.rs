//! Loading Hugging Face checkpoint directories (local only): `config.json` + `model.safetensors` or
//! `pytorch_model.bin`, and the tokenizer.
//!
//! Weights are read with burn-store ([`SafetensorsStore`], [`PytorchStore`]); checkpoint keys are rewritten by each
//! family's `key_remap()` table (prefixes `bert.`, `roberta.`, `electra.`, `deberta.` stripped, HF layer names mapped to
//! field names) and applied through [`PyTorchToBurnAdapter`], which transposes `Linear` weights (PyTorch `[out, in]`
//! → burn `[in, out]`) and accepts both `LayerNorm.weight/bias` and the old `LayerNorm.gamma/beta`. Float tensors
//! (fp16/bf16/f32/f64) are converted to the backend's float dtype while loading.
use crate::bert;
use crate::deberta_v2::{self, DebertaV2, DebertaV2Config};
use crate::electra;
use crate::encoder::{Encoder, EncoderConfig};
use crate::error::{ModelError, Result};
use burn::module::Module;
use burn::tensor::{backend::Backend, DType};
use burn_store::{
    KeyRemapper, ModuleAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
    TensorSnapshot,
};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use crate::tokenizer::load_tokenizer;

/// What [`load_weights`] did besides loading: module parameters left at their initial values and checkpoint tensors
/// that were ignored (task heads such as `pooler.*`, `cls.*`, `lm_head.*`, `discriminator_predictions.*`, buffers such
/// as `position_ids`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Module parameters (burn paths) with no checkpoint tensor; they keep their initialisation.
    pub missing: Vec<String>,
    /// Checkpoint keys (original names) not used by the module.
    pub unexpected: Vec<String>,
    /// The weight file that was read.
    pub source_file: PathBuf,
}

/// Checkpoint keys (after prefix stripping, or original) that belong to task heads or buffers, not to an encoder.
pub const HEAD_KEYS: &[&str] = &[
    r"^(pooler|cls|lm_head|classifier|discriminator_predictions|generator_predictions|generator_lm_head|lm_predictions|mask_predictions|qa_outputs|score)\.",
    r"(^|\.)position_ids$",
    r"(^|\.)token_type_ids$",
];

/// Which mismatches [`load_weights_with`] tolerates.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions<'a> {
    /// Regexes over checkpoint keys (original or remapped) that may be left unused; others are an error.
    pub ignore_unexpected: &'a [&'a str],
    /// Regexes over module paths that may stay at their initialisation; others are an error.
    pub allow_missing: &'a [&'a str],
}

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        Self { ignore_unexpected: HEAD_KEYS, allow_missing: &[] }
    }
}

/// The weight file of a checkpoint directory: `model.safetensors`, else `pytorch_model.bin`.
pub fn weights_file(dir: &Path) -> Result<PathBuf> {
    ["model.safetensors", "pytorch_model.bin"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| ModelError::NoWeights { dir: dir.into() })
}

/// All tensors of a weight file (safetensors, or a PyTorch pickle/zip `.bin`/`.pt`), keyed by their checkpoint names.
/// Data is read lazily.
pub fn read_tensors(path: &Path) -> Result<Vec<TensorSnapshot>> {
    let err = |message: String| ModelError::Weights { path: path.into(), message };
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let snapshots: Vec<TensorSnapshot> = if is_safetensors {
        let mut store = SafetensorsStore::from_file(path);
        store.get_all_snapshots().map_err(|e| err(e.to_string()))?.values().cloned().collect()
    } else {
        let mut store = PytorchStore::from_file(path);
        store.get_all_snapshots().map_err(|e| err(e.to_string()))?.values().cloned().collect()
    };
    Ok(snapshots)
}

/// Loads the weight file of `dir` into `module`, after rewriting checkpoint keys with `remap` (regex → replacement
/// pairs applied in order, e.g. a family's `key_remap()`). Unused checkpoint keys matching [`HEAD_KEYS`] are reported,
/// any other mismatch is a [`ModelError::KeyMismatch`] listing every offending key.
pub fn load_weights<B: Backend, M: Module<B>>(
    module: M,
    dir: &Path,
    remap: &[(&str, &str)],
) -> Result<(M, LoadReport)> {
    load_weights_with(module, dir, remap, &LoadOptions::default())
}

/// [`load_weights`] with explicit tolerances.
pub fn load_weights_with<B: Backend, M: Module<B>>(
    module: M,
    dir: &Path,
    remap: &[(&str, &str)],
    options: &LoadOptions<'_>,
) -> Result<(M, LoadReport)> {
    let path = weights_file(dir)?;
    load_weights_from_file(module, &path, remap, options)
}

/// [`load_weights_with`] for an explicit weight file.
pub fn load_weights_from_file<B: Backend, M: Module<B>>(
    mut module: M,
    path: &Path,
    remap: &[(&str, &str)],
    options: &LoadOptions<'_>,
) -> Result<(M, LoadReport)> {
    let config_err = |message: String| ModelError::Weights { path: path.into(), message };
    let remapper =
        KeyRemapper::from_patterns(remap.to_vec()).map_err(|e| config_err(format!("bad remap regex: {e}")))?;
    let compile = |patterns: &[&str]| -> Result<Vec<Regex>> {
        patterns.iter().map(|p| Regex::new(p).map_err(|e| config_err(format!("bad key regex {p:?}: {e}")))).collect()
    };
    let ignorable = compile(options.ignore_unexpected)?;
    let may_miss = compile(options.allow_missing)?;

    let (snapshots, names) = remapper.remap(read_tensors(path)?);
    let original_of: BTreeMap<String, String> = names.into_iter().collect();
    tracing::debug!(file = %path.display(), tensors = snapshots.len(), "applying checkpoint");
    let adapter = HfToBurnAdapter { float_dtype: <B::FloatElem as burn::tensor::Element>::dtype() };
    let result = module.apply(snapshots, None, Some(Box::new(adapter)), false);

    let mut mismatched = Vec::new();
    for error in &result.errors {
        match error {
            burn_store::ApplyError::ShapeMismatch { path, expected, found } => {
                let key = original_of.get(path).unwrap_or(path);
                mismatched.push(format!("{key}: model {:?}, checkpoint {:?}", expected, found))
            }
            other => mismatched.push(other.to_string()),
        }
    }
    let (allowed_missing, missing): (Vec<String>, Vec<String>) =
        result.missing.iter().map(|(p, _)| p.clone()).partition(|p| may_miss.iter().any(|r| r.is_match(p)));
    // burn-store 0.21 lists a tensor found under its alternative LayerNorm name (`weight` for burn's `gamma`, `bias`
    // for `beta`) as unused although it was applied; drop those.
    let applied: std::collections::HashSet<&str> = result.applied.iter().map(String::as_str).collect();
    let used_as_alternative = |key: &str| {
        let burn_name = if let Some(stem) = key.strip_suffix(".weight") {
            format!("{stem}.gamma")
        } else if let Some(stem) = key.strip_suffix(".bias") {
            format!("{stem}.beta")
        } else {
            return false;
        };
        applied.contains(burn_name.as_str())
    };
    let (ignored, unexpected): (Vec<(String, String)>, Vec<(String, String)>) = result
        .unused
        .iter()
        .filter(|k| !used_as_alternative(k))
        .map(|k| (k.clone(), original_of.get(k).cloned().unwrap_or_else(|| k.clone())))
        .partition(|(remapped, original)| ignorable.iter().any(|r| r.is_match(remapped) || r.is_match(original)));
    let unexpected: Vec<String> = unexpected.into_iter().map(|(_, original)| original).collect();
    if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
        return Err(ModelError::KeyMismatch { path: path.into(), config: None, missing, unexpected, mismatched });
    }
    let report = LoadReport {
        missing: allowed_missing,
        unexpected: ignored.into_iter().map(|(_, original)| original).collect(),
        source_file: path.into(),
    };
    if !report.unexpected.is_empty() || !report.missing.is_empty() {
        tracing::info!(
            file = %path.display(),
            ignored = ?report.unexpected,
            left_at_init = ?report.missing,
            "checkpoint loaded with head keys ignored"
        );
    }
    Ok((module, report))
}

/// PyTorch → burn conversion (Linear transpose, LayerNorm `weight/bias` ↔ `gamma/beta`) plus a cast of every float
/// tensor to the backend's float dtype: burn-store creates each parameter with the checkpoint's dtype, so an f32
/// checkpoint on an f16 backend (or an fp16 checkpoint on f32) would otherwise leave parameters of the wrong dtype
/// next to the backend's activations.
#[derive(Debug, Clone, Copy)]
struct HfToBurnAdapter {
    float_dtype: DType,
}

impl ModuleAdapter for HfToBurnAdapter {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        let adapted = PyTorchToBurnAdapter.adapt(snapshot);
        let is_float = matches!(adapted.dtype, DType::F16 | DType::BF16 | DType::F32 | DType::F64);
        if !is_float || adapted.dtype == self.float_dtype {
            return adapted;
        }
        let data = adapted.clone_data_fn();
        let target = self.float_dtype;
        TensorSnapshot::from_closure(
            Rc::new(move || data().map(|d| d.convert_dtype(target))),
            target,
            adapted.shape.clone(),
            adapted.path_stack.clone().unwrap_or_default(),
            adapted.container_stack.clone().unwrap_or_default(),
            adapted.tensor_id.unwrap_or_default(),
        )
    }

    fn get_alternative_param_name(&self, param_name: &str, container_type: &str) -> Option<String> {
        PyTorchToBurnAdapter.get_alternative_param_name(param_name, container_type)
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(*self)
    }
}

/// Reads `config.json` of `dir`, builds the encoder of its family and loads its weights.
pub fn load_encoder<B: Backend>(dir: &Path, device: &B::Device) -> Result<(Encoder<B>, EncoderConfig, LoadReport)> {
    let config = EncoderConfig::from_dir(dir)?;
    // A shape or key mismatch means config.json and the weights disagree; the error names both.
    let (encoder, report) =
        load_encoder_weights(&config, dir, device).map_err(|e| e.with_config(&dir.join("config.json")))?;
    Ok((encoder, config, report))
}

fn load_encoder_weights<B: Backend>(
    config: &EncoderConfig,
    dir: &Path,
    device: &B::Device,
) -> Result<(Encoder<B>, LoadReport)> {
    let encoder = match config {
        EncoderConfig::Bert(c) => {
            let (m, r) = load_weights(c.init::<B>(device), dir, &bert::key_remap())?;
            (Encoder::Bert(m), r)
        }
        EncoderConfig::Electra(c) => {
            let (m, r) = load_weights(c.init::<B>(device), dir, &electra::key_remap())?;
            (Encoder::Electra(m), r)
        }
        EncoderConfig::DebertaV2(c) => {
            let ignore: Vec<&str> = HEAD_KEYS.iter().chain(deberta_v2::DEBERTA_V2_IGNORED_KEYS).copied().collect();
            let options = LoadOptions { ignore_unexpected: &ignore, allow_missing: &[] };
            let (m, r) = load_weights_with(c.init::<B>(device), dir, &deberta_v2::key_remap(), &options)?;
            (Encoder::DebertaV2(m), r)
        }
    };
    Ok(encoder)
}

/// Loads a DeBERTa-v2/v3 directory directly.
pub fn load_deberta_v2<B: Backend>(dir: &Path, device: &B::Device) -> Result<(DebertaV2<B>, LoadReport)> {
    let config_file = dir.join("config.json");
    let config = DebertaV2Config::from_file(&config_file)?;
    let ignore: Vec<&str> = HEAD_KEYS.iter().chain(deberta_v2::DEBERTA_V2_IGNORED_KEYS).copied().collect();
    let options = LoadOptions { ignore_unexpected: &ignore, allow_missing: &[] };
    load_weights_with(config.init::<B>(device), dir, &deberta_v2::key_remap(), &options)
        .map_err(|e| e.with_config(&config_file))
}
