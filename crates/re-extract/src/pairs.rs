//! Candidate pairs (ordered, distinct, non-overlapping mentions of an allowed type combination) and triples.
use crate::error::{ExtractError, Result};
use crate::input::Sentence;
use crate::mentions::{Candidates, MentionFinder};
use crate::options::ExtractOptions;
use crate::{Mention, NO_RELATION};
use burn::tensor::backend::Backend;
use re_data::record::{EntityType, RelationRecord};
use re_train::predict::{Predictions, TrainedModel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One (subject, object) pair of a sentence, with the record the model scores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidatePair {
    /// Index into the sentences passed to [`Extractor::pairs`].
    pub sentence: usize,
    pub subject: Mention,
    pub object: Mention,
    /// `id` is `SENTENCE_ID#k` (k-th pair of the sentence, from 0); no label.
    pub record: RelationRecord,
}

/// One extracted relation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Triple {
    pub sentence_id: String,
    pub sentence: String,
    pub subject: Mention,
    pub object: Mention,
    pub relation: String,
    pub probability: f64,
}

/// Turns sentences into candidate pairs and the model's probabilities into triples.
pub struct Extractor {
    allowed: Option<BTreeSet<(EntityType, EntityType)>>,
    finder: std::result::Result<MentionFinder, String>,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("allowed_type_pairs", &self.allowed)
            .field("mention_finder", &self.finder.is_ok())
            .finish()
    }
}

impl Extractor {
    /// `allowed_type_pairs`: the (subject type, object type) combinations to pair, `None` for all. `finder`: the
    /// mention finder for sentences without given entities (`None`: such sentences are an error).
    pub fn new(allowed_type_pairs: Option<Vec<(EntityType, EntityType)>>, finder: Option<MentionFinder>) -> Self {
        Extractor {
            allowed: allowed_type_pairs.map(|v| v.into_iter().collect()),
            finder: finder.ok_or_else(|| "none was configured".to_string()),
        }
    }

    /// The extractor for `model`: the type combinations stored with it at training time (all, with a warning, for
    /// models saved before they were stored) and a MeCab mention finder (when MeCab is missing, only sentences with
    /// given entities can be used; the error says how to install it).
    pub fn for_model<B: Backend>(model: &TrainedModel<B>) -> Result<Self> {
        Extractor::for_model_with(model, Candidates::All)
    }

    /// [`Extractor::for_model`] with the mention finder returning `candidates`.
    pub fn for_model_with<B: Backend>(model: &TrainedModel<B>, candidates: Candidates) -> Result<Self> {
        let allowed = model.spec().entity_type_pairs.clone();
        if allowed.is_none() {
            tracing::warn!(
                "{}: the model stores no (subject type, object type) combinations (saved before they were); \
                 pairing every type with every type",
                model.dir().display()
            );
        }
        let finder = MentionFinder::mecab().map(|f| f.with_candidates(candidates)).map_err(|e| e.to_string());
        if let Err(e) = &finder {
            tracing::warn!("no mention finder, only sentences with given entities can be used: {e}");
        }
        Ok(Extractor { allowed: allowed.map(|v| v.into_iter().collect()), finder })
    }

    pub fn allowed_type_pairs(&self) -> Option<&BTreeSet<(EntityType, EntityType)>> {
        self.allowed.as_ref()
    }

    pub fn finder(&self) -> Option<&MentionFinder> {
        self.finder.as_ref().ok()
    }

    fn allows(&self, subject: &EntityType, object: &EntityType) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.contains(&(subject.clone(), object.clone())))
    }

    /// The mentions of `sentence`: the given ones, or the mention finder's candidates.
    pub fn mentions(&self, sentence: &Sentence) -> Result<Vec<Mention>> {
        match &sentence.entities {
            Some(es) => Ok(es.clone()),
            None => match &self.finder {
                Ok(f) => f.find(&sentence.text),
                Err(reason) => Err(ExtractError::NoMentionFinder {
                    sentence_id: sentence.sentence_id.clone(),
                    reason: reason.clone(),
                }),
            },
        }
    }

    /// Step 1: every ordered pair of distinct, non-overlapping mentions of each sentence whose type combination is
    /// allowed, as records the model can score.
    pub fn pairs(&self, sentences: &[Sentence]) -> Result<Vec<CandidatePair>> {
        let mut out = Vec::new();
        for (si, s) in sentences.iter().enumerate() {
            let mentions = self.mentions(s)?;
            let mut k = 0;
            for subject in &mentions {
                for object in &mentions {
                    if subject.overlaps(object) || !self.allows(&subject.entity_type, &object.entity_type) {
                        continue;
                    }
                    let record = RelationRecord {
                        id: format!("{}#{k}", s.sentence_id),
                        sentence: s.text.clone(),
                        subject: subject.clone(),
                        object: object.clone(),
                        label: None,
                        source: None,
                    };
                    out.push(CandidatePair { sentence: si, subject: subject.clone(), object: object.clone(), record });
                    k += 1;
                }
            }
        }
        Ok(out)
    }

    /// Step 2: triples from `probs` (row `i` belongs to `pairs[i]`; columns in `labels` order) after `options`.
    /// Triples come sentence by sentence; within a sentence, most probable first.
    pub fn triples(
        &self,
        sentences: &[Sentence],
        pairs: &[CandidatePair],
        probs: &Predictions,
        labels: &[String],
        options: &ExtractOptions,
    ) -> Vec<Triple> {
        let mut out: Vec<Triple> = Vec::new();
        let flush = |group: &mut Vec<Triple>, out: &mut Vec<Triple>| {
            group.sort_by(|a, b| b.probability.total_cmp(&a.probability));
            if let Some(k) = options.top_k {
                group.truncate(k);
            }
            out.append(group);
        };
        let mut group: Vec<Triple> = Vec::new();
        let mut current = None;
        for (i, pair) in pairs.iter().enumerate().take(probs.len()) {
            if current != Some(pair.sentence) {
                flush(&mut group, &mut out);
                current = Some(pair.sentence);
            }
            let best = probs.label_index(i);
            let Some(relation) = labels.get(best) else { continue };
            let probability = probs.row(i)[best];
            if (relation == NO_RELATION && !options.include_no_relation)
                || probability < options.threshold.for_label(relation)
            {
                continue;
            }
            let Some(sentence) = sentences.get(pair.sentence) else { continue };
            group.push(Triple {
                sentence_id: sentence.sentence_id.clone(),
                sentence: sentence.text.clone(),
                subject: pair.subject.clone(),
                object: pair.object.clone(),
                relation: relation.clone(),
                probability,
            });
        }
        flush(&mut group, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Threshold;

    fn m(word: &str, start: usize, ty: &str) -> Mention {
        Mention::new(word, start, start + word.chars().count() - 1, EntityType::from(ty))
    }

    fn sentence(id: &str, text: &str, entities: Vec<Mention>) -> Sentence {
        Sentence { sentence_id: id.into(), text: text.into(), entities: Some(entities) }
    }

    fn labels() -> Vec<String> {
        ["no_relation", "per:employee_of", "org:members"].map(String::from).to_vec()
    }

    #[test]
    fn ordered_non_overlapping_pairs_of_allowed_types() {
        let s = sentence(
            "s1",
            "이순신은 조선의 장군 이순신장군이다.",
            vec![
                m("이순신", 0, "PER"),
                m("조선", 5, "ORG"),
                m("장군", 9, "POH"),
                m("이순신장군", 12, "PER"),
                m("순신", 13, "PER"),
            ],
        );
        let all = Extractor::new(None, None).pairs(std::slice::from_ref(&s)).unwrap();
        // 5 mentions → 20 ordered pairs, minus the 2 ordered pairs of the overlapping 이순신장군/순신.
        assert_eq!(all.len(), 18);
        assert!(all.iter().all(|p| !p.subject.overlaps(&p.object) && p.sentence == 0));
        for p in &all {
            assert_eq!(p.record.subject_text(), Some(p.subject.word.as_str()));
        }
        assert_eq!(all[0].record.id, "s1#0");
        assert_eq!(all[0].record.subject_text(), Some("이순신"));
        assert_eq!(all[0].record.object_text(), Some("조선"));
        let allowed = vec![(EntityType::Per, EntityType::Org), (EntityType::Per, EntityType::Poh)];
        let some = Extractor::new(Some(allowed), None).pairs(std::slice::from_ref(&s)).unwrap();
        let got: Vec<(&str, &str)> = some.iter().map(|p| (p.subject.word.as_str(), p.object.word.as_str())).collect();
        assert_eq!(
            got,
            [
                ("이순신", "조선"),
                ("이순신", "장군"),
                ("이순신장군", "조선"),
                ("이순신장군", "장군"),
                ("순신", "조선"),
                ("순신", "장군")
            ]
        );
        // Record ids count the kept pairs of the sentence.
        assert_eq!(some[5].record.id, "s1#5");
    }

    #[test]
    fn an_extractor_can_be_shared_across_threads() {
        // A server keeps one extractor for every request.
        fn shared<T: Send + Sync>() {}
        shared::<Extractor>();
        shared::<MentionFinder>();
    }

    #[test]
    fn sentences_without_entities_need_a_finder() {
        let s = Sentence { sentence_id: "9".into(), text: "가나다".into(), entities: None };
        let e = Extractor::new(None, None).pairs(&[s]).unwrap_err().to_string();
        assert!(e.contains("sentence 9") && e.contains("no mention finder"), "{e}");
    }

    fn scored() -> (Vec<Sentence>, Vec<CandidatePair>, Predictions) {
        let a = sentence("a", "이순신은 조선의 장군이다.", vec![m("이순신", 0, "PER"), m("조선", 5, "ORG")]);
        let b = sentence("b", "가 나", vec![m("가", 0, "ORG"), m("나", 2, "PER")]);
        let sentences = vec![a, b];
        let pairs = Extractor::new(None, None).pairs(&sentences).unwrap();
        assert_eq!(pairs.len(), 4);
        #[rustfmt::skip]
        let probs = vec![
            0.1, 0.8, 0.1, // a: 이순신 → 조선 per:employee_of 0.8
            0.3, 0.2, 0.5, // a: 조선 → 이순신 org:members 0.5
            0.6, 0.3, 0.1, // b: no_relation 0.6
            0.2, 0.7, 0.1, // b: per:employee_of 0.7
        ];
        (sentences, pairs, Predictions { num_labels: 3, probs, fallback_spans: 0, truncated_entities: 0 })
    }

    fn summary(ts: &[Triple]) -> Vec<(String, String, String, f64)> {
        ts.iter().map(|t| (t.sentence_id.clone(), t.subject.word.clone(), t.relation.clone(), t.probability)).collect()
    }

    #[test]
    fn triples_follow_the_options() {
        let (sentences, pairs, probs) = scored();
        let ex = Extractor::new(None, None);
        let run = |o: ExtractOptions| summary(&ex.triples(&sentences, &pairs, &probs, &labels(), &o));
        let s = |a: &str, b: &str, c: &str, p: f64| (a.to_string(), b.to_string(), c.to_string(), p);
        assert_eq!(
            run(ExtractOptions::default()),
            [
                s("a", "이순신", "per:employee_of", 0.8),
                s("a", "조선", "org:members", 0.5),
                s("b", "나", "per:employee_of", 0.7)
            ]
        );
        let with_none = run(ExtractOptions { include_no_relation: true, ..Default::default() });
        assert_eq!(with_none.len(), 4);
        assert_eq!(with_none[2], s("b", "나", "per:employee_of", 0.7), "most probable first within a sentence");
        assert_eq!(with_none[3], s("b", "가", "no_relation", 0.6));
        assert_eq!(
            run(ExtractOptions { threshold: Threshold::Global(0.6), ..Default::default() }),
            [s("a", "이순신", "per:employee_of", 0.8), s("b", "나", "per:employee_of", 0.7)]
        );
        let per_class = Threshold::PerClass([("per:employee_of".to_string(), 0.75)].into_iter().collect());
        assert_eq!(
            run(ExtractOptions { threshold: per_class, ..Default::default() }),
            [s("a", "이순신", "per:employee_of", 0.8), s("a", "조선", "org:members", 0.5)]
        );
        assert_eq!(
            run(ExtractOptions { top_k: Some(1), include_no_relation: true, ..Default::default() }),
            [s("a", "이순신", "per:employee_of", 0.8), s("b", "나", "per:employee_of", 0.7)]
        );
    }

    #[test]
    fn options_are_checked_against_the_labels() {
        let labels = labels();
        assert!(ExtractOptions::default().check(&labels).is_ok());
        let bad = ExtractOptions { threshold: Threshold::Global(1.5), ..Default::default() };
        assert!(bad.check(&labels).unwrap_err().to_string().contains("outside [0, 1]"));
        let unknown = Threshold::PerClass([("per:nope".to_string(), 0.5)].into_iter().collect());
        let e = ExtractOptions { threshold: unknown, ..Default::default() }.check(&labels).unwrap_err().to_string();
        assert!(e.contains("per:nope"), "{e}");
        assert!(ExtractOptions { top_k: Some(0), ..Default::default() }.check(&labels).is_err());
        assert_eq!(Threshold::parse_arg("0.25").unwrap(), Threshold::Global(0.25));
        let dir = std::env::temp_dir().join(format!("re-extract-thr-{}", std::process::id()));
        std::fs::write(&dir, r#"{"org:members": 0.9}"#).unwrap();
        let t = Threshold::parse_arg(dir.to_str().unwrap()).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(t.for_label("org:members"), 0.9);
        assert_eq!(t.for_label("per:employee_of"), 0.0);
        assert!(Threshold::parse_arg("/nonexistent/thr.json")
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/thr.json"));
    }
}
