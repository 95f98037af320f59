//! Encoders on the JIT (CubeCL) backend burn-wgpu, against NdArray and transformers: the tiny parity checkpoints of
//! every family, run on Vulkan (on a machine without a GPU, Mesa's software driver lavapipe, installed by
//! `scripts/install-test-deps.sh`).
use burn::backend::wgpu::{Wgpu, WgpuDevice};
use burn::tensor::backend::Backend;
use burn::tensor::{f16, Int, Tensor, TensorData};
use re_models::hub::load_encoder;

use crate::common::{expected, fixture_dir, Case, TOLERANCE};

type Cpu = burn::backend::NdArray<f32>;
type Gpu = Wgpu<f32, i32, u32>;
type Half = Wgpu<f16, i32, u32>;

/// The wgpu device of these tests. Fails (never skips) when no Vulkan adapter is found, so that a CI run whose
/// driver install failed does not pass silently.
fn wgpu_device() -> WgpuDevice {
    static PROBE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let device = WgpuDevice::DefaultDevice;
    let probe = PROBE.get_or_init(|| {
        // Mesa warns on every device creation without it.
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            let dir = std::env::temp_dir().join(format!("kre-xdg-{}", std::process::id()));
            if std::fs::create_dir_all(&dir).is_ok() {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
                }
                std::env::set_var("XDG_RUNTIME_DIR", &dir);
            }
        }
        let dev = device.clone();
        std::panic::catch_unwind(move || {
            let s: f32 = Tensor::<Gpu, 1>::from_floats([1.0, 2.0, 3.0], &dev).sum().into_scalar();
            assert_eq!(s, 6.0, "wgpu adapter computed 1 + 2 + 3 = {s}");
        })
        .map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    });
    if let Err(msg) = probe {
        panic!(
            "no usable wgpu (Vulkan) adapter: {msg}\nThe wgpu tests need a Vulkan driver; on a machine without a GPU \
             run scripts/install-test-deps.sh (Debian packages mesa-vulkan-drivers and libvulkan1: Mesa's software \
             Vulkan, lavapipe)."
        );
    }
    device
}

/// A second logical device on the same adapter, for `Wgpu<f16>` only: burn 0.21 fixes a device's default float dtype
/// when a backend first touches it, so f16 on a device `Wgpu<f32>` used before would silently compute in f32.
fn half_device() -> WgpuDevice {
    static HALF: std::sync::OnceLock<WgpuDevice> = std::sync::OnceLock::new();
    wgpu_device();
    HALF.get_or_init(|| {
        // lavapipe reports itself as a CPU device: the same adapter as `DefaultDevice` on a machine without a GPU, but
        // a device id of its own. (`init_setup` cannot make a second id: it registers the device it is given.)
        let device = WgpuDevice::Cpu;
        let probe = Tensor::<Half, 1>::from_floats([1.0], &device);
        assert_eq!(probe.dtype(), burn::tensor::DType::F16, "the f16 device makes {:?} tensors", probe.dtype());
        device
    })
    .clone()
}

fn int_tensor<B: Backend>(rows: &[Vec<i64>], device: &B::Device) -> Tensor<B, 2, Int> {
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), rows[0].len()]), device)
}

/// The family's safetensors checkpoint on backend `B`, run on `case`: the last hidden state, flattened.
fn hidden<B: Backend>(family: &str, case: &Case, device: &B::Device) -> Vec<f32> {
    let (encoder, _, _) = load_encoder::<B>(&fixture_dir(family).join("safetensors"), device).expect("load");
    // RoBERTa's parity cases run without token types, as transformers did.
    let types = (family != "roberta").then(|| int_tensor::<B>(&case.token_type_ids, device));
    let out =
        encoder.forward(int_tensor::<B>(&case.input_ids, device), int_tensor::<B>(&case.attention_mask, device), types);
    assert_eq!(out.dims().to_vec(), case.shape, "{family} {}", case.name);
    out.into_data().convert::<f32>().to_vec().expect("f32 data")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn encoders_on_wgpu_equal_ndarray_and_transformers() {
    let gpu = wgpu_device();
    for family in ["bert", "roberta", "electra", "deberta_v2", "deberta_v3"] {
        for case in &expected(family).cases {
            let on_gpu = hidden::<Gpu>(family, case, &gpu);
            let on_cpu = hidden::<Cpu>(family, case, &Default::default());
            let (d_cpu, d_hf) = (max_abs_diff(&on_gpu, &on_cpu), max_abs_diff(&on_gpu, &case.last_hidden_state));
            eprintln!("{family} {}: wgpu vs NdArray max |Δ| {d_cpu:.2e}, vs transformers {d_hf:.2e}", case.name);
            assert!(d_cpu <= TOLERANCE, "{family} {}: wgpu differs from NdArray by {d_cpu}", case.name);
            assert!(d_hf <= TOLERANCE, "{family} {}: wgpu differs from transformers by {d_hf}", case.name);
        }
    }
}

/// f16 weights and activations on wgpu stay within 1e-2 of f32, padded positions included (the additive attention
/// mask must be finite in f16).
#[test]
fn encoders_in_f16_on_wgpu_are_close_to_f32() {
    let gpu = wgpu_device();
    let hdev = half_device();
    for family in ["bert", "roberta", "electra", "deberta_v2", "deberta_v3"] {
        for case in &expected(family).cases {
            let full = hidden::<Gpu>(family, case, &gpu);
            let half = hidden::<Half>(family, case, &hdev);
            assert!(half.iter().all(|v| v.is_finite()), "{family} {}: non-finite f16 output", case.name);
            let d = max_abs_diff(&full, &half);
            eprintln!("{family} {}: f16 vs f32 max |Δ| {d:.2e}", case.name);
            assert!(d <= 1e-2, "{family} {}: f16 differs from f32 by {d}", case.name);
        }
    }
}
