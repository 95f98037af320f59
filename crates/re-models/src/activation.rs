//! Hidden activations as Hugging Face configurations name them (`hidden_act`).
use burn::tensor::{activation, backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

/// The feed-forward activation of a transformer layer.
///
/// Deserialises from the `hidden_act` strings of `transformers.activations.ACT2FN`; only the ones the supported
/// checkpoints use are accepted (an unknown name is a configuration error rather than a silent substitute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Activation {
    /// Exact GELU, `x · Φ(x)` with the error function (`gelu`, `gelu_python`).
    #[default]
    #[serde(rename = "gelu", alias = "gelu_python")]
    Gelu,
    /// The tanh approximation `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (`gelu_new`, `gelu_pytorch_tanh`,
    /// `gelu_fast` differ only in rounding).
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluNew,
    /// `max(0, x)`.
    #[serde(rename = "relu")]
    Relu,
}

impl Activation {
    /// Applies the activation element-wise.
    pub fn forward<B: Backend, const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            // Under autodiff, exact GELU with its exact derivative (one fused kernel on burn-ndarray); burn 0.21's
            // own `gelu` back-propagates the derivative of the tanh approximation.
            Activation::Gelu => crate::host_ops::gelu(x),
            Activation::GeluNew => activation::gelu_approximate(x),
            Activation::Relu => activation::relu(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn names_and_values_match_hf() {
        let parsed: Vec<Activation> =
            serde_json::from_str(r#"["gelu","gelu_new","relu","gelu_pytorch_tanh"]"#).unwrap();
        assert_eq!(parsed, vec![Activation::Gelu, Activation::GeluNew, Activation::Relu, Activation::GeluNew]);
        assert!(serde_json::from_str::<Activation>(r#""swish""#).is_err());
        let device = Default::default();
        let x = Tensor::<NdArray, 1>::from_floats([-1.0, 0.5, 2.0], &device);
        // Reference values: torch.nn.functional.gelu(x) and gelu(x, approximate="tanh").
        let exact: Vec<f32> = Activation::Gelu.forward(x.clone()).into_data().to_vec().unwrap();
        let tanh: Vec<f32> = Activation::GeluNew.forward(x.clone()).into_data().to_vec().unwrap();
        let relu: Vec<f32> = Activation::Relu.forward(x).into_data().to_vec().unwrap();
        // Hand computation: gelu(x) = x/2 (1 + erf(x/√2)); erf(-1/√2) = -0.682689, erf(0.5/√2) = 0.382925, erf(√2) = 0.954500.
        let expected_exact = [-0.5 * (1.0 - 0.682_689_5), 0.25 * (1.0 + 0.382_924_8), 1.0 + 0.954_499_7];
        for (a, b) in exact.iter().zip(expected_exact) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // tanh approximation: 0.5x(1+tanh(0.797885(x+0.044715x³))).
        for (&a, x) in tanh.iter().zip([-1.0f32, 0.5, 2.0]) {
            let b = 0.5 * x * (1.0 + (0.797_884_56 * (x + 0.044_715 * x * x * x)).tanh());
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(relu, vec![0.0, 0.5, 2.0]);
    }

    #[test]
    fn exact_gelu_gradient_under_autodiff() {
        type Ad = burn::backend::Autodiff<NdArray>;
        let device = Default::default();
        let xs = [-1.0f64, 0.5, 2.0];
        let x = Tensor::<Ad, 1>::from_floats([-1.0f32, 0.5, 2.0], &device).require_grad();
        let y = Activation::Gelu.forward(x.clone());
        let values: Vec<f32> = y.clone().into_data().to_vec().unwrap();
        let grads = y.sum().backward();
        let grad: Vec<f32> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
        // d/dx x·Φ(x) = Φ(x) + x·φ(x), with Φ(-1) = 0.158655254, Φ(0.5) = 0.691462461, Φ(2) = 0.977249868.
        let cdf = [0.158_655_254f64, 0.691_462_461, 0.977_249_868];
        for ((&x, c), (&g, &v)) in xs.iter().zip(cdf).zip(grad.iter().zip(&values)) {
            let pdf = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let expected = c + x * pdf;
            // burn's tanh-approximation derivative is off by 1.3e-4 (x = 0.5) to 8.7e-4 (x = 2) here.
            assert!((g as f64 - expected).abs() < 2e-6, "x = {x}: gradient {g} vs {expected}");
            assert!((v as f64 - x * c).abs() < 1e-6, "x = {x}: value {v} vs {}", x * c);
        }
    }
}
