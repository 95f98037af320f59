//! The pipeline end to end with the real MeCab: SVM vs the rule baseline on the synthetic competition set, each
//! filter, max-ent, one-vs-rest, save/load and determinism.
use crate::common::mecab;
use re_classic::clues::ClueLexicon;
use re_classic::eval::score_binary;
use re_classic::features::FeatureSet;
use re_classic::learn::{MaxEntConfig, PegasosConfig};
use re_classic::pipeline::*;
use re_data::synth::competition::{generate_competition, CompetitionSynthConfig};
use re_data::{Entity, RelationRecord};

fn rec(id: &str, sentence: &str, a: &str, b: &str, ty: &str, label: &str) -> RelationRecord {
    let span = |w: &str| {
        let byte = sentence.find(w).unwrap_or_else(|| panic!("{w} not in {sentence}"));
        let start = sentence[..byte].chars().count();
        Entity::new(w, start, start + w.chars().count() - 1, ty)
    };
    RelationRecord {
        id: id.into(),
        sentence: sentence.into(),
        subject: span(a),
        object: span(b),
        label: Some(label.into()),
        source: None,
    }
}

fn corpus(records: &[RelationRecord]) -> Corpus {
    Corpus::build(records, &mecab(), &ClueLexicon::default_competition(), &|| {}).unwrap()
}

fn all(c: &Corpus) -> Vec<usize> {
    (0..c.pairs.len()).collect()
}

fn synthetic() -> (Corpus, Vec<usize>, Vec<usize>) {
    let mut train = generate_competition(&CompetitionSynthConfig { sentences: 600, seed: 1, ..Default::default() });
    let test = generate_competition(&CompetitionSynthConfig {
        sentences: 300,
        seed: 2,
        id_prefix: "test".into(),
        ..Default::default()
    });
    let n_train = train.len();
    train.extend(test);
    let c = corpus(&train);
    let (tr, te) = ((0..n_train).collect(), (n_train..c.pairs.len()).collect());
    (c, tr, te)
}

fn gold(c: &Corpus, items: &[usize]) -> Vec<bool> {
    items.iter().map(|&i| c.pairs[i].label.as_deref() != Some("no_relation")).collect()
}

#[test]
fn svm_beats_the_rule_baseline_on_synthetic_competition_data() {
    let (c, train, test) = synthetic();
    let g = gold(&c, &test);
    let rule = score_binary(&g, &test.iter().map(|&i| c.rule_positive(i)).collect::<Vec<_>>()).unwrap();
    let model = ClassicModel::train(&c, &train, &ClassicConfig::default(), None).unwrap();
    let preds = model.predict(&c, &test);
    let svm = score_binary(&g, &preds.iter().map(|p| p.label == "competition").collect::<Vec<_>>()).unwrap();
    // The set has clue words in negatives and positives without lexicon clue words: the rule must make errors
    // of both kinds, the learned model fewer.
    assert!(rule.binary.false_positives > 0 && rule.binary.false_negatives > 0, "{rule:?}");
    assert!(svm.binary.accuracy > rule.binary.accuracy, "svm {svm:?} rule {rule:?}");
    assert!(svm.binary.accuracy > 0.85, "{svm:?}");
    assert!(preds.iter().all(|p| p.decided_by == Decider::Classifier));
}

#[test]
fn sentence_filter_vetoes_below_its_threshold() {
    let (c, train, test) = synthetic();
    let cfg = ClassicConfig { filters: Filters::parse("sentence").unwrap(), ..Default::default() };
    let model = ClassicModel::train(&c, &train, &cfg, None).unwrap();
    let w = model.sentence_filter.as_ref().expect("sentence filter trained");
    // The sentence classifier alone separates relation sentences well.
    let sent_gold = gold(&c, &test);
    let sent_pred: Vec<bool> =
        test.iter().map(|&i| w.score(&c.sentence_vector(c.pairs[i].sentence, 18)) > 0.0).collect();
    assert!(score_binary(&sent_gold, &sent_pred).unwrap().binary.accuracy > 0.8);
    let vetoed = model.predict(&c, &test);
    assert!(vetoed.iter().any(|p| p.decided_by == Decider::Sentence));
    for p in vetoed.iter().filter(|p| p.decided_by == Decider::Sentence) {
        assert_eq!(p.label, "no_relation");
        assert!(p.score <= -1.0);
    }
    // Threshold extremes: everything vetoed / nothing vetoed (then equal to the plain classifier).
    let mut strict = model.clone();
    strict.config.sentence_threshold = 1e9;
    assert!(strict.predict(&c, &test).iter().all(|p| p.decided_by == Decider::Sentence && p.label == "no_relation"));
    let mut lax = model.clone();
    lax.config.sentence_threshold = -1e9;
    let plain = ClassicModel::train(&c, &train, &ClassicConfig::default(), None).unwrap();
    let a: Vec<_> = lax.predict(&c, &test).into_iter().map(|p| (p.label, p.score)).collect();
    let b: Vec<_> = plain.predict(&c, &test).into_iter().map(|p| (p.label, p.score)).collect();
    assert_eq!(a, b);
}

#[test]
fn spam_filter_vetoes_blacklisted_pairs_in_spam_like_sentences() {
    let mut train = Vec::new();
    let spam = [
        "{X}는 {Y}의 주식을 대량 매수했다.",
        "{X}는 {Y}의 주식을 추가 매수했다.",
        "{X}는 {Y}의 주식을 매수했다고 밝혔다.",
    ];
    for (k, t) in spam.iter().enumerate() {
        for (x, y) in [("알파증권", "베타전자"), ("알파증권", "감마화학")] {
            let s = t.replace("{X}", x).replace("{Y}", y);
            train.push(rec(&format!("s{k}{y}"), &s, x, y, "ORG", "no_relation"));
        }
    }
    for (k, (x, y)) in
        [("삼성전자", "애플"), ("네이버", "카카오"), ("쿠팡", "이마트"), ("소니", "닌텐도")].iter().enumerate()
    {
        train.push(rec(
            &format!("p{k}"),
            &format!("{x}와 {y}는 시장에서 치열하게 경쟁한다."),
            x,
            y,
            "ORG",
            "competition",
        ));
        train.push(rec(&format!("n{k}"), &format!("{x}는 {y}와 제휴를 맺었다."), x, y, "ORG", "no_relation"));
    }
    let test = vec![
        // Blacklisted pair, spam-like sentence → vetoed.
        rec("t1", "알파증권은 베타전자의 주식을 대량 매수했다.", "알파증권", "베타전자", "ORG", "no_relation"),
        // Same kind of sentence, pair not blacklisted → the classifier decides.
        rec("t2", "오메가은행은 베타전자의 주식을 대량 매수했다.", "오메가은행", "베타전자", "ORG", "no_relation"),
        // Blacklisted pair in a sentence unlike the spam sentences → the classifier decides.
        rec("t3", "알파증권과 베타전자가 치열한 경쟁을 예고했다.", "알파증권", "베타전자", "ORG", "competition"),
    ];
    let n_train = train.len();
    let all_records: Vec<RelationRecord> = train.into_iter().chain(test).collect();
    let c = corpus(&all_records);
    let dir = tempfile::tempdir().unwrap();
    let bl = dir.path().join("blacklist.tsv");
    std::fs::write(&bl, "# pairs that co-occur without competing\n베타전자\t알파증권\n").unwrap();
    let blacklist = read_blacklist(&bl).unwrap();
    assert!(blacklist.contains(&pair_key("알파증권", "베타전자")));
    let cfg = ClassicConfig {
        filters: Filters::parse("spam").unwrap(),
        learner: re_classic::pipeline::Learner::Pegasos(PegasosConfig {
            lambda: 1e-3,
            epochs: 30,
            ..Default::default()
        }),
        ..Default::default()
    };
    let model = ClassicModel::train(&c, &(0..n_train).collect::<Vec<_>>(), &cfg, Some(blacklist)).unwrap();
    assert!(model.spam_filter.is_some());
    let preds = model.predict(&c, &[n_train, n_train + 1, n_train + 2]);
    assert_eq!(preds[0].decided_by, Decider::Spam, "{preds:?}");
    assert_eq!(preds[0].label, "no_relation");
    assert_eq!(preds[1].decided_by, Decider::Classifier);
    assert_eq!(preds[2].decided_by, Decider::Classifier);
    // Bad blacklist lines are reported with their line number.
    std::fs::write(&bl, "a\tb\nonly-one-word\n").unwrap();
    assert!(read_blacklist(&bl).unwrap_err().to_string().contains("line 2"));
}

#[test]
fn derived_blacklist_lists_frequent_never_positive_pairs() {
    let (c, train, _) = synthetic();
    let is_pos = gold(&c, &train);
    let bl = derive_blacklist(&c, &train, &is_pos, 3);
    for key in &bl {
        let items: Vec<usize> = train.iter().copied().filter(|&i| &c.pairs[i].key == key).collect();
        assert!(items.len() >= 3);
        assert!(items.iter().all(|&i| c.pairs[i].label.as_deref() == Some("no_relation")));
    }
}

#[test]
fn distance_filter_ignores_far_context() {
    let (c, train, _) = synthetic();
    let cfg = ClassicConfig { filters: Filters::parse("distance:1").unwrap(), ..Default::default() };
    let model = ClassicModel::train(&c, &train, &cfg, None).unwrap();
    // Two sentences that differ only 3+ eojeols after the pair: the distance-constrained model cannot tell them
    // apart; the unconstrained one can (the far word is a clue word).
    let far = vec![
        rec("a", "삼성전자와 애플은 올해 시장에서 크게 경쟁했다.", "삼성전자", "애플", "ORG", "competition"),
        rec("b", "삼성전자와 애플은 올해 시장에서 크게 성장했다.", "삼성전자", "애플", "ORG", "no_relation"),
    ];
    let fc = corpus(&far);
    let p = model.predict(&fc, &[0, 1]);
    assert_eq!(p[0].score, p[1].score);
    let plain = ClassicModel::train(&c, &train, &ClassicConfig::default(), None).unwrap();
    let q = plain.predict(&fc, &[0, 1]);
    assert_ne!(q[0].score, q[1].score, "the unconstrained model sees the far clue word");
}

#[test]
fn rule_baseline_ignores_clue_words_inside_entities() {
    let records = vec![
        rec("1", "경쟁사연합은 애플과 제휴했다.", "경쟁사연합", "애플", "ORG", "no_relation"),
        rec("2", "삼성전자와 애플이 맞대결을 벌였다.", "삼성전자", "애플", "ORG", "competition"),
        rec("3", "삼성전자와 애플이 제휴했다.", "삼성전자", "애플", "ORG", "no_relation"),
        rec("4", "삼성전자 vs 애플", "삼성전자", "애플", "ORG", "competition"),
    ];
    let c = corpus(&records);
    assert_eq!(all(&c).iter().map(|&i| c.rule_positive(i)).collect::<Vec<_>>(), [false, true, false, true]);
}

#[test]
fn maxent_one_vs_rest_save_load_and_determinism() {
    let mut records = Vec::new();
    let orgs = ["삼성전자", "애플", "네이버", "카카오", "쿠팡", "이마트", "소니", "닌텐도"];
    for (k, a) in orgs.iter().enumerate() {
        for b in orgs.iter().skip(k + 1) {
            records.push(rec(
                &format!("c{a}{b}"),
                &format!("{a}와 {b}는 시장에서 경쟁한다."),
                a,
                b,
                "ORG",
                "competition",
            ));
            records.push(rec(
                &format!("o{a}{b}"),
                &format!("{a}는 {b}와 협력하기로 했다."),
                a,
                b,
                "ORG",
                "cooperation",
            ));
            records.push(rec(
                &format!("n{a}{b}"),
                &format!("{a}는 {b}에 부품을 공급한다."),
                a,
                b,
                "ORG",
                "no_relation",
            ));
        }
    }
    let c = corpus(&records);
    let items = all(&c);
    let cfg = ClassicConfig {
        features: re_classic::features::FeatureConfig { families: FeatureSet::ALL, ..Default::default() },
        learner: Learner::Maxent(MaxEntConfig { epochs: 15, ..Default::default() }),
        ..Default::default()
    };
    let model = ClassicModel::train(&c, &items, &cfg, None).unwrap();
    assert_eq!(model.classifiers.len(), 3, "one-vs-rest over three labels");
    let preds = model.predict(&c, &items);
    let correct =
        preds.iter().zip(&items).filter(|(p, &i)| Some(p.label.as_str()) == c.pairs[i].label.as_deref()).count();
    assert_eq!(correct, items.len());
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = ClassicModel::load(dir.path()).unwrap();
    assert_eq!(loaded.predict(&c, &items), preds);
    let again = ClassicModel::train(&c, &items, &cfg, None).unwrap();
    assert_eq!(again.classifiers, model.classifiers, "training is deterministic for a seed");
    // Collapsing the positive labels gives a binary model.
    let binary = ClassicConfig { collapse_positive: Some("relation".into()), ..cfg };
    let m2 = ClassicModel::train(&c, &items, &binary, None).unwrap();
    assert_eq!(m2.classifiers.len(), 1);
    assert_eq!(m2.classifiers[0].0, "relation");
    // A corrupt model file is an error naming the file.
    std::fs::write(dir.path().join("model.json"), "{").unwrap();
    assert!(ClassicModel::load(dir.path()).unwrap_err().to_string().contains("model.json"));
}
