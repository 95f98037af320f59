//! Scores (paper Table 3: POS precision, NEG precision, accuracy; plus precision/recall/F1 of the positive class,
//! all from `re-metrics`), the `id,pred_label,score` prediction file, and experiments that compare the rule
//! baseline, the SVM and the SVM with filters on one train/test split or by k-fold cross-validation.
use crate::error::{ClassicError, Result};
use crate::pipeline::{ClassicConfig, ClassicModel, Corpus, Filters, Prediction};
use re_metrics::{precision_recall_fscore_support, BinaryScores, ZeroDivision};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Binary scores of one system.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scores {
    /// POS precision, NEG precision, accuracy and the confusion counts.
    pub binary: BinaryScores,
    /// Recall of the positive class.
    pub recall: f64,
    /// F1 of the positive class.
    pub f1: f64,
    pub n: usize,
}

/// Score binary predictions (`true` = relation).
pub fn score_binary(gold: &[bool], pred: &[bool]) -> Result<Scores> {
    let binary = BinaryScores::compute(gold, pred)?;
    let ids = |v: &[bool]| v.iter().map(|&b| usize::from(b)).collect::<Vec<_>>();
    let per_class = precision_recall_fscore_support(&ids(gold), &ids(pred), 2, ZeroDivision::Zero)?;
    Ok(Scores { binary, recall: per_class[1].recall, f1: per_class[1].f1, n: gold.len() })
}

/// Write predictions as CSV `id,pred_label,score` (atomically).
pub fn write_predictions(path: &Path, preds: &[Prediction]) -> Result<()> {
    re_data::fsutil::write_atomic_with(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(["id", "pred_label", "score"]).map_err(std::io::Error::other)?;
        for p in preds {
            csv.write_record([p.id.as_str(), p.label.as_str(), &format!("{:.6}", p.score)])
                .map_err(std::io::Error::other)?;
        }
        csv.flush()
    })?;
    Ok(())
}

/// A row of a prediction file.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionRow {
    pub id: String,
    pub label: String,
    pub score: f64,
}

/// Read a prediction file written by [`write_predictions`]; errors name the file and line.
pub fn read_predictions(path: &Path) -> Result<Vec<PredictionRow>> {
    let file = std::fs::File::open(path).map_err(|e| ClassicError::io(path, e))?;
    let mut reader = csv::Reader::from_reader(file);
    let headers = reader.headers().map_err(|e| ClassicError::parse(path, "line 1", e.to_string()))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            ClassicError::parse(path, "line 1", format!("missing column {name:?} (expected id,pred_label,score)"))
        })
    };
    let (id_col, label_col, score_col) = (col("id")?, col("pred_label")?, col("score")?);
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = format!("line {}", i + 2);
        let row = row.map_err(|e| ClassicError::parse(path, &line, e.to_string()))?;
        let get = |c: usize| row.get(c).ok_or_else(|| ClassicError::parse(path, &line, "too few fields"));
        let score = get(score_col)?
            .trim()
            .parse::<f64>()
            .map_err(|e| ClassicError::parse(path, &line, format!("score: {e}")))?;
        out.push(PredictionRow { id: get(id_col)?.to_string(), label: get(label_col)?.to_string(), score });
    }
    Ok(out)
}

/// Score predictions against gold records by id: positive = label differs from `negative_label`.
/// Every gold record needs a prediction; an unknown or repeated id in the predictions is an error.
pub fn evaluate_predictions(
    gold: &[re_data::RelationRecord],
    preds: &[PredictionRow],
    negative_label: &str,
    pred_path: &Path,
) -> Result<Scores> {
    let mut by_id: HashMap<&str, &PredictionRow> = HashMap::with_capacity(preds.len());
    for p in preds {
        if by_id.insert(p.id.as_str(), p).is_some() {
            return Err(ClassicError::parse(pred_path, format!("id {}", p.id), "id predicted twice"));
        }
    }
    let (mut g, mut q) = (Vec::with_capacity(gold.len()), Vec::with_capacity(gold.len()));
    for r in gold {
        let label = r.label.as_deref().ok_or_else(|| ClassicError::record(&r.id, "gold record has no label"))?;
        let p = by_id.remove(r.id.as_str()).ok_or_else(|| {
            ClassicError::parse(pred_path, format!("id {}", r.id), "no prediction for this gold record")
        })?;
        g.push(label != negative_label);
        q.push(p.label != negative_label);
    }
    if let Some(extra) = by_id.keys().next() {
        return Err(ClassicError::parse(pred_path, format!("id {extra}"), "predicted id is not in the gold file"));
    }
    score_binary(&g, &q)
}

/// One row of an experiment table.
#[derive(Clone, Debug, Serialize)]
pub struct SystemScores {
    pub system: String,
    pub scores: Scores,
}

/// The systems an experiment compares: the rule baseline, then the learner with each filter alone and all
/// together.
pub fn standard_systems(base: &ClassicConfig, distance: usize) -> Vec<(String, Option<ClassicConfig>)> {
    let with = |f: Filters| ClassicConfig { filters: f, ..base.clone() };
    let learner = match base.learner {
        crate::pipeline::Learner::Pegasos(_) => "svm",
        crate::pipeline::Learner::Maxent(_) => "maxent",
    };
    vec![
        ("rule (clue words)".to_string(), None),
        (learner.to_string(), Some(with(Filters::default()))),
        (format!("{learner}+sentence"), Some(with(Filters { sentence: true, ..Default::default() }))),
        (format!("{learner}+spam"), Some(with(Filters { spam: true, ..Default::default() }))),
        (
            format!("{learner}+distance:{distance}"),
            Some(with(Filters { distance: Some(distance), ..Default::default() })),
        ),
        (
            format!("{learner}+all filters"),
            Some(with(Filters { sentence: true, spam: true, distance: Some(distance) })),
        ),
    ]
}

/// Train every system on `train` and score it on `test` (pair indices of `corpus`).
pub fn compare(
    corpus: &Corpus,
    train: &[usize],
    test: &[usize],
    systems: &[(String, Option<ClassicConfig>)],
    blacklist: Option<&BTreeSet<(String, String)>>,
) -> Result<Vec<SystemScores>> {
    let mut out = Vec::new();
    for (name, config) in systems {
        let (gold, pred) = match config {
            None => {
                let negative = negative_of(corpus, train)?;
                let gold = test.iter().map(|&i| gold_positive(corpus, i, &negative)).collect::<Result<Vec<_>>>()?;
                (gold, test.iter().map(|&i| corpus.rule_positive(i)).collect::<Vec<_>>())
            }
            Some(cfg) => {
                let model = ClassicModel::train(corpus, train, cfg, blacklist.cloned())?;
                let preds = model.predict(corpus, test);
                let gold = test
                    .iter()
                    .map(|&i| gold_positive(corpus, i, &model.negative_label))
                    .collect::<Result<Vec<_>>>()?;
                (gold, preds.iter().map(|p| p.label != model.negative_label).collect())
            }
        };
        out.push(SystemScores { system: name.clone(), scores: score_binary(&gold, &pred)? });
    }
    Ok(out)
}

fn negative_of(corpus: &Corpus, items: &[usize]) -> Result<String> {
    let labels: BTreeSet<&str> = items.iter().filter_map(|&i| corpus.pairs[i].label.as_deref()).collect();
    Ok(if labels.contains("no_relation") || !labels.contains("no") { "no_relation" } else { "no" }.to_string())
}

fn gold_positive(corpus: &Corpus, i: usize, negative: &str) -> Result<bool> {
    let p = &corpus.pairs[i];
    let l = p.label.as_deref().ok_or_else(|| ClassicError::record(&p.id, "test record has no label"))?;
    Ok(l != negative)
}

/// k-fold cross-validation with folds made of whole sentences (pairs of one sentence never straddle train and
/// test), assigned by a seeded shuffle; the confusion counts of all folds are pooled before scoring.
pub fn cross_validate(
    corpus: &Corpus,
    folds: usize,
    seed: u64,
    systems: &[(String, Option<ClassicConfig>)],
    blacklist: Option<&BTreeSet<(String, String)>>,
) -> Result<Vec<SystemScores>> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    if folds < 2 {
        return Err(ClassicError::Config("cross-validation needs at least 2 folds".into()));
    }
    let mut order: Vec<usize> = (0..corpus.sentences.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let mut fold_of = vec![0usize; corpus.sentences.len()];
    for (k, s) in order.into_iter().enumerate() {
        fold_of[s] = k % folds;
    }
    let mut pooled: Vec<(Vec<bool>, Vec<bool>)> = vec![(Vec::new(), Vec::new()); systems.len()];
    for f in 0..folds {
        let (test, train): (Vec<usize>, Vec<usize>) =
            (0..corpus.pairs.len()).partition(|&i| fold_of[corpus.pairs[i].sentence] == f);
        if test.is_empty() || train.is_empty() {
            continue;
        }
        for (k, (_, config)) in systems.iter().enumerate() {
            let negative = match config {
                None => negative_of(corpus, &train)?,
                Some(_) => String::new(),
            };
            match config {
                None => {
                    for &i in &test {
                        pooled[k].0.push(gold_positive(corpus, i, &negative)?);
                        pooled[k].1.push(corpus.rule_positive(i));
                    }
                }
                Some(cfg) => {
                    let model = ClassicModel::train(corpus, &train, cfg, blacklist.cloned())?;
                    for (p, &i) in model.predict(corpus, &test).iter().zip(&test) {
                        pooled[k].0.push(gold_positive(corpus, i, &model.negative_label)?);
                        pooled[k].1.push(p.label != model.negative_label);
                    }
                }
            }
        }
    }
    systems
        .iter()
        .zip(pooled)
        .map(|((name, _), (g, p))| Ok(SystemScores { system: name.clone(), scores: score_binary(&g, &p)? }))
        .collect()
}

/// A Markdown table of experiment rows.
pub fn markdown_table(rows: &[SystemScores]) -> String {
    let mut s = String::from(
        "| system | POS precision | NEG precision | accuracy | recall | F1 | TP | FP | TN | FN |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let b = &r.scores.binary;
        s.push_str(&format!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} |\n",
            r.system,
            b.pos_precision,
            b.neg_precision,
            b.accuracy,
            r.scores.recall,
            r.scores.f1,
            b.true_positives,
            b.false_positives,
            b.true_negatives,
            b.false_negatives
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_scores_by_hand() {
        // gold: P P N N N ; pred: P N P N N → tp 1, fn 1, fp 1, tn 2.
        let s = score_binary(&[true, true, false, false, false], &[true, false, true, false, false]).unwrap();
        assert_eq!(s.binary.pos_precision, 0.5);
        assert!((s.binary.neg_precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.binary.accuracy, 0.6);
        assert_eq!(s.recall, 0.5);
        assert_eq!(s.f1, 0.5);
    }

    #[test]
    fn prediction_file_roundtrip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("preds.csv");
        let preds = vec![Prediction {
            id: "a,1".into(),
            label: "competition".into(),
            score: 0.25,
            decided_by: crate::pipeline::Decider::Classifier,
        }];
        write_predictions(&p, &preds).unwrap();
        let rows = read_predictions(&p).unwrap();
        assert_eq!(rows, vec![PredictionRow { id: "a,1".into(), label: "competition".into(), score: 0.25 }]);
        std::fs::write(&p, "id,pred_label,score\nx,no_relation,abc\n").unwrap();
        let e = read_predictions(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("score"), "{e}");
        std::fs::write(&p, "id,label\n").unwrap();
        assert!(read_predictions(&p).unwrap_err().to_string().contains("pred_label"));
    }
}
