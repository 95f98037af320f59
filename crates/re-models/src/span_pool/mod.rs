//! Span pooling that touches only the span tokens: one row gather, then a segment reduction.
//!
//! Entity spans are short (a few tokens) and sit anywhere in a sequence of 128–512, so pooling over full-length masks
//! (`[b, s, h]`) or padded windows (`[b, L, h]` with masks) moves far more memory than the few rows that matter, and
//! on CPU loses to a plain per-example loop. [`SpanSegments`] instead reads the spans to the host once (they are a
//! `[b, 2]` integer tensor; the head read a value back before too) and plans:
//!
//! 1. **gather**: one `gather_nd` of the distinct span rows of `hidden [b, s, h]`, indexed by `(example, token)`
//!    pairs. Not `reshape([b·s, h])` + `select`: burn-ndarray's `reshape` copies the whole tensor (it goes through a
//!    `CowArray` view → owned array), which alone costs more than the per-example loop. The rows are distinct
//!    because the backward of `gather_nd` is a `scatter_nd(Add)`, which the CubeCL backends (wgpu, CUDA) run without
//!    atomics: a row gathered twice would lose one of its gradients there. Rows shared by two spans (overlapping
//!    subject and object, two CLS fallbacks) are then expanded with a `select` of the gathered `[u, h]` (whose
//!    backward, `select_assign`, loops over the indices and is exact); without overlap that step is skipped.
//! 2. **reduce** per span ("segment"):
//!    - mean: a segment sum with `select_assign(Add)` into `[S, h]` zeros, divided by the lengths;
//!    - max: the rows re-selected position-major into `[L·S, h]` (`L` = longest span; a short span repeats its last
//!      row, which cannot change a max), then a halving tree of `max_pair` over contiguous blocks of rows;
//!    - attention: scores `rows · w` (one GEMV over the gathered rows), padded to `[S, L]` only as scalars for the
//!      softmax, selected back to one weight per row, and a weighted segment sum.
//!
//! On burn-ndarray f32 (plain and under autodiff) the same plan runs instead as one host loop over the span rows
//! with a hand-written backward ([`cpu`]; chosen at run time, [`SpanSegments::uses_fused_kernels`]); the generic
//! steps below are what every other backend runs, and what [`SpanSegments::with_generic_ops`] forces.
//!
//! Every generic step is a burn op, so this runs on every backend and under autodiff. The only backend-specific
//! requirement is burn-ndarray's: its `gather_nd` reads the hidden state as one contiguous slice, so `hidden` must be
//! in standard layout there (encoder outputs are; a `swap_dims`/`expand` view would panic inside burn-ndarray).
//!
//! Spans follow the head's rules: `(start, end)` with `end` exclusive, clamped to `0..s` (a span cut by truncation
//! keeps its in-range part). A span with no in-range token gathers its example's CLS row (token 0) as a span of
//! length 1, which every reduction returns unchanged: that *is* the head's CLS fallback (value and gradient), with no
//! mask pass afterwards. [`SpanSegments::non_empty`] and [`SpanSegments::fallback_count`] report which spans did.
//!
//! Several span tensors (a head's subject and object spans) can share one plan: with `G` groups of `b` spans, segment
//! `i·G + g` is example `i`'s span of group `g`, so a pooled `[b·G, h]` reshapes to `[b, G·h]`, i.e. the per-example
//! concatenation `[subject_i, object_i]`, by a reshape instead of a `cat`.

use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::layers::most_negative;

mod cpu;
use cpu::Reduction;

/// Which rows of a hidden state `[b, s, h]` form each span, planned on the host. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SpanSegments<B: Backend> {
    batch: usize,
    seq_len: usize,
    groups: usize,
    /// First row of each segment in the segment-after-segment row list (`n` rows in all).
    offsets: Vec<usize>,
    /// Rows of each segment (≥ 1: an empty span takes its CLS row).
    lengths: Vec<usize>,
    /// Whether each span had an in-range token (false: it pools to the CLS vector).
    non_empty: Vec<bool>,
    /// `(example, token)` of each distinct gathered row (`u` of them), flattened `[u, 2]`.
    distinct: Vec<i64>,
    /// For each of the `n` segment rows, its row among the distinct ones.
    row_of: Vec<usize>,
    /// Run the generic burn ops even where the fused CPU pass exists.
    generic_ops: bool,
    device: B::Device,
}

impl<B: Backend> SpanSegments<B> {
    /// Plans the spans of `G = span_groups.len()` tensors `[b, 2]` (start, end-exclusive) over a sequence of length
    /// `seq_len`. Reads the spans to the host (one transfer for all groups).
    ///
    /// # Panics
    /// If `span_groups` is empty, a tensor is not `[b, 2]` with the same `b`, or `seq_len` is 0.
    pub fn new(span_groups: &[Tensor<B, 2, Int>], seq_len: usize) -> Self {
        assert!(!span_groups.is_empty(), "SpanSegments::new needs at least one span tensor");
        let [batch, pair] = span_groups[0].dims();
        assert_eq!(pair, 2, "spans are [batch, 2] (start, end)");
        let device = span_groups[0].device();
        let groups = span_groups.len();
        let all = if groups == 1 { span_groups[0].clone() } else { Tensor::cat(span_groups.to_vec(), 0) };
        assert_eq!(all.dims(), [groups * batch, 2], "every span tensor must be [batch, 2] with the same batch");
        let flat = crate::host_ops::int_values(all);
        let spans: Vec<Vec<(i64, i64)>> = flat.chunks_exact(2 * batch).map(pairs).collect();
        Self::from_ranges(&spans, seq_len, &device)
    }

    /// Plans host-side spans: `span_groups[g][i] = (start, end)` of example `i` in group `g` (every group has the same
    /// batch size).
    ///
    /// # Panics
    /// If `span_groups` is empty, the groups differ in length, or `seq_len` is 0.
    pub fn from_ranges(span_groups: &[Vec<(i64, i64)>], seq_len: usize, device: &B::Device) -> Self {
        assert!(!span_groups.is_empty(), "SpanSegments needs at least one span group");
        assert!(seq_len > 0, "SpanSegments needs a non-empty sequence (the CLS fallback reads token 0)");
        let batch = span_groups[0].len();
        assert!(span_groups.iter().all(|g| g.len() == batch), "every span group must hold one span per example");
        let groups = span_groups.len();
        let last = seq_len as i64;
        let segments = batch * groups;
        // Rows in all (an empty span takes one, its CLS row), so the row lists are sized once.
        let total_rows: usize = span_groups
            .iter()
            .flatten()
            .map(|&(start, end)| (end.clamp(0, last) - start.clamp(0, last)).max(1) as usize)
            .sum();
        let mut plan = Self {
            batch,
            seq_len,
            groups,
            offsets: Vec::with_capacity(segments),
            lengths: Vec::with_capacity(segments),
            non_empty: Vec::with_capacity(segments),
            distinct: Vec::with_capacity(2 * total_rows),
            row_of: Vec::with_capacity(total_rows),
            generic_ops: false,
            device: device.clone(),
        };
        // Distinct row of each token of the current example seen so far (spans of different examples never share
        // a row); reset after each example for the tokens it touched.
        let mut seen = vec![usize::MAX; seq_len];
        for example in 0..batch {
            let first_row = plan.row_of.len();
            for group in span_groups {
                // The head's rules: clamp to the sequence; nothing left falls back to CLS (token 0).
                let (start, end) = (group[example].0.clamp(0, last), group[example].1.clamp(0, last));
                let tokens = if end > start { start..end } else { 0..1 };
                plan.non_empty.push(end > start);
                plan.offsets.push(plan.row_of.len());
                plan.lengths.push((tokens.end - tokens.start) as usize);
                for token in tokens {
                    let slot = &mut seen[token as usize];
                    if *slot == usize::MAX {
                        *slot = plan.distinct.len() / 2;
                        plan.distinct.extend([example as i64, token]);
                    }
                    plan.row_of.push(*slot);
                }
            }
            for &row in &plan.row_of[first_row..] {
                seen[plan.distinct[2 * row + 1] as usize] = usize::MAX;
            }
        }
        plan
    }

    /// The same plan, run with the generic burn ops on every backend (the fused CPU pass is checked against them).
    pub fn with_generic_ops(mut self) -> Self {
        self.generic_ops = true;
        self
    }

    /// Whether the reductions run as the fused host pass (burn-ndarray f32, plain or under autodiff) rather than as
    /// generic burn ops.
    pub fn uses_fused_kernels(&self) -> bool {
        !self.generic_ops && crate::host_ops::runs_on::<B>()
    }

    /// The fused pass where it applies, else the inputs back for the generic ops.
    #[allow(clippy::type_complexity)]
    fn fused(
        &self,
        reduction: Reduction,
        hidden: Tensor<B, 3>,
        w: Option<Tensor<B, 2>>,
    ) -> Result<Tensor<B, 2>, (Tensor<B, 3>, Option<Tensor<B, 2>>)> {
        if self.generic_ops {
            return Err((hidden, w));
        }
        let [batch, seq_len, _] = hidden.dims();
        assert_eq!((batch, seq_len), (self.batch, self.seq_len), "hidden state does not match the planned spans");
        cpu::pool(self, reduction, hidden, w)
    }

    /// Number of spans per example (`G`).
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Number of segments `S = b·G`, the rows of every pooled output.
    pub fn num_segments(&self) -> usize {
        self.lengths.len()
    }

    /// Number of segment rows `n` (Σ span lengths, an empty span counting 1).
    pub fn num_rows(&self) -> usize {
        self.row_of.len()
    }

    /// Number of distinct `(example, token)` rows gathered (`u ≤ n`; less where spans overlap).
    pub fn num_distinct_rows(&self) -> usize {
        self.distinct.len() / 2
    }

    /// The longest segment (`L`).
    pub fn longest(&self) -> usize {
        self.lengths.iter().copied().max().unwrap_or(1)
    }

    /// Per segment (`i·G + g`), whether the span had an in-range token; false ones pool to the CLS vector.
    pub fn non_empty(&self) -> &[bool] {
        &self.non_empty
    }

    /// How many spans fell back to CLS.
    pub fn fallback_count(&self) -> usize {
        self.non_empty.iter().filter(|ok| !**ok).count()
    }

    /// Mean of each span of `hidden [b, s, h]` → `[S, h]`.
    pub fn mean(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let hidden = match self.fused(Reduction::Mean, hidden, None) {
            Ok(pooled) => return pooled,
            Err((hidden, _)) => hidden,
        };
        let lengths: Vec<f32> = self.lengths.iter().map(|&l| l as f32).collect();
        let lengths = Tensor::<B, 2>::from_data(TensorData::new(lengths, [self.num_segments(), 1]), &self.device);
        self.segment_sum(self.segment_rows(hidden)) / lengths
    }

    /// Element-wise maximum of each span of `hidden [b, s, h]` → `[S, h]`.
    pub fn max(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let hidden = match self.fused(Reduction::Max, hidden, None) {
            Ok(pooled) => return pooled,
            Err((hidden, _)) => hidden,
        };
        let (segments, longest) = (self.num_segments(), self.longest());
        // Position-major [L·S] so that each halving step below compares two contiguous blocks of rows; positions
        // past a segment's end repeat its last row (a no-op for max; under autodiff each max_pair sends the gradient
        // to one side only, so repeats never count twice).
        let mut index = Vec::with_capacity(longest * segments);
        for position in 0..longest {
            index.extend(
                self.offsets.iter().zip(&self.lengths).map(|(&o, &l)| self.row_of[o + position.min(l - 1)] as i64),
            );
        }
        let mut level = self.gather(hidden).select(0, self.index(index));
        let mut rows = longest;
        while rows > 1 {
            // With an odd count the two halves share the middle block, which max tolerates.
            let half = rows.div_ceil(2);
            let upper = level.clone().narrow(0, 0, half * segments);
            let lower = level.narrow(0, (rows - half) * segments, half * segments);
            level = upper.max_pair(lower);
            rows = half;
        }
        level
    }

    /// Attention pooling of each span of `hidden [b, s, h]` → `[S, h]`: softmax over the span's tokens of
    /// `token · w_g`, weighted sum; `w` is `[G, h]`, one vector per span group (a head's subject and object vectors).
    ///
    /// # Panics
    /// If `w` is not `[G, h]`.
    pub fn attention(&self, hidden: Tensor<B, 3>, w: Tensor<B, 2>) -> Tensor<B, 2> {
        let [_, _, width] = hidden.dims();
        assert_eq!(w.dims(), [self.groups, width], "attention vectors must be [groups, hidden]");
        let (hidden, w) = match self.fused(Reduction::Attention, hidden, Some(w)) {
            Ok(pooled) => return pooled,
            Err((hidden, w)) => (hidden, w.expect("given back as passed")),
        };
        let rows = self.segment_rows(hidden);
        let n = self.num_rows();
        let (segments, longest) = (self.num_segments(), self.longest());
        // One GEMV over the gathered rows (all groups' vectors at once), then each row keeps its own group's score.
        let scores = rows.clone().matmul(w.transpose());
        let scores = if self.groups == 1 {
            scores.reshape([n])
        } else {
            let groups = self.groups;
            let own = self.offsets.iter().zip(&self.lengths).enumerate().flat_map(|(segment, (&offset, &length))| {
                (offset..offset + length).map(move |row| (row * groups + segment % groups) as i64)
            });
            scores.reshape([n * groups]).select(0, self.index(own.collect()))
        };
        // The softmax runs on scalars padded to [S, L] (a few hundred values, not rows). Padding is masked with the
        // dtype's most negative finite value (f32::MIN is -inf in f16); every segment has ≥ 1 row, so no softmax row
        // is fully masked, and a CLS fallback's single row gets weight exactly 1.
        let mut padded = Vec::with_capacity(segments * longest);
        let mut outside = Vec::with_capacity(segments * longest);
        for (&offset, &length) in self.offsets.iter().zip(&self.lengths) {
            padded.extend((0..longest).map(|p| (offset + p.min(length - 1)) as i64));
            outside.extend((0..longest).map(|p| p >= length));
        }
        let outside = Tensor::<B, 2, Bool>::from_data(TensorData::new(outside, [segments, longest]), &self.device);
        let fill = most_negative(scores.dtype());
        let scores = scores.select(0, self.index(padded)).reshape([segments, longest]).mask_fill(outside, fill);
        // Back to one weight per row: row p of segment k is entry k·L + p.
        let back = self
            .lengths
            .iter()
            .enumerate()
            .flat_map(|(segment, &length)| (0..length).map(move |p| (segment * longest + p) as i64));
        let weights = softmax(scores, 1).reshape([segments * longest]).select(0, self.index(back.collect()));
        self.segment_sum(rows * weights.reshape([n, 1]))
    }

    /// The distinct span rows of `hidden`, `[u, h]`.
    fn gather(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let [batch, seq_len, _] = hidden.dims();
        assert_eq!((batch, seq_len), (self.batch, self.seq_len), "hidden state does not match the planned spans");
        let u = self.num_distinct_rows();
        let pairs = Tensor::<B, 2, Int>::from_data(TensorData::new(self.distinct.clone(), [u, 2]), &self.device);
        hidden.gather_nd(pairs)
    }

    /// Every segment's rows, segment after segment, `[n, h]`.
    fn segment_rows(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let distinct = self.gather(hidden);
        // Rows are numbered in order of first use, so without overlaps the row list is the distinct list itself.
        if self.num_distinct_rows() == self.num_rows() {
            distinct
        } else {
            distinct.select(0, self.index(self.row_of.iter().map(|&r| r as i64).collect()))
        }
    }

    /// Σ of each segment's rows of `values [n, h]` → `[S, h]` (a scatter-add; `select_assign` is exact on every
    /// backend, where `scatter_nd` races on CubeCL).
    fn segment_sum(&self, values: Tensor<B, 2>) -> Tensor<B, 2> {
        let [_, width] = values.dims();
        let segment_of_row =
            self.lengths.iter().enumerate().flat_map(|(segment, &length)| std::iter::repeat_n(segment as i64, length));
        Tensor::zeros([self.num_segments(), width], &self.device).select_assign(
            0,
            self.index(segment_of_row.collect()),
            values,
            IndexingUpdateOp::Add,
        )
    }

    fn index(&self, values: Vec<i64>) -> Tensor<B, 1, Int> {
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n]), &self.device)
    }
}

/// `[start, end, start, end, …]` → `[(start, end), …]`.
fn pairs(flat: &[i64]) -> Vec<(i64, i64)> {
    flat.chunks_exact(2).map(|pair| (pair[0], pair[1])).collect()
}
