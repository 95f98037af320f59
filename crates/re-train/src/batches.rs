//! Batch order: a seeded shuffle, optionally bucketed by length so each batch pads to a similar length
//! (dynamic padding then wastes little), with the bucket order shuffled again so lengths don't trend.
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Indices of `lengths` grouped into batches of `batch_size`, deterministic for `seed`.
pub fn epoch_batches(lengths: &[usize], batch_size: usize, seed: u64, bucketing: bool) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(&mut rng);
    if bucketing {
        // Sort within windows of 50 batches: similar lengths end up together, but the epoch still mixes.
        let window = batch_size * 50;
        for chunk in order.chunks_mut(window) {
            chunk.sort_by_key(|&i| lengths[i]);
        }
    }
    let mut batches: Vec<Vec<usize>> = order.chunks(batch_size).map(|c| c.to_vec()).collect();
    if bucketing {
        batches.shuffle(&mut rng);
    }
    batches
}

/// Fixed-order batches for evaluation, sorted by length for speed; callers restore the order by index.
pub fn eval_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order.chunks(batch_size).map(|c| c.to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_and_deterministic() {
        let lengths: Vec<usize> = (0..1003).map(|i| (i * 37) % 200).collect();
        for bucketing in [false, true] {
            let a = epoch_batches(&lengths, 16, 7, bucketing);
            let b = epoch_batches(&lengths, 16, 7, bucketing);
            assert_eq!(a, b);
            let mut all: Vec<usize> = a.concat();
            all.sort();
            assert_eq!(all, (0..1003).collect::<Vec<_>>());
            assert_ne!(a, epoch_batches(&lengths, 16, 8, bucketing));
        }
        // Bucketing lowers the padding: sum over batches of (max len × size).
        let padded = |bs: &[Vec<usize>]| -> usize {
            bs.iter().map(|b| b.iter().map(|&i| lengths[i]).max().unwrap() * b.len()).sum()
        };
        assert!(padded(&epoch_batches(&lengths, 16, 7, true)) < padded(&epoch_batches(&lengths, 16, 7, false)));
    }

    #[test]
    fn eval_batches_follow_length() {
        // Carried over from re-data's removed `length_bucketed_batches` tests: sorted concatenation, full chunks.
        let lengths = [9, 3, 7, 3, 12, 1, 8, 5];
        let batches = eval_batches(&lengths, 3);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 2]);
        let sorted: Vec<usize> = batches.concat().iter().map(|&i| lengths[i]).collect();
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "{sorted:?}");
    }
}
