//! Sentence pooling of an encoder's last hidden state (used by
//! [`crate::inference::InferenceEncoder::sentence_embeddings`], hence `kre encode`, and the MiniLM reference test).
use burn::tensor::{backend::Backend, Int, Tensor};

/// How a sequence of hidden states becomes one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SentencePooling {
    /// Average over the non-padding tokens (`attention_mask == 1`), `[CLS]`/`[SEP]` included.
    #[default]
    Mean,
    /// The first token's state (`[CLS]`).
    Cls,
}

impl SentencePooling {
    /// Pools `hidden` `[batch, seq, dim]` with the 0/1 `attention_mask` `[batch, seq]` into `[batch, dim]`.
    pub fn pool<B: Backend>(&self, hidden: Tensor<B, 3>, attention_mask: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        match self {
            Self::Mean => mean_pool(hidden, attention_mask),
            Self::Cls => cls_pool(hidden),
        }
    }
}

/// `Σ_t mask_t · h_t / Σ_t mask_t` per sequence (sentence-transformers' mean pooling, without normalisation); a row
/// with no token yields zeros instead of NaN.
pub fn mean_pool<B: Backend>(hidden: Tensor<B, 3>, attention_mask: Tensor<B, 2, Int>) -> Tensor<B, 2> {
    let [batch, seq, dim] = hidden.dims();
    let mask = attention_mask.float().reshape([batch, seq, 1]);
    let summed = (hidden * mask.clone()).sum_dim(1).reshape([batch, dim]);
    let counts = mask.sum_dim(1).reshape([batch, 1]).clamp_min(1.0);
    summed / counts
}

/// The first token's hidden state, `[batch, dim]`.
pub fn cls_pool<B: Backend>(hidden: Tensor<B, 3>) -> Tensor<B, 2> {
    let [batch, _, dim] = hidden.dims();
    hidden.slice([0..batch, 0..1, 0..dim]).reshape([batch, dim])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn mean_ignores_padding_and_cls_takes_first() {
        let device = Default::default();
        // batch 2, seq 3, dim 2; second row has one padding position holding a large value that must not count.
        let hidden = Tensor::<NdArray, 3>::from_floats(
            [[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [[1.0, 1.0], [3.0, -1.0], [100.0, 100.0]]],
            &device,
        );
        let mask = Tensor::<NdArray, 2, Int>::from_ints([[1, 1, 1], [1, 1, 0]], &device);
        let mean: Vec<f32> = mean_pool(hidden.clone(), mask).into_data().to_vec().unwrap();
        assert_eq!(mean, vec![3.0, 4.0, 2.0, 0.0]);
        let cls: Vec<f32> = cls_pool(hidden).into_data().to_vec().unwrap();
        assert_eq!(cls, vec![1.0, 2.0, 1.0, 1.0]);
    }
}
