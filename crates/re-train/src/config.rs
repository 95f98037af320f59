//! Training configuration: a serde struct whose defaults follow the seed report; the CLI reads a TOML file
//! into it and then applies flags on top (flags win).
use re_data::markers::{MarkerScheme, TypedPunctOptions};
use re_models::head::SpanPooling;
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

impl LossKind {
    /// The accepted names, as `--loss` and the TOML file spell them.
    pub const NAMES: [&'static str; 2] = ["ce", "focal"];

    pub fn as_str(self) -> &'static str {
        match self {
            LossKind::Ce => "ce",
            LossKind::Focal => "focal",
        }
    }
}

impl std::fmt::Display for LossKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LossKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ce" => Ok(LossKind::Ce),
            "focal" => Ok(LossKind::Focal),
            _ => Err(format!("loss must be ce or focal, got {s:?}")),
        }
    }
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

impl SchedulerKind {
    /// The accepted names, as `--scheduler` and the TOML file spell them.
    pub const NAMES: [&'static str; 4] = ["linear", "cosine", "polynomial", "constant"];
    const ALL: [SchedulerKind; 4] =
        [SchedulerKind::Linear, SchedulerKind::Cosine, SchedulerKind::Polynomial, SchedulerKind::Constant];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|k| *k == self).unwrap_or(0)]
    }
}

impl std::fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SchedulerKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let name = s.trim().to_ascii_lowercase();
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| format!("scheduler must be one of {}, got {s:?}", Self::NAMES.join(", ")))
    }
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
    /// The accepted names (`fp32`, `fp16` are accepted too).
    pub const NAMES: [&'static str; 3] = ["f32", "bf16", "f16"];

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
#[serde(default, deny_unknown_fields)]
pub struct TinyConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    /// The encoder's hidden and attention dropout (HF's `hidden_dropout_prob`, `attention_probs_dropout_prob`).
    pub dropout: f64,
}

impl Default for TinyConfig {
    fn default() -> Self {
        TinyConfig {
            vocab_size: 8000,
            hidden_size: 256,
            num_layers: 4,
            num_heads: 4,
            intermediate_size: 1024,
            dropout: 0.1,
        }
    }
}

/// Which encoder a run trains: `tiny` (from scratch) or a Hugging Face checkpoint directory.
///
/// In `train_config.toml` this is `model = "tiny"` with the sizes in a `[tiny]` table, or `model = "DIR"`; on the
/// command line `--model tiny|DIR` with `--tiny-*` flags for the sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelSource {
    /// A small RoBERTa-style encoder initialised at random, with a WordPiece tokenizer trained on the data.
    Tiny(TinyConfig),
    /// A checkpoint directory: `config.json`, `model.safetensors` or `pytorch_model.bin`, the tokenizer.
    Hub(PathBuf),
}

impl Default for ModelSource {
    fn default() -> Self {
        ModelSource::Tiny(TinyConfig::default())
    }
}

impl ModelSource {
    /// Default learning rate of a randomly initialised encoder: 5e-5 barely moves it, 1e-3 trains it (dev micro-F1
    /// 29 vs 100 after 8 epochs on a 590-record KLUE-format set; 0.0 vs 67.8 after 4 epochs on 600 records of the
    /// shipped synthetic set).
    pub const TINY_LR: f64 = 1e-3;
    /// Default learning rate for fine-tuning a pretrained checkpoint (the KLUE-RE baselines' 5e-5).
    pub const FINE_TUNING_LR: f64 = 5e-5;

    /// The learning rate used when none is given.
    pub fn default_lr(&self) -> f64 {
        match self {
            ModelSource::Tiny(_) => Self::TINY_LR,
            ModelSource::Hub(_) => Self::FINE_TUNING_LR,
        }
    }

    /// The tiny encoder's sizes, if this is `tiny`.
    pub fn tiny(&self) -> Option<&TinyConfig> {
        match self {
            ModelSource::Tiny(t) => Some(t),
            ModelSource::Hub(_) => None,
        }
    }
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Tiny(_) => f.write_str("tiny"),
            ModelSource::Hub(dir) => write!(f, "{}", dir.display()),
        }
    }
}

impl std::str::FromStr for ModelSource {
    type Err = String;
    /// `tiny` (default sizes) or a checkpoint directory.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "" => Err("the model is `tiny` or a checkpoint directory, got an empty string".into()),
            t if t.eq_ignore_ascii_case("tiny") => Ok(ModelSource::default()),
            dir => Ok(ModelSource::Hub(PathBuf::from(dir))),
        }
    }
}

/// Where training and inference run: the CPU, or one or several CUDA devices (several = data parallel, see
/// [`crate::parallel`]). Written and parsed as `cpu`, `cuda` (= `cuda:0`), `cuda:N` or `cuda:N,M,…`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    #[default]
    Cpu,
    /// CUDA ordinals, none listed twice, at least one.
    Cuda(Vec<usize>),
    /// One adapter through burn-wgpu (Vulkan, Metal, DX12): `None` is wgpu's default adapter, `Some(n)` the n-th
    /// discrete GPU. One device only: burn 0.21 cannot copy tensors between two wgpu devices (see
    /// docs/performance.md), which data-parallel training needs.
    Wgpu(Option<usize>),
}

impl DeviceSpec {
    pub const HELP: &'static str = "cpu | cuda | cuda:N | cuda:N,M,… | wgpu | wgpu:N";

    pub fn is_cpu(&self) -> bool {
        matches!(self, DeviceSpec::Cpu)
    }

    /// The CUDA ordinals, or `None` for the CPU.
    pub fn cuda_ordinals(&self) -> Option<&[usize]> {
        match self {
            DeviceSpec::Cpu | DeviceSpec::Wgpu(_) => None,
            DeviceSpec::Cuda(ids) => Some(ids),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(ids) => {
                let ids: Vec<String> = ids.iter().map(usize::to_string).collect();
                write!(f, "cuda:{}", ids.join(","))
            }
            DeviceSpec::Wgpu(None) => f.write_str("wgpu"),
            DeviceSpec::Wgpu(Some(n)) => write!(f, "wgpu:{n}"),
        }
    }
}

impl std::str::FromStr for DeviceSpec {
    type Err = TrainError;
    /// An ordinal listed twice is refused: two replicas on one GPU only split its batch and add copies.
    fn from_str(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        let bad = || TrainError::Config(format!("bad device {spec:?}: expected {}", DeviceSpec::HELP));
        if spec.eq_ignore_ascii_case("cpu") {
            return Ok(DeviceSpec::Cpu);
        }
        if spec.eq_ignore_ascii_case("cuda") {
            return Ok(DeviceSpec::Cuda(vec![0]));
        }
        if spec.eq_ignore_ascii_case("wgpu") {
            return Ok(DeviceSpec::Wgpu(None));
        }
        if let Some(rest) = spec.strip_prefix("wgpu:") {
            if rest.contains(',') {
                return Err(TrainError::Config(format!(
                    "bad device {spec:?}: one wgpu device only (burn 0.21 cannot move tensors between wgpu devices, \
                     which data-parallel training needs)"
                )));
            }
            return rest.trim().parse().map(|n| DeviceSpec::Wgpu(Some(n))).map_err(|_| bad());
        }
        let rest = spec.strip_prefix("cuda:").ok_or_else(bad)?;
        let ids: Vec<usize> = rest
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad())?;
        if ids.is_empty() {
            return Err(bad());
        }
        if let Some(dup) = ids.iter().enumerate().find(|(i, d)| ids[..*i].contains(d)).map(|(_, d)| d) {
            return Err(TrainError::Config(format!("bad device {spec:?}: cuda:{dup} is listed twice")));
        }
        Ok(DeviceSpec::Cuda(ids))
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = TrainError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

/// Everything a training run needs. Field names are the CLI flag names with `_` for `-`.
///
/// (De)serialised with the layout of `train_config.toml` (see [`ModelSource`]): `model = "tiny"` plus a `[tiny]`
/// table, or `model = "DIR"`; files written before the fields were typed load unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelSource,
    pub train: PathBuf,
    pub dev: Option<PathBuf>,
    /// Optional test file: predictions are written to `RUN_DIR/submission.csv` after training.
    pub test: Option<PathBuf>,
    /// Label map JSON/pickle; default: the KLUE-RE map.
    pub label_map: Option<PathBuf>,
    pub markers: MarkerScheme,
    pub pooling: SpanPooling,
    /// Concatenate the CLS state to the pooled entity states.
    pub concat_cls: bool,
    pub loss: LossKind,
    pub gamma: f64,
    pub alpha: Alpha,
    pub label_smoothing: LabelSmoothing,
    /// Peak learning rate; `None` = the model's default ([`ModelSource::default_lr`]), see
    /// [`TrainConfig::effective_lr`].
    pub lr: Option<f64>,
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
    /// Dropout of the relation head (the encoder keeps its config.json dropouts).
    pub dropout: f64,
    pub seed: u64,
    /// Several CUDA devices train data-parallel, see [`crate::parallel`].
    pub device: DeviceSpec,
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
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelSource::default(),
            train: PathBuf::from("datasets/synthetic-klue-re/train.json"),
            dev: Some(PathBuf::from("datasets/synthetic-klue-re/dev.json")),
            test: None,
            label_map: None,
            markers: MarkerScheme::TypedPunct(TypedPunctOptions::english()),
            pooling: SpanPooling::EntityStart,
            concat_cls: false,
            loss: LossKind::Ce,
            gamma: 1.0,
            alpha: Alpha::Scalar(1.0),
            label_smoothing: LabelSmoothing::Fixed(0.0),
            lr: None,
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
            device: DeviceSpec::Cpu,
            precision: Precision::F32,
            out: PathBuf::from("runs/klue-re"),
            resume: false,
            patience: 0,
            length_bucketing: true,
            max_train_records: 0,
        }
    }
}

/// The file layout's `tiny` table: `model = "tiny"` + `[tiny]` stand for `ModelSource::Tiny(..)`.
const TINY_TABLE: &str = "tiny";

impl Serialize for TrainConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let value = TrainConfig::serialize(self, serde_json::value::Serializer).map_err(S::Error::custom)?;
        let serde_json::Value::Object(mut fields) = value else {
            return Err(S::Error::custom("a training configuration serialises as a table"));
        };
        // `model = {tiny = {…}}` → `model = "tiny"` + `[tiny]`; `model = {hub = DIR}` → `model = DIR`.
        match &self.model {
            ModelSource::Tiny(tiny) => {
                fields.insert("model".into(), "tiny".into());
                fields.insert(TINY_TABLE.into(), serde_json::to_value(tiny).map_err(S::Error::custom)?);
            }
            ModelSource::Hub(dir) => {
                fields.insert("model".into(), dir.to_string_lossy().into_owned().into());
            }
        }
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (key, value) in &fields {
            // An absent option is a JSON null but no TOML key (TOML has no null; toml skips `None` entries).
            match value {
                serde_json::Value::Null => map.serialize_entry(key, &Option::<()>::None)?,
                other => map.serialize_entry(key, other)?,
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TrainConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let mut value = serde_json::Value::deserialize(deserializer)?;
        if let Some(fields) = value.as_object_mut() {
            let tiny = fields.remove(TINY_TABLE);
            let model = match fields.remove("model") {
                None => tiny.map(|t| serde_json::json!({ "tiny": t })),
                Some(serde_json::Value::String(name)) => match name.parse::<ModelSource>().map_err(D::Error::custom)? {
                    ModelSource::Tiny(_) => Some(serde_json::json!({ "tiny": tiny.unwrap_or(serde_json::json!({})) })),
                    // Files written before the model was typed carry a `[tiny]` table for checkpoint runs too.
                    ModelSource::Hub(_) => Some(serde_json::json!({ "hub": name })),
                },
                Some(table) if tiny.is_none() => Some(table),
                Some(_) => return Err(D::Error::custom("`model` as a table and a `[tiny]` table: give one of them")),
            };
            if let Some(model) = model {
                fields.insert("model".into(), model);
            }
        }
        TrainConfig::deserialize(value).map_err(D::Error::custom)
    }
}

impl TrainConfig {
    /// Read a TOML file (unknown keys are an error naming the file).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        toml::from_str(&text).map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))
    }

    /// The configuration as `train_config.toml` text.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| TrainError::Config(e.to_string()))
    }

    /// The learning rate this run uses: `lr`, or the model's default (1e-3 for `tiny`, 5e-5 for a checkpoint).
    pub fn effective_lr(&self) -> f64 {
        self.lr.unwrap_or_else(|| self.model.default_lr())
    }

    /// The same configuration with every model-dependent default filled in (today: `lr`). Training runs on, writes
    /// and compares (`--resume`) resolved configurations.
    pub fn resolved(&self) -> TrainConfig {
        TrainConfig { lr: Some(self.effective_lr()), ..self.clone() }
    }

    /// One line with the effective hyper-parameters, printed when training starts.
    pub fn describe(&self) -> String {
        let model = match &self.model {
            ModelSource::Tiny(t) => format!(
                "tiny (hidden {}, {} layers, {} heads, ffn {}, vocab ≤ {}, dropout {})",
                t.hidden_size, t.num_layers, t.num_heads, t.intermediate_size, t.vocab_size, t.dropout
            ),
            ModelSource::Hub(dir) => dir.display().to_string(),
        };
        let lr_origin = if self.lr.is_none() { " (default for this model)" } else { "" };
        let smoothing = match self.label_smoothing {
            LabelSmoothing::Fixed(v) => format!("{v}"),
            LabelSmoothing::Auto => "auto".into(),
        };
        let loss = match (self.loss, &self.alpha) {
            (LossKind::Ce, _) => "ce".to_string(),
            (LossKind::Focal, Alpha::Scalar(a)) => format!("focal (gamma {}, alpha {a})", self.gamma),
            (LossKind::Focal, Alpha::PerClass(v)) => {
                format!("focal (gamma {}, alpha per class ×{})", self.gamma, v.len())
            }
        };
        format!(
            "model {model}; lr {:e}{lr_origin}, {} schedule, warmup {}, weight decay {}, grad clip {}; batch {} \
             (eval {}), {} epochs, max length {}; markers {}, pooling {}{}, head dropout {}; loss {loss}, label \
             smoothing {smoothing}; device {}, {}; seed {}",
            self.effective_lr(),
            self.scheduler,
            self.warmup_ratio,
            self.weight_decay,
            self.grad_clip,
            self.batch_size,
            self.eval_batch_size,
            self.epochs,
            self.max_length,
            self.markers,
            self.pooling,
            if self.concat_cls { " + CLS" } else { "" },
            self.dropout,
            self.device,
            self.precision,
            self.seed,
        )
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
        let lr = self.effective_lr();
        if !(lr > 0.0 && lr.is_finite()) {
            return bad(format!("lr must be > 0, got {lr}"));
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
        match &self.model {
            ModelSource::Tiny(t) => {
                if t.hidden_size == 0 || t.num_layers == 0 || t.num_heads == 0 || t.intermediate_size == 0 {
                    return bad(format!("tiny encoder sizes must be > 0, got {t:?}"));
                }
                if t.hidden_size % t.num_heads != 0 {
                    return bad(format!(
                        "tiny hidden_size {} is not a multiple of num_heads {}",
                        t.hidden_size, t.num_heads
                    ));
                }
                if !(0.0..1.0).contains(&t.dropout) {
                    return bad(format!("tiny dropout must be in [0, 1), got {}", t.dropout));
                }
            }
            ModelSource::Hub(dir) => {
                if !dir.join("config.json").is_file() {
                    return bad(format!(
                        "model {}: not `tiny` and not a checkpoint directory (no config.json)",
                        dir.display()
                    ));
                }
            }
        }
        // Half precision exists only on the CUDA backend here (burn's NdArray CPU backend has no f16/bf16).
        if self.precision.is_half() && self.device.is_cpu() {
            return bad(format!(
                "--precision {} needs --device cuda or wgpu (the CPU backend computes in f32 only)",
                self.precision
            ));
        }
        // WGSL has no bfloat16.
        if self.precision == Precision::Bf16 && matches!(self.device, DeviceSpec::Wgpu(_)) {
            return bad("--precision bf16 is not available on wgpu (WGSL has no bf16); use f16 or f32".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let c: TrainConfig = toml::from_str("lr = 3e-5\nlabel_smoothing = \"auto\"\nscheduler = \"cosine\"").unwrap();
        assert_eq!(c.lr, Some(3e-5));
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
        let parse = |s: &str| s.parse::<DeviceSpec>();
        assert_eq!(parse("cpu").unwrap(), DeviceSpec::Cpu);
        assert_eq!(parse("cuda").unwrap(), DeviceSpec::Cuda(vec![0]));
        assert_eq!(parse("cuda:0,1").unwrap(), DeviceSpec::Cuda(vec![0, 1]));
        assert!(parse("gpu").is_err());
        assert!(parse("cuda:x").is_err());
        assert!(parse("cuda:0,0").is_err());
        assert!(parse("cuda:").is_err());
        assert_eq!(parse("cuda:0,1").unwrap().to_string(), "cuda:0,1");
        assert_eq!(parse("cuda:0,1").unwrap().cuda_ordinals(), Some(&[0, 1][..]));
        assert_eq!(parse("wgpu").unwrap(), DeviceSpec::Wgpu(None));
        assert_eq!(parse("wgpu:1").unwrap(), DeviceSpec::Wgpu(Some(1)));
        assert_eq!(parse("wgpu:1").unwrap().to_string(), "wgpu:1");
        assert!(parse("wgpu:0,1").is_err());
        assert!(parse("wgpu:x").is_err());
        let bf16_wgpu =
            TrainConfig { precision: Precision::Bf16, device: DeviceSpec::Wgpu(None), ..TrainConfig::default() };
        assert!(bf16_wgpu.validate().unwrap_err().to_string().contains("WGSL has no bf16"));
        let f16_wgpu = TrainConfig { precision: Precision::F16, ..bf16_wgpu };
        assert!(f16_wgpu.validate().is_ok());
        let c: TrainConfig = toml::from_str("device = \"cuda:1\"").unwrap();
        assert_eq!(c.device, DeviceSpec::Cuda(vec![1]));
        assert!(toml::from_str::<TrainConfig>("device = \"tpu\"").is_err());
    }

    #[test]
    fn old_train_config_files_load_and_round_trip() {
        // The layout written before the settings were typed: strings and a `[tiny]` table.
        let old = r#"
model = "tiny"
markers = "typed-punct"
pooling = "entity-start"
device = "cpu"
lr = 5e-5
dev = "dev.json"

[tiny]
vocab_size = 600
hidden_size = 64
num_layers = 1
num_heads = 2
intermediate_size = 128
"#;
        let c: TrainConfig = toml::from_str(old).unwrap();
        let tiny = TinyConfig {
            vocab_size: 600,
            hidden_size: 64,
            num_layers: 1,
            num_heads: 2,
            intermediate_size: 128,
            dropout: 0.1,
        };
        assert_eq!(c.model, ModelSource::Tiny(tiny));
        assert_eq!(c.markers, MarkerScheme::parse("typed-punct").unwrap());
        assert_eq!(c.pooling, SpanPooling::EntityStart);
        assert_eq!(c.device, DeviceSpec::Cpu);
        assert_eq!(c.lr, Some(5e-5));
        let text = c.to_toml_string().unwrap();
        assert!(text.contains("model = \"tiny\""), "{text}");
        assert!(text.contains("[tiny]"), "{text}");
        assert_eq!(toml::from_str::<TrainConfig>(&text).unwrap(), c);
        // JSON (trials.jsonl) round trip keeps an absent dev set absent.
        let no_dev = TrainConfig { dev: None, ..c.clone() };
        let json = serde_json::to_string(&no_dev).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), no_dev);

        // A checkpoint run written by the old code still carries a `[tiny]` table: ignored.
        let hub: TrainConfig = toml::from_str("model = \"/models/klue-roberta\"\n[tiny]\nhidden_size = 64").unwrap();
        assert_eq!(hub.model, ModelSource::Hub("/models/klue-roberta".into()));
        let text = hub.to_toml_string().unwrap();
        assert!(!text.contains("[tiny]"), "{text}");
        assert_eq!(toml::from_str::<TrainConfig>(&text).unwrap(), hub);
        // Default sizes when the table is absent; a partial table fills in the rest.
        let c: TrainConfig = toml::from_str("model = \"tiny\"\n[tiny]\nhidden_size = 32").unwrap();
        assert_eq!(c.model.tiny().unwrap().hidden_size, 32);
        assert_eq!(c.model.tiny().unwrap().num_layers, TinyConfig::default().num_layers);
        assert!(toml::from_str::<TrainConfig>("markers = \"brackets\"").is_err());
        assert!(toml::from_str::<TrainConfig>("pooling = \"sum\"").is_err());
    }

    #[test]
    fn learning_rate_defaults_to_the_model_and_resolves() {
        let tiny = TrainConfig::default();
        assert_eq!(tiny.lr, None);
        assert_eq!(tiny.effective_lr(), ModelSource::TINY_LR);
        assert_eq!(tiny.resolved().lr, Some(1e-3));
        let hub = TrainConfig { model: ModelSource::Hub("/ckpt".into()), ..Default::default() };
        assert_eq!(hub.effective_lr(), 5e-5);
        let given = TrainConfig { lr: Some(3e-4), ..Default::default() };
        assert_eq!(given.resolved().lr, Some(3e-4));
        assert!(tiny.describe().contains("lr 1e-3 (default for this model)"), "{}", tiny.describe());
        assert!(TrainConfig { lr: Some(0.0), ..Default::default() }.validate().is_err());
        // A checkpoint directory without config.json fails validation before anything runs.
        assert!(hub.validate().is_err());
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
