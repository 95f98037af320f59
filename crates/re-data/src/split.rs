//! Stratified train/dev split, deterministic for a seed.
//!
//! Each class `c` with `n_c` records sends `round(ratio × n_c)` of them to dev (rounding half away from zero, so
//! a class of 1 record with ratio 0.2 stays entirely in train). Classes are visited in sorted label order
//! (unlabeled records form their own class, visited last); each class's records are shuffled with one
//! ChaCha8 stream seeded by `seed`, and the first `round(ratio × n_c)` go to dev. Train and dev keep the input order.
//!
//! ```
//! use re_data::{split::stratified_split, Entity, RelationRecord};
//! let rec = |i: usize, label: &str| RelationRecord {
//!     id: i.to_string(), sentence: "가나".into(), subject: Entity::new("가", 0, 0, "PER"),
//!     object: Entity::new("나", 1, 1, "ORG"), label: Some(label.into()), source: None,
//! };
//! let records: Vec<_> = (0..10).map(|i| rec(i, if i < 7 { "no_relation" } else { "per:title" })).collect();
//! let split = stratified_split(&records, 0.2, 42).unwrap();
//! assert_eq!(split.dev.len(), 1 + 1); // round(0.2 × 7) + round(0.2 × 3)
//! ```
use crate::error::{DataError, Result};
use crate::record::RelationRecord;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// How one class was divided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassCount {
    /// The label, or `None` for unlabeled records.
    pub label: Option<String>,
    pub total: usize,
    pub train: usize,
    pub dev: usize,
}

/// The two halves and the per-class counts (sorted by label, unlabeled last).
#[derive(Clone, Debug)]
pub struct SplitResult {
    pub train: Vec<RelationRecord>,
    pub dev: Vec<RelationRecord>,
    pub per_class: Vec<ClassCount>,
}

/// Number of a class's records that go to dev: `round(ratio × n)`, half away from zero.
pub fn dev_count(n: usize, ratio: f64) -> usize {
    // the small epsilon keeps 0.2 × 5 = 1.0000000000000002-style float noise from mattering either way
    let exact = ratio * n as f64;
    (exact + 1e-9).round().min(n as f64) as usize
}

/// Split `records` per class; `dev_ratio` must lie in `[0, 1]`.
pub fn stratified_split(records: &[RelationRecord], dev_ratio: f64, seed: u64) -> Result<SplitResult> {
    if !(0.0..=1.0).contains(&dev_ratio) || dev_ratio.is_nan() {
        return Err(DataError::Invalid(format!("dev ratio must be between 0 and 1, got {dev_ratio}")));
    }
    // BTreeMap<Option<String>> puts None first; order classes by label with unlabeled last instead
    let mut by_class: BTreeMap<(bool, Option<&str>), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        by_class.entry((r.label.is_none(), r.label.as_deref())).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut to_dev = vec![false; records.len()];
    let mut per_class = Vec::with_capacity(by_class.len());
    for ((_, label), mut indices) in by_class {
        let total = indices.len();
        let dev = dev_count(total, dev_ratio);
        indices.shuffle(&mut rng);
        for &i in &indices[..dev] {
            to_dev[i] = true;
        }
        per_class.push(ClassCount { label: label.map(str::to_string), total, train: total - dev, dev });
    }
    let (mut train, mut dev) = (Vec::new(), Vec::new());
    for (r, goes_to_dev) in records.iter().zip(to_dev) {
        if goes_to_dev {
            dev.push(r.clone());
        } else {
            train.push(r.clone());
        }
    }
    Ok(SplitResult { train, dev, per_class })
}

/// A plain-text table of per-class counts (label, total, train, dev), with a total row.
pub fn format_counts(per_class: &[ClassCount]) -> String {
    let name = |c: &ClassCount| c.label.clone().unwrap_or_else(|| "(unlabeled)".to_string());
    let width = per_class.iter().map(|c| name(c).chars().count()).max().unwrap_or(5).max(5);
    let mut out = format!("{:<width$}  {:>7}  {:>7}  {:>7}\n", "label", "total", "train", "dev");
    for c in per_class {
        out.push_str(&format!("{:<width$}  {:>7}  {:>7}  {:>7}\n", name(c), c.total, c.train, c.dev));
    }
    let sum = |f: fn(&ClassCount) -> usize| per_class.iter().map(f).sum::<usize>();
    out.push_str(&format!(
        "{:<width$}  {:>7}  {:>7}  {:>7}\n",
        "TOTAL",
        sum(|c| c.total),
        sum(|c| c.train),
        sum(|c| c.dev)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Entity;

    fn rec(i: usize, label: Option<&str>) -> RelationRecord {
        RelationRecord {
            id: format!("r{i}"),
            sentence: "가나".into(),
            subject: Entity::new("가", 0, 0, "PER"),
            object: Entity::new("나", 1, 1, "ORG"),
            label: label.map(str::to_string),
            source: None,
        }
    }

    #[test]
    fn dev_counts_round_half_away_from_zero() {
        assert_eq!(dev_count(1, 0.2), 0); // 0.2
        assert_eq!(dev_count(3, 0.2), 1); // 0.6
        assert_eq!(dev_count(5, 0.2), 1); // 1.0
        assert_eq!(dev_count(7, 0.2), 1); // 1.4
        assert_eq!(dev_count(8, 0.2), 2); // 1.6
        assert_eq!(dev_count(3, 0.5), 2); // 1.5
        assert_eq!(dev_count(10, 1.0), 10);
        assert_eq!(dev_count(10, 0.0), 0);
    }

    #[test]
    fn exact_per_class_counts_and_determinism() {
        // class sizes 13, 8, 3, 1 and 2 unlabeled
        let mut records = Vec::new();
        for (label, n) in [(Some("a"), 13), (Some("b"), 8), (Some("c"), 3), (Some("d"), 1), (None, 2)] {
            for _ in 0..n {
                records.push(rec(records.len(), label));
            }
        }
        let s = stratified_split(&records, 0.2, 42).unwrap();
        // round(0.2 × n): 13 → 2.6 → 3, 8 → 1.6 → 2, 3 → 0.6 → 1, 1 → 0.2 → 0, 2 → 0.4 → 0
        let dev: Vec<_> = s.per_class.iter().map(|c| (c.label.clone(), c.dev)).collect();
        assert_eq!(
            dev,
            vec![(Some("a".into()), 3), (Some("b".into()), 2), (Some("c".into()), 1), (Some("d".into()), 0), (None, 0)]
        );
        assert_eq!(s.dev.len(), 6);
        assert_eq!(s.train.len(), records.len() - 6);
        for c in &s.per_class {
            let in_dev = s.dev.iter().filter(|r| r.label == c.label).count();
            assert_eq!(in_dev, c.dev);
        }
        let again = stratified_split(&records, 0.2, 42).unwrap();
        assert_eq!(again.dev, s.dev);
        let other_ids: Vec<Vec<String>> = (0..5)
            .map(|seed| stratified_split(&records, 0.2, seed).unwrap().dev.iter().map(|r| r.id.clone()).collect())
            .collect();
        assert!(other_ids.iter().any(|ids| *ids != other_ids[0]), "different seeds should pick different records");
        // input order is kept within each half
        let pos = |id: &str| records.iter().position(|r| r.id == id).unwrap();
        assert!(s.train.windows(2).all(|w| pos(&w[0].id) < pos(&w[1].id)));
        assert!(format_counts(&s.per_class).contains("(unlabeled)"));
    }

    #[test]
    fn bad_ratio_is_an_error() {
        assert!(stratified_split(&[rec(0, Some("a"))], 1.5, 1).is_err());
        assert!(stratified_split(&[rec(0, Some("a"))], f64::NAN, 1).is_err());
    }
}
