//! [`Report`]: every metric of the seed report in one serialisable struct.
use std::fmt::Write as _;

use crate::classification::{
    accuracy, argmax_rows, check_no_relation, confusion_matrix, micro_f1_without_no_relation, no_relation_share,
    precision_recall_fscore_support, rarest_class_recall, RareClassRecall, ZeroDivision,
};
use crate::error::{MetricsError, Result};
use crate::ranking::{class_curve_scores, mean_average_precision, mean_pr_auc};
use crate::validate;

/// Number of rare classes whose recall [`Report::compute`] tracks.
pub const DEFAULT_RARE_CLASSES: usize = 5;

/// What the model produced for each example.
#[derive(Debug, Clone, Copy)]
pub enum Predictions<'a> {
    /// Row-major `[n, num_labels]` probabilities (or any scores); predictions are the row argmax (first maximum
    /// wins), and the curve metrics (`auprc`, `average_precision`) are computed.
    Probabilities(&'a [f64]),
    /// Predicted label ids only; the curve metrics are `None`.
    Labels(&'a [usize]),
}

/// Options of [`Report::compute_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportOptions {
    /// How many of the rarest gold classes [`Report::rare_class_recall`] covers.
    pub rare_classes: usize,
    /// Value of per-class ratios with a zero denominator.
    pub zero_division: ZeroDivision,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { rare_classes: DEFAULT_RARE_CLASSES, zero_division: ZeroDivision::Zero }
    }
}

/// Scores of one class in a [`Report`] (fractions in `[0, 1]`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassReport {
    /// Label name (the key of the class in the serialised `per_class` map).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub label: String,
    /// Precision of the class.
    pub precision: f64,
    /// Recall of the class.
    pub recall: f64,
    /// F1 of the class.
    pub f1: f64,
    /// Gold examples of the class.
    pub support: u64,
    /// Area under the class's precision–recall curve (KLUE's per-class AUPRC, as a fraction); with probabilities only.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub pr_auc: Option<f64>,
    /// Average precision of the class; with probabilities only.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub average_precision: Option<f64>,
}

/// All metrics of one evaluation. Scales follow KLUE/scikit-learn: `micro_f1` and `auprc` are **percentages**
/// (×100, the leaderboard numbers), every other ratio is a fraction in `[0, 1]`.
///
/// Serialises (serde) with the keys `micro_f1`, `auprc`, `average_precision`, `accuracy`, `no_relation_share`,
/// `per_class` (label → `{precision, recall, f1, support, pr_auc?, average_precision?}`, in label-id order),
/// `confusion_matrix` (rows gold, columns predicted, label-id order), plus `labels`, `no_relation`,
/// `num_examples`, `rare_class_recall`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Report {
    /// KLUE micro-F1 ×100 over all labels but `no_relation`.
    pub micro_f1: f64,
    /// KLUE AUPRC ×100 (mean over all classes); `None` when only labels were given.
    pub auprc: Option<f64>,
    /// Macro average precision over all classes (fraction); `None` when only labels were given.
    pub average_precision: Option<f64>,
    /// Exact-match accuracy.
    pub accuracy: f64,
    /// Share of predictions that are `no_relation`.
    pub no_relation_share: f64,
    /// Scores per class, in label-id order.
    #[cfg_attr(feature = "serde", serde(serialize_with = "per_class_as_map"))]
    pub per_class: Vec<ClassReport>,
    /// `confusion_matrix[gold][pred]`.
    pub confusion_matrix: Vec<Vec<u64>>,
    /// Label names, index = label id.
    pub labels: Vec<String>,
    /// Name of the `no_relation` label.
    pub no_relation: String,
    /// Number of scored examples.
    pub num_examples: usize,
    /// Recall of the rarest gold classes.
    pub rare_class_recall: RareClassRecall,
}

#[cfg(feature = "serde")]
fn per_class_as_map<S: serde::Serializer>(classes: &[ClassReport], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(classes.len()))?;
    for class in classes {
        map.serialize_entry(&class.label, class)?;
    }
    map.end()
}

impl Report {
    /// Computes every metric with [`ReportOptions::default`]. `label_names[i]` names label id `i` (so the number of
    /// labels is `label_names.len()`, and probabilities have that many columns); `no_relation` is the id of
    /// `no_relation`.
    pub fn compute<S: AsRef<str>>(
        gold: &[usize],
        predictions: Predictions<'_>,
        label_names: &[S],
        no_relation: usize,
    ) -> Result<Report> {
        Self::compute_with(gold, predictions, label_names, no_relation, ReportOptions::default())
    }

    /// [`Report::compute`] with explicit options.
    pub fn compute_with<S: AsRef<str>>(
        gold: &[usize],
        predictions: Predictions<'_>,
        label_names: &[S],
        no_relation: usize,
        options: ReportOptions,
    ) -> Result<Report> {
        let num_labels = label_names.len();
        validate::num_labels(num_labels)?;
        check_no_relation(no_relation, num_labels)?;
        let labels: Vec<String> = label_names.iter().map(|s| s.as_ref().to_owned()).collect();
        let mut sorted: Vec<&String> = labels.iter().collect();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(MetricsError::InvalidArgument(format!("label name {:?} appears twice", w[0])));
        }

        let (pred, curves) = match predictions {
            Predictions::Probabilities(probs) => {
                let curves = class_curve_scores(gold, probs, num_labels)?;
                (argmax_rows(probs, num_labels)?, Some(curves))
            }
            Predictions::Labels(pred) => (pred.to_vec(), None),
        };
        let scores = precision_recall_fscore_support(gold, &pred, num_labels, options.zero_division)?;
        let per_class = scores
            .iter()
            .enumerate()
            .map(|(c, s)| ClassReport {
                label: labels[c].clone(),
                precision: s.precision,
                recall: s.recall,
                f1: s.f1,
                support: s.support,
                pr_auc: curves.as_ref().map(|cs| cs[c].pr_auc),
                average_precision: curves.as_ref().map(|cs| cs[c].average_precision),
            })
            .collect();
        Ok(Report {
            micro_f1: micro_f1_without_no_relation(gold, &pred, num_labels, no_relation)?,
            auprc: curves.as_ref().map(|cs| mean_pr_auc(cs) * 100.0),
            average_precision: curves.as_ref().map(|cs| mean_average_precision(cs)),
            accuracy: accuracy(gold, &pred)?,
            no_relation_share: no_relation_share(&pred, no_relation)?,
            per_class,
            confusion_matrix: confusion_matrix(gold, &pred, num_labels)?,
            no_relation: labels[no_relation].clone(),
            labels,
            num_examples: gold.len(),
            rare_class_recall: rarest_class_recall(gold, &pred, num_labels, options.rare_classes)?,
        })
    }

    /// Plain-text table: the headline numbers, then one line per class.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let opt = |v: Option<f64>, digits: usize| v.map_or("n/a".to_owned(), |v| format!("{v:.digits$}"));
        // `write!` into a String cannot fail.
        let _ = writeln!(out, "examples            {}", self.num_examples);
        let _ = writeln!(out, "micro F1 (KLUE, %)  {:.4}", self.micro_f1);
        let _ = writeln!(out, "AUPRC (KLUE, %)     {}", opt(self.auprc, 4));
        let _ = writeln!(out, "average precision   {}", opt(self.average_precision, 4));
        let _ = writeln!(out, "accuracy            {:.4}", self.accuracy);
        let _ = writeln!(out, "no_relation share   {:.4}", self.no_relation_share);
        let rare = &self.rare_class_recall;
        let _ = writeln!(out, "recall of {} rarest {:.4}", rare.classes.len(), rare.mean_recall);
        let width = self.labels.iter().map(|l| l.chars().count()).max().unwrap_or(5).max(5);
        let _ = writeln!(
            out,
            "\n{:<width$}  {:>9}  {:>9}  {:>9}  {:>7}  {:>9}  {:>9}",
            "label", "precision", "recall", "f1", "support", "pr_auc", "ap"
        );
        for c in &self.per_class {
            // `{:<width$}` pads by `char` count, so Hangul names line up like ASCII ones.
            let _ = writeln!(
                out,
                "{:<width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}  {:>9}  {:>9}",
                c.label,
                c.precision,
                c.recall,
                c.f1,
                c.support,
                opt(c.pr_auc, 4),
                opt(c.average_precision, 4)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_only_report() {
        let names = ["no_relation", "org:founded", "per:title"];
        let gold = [0, 1, 2, 2];
        let pred = [0, 1, 0, 2];
        let report = Report::compute(&gold, Predictions::Labels(&pred), &names, 0).unwrap();
        assert_eq!(report.auprc, None);
        assert_eq!(report.accuracy, 0.75);
        assert_eq!(report.no_relation_share, 0.5);
        // tp = 2 (rows 1, 3), true = 3, pred = 2 → 2·2/5
        assert!((report.micro_f1 - 80.0).abs() < 1e-12);
        assert_eq!(report.confusion_matrix[2], vec![1, 0, 1]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["per_class"]["per:title"]["recall"], 0.5);
        assert_eq!(json["per_class"]["org:founded"]["support"], 1);
        assert!(json["auprc"].is_null());
        assert!(json["per_class"]["per:title"].get("pr_auc").is_none());
        for key in ["micro_f1", "auprc", "average_precision", "accuracy", "no_relation_share", "confusion_matrix"] {
            assert!(json.get(key).is_some(), "missing key {key}");
        }
        let table = report.to_table();
        assert!(table.contains("org:founded") && table.contains("n/a"));
    }

    #[test]
    fn probabilities_report_and_errors() {
        let names = ["no_relation", "a", "b"];
        let gold = [0, 1, 2];
        let probs = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7];
        let report = Report::compute(&gold, Predictions::Probabilities(&probs), &names, 0).unwrap();
        // Perfect ranking in every column → every class's PR-AUC and AP are 1.
        assert_eq!(report.auprc, Some(100.0));
        assert_eq!(report.average_precision, Some(1.0));
        assert_eq!(report.micro_f1, 100.0);
        assert!(Report::compute(&gold, Predictions::Probabilities(&probs[..8]), &names, 0).is_err());
        assert!(Report::compute(&gold, Predictions::Labels(&[0, 1, 2]), &["x", "x", "y"], 0).is_err());
        assert!(Report::compute(&gold, Predictions::Labels(&[0, 1, 2]), &names, 3).is_err());
        let empty: [&str; 0] = [];
        assert!(Report::compute(&gold, Predictions::Labels(&[0, 1, 2]), &empty, 0).is_err());
    }
}
