//! SYNTHETIC competition-relation set (labels `competition` / `no_relation`), for the feature-based system of
//! `re-classic` (Lee et al., KIISE 2015). Every sentence is generated from hand-written templates; nothing here is
//! real text.
//!
//! - Positives put a clue word (경쟁, 맞대결, 설전, vs, 격돌, 라이벌, 반격 …) between or around the pair; some
//!   positives use no lexicon word (`꺾고`, `한판 승부`), so a clue-word rule cannot be perfect.
//! - Hard negatives carry clue words that do not relate the pair (a third entity is the rival, `경쟁력`, a competitive
//!   market in general) or cooperation verbs (협력, 제휴, 합작, 손잡고 …).
//! - PER pairs and ORG pairs; sentences with a third entity yield two records (the pair and the rival pair).
//! - Deterministic for a seed (ChaCha8).
//!
//! ```
//! use re_data::synth::competition::{generate_competition, CompetitionSynthConfig};
//! let records = generate_competition(&CompetitionSynthConfig { sentences: 50, seed: 3, ..Default::default() });
//! assert!(records.iter().all(|r| r.subject_text() == Some(r.subject.word.as_str())));
//! ```
use crate::record::{Entity, RelationRecord};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The positive label of the set.
pub const COMPETITION: &str = "competition";
/// The negative label of the set.
pub const NO_RELATION: &str = "no_relation";

/// What to generate.
#[derive(Clone, Debug)]
pub struct CompetitionSynthConfig {
    /// Number of sentences (records can be more: sentences with a rival yield two).
    pub sentences: usize,
    pub seed: u64,
    /// Prefix of the record ids (`{prefix}-{n:05}`).
    pub id_prefix: String,
    /// Share of sentences drawn from the positive templates.
    pub positive_share: f64,
    /// Share of sentences drawn from the hard-negative templates (the rest are plain negatives).
    pub hard_negative_share: f64,
}

impl Default for CompetitionSynthConfig {
    fn default() -> Self {
        CompetitionSynthConfig {
            sentences: 1000,
            seed: 1,
            id_prefix: "comp".into(),
            positive_share: 0.4,
            hard_negative_share: 0.35,
        }
    }
}

const ORGS: &[&str] = &[
    "삼성전자",
    "애플",
    "LG전자",
    "현대자동차",
    "기아",
    "테슬라",
    "네이버",
    "카카오",
    "쿠팡",
    "SK텔레콤",
    "KT",
    "구글",
    "마이크로소프트",
    "소니",
    "닌텐도",
    "롯데마트",
    "이마트",
    "넥슨",
    "엔씨소프트",
    "넷마블",
    "스타벅스",
    "이디야",
    "CU",
    "GS25",
    "넷플릭스",
    "티빙",
    "배달의민족",
    "요기요",
    "하이닉스",
    "인텔",
];
const PERS: &[&str] = &[
    "김민준",
    "이서연",
    "박지훈",
    "최유진",
    "정우성",
    "강하늘",
    "윤서준",
    "한지민",
    "오세훈",
    "임지연",
    "서강준",
    "조민호",
    "신예은",
    "권도윤",
    "황보람",
    "안재현",
    "송지아",
    "류현우",
    "문채원",
    "배수빈",
    "남궁민",
    "홍석천",
    "Kevin Park",
    "Anna Lee",
];
const ORG_FIELDS: &[&str] = &[
    "스마트폰",
    "반도체",
    "전기차",
    "배달 앱",
    "온라인 게임",
    "클라우드",
    "이커머스",
    "커피 전문점",
    "편의점",
    "동영상 스트리밍",
];
const PER_FIELDS: &[&str] =
    &["전국체전", "아시안게임", "세계선수권", "올림픽", "마스터스", "오픈 대회", "신인왕 경쟁", "당 대표 경선"];

/// (template, labelled pairs as (subject role, object role, is competition)).
type Template = (&'static str, &'static [(char, char, bool)]);

const AB_POS: &[(char, char, bool)] = &[('A', 'B', true)];
const AB_NEG: &[(char, char, bool)] = &[('A', 'B', false)];
const AB_NEG_AC_POS: &[(char, char, bool)] = &[('A', 'B', false), ('A', 'C', true)];
const AB_NEG_AC_BC_POS: &[(char, char, bool)] = &[('A', 'B', false), ('A', 'C', true), ('B', 'C', true)];

const ORG_POSITIVE: &[Template] = &[
    ("{A:와} {B:는} {F} 시장에서 치열하게 경쟁하고 있다.", AB_POS),
    ("{A:가} {B:와}의 맞대결에서 승리를 거뒀다.", AB_POS),
    ("{A:와} {B:가} {F:를} 두고 설전을 벌였다.", AB_POS),
    ("{A} vs {B}, {F} 왕좌를 놓고 격돌한다.", AB_POS),
    ("{F} 업계의 오랜 라이벌인 {A:와} {B:가} 다시 맞붙었다.", AB_POS),
    ("{B:의} 공세에 {A:가} 가격 인하로 반격에 나섰다.", AB_POS),
    ("{A:는} {B:를} 제치고 {F} 점유율 1위에 올랐다.", AB_POS),
    ("{A:와} {B:는} 올해 {F} 신제품으로 정면승부를 예고했다.", AB_POS),
    ("후발 주자 {A:가} 선두 {B:를} 바짝 추격하고 있다.", AB_POS),
    ("{A:와} {B:의} 신경전이 갈수록 거세지고 있다.", AB_POS),
    ("{A:와} {B:가} {F} 고객을 두고 한판 승부를 벌인다.", AB_POS),
    ("{A:는} {B:에} 맞서 {F} 요금을 내렸다.", AB_POS),
];
const ORG_HARD_NEGATIVE: &[Template] = &[
    ("{A:와} {B:는} {F} 분야에서 협력하기로 했다.", AB_NEG),
    ("{A:가} {B:와} 전략적 제휴를 맺었다.", AB_NEG),
    ("{A:와} {B:가} {F} 합작 법인을 세웠다.", AB_NEG),
    ("{A:는} {B:와} 손잡고 {F} 공동 개발에 나섰다.", AB_NEG),
    ("{A:와} {B:는} {C:와}의 경쟁에 대비해 손을 잡았다.", AB_NEG_AC_BC_POS),
    ("치열한 경쟁 속에서도 {A:는} {B:와} 협력 관계를 유지했다.", AB_NEG),
    ("{A:는} 라이벌 {C:를} 견제하기 위해 {B:와} 제휴했다.", AB_NEG_AC_POS),
    ("{F} 시장의 경쟁이 심해지자 {A:는} {B:에} 부품 공급을 늘렸다.", AB_NEG),
    ("{A:는} {B:의} {F} 경쟁력을 높이 평가했다.", AB_NEG),
    ("{A:는} {C:와} 경쟁하면서도 {B:와}는 협력한다.", AB_NEG_AC_POS),
];
const ORG_NEGATIVE: &[Template] = &[
    ("{A:는} {B:의} 지분 10%를 인수했다.", AB_NEG),
    ("{A:는} {B:에} {F} 관련 부품을 공급한다.", AB_NEG),
    ("{A:의} 임원진이 {B:를} 방문했다.", AB_NEG),
    ("{A:는} 지난해 {B:로}부터 특허 사용료를 받았다.", AB_NEG),
    ("{A:와} {B:는} 같은 건물에 본사를 두고 있다.", AB_NEG),
];
const PER_POSITIVE: &[Template] = &[
    ("{A:와} {B:는} {F} 결승에서 맞대결을 펼친다.", AB_POS),
    ("{A:가} {B:와} {F} 우승을 놓고 격돌했다.", AB_POS),
    ("{A:와} {B:는} 토론회에서 날선 설전을 주고받았다.", AB_POS),
    ("{F}의 라이벌 {A:와} {B:가} 또 만났다.", AB_POS),
    ("{A:는} {B:를} 꺾고 {F} 정상에 올랐다.", AB_POS),
    ("{A:가} {B:의} 추격을 뿌리치고 {F} 1위를 지켰다.", AB_POS),
    ("{A:는} {B:와}의 경쟁에서 한발 앞서 있다.", AB_POS),
    ("{A} vs {B}, {F} 최고의 빅매치가 열린다.", AB_POS),
];
const PER_HARD_NEGATIVE: &[Template] = &[
    ("{A:는} {B:와} 복식 조를 이뤄 {F}에 출전했다.", AB_NEG),
    ("{A:와} {B:는} {C:를} 꺾기 위해 힘을 합쳤다.", AB_NEG_AC_BC_POS),
    ("{A:는} 라이벌 {C:와}의 경기를 앞두고 {B:와} 함께 훈련했다.", AB_NEG_AC_POS),
    ("{A:는} {B:의} 경쟁력을 높이 평가했다.", AB_NEG),
    ("치열한 경쟁을 뚫고 {A:와} {B:는} 함께 {F} 대표로 뽑혔다.", AB_NEG),
    ("{A:와} {B:는} 서로의 반격 전략을 함께 연구했다.", AB_NEG),
];
const PER_NEGATIVE: &[Template] = &[
    ("{A:는} {B:의} 오랜 스승이다.", AB_NEG),
    ("{A:와} {B:는} {F} 시상식에서 서로를 축하했다.", AB_NEG),
    ("{A:는} {B:와} 같은 고향 출신이다.", AB_NEG),
    ("{A:가} {B:의} 결혼식에서 축가를 불렀다.", AB_NEG),
];

/// True when the last syllable of `word` has a final consonant (batchim); non-Hangul endings count as open.
fn has_batchim(word: &str) -> bool {
    match word.chars().last() {
        Some(c @ '\u{AC00}'..='\u{D7A3}') => (c as u32 - 0xAC00) % 28 != 0,
        Some(c) if c.is_ascii_digit() => matches!(c, '0' | '1' | '3' | '6' | '7' | '8'),
        Some(c) if c.is_ascii_alphabetic() => matches!(c.to_ascii_lowercase(), 'k' | 'l' | 'm' | 'n' | 'p'),
        _ => false,
    }
}

/// The particle form after `word`: the template writes the open-syllable form (와, 는, 가, 를, 로).
fn josa(word: &str, open_form: &str) -> String {
    let closed = has_batchim(word);
    let last_is_rieul =
        word.chars().last().is_some_and(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c) && (c as u32 - 0xAC00) % 28 == 8);
    match open_form {
        "와" => if closed { "과" } else { "와" }.into(),
        "는" => if closed { "은" } else { "는" }.into(),
        "가" => if closed { "이" } else { "가" }.into(),
        "를" => if closed { "을" } else { "를" }.into(),
        "로" => if closed && !last_is_rieul { "으로" } else { "로" }.into(),
        other => other.into(),
    }
}

/// Render a template; returns the sentence and the inclusive character span of each role that occurs.
fn render(template: &str, fill: &dyn Fn(char) -> String) -> (String, Vec<(char, usize, usize)>) {
    let mut out = String::new();
    let mut n_chars = 0usize;
    let mut spans = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let before = &rest[..open];
        out.push_str(before);
        n_chars += before.chars().count();
        let Some(close) = rest[open..].find('}') else { break };
        let inner = &rest[open + 1..open + close];
        let (role, particle) = match inner.split_once(':') {
            Some((r, p)) => (r, Some(p)),
            None => (inner, None),
        };
        let role = role.chars().next().unwrap_or('F');
        let word = fill(role);
        let len = word.chars().count();
        if role != 'F' {
            spans.push((role, n_chars, n_chars + len - 1));
        }
        out.push_str(&word);
        n_chars += len;
        if let Some(p) = particle {
            let j = josa(&word, p);
            n_chars += j.chars().count();
            out.push_str(&j);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    (out, spans)
}

/// Generate the set. Records are ordered by sentence; ids are `{id_prefix}-{sentence:05}` plus `-{k}` for the
/// second and third pair of a sentence.
pub fn generate_competition(cfg: &CompetitionSynthConfig) -> Vec<RelationRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut out = Vec::with_capacity(cfg.sentences * 5 / 4);
    for s in 0..cfg.sentences {
        let is_org = rng.random_bool(0.6);
        let (names, fields, pos, hard, neg, etype) = if is_org {
            (ORGS, ORG_FIELDS, ORG_POSITIVE, ORG_HARD_NEGATIVE, ORG_NEGATIVE, "ORG")
        } else {
            (PERS, PER_FIELDS, PER_POSITIVE, PER_HARD_NEGATIVE, PER_NEGATIVE, "PER")
        };
        let u: f64 = rng.random();
        let pool = if u < cfg.positive_share {
            pos
        } else if u < cfg.positive_share + cfg.hard_negative_share {
            hard
        } else {
            neg
        };
        let &(template, pairs) = pool.choose(&mut rng).unwrap_or(&pos[0]);
        // Three distinct names for A, B, C.
        let mut picked: Vec<&str> = Vec::with_capacity(3);
        while picked.len() < 3 {
            let n = names[rng.random_range(0..names.len())];
            if !picked.contains(&n) {
                picked.push(n);
            }
        }
        let field = fields[rng.random_range(0..fields.len())];
        let fill = |role: char| -> String {
            match role {
                'A' => picked[0].to_string(),
                'B' => picked[1].to_string(),
                'C' => picked[2].to_string(),
                _ => field.to_string(),
            }
        };
        let (sentence, spans) = render(template, &fill);
        let span_of = |role: char| spans.iter().find(|(r, _, _)| *r == role).map(|&(_, a, b)| (a, b));
        for (k, &(x, y, positive)) in pairs.iter().enumerate() {
            let (Some((xs, xe)), Some((ys, ye))) = (span_of(x), span_of(y)) else { continue };
            let mut subject = Entity::new(fill(x), xs, xe, etype);
            let mut object = Entity::new(fill(y), ys, ye, etype);
            // Competition is symmetric: present the pair in either order.
            if rng.random_bool(0.3) {
                std::mem::swap(&mut subject, &mut object);
            }
            let id = if k == 0 { format!("{}-{s:05}", cfg.id_prefix) } else { format!("{}-{s:05}-{k}", cfg.id_prefix) };
            out.push(RelationRecord {
                id,
                sentence: sentence.clone(),
                subject,
                object,
                label: Some(if positive { COMPETITION } else { NO_RELATION }.to_string()),
                source: Some("synthetic-competition".into()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Validation;

    #[test]
    fn records_are_valid_deterministic_and_mixed() {
        let cfg = CompetitionSynthConfig { sentences: 400, seed: 9, ..Default::default() };
        let a = generate_competition(&cfg);
        assert_eq!(a, generate_competition(&cfg));
        assert_ne!(a, generate_competition(&CompetitionSynthConfig { seed: 10, ..cfg.clone() }));
        assert!(a.len() >= 400);
        for r in &a {
            let mut r2 = r.clone();
            r2.validate(&Validation::default()).unwrap_or_else(|e| panic!("{}: {e}: {}", r.id, r.sentence));
            assert_eq!(r.subject.entity_type, r.object.entity_type);
        }
        let pos = a.iter().filter(|r| r.label.as_deref() == Some(COMPETITION)).count();
        assert!(pos > a.len() / 4 && pos < a.len() * 3 / 4, "{pos}/{}", a.len());
        // Hard negatives: some negatives contain a clue word, some positives none of 경쟁/맞대결/vs.
        assert!(a.iter().any(|r| r.label.as_deref() == Some(NO_RELATION) && r.sentence.contains("경쟁")));
        assert!(a.iter().any(|r| r.label.as_deref() == Some(COMPETITION) && r.sentence.contains("꺾고")));
        assert!(a.iter().any(|r| r.subject.entity_type.as_str() == "PER"));
        assert!(a.iter().any(|r| r.subject.entity_type.as_str() == "ORG"));
    }

    #[test]
    fn particles_follow_the_final_consonant() {
        assert_eq!(josa("삼성전자", "와"), "와");
        assert_eq!(josa("애플", "는"), "은");
        assert_eq!(josa("SK텔레콤", "가"), "이");
        assert_eq!(josa("KT", "를"), "를");
        assert_eq!(josa("애플", "로"), "로");
        assert_eq!(josa("구글", "로"), "로");
        assert_eq!(josa("김민준", "로"), "으로");
        let (s, spans) =
            render("{A:와} {B:는} 경쟁", &|r| if r == 'A' { "애플".into() } else { "삼성전자".into() });
        assert_eq!(s, "애플과 삼성전자는 경쟁");
        assert_eq!(spans, vec![('A', 0, 1), ('B', 4, 7)]);
    }
}
