//! Training configuration: a serde struct whose defaults follow the seed report; the CLI reads a TOML file
//! into it and then applies flags on top (flags win).
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::error::{Result, TrainError};

/// Which loss to optimise.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Cross-entropy (with optional label smoothing).
    #[default]
    Ce,
    /// Focal loss (with optional label smoothing).
    Focal,
}

/// Learning-rate schedule after the linear warmup.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    #[default]
    Linear,
    Cosine,
    Polynomial,
    Constant,
}

/// Label smoothing: a fixed ε, or `auto` (the seed report's entropy rule, `re_losses::label_smoothing_from_counts`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LabelSmoothing {
    Fixed(f64),
    Auto,
}

impl Default for LabelSmoothing {
    fn default() -> Self {
        LabelSmoothing::Fixed(0.0)
    }
}

impl std::str::FromStr for LabelSmoothing {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(LabelSmoothing::Auto);
        }
        let v: f64 =
            s.parse().map_err(|_| format!("label smoothing must be a number in [0, 1) or `auto`, got {s:?}"))?;
        if !(0.0..1.0).contains(&v) {
            return Err(format!("label smoothing must be in [0, 1), got {v}"));
        }
        Ok(LabelSmoothing::Fixed(v))
    }
}

impl Serialize for LabelSmoothing {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            LabelSmoothing::Fixed(v) => s.serialize_f64(*v),
            LabelSmoothing::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for LabelSmoothing {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(v) => format!("{v}").parse().map_err(serde::de::Error::custom),
            Raw::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Focal-loss α: one scalar, or one value per class (TOML: a number or an array), defined in re-losses.
pub use re_losses::Alpha;

/// Number format of the training computation (`--precision`).
///
/// `bf16`/`f16` select a half-precision backend (CUDA only): the model's weights, activations and gradients are
/// half precision, and the optimiser keeps f32 master weights and f32 AdamW moments (see
/// [`crate::optim::MasterAdamW`]). burn 0.21 has no autocast, so unlike PyTorch AMP every operation of the forward
/// and backward pass (softmax, LayerNorm, the loss included) runs in half precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
    F16,
}

impl Precision {
    /// The burn data type of this precision.
    pub fn dtype(self) -> burn::tensor::DType {
        match self {
            Precision::F32 => burn::tensor::DType::F32,
            Precision::Bf16 => burn::tensor::DType::BF16,
            Precision::F16 => burn::tensor::DType::F16,
        }
    }

    pub fn is_half(self) -> bool {
        self != Precision::F32
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        })
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "fp32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            "f16" | "fp16" => Ok(Precision::F16),
            _ => Err(format!("precision must be f32, bf16 or f16, got {s:?}")),
        }
    }
}

/// Size of the `tiny` encoder trained from scratch (RoBERTa-style, no pretrained weights).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TinyConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
}

impl Default for TinyConfig {
    fn default() -> Self {
        TinyConfig { vocab_size: 8000, hidden_size: 256, num_layers: 4, num_heads: 4, intermediate_size: 1024 }
    }
}

/// Everything a training run needs. Field names are the CLI flag names with `_` for `-`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// `tiny` or a Hugging Face checkpoint directory.
    pub model: String,
    pub train: PathBuf,
    pub dev: Option<PathBuf>,
    /// Optional test file: predictions are written to `RUN_DIR/submission.csv` after training.
    pub test: Option<PathBuf>,
    /// Label map JSON/pickle; default: the KLUE-RE map.
    pub label_map: Option<PathBuf>,
    pub markers: String,
    pub pooling: String,
    /// Concatenate the CLS state to the pooled entity states.
    pub concat_cls: bool,
    pub loss: LossKind,
    pub gamma: f64,
    pub alpha: Alpha,
    pub label_smoothing: LabelSmoothing,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub epochs: usize,
    pub max_length: usize,
    pub warmup_ratio: f64,
    pub scheduler: SchedulerKind,
    pub poly_power: f64,
    /// Global gradient-norm clipping (HF `max_grad_norm`); 0 disables.
    pub grad_clip: f64,
    pub dropout: f64,
    pub seed: u64,
    /// `cpu`, `cuda`, `cuda:N` or `cuda:N,M,…` (several devices: data-parallel training, see
    /// [`crate::parallel`]).
    pub device: String,
    /// `f32`, `bf16` or `f16`; half precision needs a CUDA device.
    pub precision: Precision,
    pub out: PathBuf,
    pub resume: bool,
    /// Stop after this many epochs without a dev micro-F1 improvement (0 = never).
    pub patience: usize,
    /// Group examples of similar length into batches (less padding).
    pub length_bucketing: bool,
    /// Use at most this many training records (0 = all); for quick runs.
    pub max_train_records: usize,
    pub tiny: TinyConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: "tiny".into(),
            train: PathBuf::from("datasets/synthetic-klue-re/train.json"),
            dev: Some(PathBuf::from("datasets/synthetic-klue-re/dev.json")),
            test: None,
            label_map: None,
            markers: "typed-punct".into(),
            pooling: "entity-start".into(),
            concat_cls: false,
            loss: LossKind::Ce,
            gamma: 1.0,
            alpha: Alpha::Scalar(1.0),
            label_smoothing: LabelSmoothing::Fixed(0.0),
            lr: 5e-5,
            weight_decay: 0.01,
            batch_size: 32,
            eval_batch_size: 64,
            epochs: 3,
            max_length: 128,
            warmup_ratio: 0.1,
            scheduler: SchedulerKind::Linear,
            poly_power: 1.0,
            grad_clip: 1.0,
            dropout: 0.1,
            seed: 42,
            device: "cpu".into(),
            precision: Precision::F32,
            out: PathBuf::from("runs/klue-re"),
            resume: false,
            patience: 0,
            length_bucketing: true,
            max_train_records: 0,
            tiny: TinyConfig::default(),
        }
    }
}

impl TrainConfig {
    /// Read a TOML file (unknown keys are an error naming the file).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))
    }

    /// Check ranges before any work starts.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("batch size must be > 0".into());
        }
        if self.epochs == 0 {
            return bad("epochs must be > 0".into());
        }
        if self.max_length < 8 {
            return bad(format!("max_length {} is too small (≥ 8)", self.max_length));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("lr must be > 0, got {}", self.lr));
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return bad(format!("warmup_ratio must be in [0, 1], got {}", self.warmup_ratio));
        }
        if self.gamma < 0.0 {
            return bad(format!("focal gamma must be ≥ 0, got {}", self.gamma));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        // Half precision exists only on the CUDA backend here (burn's NdArray CPU backend has no f16/bf16).
        if self.precision.is_half() && parse_device(&self.device)?.is_none() {
            return bad(format!(
                "--precision {} needs --device cuda (the CPU backend computes in f32 only)",
                self.precision
            ));
        }
        Ok(())
    }
}

/// Parse `cpu`, `cuda`, `cuda:1`, `cuda:0,1` into a list of CUDA ordinals (`None` for CPU). An ordinal listed
/// twice is refused: two replicas on one GPU only split its batch and add copies.
pub fn parse_device(spec: &str) -> Result<Option<Vec<usize>>> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("cpu") {
        return Ok(None);
    }
    if spec.eq_ignore_ascii_case("cuda") {
        return Ok(Some(vec![0]));
    }
    if let Some(rest) = spec.strip_prefix("cuda:") {
        let ids: std::result::Result<Vec<usize>, _> = rest.split(',').map(|s| s.trim().parse::<usize>()).collect();
        return match ids {
            Ok(v) if !v.is_empty() => {
                if let Some(dup) = v.iter().enumerate().find(|(i, d)| v[..*i].contains(d)).map(|(_, d)| d) {
                    return Err(TrainError::Config(format!("bad device {spec:?}: cuda:{dup} is listed twice")));
                }
                Ok(Some(v))
            }
            _ => Err(TrainError::Config(format!("bad device {spec:?}: expected cpu, cuda or cuda:N[,M…]"))),
        };
    }
    Err(TrainError::Config(format!("bad device {spec:?}: expected cpu, cuda or cuda:N[,M…]")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let c: TrainConfig = toml::from_str("lr = 3e-5\nlabel_smoothing = \"auto\"\nscheduler = \"cosine\"").unwrap();
        assert_eq!(c.lr, 3e-5);
        assert_eq!(c.label_smoothing, LabelSmoothing::Auto);
        assert_eq!(c.scheduler, SchedulerKind::Cosine);
        assert_eq!(c.batch_size, TrainConfig::default().batch_size);
        assert!(toml::from_str::<TrainConfig>("learning_rate = 1").is_err());
        let c: TrainConfig = toml::from_str("label_smoothing = 0.1\nalpha = [0.5, 1.0]").unwrap();
        assert_eq!(c.label_smoothing, LabelSmoothing::Fixed(0.1));
        assert_eq!(c.alpha, Alpha::PerClass(vec![0.5, 1.0]));
    }

    #[test]
    fn device_specs() {
        assert_eq!(parse_device("cpu").unwrap(), None);
        assert_eq!(parse_device("cuda").unwrap(), Some(vec![0]));
        assert_eq!(parse_device("cuda:0,1").unwrap(), Some(vec![0, 1]));
        assert!(parse_device("gpu").is_err());
        assert!(parse_device("cuda:x").is_err());
        assert!(parse_device("cuda:0,0").is_err());
        assert!(parse_device("cuda:").is_err());
    }

    #[test]
    fn validation_catches_bad_ranges() {
        let c = TrainConfig { batch_size: 0, ..Default::default() };
        assert!(c.validate().is_err());
        let c = TrainConfig { warmup_ratio: 1.5, ..Default::default() };
        assert!(c.validate().is_err());
        assert!(TrainConfig::default().validate().is_ok());
        assert!("1.2".parse::<LabelSmoothing>().is_err());
    }

    #[test]
    fn precision_parses_and_half_needs_cuda() {
        assert_eq!("bf16".parse::<Precision>().unwrap(), Precision::Bf16);
        assert_eq!("F16".parse::<Precision>().unwrap(), Precision::F16);
        assert!("f64".parse::<Precision>().is_err());
        let c: TrainConfig = toml::from_str("precision = \"bf16\"\ndevice = \"cuda:0,1\"").unwrap();
        assert_eq!(c.precision, Precision::Bf16);
        assert!(c.validate().is_ok());
        let cpu = TrainConfig { precision: Precision::Bf16, ..Default::default() };
        let err = cpu.validate().unwrap_err().to_string();
        assert!(err.contains("--precision bf16 needs --device cuda"), "{err}");
        // Configurations saved before the field existed still load (f32).
        assert_eq!(toml::from_str::<TrainConfig>("lr = 1e-5").unwrap().precision, Precision::F32);
    }
}
