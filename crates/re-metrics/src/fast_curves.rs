//! The fast path behind [`crate::class_curve_scores`]: the precision–recall AUC and average precision of every
//! one-vs-rest column in **one row-major pass** over the score matrix, without sorting any column.
//!
//! The area and the step sum only change at thresholds that contain a positive. So per class only the positives'
//! scores are sorted (descending: `d_0 ≥ d_1 ≥ …`, a run of equal scores being one threshold), and every other
//! score `s` of the column that is not below the lowest positive is placed into a histogram slot: `2g` if it lies
//! strictly between `d_{g-1}` and `d_g` (`d_{-1} = +∞`), `2g + 1` if it equals `d_g`, where `g` = the number of
//! positives scoring above `s`. A threshold's counts of examples scoring `>` and `==` it follow by a prefix sum.
//! Scores below the lowest positive never change the area and are not placed (about two thirds of a KLUE-like
//! matrix): per row, a vectorised comparison against every class's lowest positive gives a bit mask of the scores
//! to place.
//!
//! `g` comes from a bucket table over the class's order keys (`(key - key_low) >> shift`, keys above the highest
//! positive clamped to it, [`BUCKETS_PER_SCORE`] buckets per positive): the table holds the position of the first
//! positive in the bucket or a lower one, so a score needs one comparison unless another positive of its bucket is
//! above it (a few % of the scores; binary search within the bucket). The positives are sorted by a counting sort
//! on the bucket (which also builds the table) and an insertion sort within the buckets. A `-∞` sentinel ends each
//! class's positives.
//!
//! The per-threshold terms are the IEEE expressions scikit-learn evaluates, accumulated with a compensated sum, so
//! the results agree with scikit-learn's pairwise sums to a few ulps (and are bit-identical to those of the
//! per-column fast path this pass replaced).
use crate::numeric::CompensatedSum;
use crate::ranking::{clip_average_precision, ClassCurveScore};

/// Buckets per positive (rounded up to a power of two per class, between [`MIN_BUCKETS`] and [`MAX_BUCKETS`]).
/// More buckets: fewer in-bucket comparisons, larger tables; 8 measured best on KLUE-size input (4 and 16 within a
/// few %, 2 about 15 % slower).
const BUCKETS_PER_SCORE: usize = 8;
const MIN_BUCKETS: usize = 16;
const MAX_BUCKETS: usize = 1 << 16;

/// Columns handled per selection word.
const LANES: usize = 64;

/// `BITS[i] = 1 << i`.
static BITS: [u64; LANES] = {
    let mut bits = [0u64; LANES];
    let mut i = 0;
    while i < LANES {
        bits[i] = 1 << i;
        i += 1;
    }
    bits
};

/// Order-preserving map from a finite `f64` to `u64`: `a < b ⇔ key(a) < key(b)`, and `key(-0.0) == key(0.0)`,
/// so that equal scores have equal keys. Non-negative: the bits with the top bit set; negative: the bits negated
/// (two's complement), which reverses the order of the magnitudes and sends `-0.0` to `1 << 63`.
#[inline(always)]
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    let negative = ((bits as i64) >> 63) as u64;
    (bits ^ negative).wrapping_sub(negative) | (!negative & (1 << 63))
}

/// Inverse of [`order_key`] (zero comes back as `+0.0`).
#[inline]
fn from_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key ^ (1 << 63) } else { key.wrapping_neg() })
}

/// Which of `values` are `>= lowest` (bit `bits[i]`), and which are not finite (same bits). Written as and/or
/// over lane masks, without a variable shift, so that it vectorises.
#[inline(always)]
fn select(values: &[f64], lowest: &[f64], bits: &[u64]) -> (u64, u64) {
    let (mut selected, mut not_finite) = (0u64, 0u64);
    for ((&value, &low), &bit) in values.iter().zip(lowest).zip(bits) {
        selected |= bit & 0u64.wrapping_sub(u64::from(value >= low));
        not_finite |= bit & 0u64.wrapping_sub(u64::from(!value.is_finite()));
    }
    (selected, not_finite)
}

/// Placement parameters of one class: the bucket of an order key `key ≥ key_low` is
/// `b = (key.min(key_high) - key_low) >> shift`; `table[table_start + b]` is the position (in
/// [`Layout::sorted`]) of the class's first positive in bucket `b` or a lower one, `table[table_start + b - 1]`
/// the end of bucket `b`.
#[derive(Clone, Copy, Debug)]
struct ClassTable {
    key_low: u64,
    key_high: u64,
    shift: u32,
    table_start: usize,
}

/// The sorted positives and bucket tables of all classes, in shared buffers.
struct Layout {
    params: Vec<ClassTable>,
    /// Per class: its lowest positive score (`+∞` without positives). Scores below it are not placed.
    lowest: Vec<f64>,
    /// Per class: its positives' scores in descending order, then a `-∞` sentinel; class `c` starts at
    /// `positive_start[c] + c`.
    sorted: Vec<f64>,
    /// Per class: start of its positives in gold-id order (`num_labels + 1` entries).
    positive_start: Vec<usize>,
    /// Per class: `buckets + 1` entries (see [`ClassTable`]).
    table: Vec<u32>,
}

/// Buckets of a class with `positives` positives (a power of two).
fn bucket_count(positives: usize) -> usize {
    if positives == 0 {
        1
    } else {
        (BUCKETS_PER_SCORE * positives).next_power_of_two().clamp(MIN_BUCKETS, MAX_BUCKETS)
    }
}

/// Per-class precision–recall AUC and average precision of every column of the row-major `[gold.len(),
/// num_labels]` matrix `probs`, or `None` if a score is not finite. The shape and the gold ids must be valid (see
/// `validate::score_matrix_shape`), and `gold.len() + num_labels` must be below `u32::MAX`.
pub(crate) fn class_curve_scores(gold: &[usize], probs: &[f64], num_labels: usize) -> Option<Vec<ClassCurveScore>> {
    let layout = Layout::build(gold, probs, num_labels);
    let mut histogram = vec![0u32; 2 * layout.sorted.len()];
    if !layout.place(probs, num_labels, &mut histogram) {
        return None;
    }
    Some((0..num_labels).map(|c| layout.accumulate(c, &histogram)).collect())
}

impl Layout {
    fn build(gold: &[usize], probs: &[f64], num_labels: usize) -> Layout {
        let n = gold.len();
        // Positives' order keys grouped by class (counting sort on the gold id).
        let mut positive_start = vec![0usize; num_labels + 1];
        for &g in gold {
            positive_start[g + 1] += 1;
        }
        for c in 0..num_labels {
            positive_start[c + 1] += positive_start[c];
        }
        let mut fill = positive_start.clone();
        let mut positive_keys = vec![0u64; n];
        for (row, &g) in gold.iter().enumerate() {
            positive_keys[fill[g]] = order_key(probs[row * num_labels + g]);
            fill[g] += 1;
        }

        let table_len = (0..num_labels).map(|c| bucket_count(positive_start[c + 1] - positive_start[c]) + 1).sum();
        let mut layout = Layout {
            params: Vec::with_capacity(num_labels),
            lowest: Vec::with_capacity(num_labels),
            sorted: vec![f64::NEG_INFINITY; n + num_labels],
            positive_start,
            table: vec![0; table_len],
        };
        let mut scratch = Vec::new();
        let mut table_start = 0;
        for c in 0..num_labels {
            let (first, end) = (layout.positive_start[c], layout.positive_start[c + 1]);
            let table = table_start..table_start + bucket_count(end - first) + 1;
            let (params, lowest) = sort_class(
                &positive_keys[first..end],
                first + c,
                &mut layout.sorted[first + c..end + c],
                &mut layout.table[table.clone()],
                &mut scratch,
            );
            layout.params.push(ClassTable { table_start: table.start + 1, ..params });
            layout.lowest.push(lowest);
            table_start = table.end;
        }
        layout
    }

    /// Adds every score that is not below its class's lowest positive to the class's histogram (slot `2g` or
    /// `2g + 1`, `g` a position in `sorted`). Returns whether every score is finite (the pass reads them all; a
    /// non-finite score cannot make it panic).
    fn place(&self, probs: &[f64], num_labels: usize, histogram: &mut [u32]) -> bool {
        let k = num_labels;
        let mut not_finite = 0u64;
        if k <= LANES {
            // One selection word per row. Rows are read through a window of `width` (a multiple of 8) values, so
            // that the selection loop has no scalar remainder; the extra values belong to the next row and are
            // masked out (lowest `+∞`, bit 0). The last rows, whose window would leave the matrix, read exactly
            // `k` values.
            let width = k.next_multiple_of(8);
            let mut lowest = [f64::INFINITY; LANES];
            lowest[..k].copy_from_slice(&self.lowest);
            let mut bits = [0u64; LANES];
            bits[..k].copy_from_slice(&BITS[..k]);
            let (lowest, bits) = (&lowest[..width], &bits[..width]);
            let rows = probs.len() / k;
            let windowed = if probs.len() >= width { ((probs.len() - width) / k + 1).min(rows) } else { 0 };
            for r in 0..windowed {
                let (selected, bad) = select(&probs[r * k..r * k + width], lowest, bits);
                not_finite |= bad;
                self.place_selected(&probs[r * k..], 0, selected, histogram);
            }
            for r in windowed..rows {
                let (selected, bad) = select(&probs[r * k..(r + 1) * k], lowest, bits);
                not_finite |= bad;
                self.place_selected(&probs[r * k..], 0, selected, histogram);
            }
        } else {
            for row in probs.chunks_exact(k) {
                for (chunk, (values, lowest)) in row.chunks(LANES).zip(self.lowest.chunks(LANES)).enumerate() {
                    let (selected, bad) = select(values, lowest, &BITS);
                    not_finite |= bad;
                    self.place_selected(values, chunk * LANES, selected, histogram);
                }
            }
        }
        not_finite == 0
    }

    /// Places `values[i]` for every bit `i` of `selected` (class `first_class + i`).
    #[inline(always)]
    fn place_selected(&self, values: &[f64], first_class: usize, mut selected: u64, histogram: &mut [u32]) {
        let (params, table, sorted) = (&self.params[first_class..], &self.table[..], &self.sorted[..]);
        while selected != 0 {
            let i = selected.trailing_zeros() as usize;
            selected &= selected - 1;
            let p = &params[i];
            let s = values[i];
            // `s >= lowest`, so `key >= key_low` (and NaN is never selected).
            let bucket = p.table_start + ((order_key(s).min(p.key_high) - p.key_low) >> p.shift) as usize;
            // Positives before `lo` are in higher buckets (> s), those from the end of the bucket on in lower ones
            // (< s), the sentinel included.
            let lo = table[bucket] as usize;
            let mut g = lo;
            if sorted[lo] > s {
                // Another positive of the bucket is above `s` too.
                let end = table[bucket - 1] as usize;
                g = lo + 1 + sorted[lo + 1..end].partition_point(|&u| u > s);
            }
            histogram[2 * g + usize::from(sorted[g] == s)] += 1;
        }
    }

    /// Walks the thresholds of class `c` (its distinct positive scores, descending). At threshold `d` the curve
    /// point is `(tps, fps)` of the examples scoring `>= d`; the previous point (next higher threshold) has every
    /// example scoring `> d`.
    fn accumulate(&self, c: usize, histogram: &[u32]) -> ClassCurveScore {
        let start = self.positive_start[c] + c;
        let positives_total = self.positive_start[c + 1] - self.positive_start[c];
        if positives_total == 0 {
            // scikit-learn sets recall to 1 at every threshold: the curve is (1, 0)…(1, 0), then (0, 1), so the
            // trapezoid area is exactly 0.5 and the step sum exactly 0.
            return ClassCurveScore { pr_auc: 0.5, average_precision: 0.0, positives: 0 };
        }
        // The class's positives, then the sentinel (never equal to a finite score, so runs stop there).
        let sorted = &self.sorted[start..=start + positives_total];
        let slots = &histogram[2 * start..2 * (start + positives_total)];
        let total = positives_total as f64;
        let mut area = CompensatedSum::default();
        let mut step = CompensatedSum::default();
        // The previous point's recall is the previous iteration's (same expression, same integers), and so is its
        // precision unless negatives lie strictly between the two thresholds; the first previous point is the
        // appended (recall 0, precision 1) end point, or (0, 0) when negatives score above every positive.
        let (mut tps_prev, mut negatives_above) = (0u64, 0u64);
        let (mut recall_prev, mut precision_last) = (0.0, 1.0);
        let mut j = 0;
        while j < positives_total {
            // A run of equal positives is one threshold; every score equal to it was counted at the run's start.
            let mut end = j + 1;
            while sorted[end] == sorted[j] {
                end += 1;
            }
            let positives = (end - j) as u64;
            let between = u64::from(slots[2 * j]);
            negatives_above += between;
            let negatives_equal = u64::from(slots[2 * j + 1]) - positives;
            let precision_prev =
                if between == 0 { precision_last } else { tps_prev as f64 / (tps_prev + negatives_above) as f64 };
            let tps = tps_prev + positives;
            let fps = negatives_above + negatives_equal;
            let recall = tps as f64 / total;
            let precision = tps as f64 / (tps + fps) as f64;
            let dx = recall_prev - recall;
            area.add(dx * (precision_prev + precision) / 2.0);
            step.add(dx * precision);
            tps_prev = tps;
            negatives_above = fps;
            recall_prev = recall;
            precision_last = precision;
            j = end;
        }
        ClassCurveScore {
            pr_auc: -area.value(),
            average_precision: clip_average_precision(-step.value()),
            positives: positives_total as u64,
        }
    }
}

/// Sorts one class's positives (order keys `keys`, to be stored from position `start` of [`Layout::sorted`]) into
/// `sorted` (descending) and builds its bucket table in `table` (`buckets + 1` zeroed entries): a counting sort on
/// the bucket, then an insertion sort, the keys being sorted but for the order within each bucket. Returns the
/// class's parameters (`table_start` relative to `table`, minus one) and its lowest positive score.
fn sort_class(
    keys: &[u64],
    start: usize,
    sorted: &mut [f64],
    table: &mut [u32],
    scratch: &mut Vec<u64>,
) -> (ClassTable, f64) {
    let buckets = table.len() - 1;
    let (Some(&key_low), Some(&key_high)) = (keys.iter().min(), keys.iter().max()) else {
        // No positive: never placed; the table points at the sentinel.
        table.fill(position(start));
        return (ClassTable { key_low: 0, key_high: 0, shift: 0, table_start: 0 }, f64::INFINITY);
    };
    // Keys above `key_high` are clamped to it in the pass, which is exact because the in-bucket comparisons use
    // the score itself: a score above every positive lands in the top bucket, above its positives.
    let range = key_high - key_low;
    let shift = (64 - range.leading_zeros()).saturating_sub(buckets.trailing_zeros());
    let bucket_of_key = |key: u64| ((key - key_low) >> shift) as usize;
    for &key in keys {
        table[bucket_of_key(key)] += 1;
    }
    // Exclusive prefix sums from the top bucket down: table[b] = first position of bucket b.
    let mut next = position(start);
    for entry in table[..buckets].iter_mut().rev() {
        let count = *entry;
        *entry = next;
        next += count;
    }
    table[buckets] = position(start);
    // Scatter. Afterwards table[b] = end of bucket b, and table[b + 1] = first position of bucket b (table[buckets]
    // = start for the top bucket): the layout `ClassTable` describes, shifted by one.
    scratch.clear();
    scratch.resize(keys.len(), 0);
    for &key in keys {
        let entry = &mut table[bucket_of_key(key)];
        scratch[*entry as usize - start] = key;
        *entry += 1;
    }
    sort_descending_nearly_sorted(scratch);
    for (value, &key) in sorted.iter_mut().zip(scratch.iter()) {
        *value = from_order_key(key);
    }
    (ClassTable { key_low, key_high, shift, table_start: 0 }, from_order_key(key_low))
}

/// Insertion sort (descending) for keys that are sorted but for a few local swaps; falls back to a full sort when
/// that turns out to be wrong (many keys in one bucket), so the worst case stays `O(n log n)`.
fn sort_descending_nearly_sorted(keys: &mut [u64]) {
    let mut budget = 8 * keys.len() + 64;
    for i in 1..keys.len() {
        let key = keys[i];
        let mut j = i;
        while j > 0 && keys[j - 1] < key {
            keys[j] = keys[j - 1];
            j -= 1;
            budget -= 1;
            if budget == 0 {
                keys[j] = key;
                keys.sort_unstable_by(|a, b| b.cmp(a));
                return;
            }
        }
        keys[j] = key;
    }
}

/// A position in [`Layout::sorted`] as stored in the tables (the caller checked that it fits).
fn position(index: usize) -> u32 {
    u32::try_from(index).expect("fewer than u32::MAX scores")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_key_orders_and_merges_zeros() {
        let values = [f64::MIN, -1e300, -1.5, -1e-310, -0.0, 0.0, 1e-310, 0.25, 1.0, f64::MAX];
        for pair in values.windows(2) {
            let (a, b) = (order_key(pair[0]), order_key(pair[1]));
            if pair[0] == pair[1] {
                assert_eq!(a, b, "{pair:?}");
            } else {
                assert!(a < b, "{pair:?}");
            }
        }
        for &v in &values {
            assert_eq!(from_order_key(order_key(v)), v);
            assert_eq!(from_order_key(order_key(v)).to_bits(), (v + 0.0).to_bits());
        }
    }

    #[test]
    fn nearly_sorted_sort_falls_back() {
        let mut keys: Vec<u64> = (0..1000).collect();
        sort_descending_nearly_sorted(&mut keys); // ascending input: far more than the budget of moves
        assert!(keys.windows(2).all(|w| w[0] >= w[1]));
        let mut keys = vec![5, 7, 3, 3, 9, 1];
        sort_descending_nearly_sorted(&mut keys);
        assert_eq!(keys, vec![9, 7, 5, 3, 3, 1]);
    }
}
