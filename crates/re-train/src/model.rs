//! The relation classifier: encoder (any family) + relation head. Inputs come as an [`EncodedBatch`]
//! from `re-data`; this module only turns it into tensors.
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use re_data::encode::EncodedBatch;
use re_models::encoder::Encoder;
use re_models::head::{HeadOutput, RelationHead};

#[derive(Module, Debug)]
pub struct RelationClassifier<B: Backend> {
    pub encoder: Encoder<B>,
    pub head: RelationHead<B>,
}

/// An [`EncodedBatch`] as tensors on one device.
#[derive(Debug, Clone)]
pub struct BatchTensors<B: Backend> {
    pub input_ids: Tensor<B, 2, Int>,
    pub attention_mask: Tensor<B, 2, Int>,
    pub token_type_ids: Tensor<B, 2, Int>,
    pub subject_start: Tensor<B, 1, Int>,
    pub object_start: Tensor<B, 1, Int>,
    pub subject_span: Tensor<B, 2, Int>,
    pub object_span: Tensor<B, 2, Int>,
    pub labels: Option<Tensor<B, 1, Int>>,
}

impl<B: Backend> BatchTensors<B> {
    pub fn from_batch(batch: &EncodedBatch, device: &B::Device) -> Self {
        let (b, s) = (batch.batch_size, batch.seq_len);
        let mat = |v: &[i64]| Tensor::<B, 2, Int>::from_data(TensorData::new(v.to_vec(), [b, s]), device);
        let vec1 = |v: &[i64]| Tensor::<B, 1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), device);
        let spans = |v: &[(i64, i64)]| {
            let flat: Vec<i64> = v.iter().flat_map(|&(a, z)| [a, z]).collect();
            Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [v.len(), 2]), device)
        };
        BatchTensors {
            input_ids: mat(&batch.input_ids),
            attention_mask: mat(&batch.attention_mask),
            token_type_ids: mat(&batch.token_type_ids),
            subject_start: vec1(&batch.subject_start),
            object_start: vec1(&batch.object_start),
            subject_span: spans(&batch.subject_span),
            object_span: spans(&batch.object_span),
            labels: batch.labels.as_ref().map(|l| vec1(l)),
        }
    }
}

impl<B: Backend> RelationClassifier<B> {
    /// logits [batch, num_labels] and the number of spans that fell back to CLS.
    pub fn forward(&self, x: &BatchTensors<B>) -> HeadOutput<B> {
        let hidden =
            self.encoder.forward(x.input_ids.clone(), x.attention_mask.clone(), Some(x.token_type_ids.clone()));
        self.head.forward(
            hidden,
            x.subject_start.clone(),
            x.object_start.clone(),
            x.subject_span.clone(),
            x.object_span.clone(),
        )
    }
}
