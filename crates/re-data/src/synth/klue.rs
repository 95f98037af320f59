//! The synthetic KLUE-RE generator: Korean sentences from kre's own templates and word lists (see [`super::lexicon`]),
//! with KLUE-RE's 30 labels in the proportions of the KLUE-RE v1.1 training set.
//!
//! **Synthetic**: nothing here comes from KLUE; the data is for smoke tests, demos and CI only.
//!
//! How one record is made: pick the label (exact per-label counts, see [`label_counts`]), one of its variants (subject
//! kind, object kind, templates), fill a template's `{S}`/`{O}` slots with generated entities and its other slots with
//! filler words, then pad the sentence with context clauses until it reaches a length drawn from a log-normal
//! distribution around KLUE's median (≈ 87 characters, with a long tail past 200).
use super::lexicon::*;
use crate::error::{DataError, Result};
use crate::record::{Entity, EntityType, RelationRecord, Validation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Label counts of the KLUE-RE v1.1 training set (32,470 sentences), in KLUE's official relation order.
/// The generator reproduces these proportions.
pub const KLUE_RE_TRAIN_COUNTS: [(&str, usize); 30] = [
    ("no_relation", 9534),
    ("org:dissolved", 66),
    ("org:founded", 450),
    ("org:place_of_headquarters", 1195),
    ("org:alternate_names", 1320),
    ("org:member_of", 1866),
    ("org:members", 420),
    ("org:political/religious_affiliation", 98),
    ("org:product", 380),
    ("org:founded_by", 155),
    ("org:top_members/employees", 4284),
    ("org:number_of_employees/members", 48),
    ("per:date_of_birth", 1130),
    ("per:date_of_death", 418),
    ("per:place_of_birth", 166),
    ("per:place_of_death", 40),
    ("per:place_of_residence", 193),
    ("per:origin", 1234),
    ("per:employee_of", 3573),
    ("per:schools_attended", 82),
    ("per:alternate_names", 1001),
    ("per:parents", 520),
    ("per:children", 304),
    ("per:siblings", 136),
    ("per:spouse", 795),
    ("per:other_family", 190),
    ("per:colleagues", 534),
    ("per:product", 139),
    ("per:religion", 96),
    ("per:title", 2103),
];

/// Every label gets at least this many records, so that train, dev and test each hold every label.
pub const MIN_PER_LABEL: usize = 3;

/// Parameters of [`generate`].
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Total number of records over train + dev + test.
    pub n: usize,
    pub seed: u64,
    /// Share of each label's records that goes to dev (and the same for test).
    pub dev_ratio: f64,
    pub test_ratio: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig { n: 8000, seed: 1, dev_ratio: 0.1, test_ratio: 0.1 }
    }
}

/// Generated records, split stratified by label. All records carry labels (KLUE's test set has labels too)
/// and `source = "synthetic"`.
#[derive(Clone, Debug)]
pub struct SynthDataset {
    pub train: Vec<RelationRecord>,
    pub dev: Vec<RelationRecord>,
    pub test: Vec<RelationRecord>,
}

/// Per-label counts for `n` records: KLUE proportions by largest remainder, each label at least [`MIN_PER_LABEL`]
/// (taken from the largest labels). Errors when `n` is too small for that.
pub fn label_counts(n: usize) -> Result<Vec<(&'static str, usize)>> {
    let n_labels = KLUE_RE_TRAIN_COUNTS.len();
    if n < MIN_PER_LABEL * n_labels {
        return Err(DataError::Invalid(format!(
            "synth: --n {n} is too small; at least {} records are needed to give each of the {n_labels} labels {MIN_PER_LABEL}",
            MIN_PER_LABEL * n_labels
        )));
    }
    let total: usize = KLUE_RE_TRAIN_COUNTS.iter().map(|(_, c)| c).sum();
    let exact: Vec<f64> = KLUE_RE_TRAIN_COUNTS.iter().map(|(_, c)| *c as f64 * n as f64 / total as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..n_labels).collect();
    // Largest remainder first; ties by label order so the result is deterministic.
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let mut missing = n - counts.iter().sum::<usize>();
    for &i in order.iter().cycle() {
        if missing == 0 {
            break;
        }
        counts[i] += 1;
        missing -= 1;
    }
    // Lift tiny labels to the minimum, taking records from the currently largest label.
    for i in 0..n_labels {
        while counts[i] < MIN_PER_LABEL {
            let largest = (0..n_labels).max_by_key(|&j| (counts[j], usize::MAX - j)).unwrap_or(0);
            counts[largest] -= 1;
            counts[i] += 1;
        }
    }
    Ok(KLUE_RE_TRAIN_COUNTS.iter().zip(counts).map(|((label, _), c)| (*label, c)).collect())
}

/// Generate `cfg.n` records deterministically for `cfg.seed` and split them per label into train/dev/test.
/// Every record is checked with [`RelationRecord::validate`] before it is returned.
pub fn generate(cfg: &SynthConfig) -> Result<SynthDataset> {
    if !(0.0..0.5).contains(&cfg.dev_ratio) || !(0.0..0.5).contains(&cfg.test_ratio) {
        return Err(DataError::Invalid(format!(
            "synth: dev ratio {} and test ratio {} must each be in [0, 0.5)",
            cfg.dev_ratio, cfg.test_ratio
        )));
    }
    let counts = label_counts(cfg.n)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut out = SynthDataset { train: Vec::new(), dev: Vec::new(), test: Vec::new() };
    let rules = Validation::default();
    for (label, count) in counts {
        let spec = relation_spec(label)
            .ok_or_else(|| DataError::Invalid(format!("synth: no templates for label {label:?} (bug)")))?;
        let mut records = Vec::with_capacity(count);
        for i in 0..count {
            let mut record = make_record(&mut rng, spec)?;
            record.validate(&rules).map_err(|m| {
                DataError::Invalid(format!("synth: generated record #{i} of {label} is invalid (bug): {m}"))
            })?;
            records.push(record);
        }
        let n_dev = split_size(count, cfg.dev_ratio);
        let n_test = split_size(count, cfg.test_ratio);
        let rest = records.split_off(n_dev.min(records.len()));
        out.dev.extend(records);
        let mut rest = rest;
        let train = rest.split_off(n_test.min(rest.len()));
        out.test.extend(rest);
        out.train.extend(train);
    }
    for (name, part) in [("train", &mut out.train), ("dev", &mut out.dev), ("test", &mut out.test)] {
        shuffle(&mut rng, part);
        for (i, r) in part.iter_mut().enumerate() {
            r.id = format!("synthetic-klue-re_{name}_{i:05}");
        }
    }
    Ok(out)
}

/// `round(ratio × n)`, but at least 1 when the label has [`MIN_PER_LABEL`] records and the ratio is positive.
fn split_size(n: usize, ratio: f64) -> usize {
    let k = (ratio * n as f64).round() as usize;
    if ratio > 0.0 && n >= MIN_PER_LABEL {
        k.max(1)
    } else {
        k
    }
}

fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

// ---------------------------------------------------------------------------------------------------------------
// Entities

/// What an entity slot holds; decides the generated word and its KLUE type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Person,
    StageName,
    Company,
    School,
    Party,
    Religion,
    Group,
    Team,
    League,
    Media,
    AnyOrg,
    KoreanPlace,
    Country,
    AnyPlace,
    BirthDate,
    DeathDate,
    FoundDate,
    AnyDate,
    Title,
    Work,
    Product,
    Count,
    /// The alternate name of the subject (English name, initials or short party name).
    AltOfSubject,
}

/// A generated organisation or person name with what the alternate-name relations need.
struct Generated {
    word: String,
    entity_type: EntityType,
    /// Alternate forms (English name, initials, short name) when the kind has them.
    alternates: Vec<String>,
}

fn person_name(rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.85) {
        format!("{}{}", pick(rng, SURNAMES), pick(rng, GIVEN_NAMES))
    } else {
        format!("{} {}", pick(rng, FOREIGN_GIVEN), pick(rng, FOREIGN_FAMILY))
    }
}

fn date_word(rng: &mut ChaCha8Rng, years: std::ops::RangeInclusive<u32>) -> String {
    let year = rng.random_range(years);
    let month = rng.random_range(1..=12u32);
    let day = rng.random_range(1..=28u32);
    match rng.random_range(0..10) {
        0..=4 => format!("{year}년 {month}월 {day}일"),
        5..=6 => format!("{year}년 {month}월"),
        _ => format!("{year}년"),
    }
}

fn count_word(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..4) {
        0 => {
            let n = rng.random_range(20..50_000u32);
            if n >= 1000 {
                format!("{},{:03}명", n / 1000, n % 1000)
            } else {
                format!("{n}명")
            }
        }
        1 => format!("{}만 명", rng.random_range(1..=90u32)),
        2 => format!("{}천여 명", rng.random_range(1..=9u32)),
        _ => format!("{}여 명", rng.random_range(2..=99u32) * 10),
    }
}

fn generate_entity(rng: &mut ChaCha8Rng, kind: Kind, subject: Option<&Generated>) -> Generated {
    let simple = |word: String, t: EntityType| Generated { word, entity_type: t, alternates: Vec::new() };
    match kind {
        Kind::Person => simple(person_name(rng), EntityType::Per),
        Kind::StageName => simple(pick(rng, STAGE_NAMES).to_string(), EntityType::Per),
        Kind::Company => {
            let (stem, stem_en) = *pick(rng, ORG_STEMS);
            let (suffix, suffix_en) = *pick(rng, COMPANY_SUFFIXES);
            let english = format!("{stem_en} {suffix_en}");
            let initials: String = english.split_whitespace().filter_map(|w| w.chars().next()).collect();
            Generated {
                word: format!("{stem}{suffix}"),
                entity_type: EntityType::Org,
                alternates: vec![english, initials],
            }
        }
        Kind::School => {
            let base = if rng.random_bool(0.5) { pick(rng, ORG_STEMS).0 } else { *pick(rng, &KOREAN_PLACES[..27]) };
            simple(format!("{base}{}", pick(rng, SCHOOL_SUFFIXES)), EntityType::Org)
        }
        Kind::Party => {
            let (full, short) = *pick(rng, PARTIES);
            Generated { word: full.to_string(), entity_type: EntityType::Org, alternates: vec![short.to_string()] }
        }
        Kind::Religion => simple(pick(rng, RELIGIONS).to_string(), EntityType::Org),
        Kind::Group => simple(pick(rng, GROUP_NAMES).to_string(), EntityType::Org),
        Kind::Team => {
            simple(format!("{} {}", pick(rng, &KOREAN_PLACES[..27]), pick(rng, TEAM_NICKNAMES)), EntityType::Org)
        }
        Kind::League => simple(pick(rng, LEAGUES).to_string(), EntityType::Org),
        Kind::Media => simple(pick(rng, MEDIA_AND_PUBLIC).to_string(), EntityType::Org),
        Kind::AnyOrg => {
            let k = *pick(
                rng,
                &[Kind::Company, Kind::Company, Kind::Company, Kind::Media, Kind::Team, Kind::Group, Kind::School],
            );
            generate_entity(rng, k, subject)
        }
        Kind::KoreanPlace => simple(pick(rng, KOREAN_PLACES).to_string(), EntityType::Loc),
        Kind::Country => simple(pick(rng, COUNTRIES).to_string(), EntityType::Loc),
        Kind::AnyPlace => {
            let list = *pick(rng, &[KOREAN_PLACES, COUNTRIES, FOREIGN_CITIES]);
            simple(pick(rng, list).to_string(), EntityType::Loc)
        }
        Kind::BirthDate => simple(date_word(rng, 1925..=2008), EntityType::Dat),
        Kind::DeathDate => simple(date_word(rng, 1950..=2024), EntityType::Dat),
        Kind::FoundDate => simple(date_word(rng, 1890..=2023), EntityType::Dat),
        Kind::AnyDate => simple(date_word(rng, 1960..=2024), EntityType::Dat),
        Kind::Title => simple(pick(rng, TITLES).to_string(), EntityType::Poh),
        Kind::Work => simple(format!("{} {}", pick(rng, WORK_FIRST), pick(rng, WORK_SECOND)), EntityType::Poh),
        Kind::Product => {
            let model = match rng.random_range(0..3) {
                0 => String::new(),
                1 => format!(" {}", rng.random_range(2..=20u32)),
                _ => format!(" {}{}", pick(rng, &["X", "S", "프로", "플러스", "미니"]), rng.random_range(1..=9u32)),
            };
            simple(format!("{}{}{model}", pick(rng, ORG_STEMS).0, pick(rng, PRODUCT_LINES)), EntityType::Poh)
        }
        Kind::Count => simple(count_word(rng), EntityType::Noh),
        Kind::AltOfSubject => {
            let alt = subject.and_then(|s| (!s.alternates.is_empty()).then(|| pick(rng, &s.alternates).clone()));
            simple(alt.unwrap_or_else(|| pick(rng, STAGE_NAMES).to_string()), EntityType::Org)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Korean particles

/// Final-consonant class of the last pronounced character of `s`: `None` = ends in a vowel,
/// `Some(true)` = ends in ㄹ, `Some(false)` = ends in another consonant. Closing brackets and dots are skipped.
fn final_consonant(s: &str) -> Option<bool> {
    for c in s.chars().rev() {
        match c {
            '가'..='힣' => {
                let jong = (c as u32 - 0xAC00) % 28;
                return if jong == 0 { None } else { Some(jong == 8) };
            }
            // Korean readings of digits: 영 일 이 삼 사 오 육 칠 팔 구.
            '0' | '3' | '6' => return Some(false),
            '1' | '7' | '8' => return Some(true),
            '2' | '4' | '5' | '9' => return None,
            'L' | 'l' | 'R' | 'r' => return Some(true),
            'M' | 'm' | 'N' | 'n' => return Some(false),
            c if c.is_ascii_alphabetic() => return None,
            _ => continue,
        }
    }
    None
}

/// The particle form that fits after `prev` (templates always spell the after-consonant form).
fn josa(prev: &str, particle: &str) -> String {
    let fc = final_consonant(prev);
    let consonant = fc.is_some();
    let (after_consonant, after_vowel) = match particle {
        "은" => ("은", "는"),
        "이" => ("이", "가"),
        "을" => ("을", "를"),
        "과" => ("과", "와"),
        "이라는" => ("이라는", "라는"),
        "이며" => ("이며", "며"),
        "이다" => ("이다", "다"),
        "이었다" => ("이었다", "였다"),
        "이었던" => ("이었던", "였던"),
        "으로" => {
            // ㄹ takes 로 like a vowel does.
            return if fc == Some(false) { "으로".into() } else { "로".into() };
        }
        other => (other, other),
    };
    (if consonant { after_consonant } else { after_vowel }).to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// Templates

/// One way to express a relation: subject kind, object kind, templates with `{S}` and `{O}` slots.
struct Variant {
    subject: Kind,
    object: Kind,
    templates: &'static [&'static str],
}

struct RelationSpec {
    label: &'static str,
    variants: &'static [Variant],
}

macro_rules! v {
    ($s:ident, $o:ident, [$($t:expr),+ $(,)?]) => {
        Variant { subject: Kind::$s, object: Kind::$o, templates: &[$($t),+] }
    };
}

/// Template language: `{S}`/`{O}` are the entities, `{PER}`, `{ORG}`, `{COMPANY}`, `{CITY}`, `{LOC}`, `{COUNTRY}`,
/// `{YEAR}`, `{DATE}`, `{TITLE}`, `{ORGTITLE}`, `{WORK}`, `{NEWS}`, `{EVENT}`, `{FIELD}`, `{NUM}` are fillers, and
/// `:은` after a name (`{S:은}`) appends the particle in the form that fits the word (은/는, 이/가, 을/를, 과/와,
/// 으로/로, 이라는/라는, 이며/며, 이다/다, 이었다/였다). `{J:을}` appends a particle fitting the text before it.
static SPECS: &[RelationSpec] = &[
    RelationSpec {
        label: "no_relation",
        variants: &[
            v!(
                Person,
                Person,
                [
                    "{S:과} {O:은} 같은 날 서로 다른 무대에 올라 각자의 신곡을 선보였다.",
                    "{S:은} 기자회견에서 {O}에 대한 질문에는 끝내 답하지 않았다.",
                    "{O:이} 진행하는 라디오 프로그램에 청취자 사연이 소개되자 {S:은} 이를 자신의 SNS에 공유했다.",
                    "이날 시상식에서는 {S:과} {O:이} 나란히 후보에 올랐으나 수상의 영예는 다른 사람에게 돌아갔다.",
                    "{S:은} 어린 시절 {O}의 소설을 읽으며 작가의 꿈을 키웠다고 밝혔다.",
                ]
            ),
            v!(
                Person,
                AnyOrg,
                [
                    "{S:은} {O}의 신제품 발표회를 관람한 뒤 짧은 소감을 남겼다.",
                    "{O:은} 지역 봉사활동에 앞장선 공로로 {S}에게 감사패를 전달했다.",
                    "{S:은} {O:을} 상대로 손해배상 청구 소송을 제기했다.",
                    "{O}의 광고를 본 {S:은} 방송에서 그 장면을 패러디했다.",
                ]
            ),
            v!(
                Person,
                AnyPlace,
                [
                    "{S:은} 휴가차 {O:을} 방문해 현지 음식을 맛보았다.",
                    "{O}에서 열린 콘서트에 {S:이} 깜짝 게스트로 참여했다.",
                    "{S:은} 다큐멘터리 촬영을 위해 {O}에 두 달간 머물렀다.",
                ]
            ),
            v!(
                Person,
                AnyDate,
                [
                    "{S:은} {O}에 열린 시상식에서 신인상을 받았다.",
                    "{O} {S:은} 새 앨범 발매 계획을 공식적으로 발표했다.",
                    "{S:이} 출연한 영화는 {O}에 개봉해 큰 인기를 끌었다.",
                ]
            ),
            v!(
                Person,
                Title,
                [
                    "{S:은} 이번 작품에서 {O} 역할을 맡아 호평을 받았다.",
                    "{S:은} 어릴 적 꿈이 {O}{J:이었다}고 털어놓았다.",
                ]
            ),
            v!(
                Person,
                Work,
                [
                    "{S:은} 인터뷰에서 {PER}의 작품인 《{O}》{J:을} 인생 작품으로 꼽았다.",
                    "《{O}》{J:이} 방영되던 시기에 {S:은} 해외 유학 중이었다.",
                ]
            ),
            v!(
                Person,
                Count,
                [
                    "{S:은} 이번 공연에 {O}의 관객이 몰렸다는 소식을 전하며 감사 인사를 했다.",
                    "{S}의 팬 사인회에는 {O}이 넘는 인파가 모였다.",
                ]
            ),
            v!(
                Company,
                AnyOrg,
                [
                    "{S:과} {O:은} 같은 건물에 입주해 있지만 별다른 협력 관계는 없다.",
                    "{S:은} {O}와의 가격 경쟁에서 밀리며 시장 점유율이 하락했다.",
                    "{O}의 보도에 따르면 {S:은} 올해 하반기 신규 채용을 확대할 계획이다.",
                    "{S:은} 이번 입찰에서 {O:을} 제치고 사업자로 선정되었다.",
                ]
            ),
            v!(
                Company,
                Person,
                [
                    "{O:은} 칼럼에서 {S}의 고객 서비스를 강하게 비판했다.",
                    "{S}의 제품을 오랫동안 써 온 {O:은} 방송에서 그 경험을 이야기했다.",
                    "{S:은} 배우 {O:을} 새 광고 모델로 섭외하려 했으나 일정이 맞지 않아 무산되었다.",
                ]
            ),
            v!(
                AnyOrg,
                AnyPlace,
                [
                    "{S:은} {O}에서 열린 국제 박람회에 참가해 신기술을 소개했다.",
                    "{S} 관계자들은 {O}에서 열린 세미나에 참석했다.",
                    "{O} 지역에 폭우가 쏟아지자 {S:은} 구호 물품을 보냈다.",
                ]
            ),
            v!(
                AnyOrg,
                AnyDate,
                ["{S:은} {O}에 신제품을 처음 공개했다.", "{O} 열린 정기 총회에서 {S:은} 새로운 운영 방침을 발표했다.",]
            ),
            v!(
                AnyOrg,
                Count,
                [
                    "{S}의 창립 기념행사에는 {O}의 시민이 참가했다.",
                    "{S:이} 주최한 마라톤 대회에 {O}이 참가 신청을 했다.",
                ]
            ),
            v!(
                AnyOrg,
                Title,
                [
                    "{S:은} 새로 채용할 {O}의 자격 요건을 공개했다.",
                    "{S:은} 이번 행사에서 {O} 직군의 역할에 대해 설명했다.",
                ]
            ),
        ],
    },
    RelationSpec {
        label: "org:dissolved",
        variants: &[v!(
            AnyOrg,
            DeathDate,
            [
                "{S:은} 경영난을 이기지 못하고 {O}에 해산했다.",
                "{O}, {S:은} 주주총회 결의에 따라 공식적으로 해체되었다.",
                "{S:은} {O} 문을 닫았으며 남은 자산은 채권자들에게 분배되었다.",
                "{O}에 해체된 {S}의 멤버들은 이후 각자 다른 길을 걸었다.",
                "{S:은} 설립 이후 수십 년간 활동하다가 {O}에 폐업 신고를 했다.",
            ]
        )],
    },
    RelationSpec {
        label: "org:founded",
        variants: &[v!(
            AnyOrg,
            FoundDate,
            [
                "{S:은} {O}에 설립되었다.",
                "{O} 창립한 {S:은} 현재 국내외에 여러 지사를 두고 있다.",
                "{S:은} {O}에 문을 연 이래 꾸준히 성장해 왔다.",
                "{O}에 결성된 {S:은} 데뷔 직후부터 큰 인기를 얻었다.",
                "{S}의 역사는 {O}{J:으로} 거슬러 올라가며, 창립 당시 직원은 몇 명에 불과했다.",
            ]
        )],
    },
    RelationSpec {
        label: "org:place_of_headquarters",
        variants: &[v!(
            Company,
            AnyPlace,
            [
                "{O}에 본사를 둔 {S:은} 올해 매출이 크게 늘었다.",
                "{S}의 본부는 {O}에 있다.",
                "{S:은} {O}에 본사를 두고 있으며 전국에 지점을 운영한다.",
                "{S:은} 최근 본사를 {O}{J:으로} 이전했다.",
                "{O} 소재의 {S:은} 지역 경제를 이끄는 기업으로 평가받는다.",
            ]
        )],
    },
    RelationSpec {
        label: "org:alternate_names",
        variants: &[
            v!(
                Company,
                AltOfSubject,
                [
                    "{S}({O})의 올해 영업이익은 전년보다 20% 늘었다.",
                    "{S:은} 영문명인 {O}{J:으로} 해외 시장에 진출했다.",
                    "{O}{J:으로} 더 잘 알려진 {S:은} 지난해 사명을 변경했다.",
                    "{S}, 약칭 {O:은} 이번 발표에서 새로운 비전을 제시했다.",
                ]
            ),
            v!(
                Party,
                AltOfSubject,
                [
                    "{S}(이하 {O})의 원내대표는 기자회견을 열었다.",
                    "{O}{J:으로} 불리는 {S:은} 이번 선거에서 의석을 늘렸다.",
                    "흔히 {O}{J:이라는} 약칭으로 통하는 {S:은} 창당 10주년을 맞았다.",
                ]
            ),
        ],
    },
    RelationSpec {
        label: "org:member_of",
        variants: &[
            v!(
                Team,
                League,
                [
                    "{S:은} {O} 소속 구단으로 올 시즌 리그 3위를 기록했다.",
                    "{O}에 가입한 {S:은} 다음 시즌부터 정규 리그에 참가한다.",
                    "{S:은} {O}의 회원 구단이다.",
                ]
            ),
            v!(
                Company,
                League,
                [
                    "{S:은} {O}의 회원사로 활동하고 있다.",
                    "{O}에 소속된 {S:은} 이번 공동 성명에 이름을 올렸다.",
                    "{S:은} 올해 초 {O}에 정식으로 가입했다.",
                ]
            ),
            v!(
                Company,
                Company,
                ["{O} 계열사인 {S:은} 신사업 진출을 선언했다.", "{S:은} {O} 그룹에 속한 회사로 물류 사업을 맡고 있다.",]
            ),
        ],
    },
    RelationSpec {
        label: "org:members",
        variants: &[
            v!(
                League,
                Team,
                [
                    "{S}에는 {O:을} 비롯한 12개 구단이 참가하고 있다.",
                    "{O:이} 새 회원으로 합류하면서 {S}의 회원 수는 늘어났다.",
                    "{S:은} {O}의 가입 신청을 승인했다.",
                ]
            ),
            v!(
                League,
                Company,
                ["{S}의 회원사인 {O:은} 이번 결정에 찬성했다.", "{S:은} {O} 등 주요 기업을 회원으로 두고 있다.",]
            ),
        ],
    },
    RelationSpec {
        label: "org:political/religious_affiliation",
        variants: &[
            v!(
                School,
                Religion,
                [
                    "{S:은} {O} 재단이 세운 학교이다.",
                    "{O} 계열의 {S:은} 종교 교육을 필수 과목으로 운영한다.",
                    "{S:은} {O}의 정신을 바탕으로 설립되었다.",
                ]
            ),
            v!(
                Media,
                Party,
                ["{S:은} {O} 성향의 단체로 알려져 있다.", "{O}{J:과} 가까운 {S:은} 선거 기간 내내 지지 활동을 펼쳤다.",]
            ),
        ],
    },
    RelationSpec {
        label: "org:product",
        variants: &[v!(
            Company,
            Product,
            [
                "{S:은} 신형 스마트 기기 {O:을} 출시했다.",
                "{O:은} {S:이} 만든 제품으로 출시 한 달 만에 10만 대가 팔렸다.",
                "{S}의 대표 상품인 {O:은} 해외에서도 인기를 끌고 있다.",
                "{S:은} {O}의 후속 모델 개발에 착수했다고 밝혔다.",
                "소비자 조사에서 {O:이} 1위를 차지하자 {S:은} 생산량을 늘렸다.",
            ]
        )],
    },
    RelationSpec {
        label: "org:founded_by",
        variants: &[v!(
            AnyOrg,
            Person,
            [
                "{S:은} {O:이} 세운 회사다.",
                "{O:은} {YEAR} {S:을} 설립했다.",
                "{S}의 창업자인 {O:은} 지금도 경영에 참여하고 있다.",
                "{O:이} 창립한 {S:은} 올해로 설립 30주년을 맞았다.",
                "{S:은} {O}에 의해 설립되어 짧은 기간에 업계 선두로 올라섰다.",
            ]
        )],
    },
    RelationSpec {
        label: "org:top_members/employees",
        variants: &[
            v!(
                AnyOrg,
                Person,
                [
                    "{S}의 {ORGTITLE} {O:은} 올해 실적이 기대 이상이라고 말했다.",
                    "{O} {S} {ORGTITLE:은} 이날 기자간담회를 열고 새 전략을 발표했다.",
                    "{S:은} {O:을} 새 {ORGTITLE}{J:으로} 선임했다.",
                    "{O:은} {YEAR}부터 {S}의 {ORGTITLE}{J:으로} 재직하고 있다.",
                    "{S:을} 이끌고 있는 {O} {ORGTITLE:은} 임직원들에게 위기 극복을 당부했다.",
                    "{S} 측은 {O} {ORGTITLE}의 사임 소식을 공식 발표했다.",
                ]
            ),
            v!(
                Team,
                Person,
                ["{S:은} 새 감독으로 {O:을} 선임했다.", "{S}의 사령탑을 맡은 {O} 감독은 첫 경기에서 승리를 거뒀다.",]
            ),
            v!(
                Party,
                Person,
                [
                    "{S} 대표를 맡고 있는 {O:은} 이날 최고위원회의를 주재했다.",
                    "{O} {S} 원내대표는 법안 처리에 협조해 달라고 요청했다.",
                ]
            ),
        ],
    },
    RelationSpec {
        label: "org:number_of_employees/members",
        variants: &[v!(
            AnyOrg,
            Count,
            [
                "{S}의 임직원 수는 {O}에 이른다.",
                "{S:은} 현재 {O}의 회원을 보유하고 있다.",
                "{O}의 직원이 근무하는 {S:은} 지역 최대 고용주이다.",
                "{S}에 소속된 회원은 {O:으로} 집계되었다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:date_of_birth",
        variants: &[v!(
            Person,
            BirthDate,
            [
                "{S:은} {O} {CITY}에서 태어났다.",
                "{O}에 태어난 {S:은} 어린 시절부터 음악에 재능을 보였다.",
                "{S:은} {O}에 태어난 {COUNTRY}의 {TITLE}{J:이다}.",
                "{S:은} {O}생으로, {YEAR} 데뷔했다.",
                "{O} 출생인 {S:은} 대학에서 경영학을 전공했다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:date_of_death",
        variants: &[v!(
            Person,
            DeathDate,
            [
                "{S:은} 오랜 투병 끝에 {O}에 세상을 떠났다.",
                "{O}에 사망한 {S}의 장례식은 가족장으로 치러졌다.",
                "{COUNTRY}의 {TITLE}{J:이었던} {S:은} {O}에 세상을 떠났다.",
                "{S:은} {O} 자택에서 숨을 거두었다.",
                "{O}, {S:은} 향년 78세를 일기로 별세했다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:place_of_birth",
        variants: &[v!(
            Person,
            AnyPlace,
            [
                "{S:은} {YEAR} {O}에서 태어났다.",
                "{O}에서 태어난 {S:은} 열 살 때 가족과 함께 이주했다.",
                "{O} 출생인 {S:은} 그곳에서 고등학교까지 마쳤다.",
                "{S}의 고향은 {O}{J:으로}, 그는 어린 시절을 그곳에서 보냈다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:place_of_death",
        variants: &[v!(
            Person,
            AnyPlace,
            [
                "{S:은} {YEAR} {O}의 한 병원에서 숨을 거두었다.",
                "{O}에서 생을 마감한 {S}의 유해는 고향으로 옮겨졌다.",
                "{S:은} 망명 생활 중이던 {O}에서 세상을 떠났다.",
                "{S:은} {O}에 있는 자택에서 향년 81세로 별세했다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:place_of_residence",
        variants: &[v!(
            Person,
            AnyPlace,
            [
                "{S:은} 현재 가족과 함께 {O}에 살고 있다.",
                "{O}에 거주하는 {S:은} 주말마다 서울을 오간다.",
                "{S:은} 은퇴 후 {O}{J:으로} 거처를 옮겨 조용히 지내고 있다.",
                "{O}에 사는 {S:은} 지역 주민들과 함께 작은 도서관을 운영한다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:origin",
        variants: &[
            v!(
                Person,
                Country,
                [
                    "{O} 출신의 {S:은} 이번 대회에서 금메달을 땄다.",
                    "{S:은} {O} 국적의 {TITLE}이다.",
                    "{O}의 {TITLE} {S:은} 이번 내한 공연을 앞두고 소감을 밝혔다.",
                    "{S:은} {O}계 이민자 가정에서 자랐다.",
                    "{O} 대표로 출전한 {S:은} 결승에 진출했다.",
                ]
            ),
            v!(
                Person,
                KoreanPlace,
                ["{O} 출신인 {S:은} 고향에 장학금을 기부했다.", "{S:은} {O} 사람답게 구수한 사투리로 인사를 건넸다.",]
            ),
        ],
    },
    RelationSpec {
        label: "per:employee_of",
        variants: &[
            v!(
                Person,
                Company,
                [
                    "{O}의 {ORGTITLE} {S:은} 이날 신제품을 직접 소개했다.",
                    "{S:은} {YEAR} {O}에 입사해 연구개발 부서에서 일하고 있다.",
                    "{S} {O} 연구원은 이번 연구 결과를 국제 학술지에 발표했다.",
                    "{O}에서 20년 넘게 근무한 {S:은} 지난달 퇴직했다.",
                    "{S:은} {O} 소속 엔지니어로 이번 프로젝트를 이끌었다.",
                ]
            ),
            v!(
                Person,
                Team,
                [
                    "{O}의 {S:은} 이날 경기에서 결승골을 넣었다.",
                    "{S:은} 올 시즌을 앞두고 {O}{J:과} 3년 계약을 맺었다.",
                    "{O} 소속 투수 {S:은} 시즌 10승을 달성했다.",
                ]
            ),
            v!(
                Person,
                Media,
                [
                    "{O}의 {S} 기자는 현장 소식을 전했다.",
                    "{S:은} {O}에서 공직 생활을 시작했다.",
                    "{O} 소속 {S} 연구관은 보고서를 발표했다.",
                ]
            ),
            v!(
                Person,
                Party,
                ["{O}의 {S} 의원은 법안에 반대 의사를 밝혔다.", "{S:은} {O} 소속으로 지난 총선에 출마했다.",]
            ),
            v!(Person, Group, ["{O}의 멤버 {S:은} 솔로 앨범을 준비하고 있다.", "{S:은} {O}의 보컬로 활동하고 있다.",]),
        ],
    },
    RelationSpec {
        label: "per:schools_attended",
        variants: &[v!(
            Person,
            School,
            [
                "{S:은} {O:을} 졸업한 뒤 유학을 떠났다.",
                "{O}에서 물리학을 전공한 {S:은} 연구자의 길을 걸었다.",
                "{S:은} {YEAR} {O}에 입학했다.",
                "{O} 출신인 {S:은} 모교에 발전기금을 기탁했다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:alternate_names",
        variants: &[v!(
            Person,
            StageName,
            [
                "{S:은} {O}{J:이라는} 예명으로 활동하고 있다.",
                "{O}{J:으로} 더 잘 알려진 {S:은} 데뷔 20주년 기념 공연을 열었다.",
                "본명이 {S}인 {O:은} 새 앨범을 발표했다.",
                "팬들 사이에서 {O}{J:으로} 불리는 {S:은} 방송에 출연해 근황을 전했다.",
                "{S}, 일명 {O:은} 이번 작품에서 주연을 맡았다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:parents",
        variants: &[v!(
            Person,
            Person,
            [
                "{S:은} {O}의 아들로 태어났다.",
                "{O:은} 딸 {S}의 결혼식에서 눈물을 보였다.",
                "{S}의 아버지 {O:은} 평생 농사를 지었다.",
                "{S:은} 어머니 {O}에게서 음악적 재능을 물려받았다.",
                "{O}의 장녀인 {S:은} 가업을 이어받았다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:children",
        variants: &[v!(
            Person,
            Person,
            [
                "{S:은} 아들 {O}{J:과} 함께 방송에 출연했다.",
                "{O:은} {S}의 딸로, 현재 배우로 활동하고 있다.",
                "{S}의 막내아들 {O:은} 올해 대학에 입학했다.",
                "{S:은} 딸 {O}에게 회사를 물려주었다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:siblings",
        variants: &[v!(
            Person,
            Person,
            [
                "{S:은} 동생 {O}{J:과} 함께 밴드를 결성했다.",
                "{S}의 형 {O:은} 유명한 축구선수이다.",
                "{O:은} 언니 {S}의 뒤를 이어 배우가 되었다.",
                "{S:과} {O:은} 쌍둥이 형제로 같은 팀에서 뛰었다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:spouse",
        variants: &[v!(
            Person,
            Person,
            [
                "{S:은} {YEAR} {O:과} 결혼했다.",
                "{S}의 아내 {O:은} 피아니스트로 활동하고 있다.",
                "{O:은} 남편 {S}{J:과} 함께 재단을 설립했다.",
                "{S:은} 배우자 {O}에 대한 고마움을 수상 소감에서 전했다.",
                "{S:과} {O} 부부는 슬하에 두 자녀를 두고 있다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:other_family",
        variants: &[v!(
            Person,
            Person,
            [
                "{S:은} 삼촌 {O}의 영향으로 정치에 입문했다.",
                "{O:은} {S}의 외할아버지로 독립운동에 참여했다.",
                "{S}의 사촌 {O:은} 같은 회사에서 근무한다.",
                "{S:은} 조카 {O}의 결혼식에 참석했다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:colleagues",
        variants: &[v!(
            Person,
            Person,
            [
                "{S:은} 같은 팀 동료 {O}{J:과} 함께 우승을 일궈냈다.",
                "{S:과} {O:은} 같은 그룹의 멤버로 10년 넘게 활동해 왔다.",
                "{O:은} 드라마에서 함께 호흡을 맞춘 {S:을} 칭찬했다.",
                "{S:은} 연구실 동료인 {O}{J:과} 공동으로 논문을 발표했다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:product",
        variants: &[v!(
            Person,
            Work,
            [
                "{S:은} 정규 앨범 《{O}》{J:을} 발표했다.",
                "《{O}》{J:은} {S:이} 쓴 장편소설로 베스트셀러에 올랐다.",
                "{S:이} 연출한 영화 《{O}》{J:은} 관객 300만 명을 돌파했다.",
                "{S}의 대표곡 〈{O}〉{J:은} 지금도 널리 불린다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:religion",
        variants: &[v!(
            Person,
            Religion,
            [
                "독실한 {O} 신자인 {S:은} 매주 예배에 참석한다.",
                "{S:은} 젊은 시절 {O}{J:으로} 개종했다.",
                "{S:은} {O}의 가르침을 실천하며 봉사활동을 이어왔다.",
                "{O} 신앙을 가진 {S:은} 종교 간 대화에 힘써 왔다.",
            ]
        )],
    },
    RelationSpec {
        label: "per:title",
        variants: &[v!(
            Person,
            Title,
            [
                "{O} {S:은} 이날 기자들과 만나 소감을 밝혔다.",
                "{S:은} {COUNTRY}의 {O}{J:이다}.",
                "{S:은} {YEAR}부터 {O}{J:으로} 일하고 있다.",
                "{S} {O:은} 새 작품 준비에 한창이다.",
                "{O}{J:으로} 활동 중인 {S:은} 최근 새 프로젝트를 시작했다.",
            ]
        )],
    },
];

fn relation_spec(label: &str) -> Option<&'static RelationSpec> {
    SPECS.iter().find(|s| s.label == label)
}

/// Titles that go with an organisation ("한빛전자의 대표이사 …").
const ORG_TITLES: &[&str] = &[
    "대표이사",
    "회장",
    "사장",
    "부회장",
    "이사장",
    "위원장",
    "총장",
    "원장",
    "최고경영자",
    "사무총장",
    "편집장",
    "대변인",
    "단장",
    "전무",
    "부사장",
    "상무",
];
const EVENTS: &[&str] = &["기자간담회", "시상식", "개막식", "정기 총회", "심포지엄", "팬미팅", "공청회", "토론회"];
const FIELDS: &[&str] = &["반도체", "게임", "바이오", "금융", "유통", "자동차", "문화 콘텐츠", "에너지", "인공지능"];

/// Clauses put before the core sentence to lengthen it (end in `,` + space via the joiner).
const PREFIX_CLAUSES: &[&str] = &[
    "{YEAR} {CITY}에서 열린 {EVENT}에서 공개된 내용에 따르면",
    "업계 관계자에 따르면",
    "{NEWS}의 보도에 따르면",
    "지난 {YEAR} 발표된 자료에 의하면",
    "당시 여러 언론의 관심이 집중된 가운데",
    "{FIELD} 분야의 경쟁이 치열해지던 시기에",
    "코로나19 확산으로 각종 행사가 취소되던 상황에서도",
    "관련 업계의 우려와 달리",
    "{PER} 평론가의 분석에 따르면",
    "최근 공개된 {NEWS}{J:과}의 인터뷰에서 밝혀진 바와 같이",
    "{YEAR} 말부터 이어진 논란 속에서",
    "{COUNTRY}{J:과}의 교류가 활발해진 이후",
    "여러 차례의 협상 끝에",
    "팬들의 오랜 기다림 끝에",
];

/// Sentences put after the core sentence.
const SUFFIX_SENTENCES: &[&str] = &[
    "이 소식은 당시 여러 매체를 통해 크게 보도되었다.",
    "{PER} 평론가는 이에 대해 긍정적인 평가를 내놓았다.",
    "관련 논의는 {YEAR}까지 이어졌다.",
    "이후 {CITY}에서도 비슷한 사례가 잇따랐다.",
    "이에 대해 {ORG} 측은 별도의 입장을 내지 않았다.",
    "이는 {FIELD} 업계에서도 이례적인 일로 평가된다.",
    "한편 {PER}{J:은} 같은 날 {CITY}에서 열린 {EVENT}에 참석했다.",
    "자세한 내용은 다음 달 {NEWS}{J:을} 통해 공개될 예정이다.",
    "당시 현장에는 {NUM}여 명의 취재진이 몰렸다.",
    "이 일은 훗날 {PER}의 회고록에도 자세히 기록되었다.",
    "그 뒤로도 비슷한 논란은 한동안 계속되었다.",
    "{COUNTRY} 언론도 이 소식을 주요 기사로 다뤘다.",
    "이에 앞서 {ORG}{J:도} {YEAR} 비슷한 계획을 발표한 바 있다.",
    "많은 사람들이 이 결정을 두고 엇갈린 반응을 보였다.",
    "이 같은 흐름은 {FIELD} 시장 전반으로 확산되고 있다.",
    "{EVENT}{J:은} 예정보다 한 시간 늦게 끝났다.",
];

/// A piece of sentence being built, with the character span of the subject/object when this piece holds them.
struct Filled {
    text: String,
    chars: usize,
    subject: Option<(usize, usize)>,
    object: Option<(usize, usize)>,
}

/// Fill `template`; `{S}`/`{O}` take `subject`/`object` (and must not appear when those are `None`).
fn fill(rng: &mut ChaCha8Rng, template: &str, subject: Option<&str>, object: Option<&str>) -> Result<Filled> {
    let mut out = Filled { text: String::new(), chars: 0, subject: None, object: None };
    let mut rest = template;
    let avoid: Vec<&str> = subject.into_iter().chain(object).collect();
    while let Some(open) = rest.find('{') {
        push(&mut out, &rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| DataError::Invalid(format!("synth template {template:?}: unclosed '{{' (bug)")))?;
        let slot = &rest[open + 1..close];
        rest = &rest[close + 1..];
        let (name, particle) = match slot.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (slot, None),
        };
        match name {
            "S" | "O" => {
                let word = if name == "S" { subject } else { object }
                    .ok_or_else(|| DataError::Invalid(format!("synth template {template:?}: {{{name}}} here (bug)")))?;
                let start = out.chars;
                push(&mut out, word);
                let span = Some((start, out.chars - 1));
                if name == "S" {
                    out.subject = span;
                } else {
                    out.object = span;
                }
            }
            "J" => {}
            _ => {
                // Fillers must not repeat the entity words (a second copy would make the span ambiguous to readers).
                let mut word = filler(rng, name, template)?;
                for _ in 0..8 {
                    if !avoid.iter().any(|a| word.contains(a) || a.contains(word.as_str())) {
                        break;
                    }
                    word = filler(rng, name, template)?;
                }
                push(&mut out, &word);
            }
        }
        if let Some(p) = particle {
            let form = josa(&out.text, p);
            push(&mut out, &form);
        }
    }
    push(&mut out, rest);
    Ok(out)
}

fn push(out: &mut Filled, s: &str) {
    out.text.push_str(s);
    out.chars += s.chars().count();
}

fn filler(rng: &mut ChaCha8Rng, name: &str, template: &str) -> Result<String> {
    Ok(match name {
        "PER" => person_name(rng),
        "ORG" => generate_entity(rng, Kind::AnyOrg, None).word,
        "COMPANY" => generate_entity(rng, Kind::Company, None).word,
        "NEWS" => pick(rng, &MEDIA_AND_PUBLIC[..7]).to_string(),
        "CITY" => pick(rng, KOREAN_PLACES).to_string(),
        "LOC" => generate_entity(rng, Kind::AnyPlace, None).word,
        "COUNTRY" => pick(rng, COUNTRIES).to_string(),
        "YEAR" => format!("{}년", rng.random_range(1950..=2024u32)),
        "DATE" => date_word(rng, 1950..=2024),
        "TITLE" => pick(rng, TITLES).to_string(),
        "ORGTITLE" => pick(rng, ORG_TITLES).to_string(),
        "WORK" => format!("{} {}", pick(rng, WORK_FIRST), pick(rng, WORK_SECOND)),
        "EVENT" => pick(rng, EVENTS).to_string(),
        "FIELD" => pick(rng, FIELDS).to_string(),
        "NUM" => (rng.random_range(2..=30u32) * 10).to_string(),
        other => {
            return Err(DataError::Invalid(format!("synth template {template:?}: unknown slot {{{other}}} (bug)")))
        }
    })
}

/// A standard normal draw (Box–Muller), so the crate needs no distribution library.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Target sentence length in characters: log-normal, median [`TARGET_MEDIAN`] (KLUE's median is ≈ 87 and the padding
/// overshoots the target a little), clamped to a plausible range.
const TARGET_MEDIAN: f64 = 80.0;
const TARGET_SIGMA: f64 = 0.42;

fn target_length(rng: &mut ChaCha8Rng) -> usize {
    let x = TARGET_MEDIAN * (TARGET_SIGMA * standard_normal(rng)).exp();
    x.clamp(20.0, 420.0).round() as usize
}

fn make_record(rng: &mut ChaCha8Rng, spec: &RelationSpec) -> Result<RelationRecord> {
    let variant = pick(rng, spec.variants);
    let subject = generate_entity(rng, variant.subject, None);
    let mut object = generate_entity(rng, variant.object, Some(&subject));
    // Same-kind pairs (two persons, two companies) must be two different words.
    for _ in 0..8 {
        if object.word != subject.word && !object.word.contains(&subject.word) && !subject.word.contains(&object.word) {
            break;
        }
        object = generate_entity(rng, variant.object, Some(&subject));
    }
    let template = pick(rng, variant.templates);
    let core = fill(rng, template, Some(&subject.word), Some(&object.word))?;

    // Lengthen with context clauses until the sampled target length is (about) reached.
    let target = target_length(rng);
    let mut prefixes: Vec<String> = Vec::new();
    let mut suffixes: Vec<String> = Vec::new();
    let mut used_suffixes: Vec<&str> = Vec::new();
    let mut length = core.chars;
    while length + 8 < target {
        let can_prefix = prefixes.is_empty();
        let can_suffix = suffixes.len() < 7;
        if !can_prefix && !can_suffix {
            break;
        }
        if can_prefix && (!can_suffix || rng.random_bool(0.35)) {
            let clause_template = *pick(rng, PREFIX_CLAUSES);
            let clause = fill(rng, clause_template, None, None)?;
            length += clause.chars + 2;
            prefixes.push(clause.text);
        } else {
            // No sentence twice in one record.
            let mut sentence_template = *pick(rng, SUFFIX_SENTENCES);
            while used_suffixes.contains(&sentence_template) {
                sentence_template = *pick(rng, SUFFIX_SENTENCES);
            }
            used_suffixes.push(sentence_template);
            let sentence = fill(rng, sentence_template, None, None)?;
            length += sentence.chars + 1;
            suffixes.push(sentence.text);
        }
    }
    let prefix: String = prefixes.iter().map(|p| format!("{p}, ")).collect();
    let shift = prefix.chars().count();
    let mut sentence = prefix;
    sentence.push_str(&core.text);
    for s in &suffixes {
        sentence.push(' ');
        sentence.push_str(s);
    }
    let span = |s: Option<(usize, usize)>, role: &str| {
        s.ok_or_else(|| DataError::Invalid(format!("synth template {template:?} has no {role} slot (bug)")))
    };
    let (ss, se) = span(core.subject, "{S}")?;
    let (os, oe) = span(core.object, "{O}")?;
    Ok(RelationRecord {
        id: String::new(),
        sentence,
        subject: Entity::new(subject.word, ss + shift, se + shift, subject.entity_type),
        object: Entity::new(object.word, os + shift, oe + shift, object.entity_type),
        label: Some(spec.label.to_string()),
        source: Some("synthetic".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_klue_label_has_templates_and_every_template_has_both_slots() {
        for (label, _) in KLUE_RE_TRAIN_COUNTS {
            let spec = relation_spec(label).unwrap_or_else(|| panic!("no spec for {label}"));
            for v in spec.variants {
                for t in v.templates {
                    assert!(t.contains("{S") && t.contains("{O"), "{label}: {t}");
                }
            }
        }
        assert_eq!(SPECS.len(), 30);
    }

    #[test]
    fn particles_follow_the_final_consonant() {
        assert_eq!(josa("김민준", "은"), "은");
        assert_eq!(josa("서연", "이"), "이");
        assert_eq!(josa("하늘", "으로"), "로"); // ㄹ
        assert_eq!(josa("서울", "으로"), "로");
        assert_eq!(josa("부산", "으로"), "으로");
        assert_eq!(josa("도쿄", "을"), "를");
        assert_eq!(josa("《푸른 밤》", "은"), "은"); // brackets are skipped
        assert_eq!(josa("1,200명", "이"), "이");
        assert_eq!(josa("HE", "과"), "와");
        assert_eq!(josa("누리폰 X2", "을"), "를");
        assert_eq!(josa("한빛전자", "이다"), "다");
    }

    #[test]
    fn label_counts_sum_to_n_and_respect_minimum() {
        for n in [90, 500, 8000, 12345] {
            let counts = label_counts(n).unwrap();
            assert_eq!(counts.iter().map(|(_, c)| c).sum::<usize>(), n);
            assert!(counts.iter().all(|(_, c)| *c >= MIN_PER_LABEL));
        }
        assert!(label_counts(89).is_err());
    }
}
