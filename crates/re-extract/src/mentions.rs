//! Mention candidates in Korean text from MeCab + mecab-ko-dic morphemes.
//!
//! A sentence's morphemes are grouped into **nominal runs**: consecutive proper nouns (NNP), common nouns (NNG),
//! foreign words and Hanja (SL, SH), numbers (SN, NR), counters (NNBC), the prefix `제` (XPN), noun suffixes (XSN)
//! and name-internal symbols (`-`, `&`, `.`, `·` with no space around), next to each other or separated by spaces
//! only; anything else (particles, verbs, punctuation) ends a run. Candidates, all as inclusive character spans:
//!
//! | rule | type |
//! |---|---|
//! | number + 년/월/일 (chained: `1918년 1월 21일`), `1990년대`, `19세기` | DAT |
//! | number (+ numeral) + another counter (`3명`, `100만 원`), number + `%` | NOH |
//! | a common noun in the title/position lexicon ([`TITLES`]: 대통령, 감독, 회장 …) | POH |
//! | a **name core**: adjacent NNP/SL/SH morphemes (+ a following number: `루이 16세`, `오피스 2003`), + `(…)` right after | PER when every NNP is a person name (mecab-ko-dic class 인명), LOC when the last one is a place (지명), else ORG |
//! | a name core extended to the end of its run (`미국 육군`), the whole run when it holds a name or several nouns (`멕시코 혁명`, `아편 전쟁`) | ORG |
//! | the nouns of one eojeol (`동탁도` → `동탁`): unknown names often come out as NNG | ORG |
//! | text in title brackets or quotes (`《좀비랜드》`, `"이지 중대"`), up to 40 characters | POH |
//! | **eojeol chunks**: each eojeol's stem (before its particles/endings), consecutive stems with no particle between (`로만 아브라모비치`), and each suffix of such a chunk; robust to names MeCab cuts into odd pieces (`로만` → 로/JKB 만/JX) | as a name core when it holds NNPs, else ORG |
//! | any of the above + a parenthesised qualifier right after (`스팀 (플랫폼)`, `심정 (1471년)`) | the same |
//!
//! Candidates may nest (`미국` LOC inside `미국 육군` ORG); pairing skips overlapping mentions, and
//! [`Candidates::Outermost`] keeps only the spans inside no other candidate (same coverage, far fewer pairs).
use crate::error::Result;
use crate::Mention;
use re_data::record::EntityType;
use re_morph::{Mecab, Morpheme, Morphology};
use std::collections::BTreeMap;

/// Titles and positions proposed as POH mentions (KLUE's `per:title` objects are mostly these).
pub const TITLES: &[&str] = &[
    "대통령",
    "부통령",
    "총리",
    "수상",
    "장관",
    "차관",
    "의장",
    "의원",
    "국회의원",
    "위원장",
    "위원",
    "총재",
    "당수",
    "대표",
    "회장",
    "부회장",
    "사장",
    "부사장",
    "이사",
    "이사장",
    "전무",
    "상무",
    "대표이사",
    "창업자",
    "설립자",
    "총장",
    "원장",
    "교수",
    "부장",
    "국장",
    "실장",
    "팀장",
    "단장",
    "소장",
    "처장",
    "청장",
    "시장",
    "도지사",
    "지사",
    "군수",
    "구청장",
    "총독",
    "대사",
    "영사",
    "감독",
    "코치",
    "주장",
    "선수",
    "배우",
    "가수",
    "작가",
    "소설가",
    "시인",
    "화가",
    "작곡가",
    "작사가",
    "프로듀서",
    "지휘자",
    "피아니스트",
    "기자",
    "앵커",
    "아나운서",
    "변호사",
    "검사",
    "판사",
    "의사",
    "교사",
    "목사",
    "신부",
    "주교",
    "추기경",
    "교황",
    "승려",
    "왕",
    "국왕",
    "여왕",
    "황제",
    "황후",
    "왕비",
    "왕자",
    "공주",
    "세자",
    "태자",
    "황태자",
    "장군",
    "장교",
    "대장",
    "중장",
    "준장",
    "대령",
    "중령",
    "소령",
    "대위",
    "중위",
    "소위",
    "제독",
    "원수",
    "멤버",
    "보컬",
    "리더",
    "과학자",
    "철학자",
    "수학자",
    "물리학자",
    "화학자",
    "경제학자",
    "정치인",
    "정치가",
    "사업가",
    "기업인",
    "외교관",
    "군인",
    "대변인",
    "비서",
    "비서실장",
    "사무총장",
    "최고경영자",
    "CEO",
    "백작",
    "공작",
    "후작",
    "남작",
    "준남작",
    "백작부인",
];

/// Administrative units written as a separate word after a place name (`지바 현`, `소라치 군`).
const ADMINISTRATIVE_UNITS: &[&str] = &["현", "시", "군", "정", "주", "구", "도", "읍", "면", "리", "촌", "성"];

/// Counters that make a date with a preceding number.
const DATE_COUNTERS: &[&str] = &["년", "월", "일"];

/// Quote and title brackets whose content is proposed as a POH mention.
const BRACKETS: &[(char, char)] = &[
    ('《', '》'),
    ('〈', '〉'),
    ('「', '」'),
    ('『', '』'),
    ('“', '”'),
    ('‘', '’'),
    ('"', '"'),
    ('\'', '\''),
    ('<', '>'),
];

/// Finds typed mention candidates with a morphological analyser (see the module docs for the rules).
pub struct MentionFinder {
    morphology: Box<dyn Morphology>,
    candidates: Candidates,
}

/// Which candidate spans [`MentionFinder::find`] returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Candidates {
    /// Every span the rules propose, nested ones included (`미국` LOC inside `미국 육군` ORG): the most exact
    /// matches, and many pairs.
    #[default]
    All,
    /// Only spans inside no other candidate: the same covered recall, far fewer pairs, coarser spans and types.
    Outermost,
}

impl std::str::FromStr for Candidates {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "all" => Ok(Candidates::All),
            "outermost" => Ok(Candidates::Outermost),
            other => Err(format!("unknown candidate set {other:?} (expected all or outermost)")),
        }
    }
}

impl std::fmt::Debug for MentionFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MentionFinder")
    }
}

impl MentionFinder {
    pub fn new(morphology: Box<dyn Morphology>) -> Self {
        MentionFinder { morphology, candidates: Candidates::All }
    }

    /// The same finder returning `candidates`.
    pub fn with_candidates(self, candidates: Candidates) -> Self {
        MentionFinder { candidates, ..self }
    }

    /// MeCab with the default mecab-ko-dic ([`re_morph::default_dicdir`]).
    pub fn mecab() -> Result<Self> {
        Ok(MentionFinder::new(Box::new(Mecab::new()?)))
    }

    /// The candidates of `text`, ordered by start then end, one per span.
    pub fn find(&self, text: &str) -> Result<Vec<Mention>> {
        let morphemes = self.morphology.analyze(text)?;
        let all = candidates(text, &morphemes);
        Ok(match self.candidates {
            Candidates::All => all,
            Candidates::Outermost => outermost(all),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// NNP with its semantic class, SL, SH.
    Name,
    Noun,
    Number,
    Counter,
    Prefix,
    Suffix,
    /// A symbol joining two name parts with no space around (`미국-스페인`, `N.W.A`).
    Connector,
    Break,
}

fn class_of(m: &Morpheme) -> Class {
    match m.tag.as_str() {
        "NNP" | "SL" | "SH" => Class::Name,
        "NNG" => Class::Noun,
        "SN" | "NR" => Class::Number,
        "NNBC" => Class::Counter,
        "XPN" => Class::Prefix,
        "XSN" => Class::Suffix,
        "SY" if matches!(m.surface.as_str(), "-" | "&" | "." | "·" | "'" | ":") => Class::Connector,
        _ => Class::Break,
    }
}

/// Collects candidates, one per span: the first rule to propose a span types it (brackets, dates and numbers,
/// titles, name cores, runs, eojeol chunks, qualifiers, in that order).
struct Spans<'a> {
    chars: &'a [char],
    by_span: BTreeMap<(usize, usize), EntityType>,
}

impl Spans<'_> {
    /// Adds the half-open character range `start..end` (whitespace trimmed) with type `t`.
    fn add(&mut self, start: usize, end: usize, t: EntityType) {
        let (mut a, mut b) = (start, end.min(self.chars.len()));
        while a < b && self.chars[a].is_whitespace() {
            a += 1;
        }
        while b > a && self.chars[b - 1].is_whitespace() {
            b -= 1;
        }
        if a < b {
            self.by_span.entry((a, b)).or_insert(t);
        }
    }
}

fn candidates(text: &str, morphemes: &[Morpheme]) -> Vec<Mention> {
    let chars: Vec<char> = text.chars().collect();
    let classes: Vec<Class> = morphemes.iter().map(class_of).collect();
    let gap_is_space = |a: usize, b: usize| gap_is(&chars, a, b, char::is_whitespace);
    let mut spans = Spans { chars: &chars, by_span: BTreeMap::new() };
    // Titles in brackets first: their type (POH) wins over what the words inside look like.
    bracketed(&chars, &mut spans);

    // Nominal runs: index ranges of `morphemes`.
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    let mut i = 0;
    while i < morphemes.len() {
        if classes[i] == Class::Break || classes[i] == Class::Connector {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        while end < morphemes.len() {
            let joined = gap_is_space(morphemes[end - 1].end, morphemes[end].start);
            match classes[end] {
                Class::Break => break,
                Class::Connector => {
                    // Only between two nominal morphemes with no space on either side, except the period of an
                    // initial (`D. 윈터스`).
                    let tight_before = morphemes[end - 1].end == morphemes[end].start;
                    let initial = morphemes[end].surface == "." && morphemes[end - 1].tag == "SL";
                    let next_ok = end + 1 < morphemes.len()
                        && !matches!(classes[end + 1], Class::Break | Class::Connector)
                        && (morphemes[end].end == morphemes[end + 1].start
                            || initial && gap_is_space(morphemes[end].end, morphemes[end + 1].start));
                    if !(tight_before && next_ok) {
                        break;
                    }
                }
                _ if !joined => break,
                _ => {}
            }
            end += 1;
        }
        runs.push(start..end);
        i = end;
    }

    for run in &runs {
        let ms = &morphemes[run.clone()];
        let cs = &classes[run.clone()];
        dates_and_numbers(ms, cs, &chars, &mut spans);
        for (m, c) in ms.iter().zip(cs) {
            if *c == Class::Noun && TITLES.contains(&m.surface.as_str()) {
                spans.add(m.start, m.end, EntityType::Poh);
            }
        }
        name_cores(ms, cs, &mut spans);
        // The whole run, when it is more than one plain noun or number, without a leading date or quantity
        // (`1545년 한성` is two mentions) unless it ends in a common noun (`1904년 하계 올림픽`, an event).
        if cs.len() > 2 && cs[0] == Class::Number && cs[cs.len() - 1] == Class::Noun {
            spans.add(ms[0].start, ms[ms.len() - 1].end, EntityType::Org);
        }
        let mut lead = 0;
        while lead + 1 < ms.len() && cs[lead] == Class::Number && cs[lead + 1] == Class::Counter {
            lead += 2;
            while lead < ms.len() && cs[lead] == Class::Suffix {
                lead += 1;
            }
        }
        let (ms, cs) = (&ms[lead..], &cs[lead..]);
        let content = cs.iter().filter(|c| matches!(c, Class::Name | Class::Noun)).count();
        if content >= 2 || (content == 1 && cs.contains(&Class::Name) && ms.len() > 1) {
            spans.add(ms[0].start, ms[ms.len() - 1].end, EntityType::Org);
        }
    }
    eojeol_chunks(morphemes, &mut spans);
    // A parenthesised qualifier right after a candidate (`스팀 (플랫폼)`, `심정 (1471년)`) belongs to it.
    let with_qualifier: Vec<((usize, usize), EntityType)> = spans
        .by_span
        .iter()
        .filter_map(|(&(a, b), t)| parenthesised_after(&chars, b).map(|close| ((a, close), t.clone())))
        .collect();
    for ((a, b), t) in with_qualifier {
        spans.add(a, b, t);
    }

    spans
        .by_span
        .into_iter()
        .map(|((a, b), t)| Mention::new(chars[a..b].iter().collect::<String>(), a, b - 1, t))
        .collect()
}

/// The candidates inside no other candidate (sorted by start, then end; a span inside another starts no earlier
/// and ends no later, so one pass with the furthest end so far finds them).
fn outermost(sorted: Vec<Mention>) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::with_capacity(sorted.len());
    for m in sorted {
        // Same start: the later (longer) span contains the earlier ones of `out` that start there.
        while out.last().is_some_and(|l| l.start == m.start && l.end <= m.end) {
            out.pop();
        }
        if !out.iter().rev().take_while(|l| l.end >= m.start).any(|l| l.start <= m.start && m.end <= l.end) {
            out.push(m);
        }
    }
    out
}

/// True when the characters `a..b` exist and all satisfy `f` (false for a reversed or out-of-range gap, which a
/// well-behaved analyser never produces).
fn gap_is(chars: &[char], a: usize, b: usize, f: impl Fn(char) -> bool) -> bool {
    a <= b && chars.get(a..b).is_some_and(|g| g.iter().all(|&c| f(c)))
}

/// DAT: number + 년/월/일 pieces (chained across spaces), `1990년대`, `19세기`; NOH: number + other counter, `%`.
fn dates_and_numbers(ms: &[Morpheme], cs: &[Class], chars: &[char], spans: &mut Spans) {
    let mut k = 0;
    let mut date: Option<(usize, usize)> = None; // char range of the date being chained
    while k < ms.len() {
        if cs[k] != Class::Number {
            k += 1;
            continue;
        }
        // number (+ numeral: `100만`)
        let mut e = k + 1;
        while e < ms.len() && cs[e] == Class::Number && ms[e - 1].end == ms[e].start {
            e += 1;
        }
        let next = ms.get(e);
        let tight =
            next.is_some_and(|n| n.start == ms[e - 1].end || gap_is(chars, ms[e - 1].end, n.start, |c| c == ' '));
        match next {
            Some(n) if tight && cs[e] == Class::Counter && DATE_COUNTERS.contains(&n.surface.as_str()) => {
                let mut end = n.end;
                // 1990년대
                if let Some(s) = ms.get(e + 1) {
                    if cs[e + 1] == Class::Suffix && s.surface == "대" && s.start == n.end {
                        end = s.end;
                    }
                }
                date = Some(match date {
                    Some((a, _)) => (a, end),
                    None => (ms[k].start, end),
                });
                k = e + 1;
                continue;
            }
            Some(n) if tight && cs[e] == Class::Noun && n.surface == "세기" => {
                spans.add(ms[k].start, n.end, EntityType::Dat);
            }
            Some(n) if tight && cs[e] == Class::Counter => {
                spans.add(ms[k].start, n.end, EntityType::Noh);
            }
            _ => {
                if chars.get(ms[e - 1].end) == Some(&'%') {
                    spans.add(ms[k].start, ms[e - 1].end + 1, EntityType::Noh);
                }
            }
        }
        if let Some((a, b)) = date.take() {
            spans.add(a, b, EntityType::Dat);
        }
        k = e;
    }
    if let Some((a, b)) = date {
        spans.add(a, b, EntityType::Dat);
    }
}

/// Name cores: maximal sequences of NNP/SL/SH (with connectors), plus a number right after; also extended to the
/// run's end and by a parenthesised qualifier.
fn name_cores(ms: &[Morpheme], cs: &[Class], spans: &mut Spans) {
    let mut k = 0;
    while k < ms.len() {
        if cs[k] != Class::Name {
            k += 1;
            continue;
        }
        let mut e = k + 1;
        while e < ms.len() && matches!(cs[e], Class::Name | Class::Connector) {
            e += 1;
        }
        while e > k + 1 && cs[e - 1] == Class::Connector {
            e -= 1;
        }
        let nnp: Vec<&str> = ms[k..e].iter().filter(|m| m.tag == "NNP").map(|m| m.semantic_class()).collect();
        let mut t = if !nnp.is_empty() && nnp.iter().all(|c| *c == "인명") {
            EntityType::Per
        } else if nnp.last() == Some(&"지명") {
            EntityType::Loc
        } else {
            EntityType::Org
        };
        let mut end = ms[e - 1].end;
        // `루이 16세`, `오피스 2003`, `플레이스테이션 3`
        if e < ms.len() && cs[e] == Class::Number {
            let mut n = e + 1;
            if n < ms.len() && cs[n] == Class::Counter && ms[n].start == ms[n - 1].end {
                if ms[n].surface == "세" {
                    t = EntityType::Per;
                }
                n += 1;
            }
            spans.add(ms[k].start, end, t.clone());
            end = ms[n - 1].end;
        }
        spans.add(ms[k].start, end, t.clone());
        if e < ms.len() {
            spans.add(ms[k].start, ms[ms.len() - 1].end, EntityType::Org);
        }
        k = e;
    }
}

/// `end` (exclusive) of ` (qualifier)` right after `at`: an optional space, `(`, up to 15 characters, `)`.
fn parenthesised_after(chars: &[char], at: usize) -> Option<usize> {
    let mut i = at;
    if chars.get(i) == Some(&' ') {
        i += 1;
    }
    if chars.get(i) != Some(&'(') {
        return None;
    }
    let close = (i + 1..chars.len().min(i + 17)).find(|&j| chars[j] == ')')?;
    (close > i + 1 && !chars[i + 1..close].contains(&'(')).then_some(close + 1)
}

/// True for morphemes that close an eojeol after its stem: particles, endings, the copula, verb/adjective
/// derivation (`지휘` + `한`), auxiliaries.
fn is_closer(tag: &str) -> bool {
    let head = tag.split('+').next().unwrap_or(tag);
    head.starts_with('J')
        || head.starts_with('E')
        || matches!(head, "VCP" | "VCN" | "XSV" | "XSA" | "VX" | "SF" | "SC" | "SSC" | "SY" | "SE")
}

fn is_nominal(tag: &str) -> bool {
    matches!(tag, "NNP" | "NNG" | "SL" | "SH" | "SN" | "NR" | "NNBC" | "XSN" | "XPN")
}

/// The type of a span from its morphemes: as a name core when it holds proper nouns, else ORG.
fn type_of(ms: &[&Morpheme]) -> EntityType {
    // `지바 현`: a trailing administrative unit keeps the place type.
    let ms = match ms.split_last() {
        Some((last, rest)) if !rest.is_empty() && ADMINISTRATIVE_UNITS.contains(&last.surface.as_str()) => rest,
        _ => ms,
    };
    let nnp: Vec<&str> = ms.iter().filter(|m| m.tag == "NNP").map(|m| m.semantic_class()).collect();
    if !nnp.is_empty() && nnp.iter().all(|c| *c == "인명") {
        EntityType::Per
    } else if nnp.last() == Some(&"지명") && ms.last().is_some_and(|m| m.tag == "NNP") {
        EntityType::Loc
    } else {
        EntityType::Org
    }
}

/// Eojeol chunks, robust to unknown names that MeCab splits into odd pieces (`로만` → 로/JKB 만/JX): each eojeol's
/// **stem** is what precedes its closing particles/endings (the whole eojeol when it starts with a particle or
/// ending, which a real eojeol never does); a chunk is a sequence of eojeols whose stems hold a nominal morpheme,
/// where every eojeol but the last has no closer. Each stem, the chunk and each of its suffixes are candidates.
fn eojeol_chunks(morphemes: &[Morpheme], spans: &mut Spans) {
    // Per eojeol: `None` without a nominal stem, else the stem, whether a bracket opens before it (a chunk break
    // before) and whether closers follow it (a chunk break after).
    let mut eojeols: Vec<Option<(Vec<&Morpheme>, bool, bool)>> = Vec::new();
    let mut k = 0;
    while k < morphemes.len() {
        let mut e = k + 1;
        while e < morphemes.len() && morphemes[e - 1].end == morphemes[e].start {
            e += 1;
        }
        let ms: Vec<&Morpheme> = morphemes[k..e].iter().collect();
        let misanalysed = is_closer(&ms[0].tag) && !ms[0].tag.starts_with('S');
        let mut stem_end = ms.len();
        while stem_end > 0 && is_closer(&ms[stem_end - 1].tag) {
            stem_end -= 1;
        }
        // Opening brackets/quotes are not part of a name.
        let mut stem_start = 0;
        while stem_start < stem_end && matches!(ms[stem_start].tag.as_str(), "SSO" | "SY") {
            stem_start += 1;
        }
        if misanalysed && stem_end == 0 {
            stem_end = ms.len();
        }
        let stem: Vec<&Morpheme> = ms[stem_start.min(stem_end)..stem_end].to_vec();
        // `지바 현`, `고치 시`: administrative units come out as determiners or bound nouns.
        let unit = stem.len() == 1 && ADMINISTRATIVE_UNITS.contains(&stem[0].surface.as_str());
        let nominal = misanalysed || unit || stem.iter().any(|m| is_nominal(&m.tag));
        // A date or quantity (`1545년`) stands alone: it is never part of a name chunk (regnal `15세` is).
        let quantity = stem.iter().any(|m| m.tag == "NNBC" && m.surface != "세")
            && stem.iter().all(|m| matches!(m.tag.as_str(), "SN" | "NR" | "NNBC" | "XSN"));
        eojeols.push((nominal && !stem.is_empty()).then_some((
            stem,
            stem_start > 0 || quantity,
            stem_end < ms.len() || quantity,
        )));
        k = e;
    }
    let mut chunk: Vec<&Vec<&Morpheme>> = Vec::new();
    let emit = |chunk: &[&Vec<&Morpheme>], spans: &mut Spans| {
        let Some(last) = chunk.last().and_then(|s| s.last()) else { return };
        for (i, stem) in chunk.iter().enumerate() {
            let all: Vec<&Morpheme> = chunk[i..].iter().flat_map(|s| s.iter().copied()).collect();
            spans.add(stem[0].start, last.end, type_of(&all));
            spans.add(stem[0].start, stem[stem.len() - 1].end, type_of(stem));
        }
    };
    for e in &eojeols {
        match e {
            Some((stem, opens, closed)) => {
                if *opens {
                    emit(&chunk, spans);
                    chunk.clear();
                }
                chunk.push(stem);
                if *closed {
                    emit(&chunk, spans);
                    chunk.clear();
                }
            }
            None => {
                emit(&chunk, spans);
                chunk.clear();
            }
        }
    }
    emit(&chunk, spans);
}

/// POH: the content of title brackets and quotes, 1 to 40 characters.
fn bracketed(chars: &[char], spans: &mut Spans) {
    for &(open, close) in BRACKETS {
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == open {
                if let Some(j) = (i + 1..chars.len().min(i + 42)).find(|&j| chars[j] == close) {
                    if j > i + 1 {
                        spans.add(i + 1, j, EntityType::Poh);
                    }
                    i = j + 1;
                    continue;
                }
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Morphemes of `text` from (surface, feature) pairs found left to right, as MeCab would give them.
    fn analysed(text: &str, parts: &[(&str, &str)]) -> Vec<Morpheme> {
        let mut at = 0;
        parts
            .iter()
            .map(|(surface, feature)| {
                let b = at + text[at..].find(surface).unwrap_or_else(|| panic!("{surface} not in {text}"));
                at = b + surface.len();
                let start = text[..b].chars().count();
                Morpheme {
                    surface: surface.to_string(),
                    tag: feature.split(',').next().unwrap().to_string(),
                    feature: feature.to_string(),
                    start,
                    end: start + surface.chars().count(),
                    byte_start: b,
                    byte_end: at,
                }
            })
            .collect()
    }

    fn found(text: &str, parts: &[(&str, &str)]) -> Vec<(String, String)> {
        candidates(text, &analysed(text, parts))
            .into_iter()
            .map(|m| {
                assert_eq!(re_data::record::span_text(text, m.start, m.end).as_deref(), Some(m.word.as_str()));
                (m.word, m.entity_type.to_string())
            })
            .collect()
    }

    fn has(found: &[(String, String)], word: &str, t: &str) -> bool {
        found.iter().any(|(w, ty)| w == word && ty == t)
    }

    #[test]
    fn names_are_typed_by_semantic_class_and_merged() {
        let text = "리처드 D. 윈터스는 미국 육군의 장교이다.";
        let f = found(
            text,
            &[
                ("리처드", "NNP,인명,F"),
                ("D", "SL,*,*"),
                (".", "SY,*,*"),
                ("윈터스", "NNP,인명,F"),
                ("는", "JX,*,T"),
                ("미국", "NNP,지명,T"),
                ("육군", "NNG,*,T"),
                ("의", "JKG,*,F"),
                ("장교", "NNG,*,F"),
                ("이", "VCP,*,F"),
                ("다", "EF,*,F"),
                (".", "SF,*,*"),
            ],
        );
        assert!(has(&f, "리처드 D. 윈터스", "PER"), "{f:?}");
        assert!(has(&f, "미국", "LOC"), "{f:?}");
        assert!(has(&f, "미국 육군", "ORG"), "{f:?}");
        assert!(has(&f, "장교", "POH"), "{f:?}");
        // Nothing from the particles or the copula.
        assert!(!f.iter().any(|(w, _)| w.contains('는') || w.contains("이다")), "{f:?}");
    }

    #[test]
    fn dates_and_numbers() {
        let text = "1918년 1월 21일에 3명과 100만 원, 5%를 1990년대와 19세기에";
        let f = found(
            text,
            &[
                ("1918", "SN,*,*"),
                ("년", "NNBC,*,T"),
                ("1", "SN,*,*"),
                ("월", "NNBC,*,T"),
                ("21", "SN,*,*"),
                ("일", "NNBC,*,T"),
                ("에", "JKB,*,F"),
                ("3", "SN,*,*"),
                ("명", "NNBC,*,T"),
                ("과", "JC,*,T"),
                ("100", "SN,*,*"),
                ("만", "NR,*,T"),
                ("원", "NNBC,*,T"),
                (",", "SC,*,*"),
                ("5", "SN,*,*"),
                ("%", "SY,*,*"),
                ("를", "JKO,*,T"),
                ("1990", "SN,*,*"),
                ("년", "NNBC,*,T"),
                ("대", "XSN,*,F"),
                ("와", "JC,*,F"),
                ("19", "SN,*,*"),
                ("세기", "NNG,*,F"),
                ("에", "JKB,*,F"),
            ],
        );
        for (w, t) in [
            ("1918년 1월 21일", "DAT"),
            ("3명", "NOH"),
            ("100만 원", "NOH"),
            ("5%", "NOH"),
            ("1990년대", "DAT"),
            ("19세기", "DAT"),
        ] {
            assert!(has(&f, w, t), "{w}/{t} missing in {f:?}");
        }
    }

    #[test]
    fn misanalysed_names_brackets_and_qualifiers() {
        // MeCab cuts the unknown name 로만 into two particles; the eojeol chunk still proposes the full name.
        let text = "석유재벌 로만 아브라모비치가 《스팀 (플랫폼)》과 지바 현을";
        let f = found(
            text,
            &[
                ("석유", "NNG,*,T"),
                ("재벌", "NNG,*,T"),
                ("로", "JKB,*,F"),
                ("만", "JX,*,T"),
                ("아브라모비치", "NNP,인명,F"),
                ("가", "JKS,*,F"),
                ("《", "SY,*,*"),
                ("스팀", "NNG,*,T"),
                ("(", "SSO,*,*"),
                ("플랫폼", "NNG,*,T"),
                (")》", "SSC,*,*"),
                ("과", "JC,*,T"),
                ("지바", "NNP,지명,F"),
                ("현", "MM,~명사,T"),
                ("을", "JKO,*,T"),
            ],
        );
        assert!(has(&f, "로만 아브라모비치", "PER"), "{f:?}");
        assert!(has(&f, "아브라모비치", "PER"), "{f:?}");
        // Bracketed titles are POH, whatever the words inside.
        assert!(has(&f, "스팀 (플랫폼)", "POH"), "{f:?}");
        assert!(has(&f, "스팀", "ORG"), "{f:?}");
        assert!(has(&f, "지바 현", "LOC"), "{f:?}");
        // One candidate per span, ordered by position.
        let mut spans: Vec<&String> = f.iter().map(|(w, _)| w).collect();
        let n = spans.len();
        spans.dedup();
        assert_eq!(spans.len(), n);
    }

    #[test]
    fn a_date_is_not_glued_to_the_name_after_it() {
        let text = "1545년 한성에서 1904년 하계 올림픽에";
        let f = found(
            text,
            &[
                ("1545", "SN,*,*"),
                ("년", "NNBC,*,T"),
                ("한성", "NNP,지명,T"),
                ("에서", "JKB,*,F"),
                ("1904", "SN,*,*"),
                ("년", "NNBC,*,T"),
                ("하계", "NNG,*,F"),
                ("올림픽", "NNG,*,T"),
                ("에", "JKB,*,F"),
            ],
        );
        assert!(has(&f, "1545년", "DAT") && has(&f, "한성", "LOC"), "{f:?}");
        assert!(!f.iter().any(|(w, _)| w == "1545년 한성"), "{f:?}");
        // An event named by its year is kept whole too.
        assert!(f.iter().any(|(w, _)| w == "1904년 하계 올림픽") && has(&f, "1904년", "DAT"), "{f:?}");
    }

    #[test]
    fn outermost_keeps_spans_inside_no_other() {
        let m = |a: usize, b: usize| Mention::new("x", a, b, EntityType::Org);
        let spans = |v: Vec<Mention>| v.into_iter().map(|m| (m.start, m.end)).collect::<Vec<_>>();
        let all = vec![m(0, 1), m(0, 4), m(1, 2), m(2, 3), m(3, 6), m(5, 5), m(8, 9), m(9, 9)];
        assert_eq!(spans(outermost(all)), [(0, 4), (3, 6), (8, 9)]);
        assert!(outermost(Vec::new()).is_empty());
    }

    #[test]
    fn quoted_titles_are_poh() {
        let f = found("그는 〈봄날〉과 \"이지 중대\"를", &[("그", "NP,*,F"), ("는", "JX,*,T")]);
        assert!(has(&f, "봄날", "POH") && has(&f, "이지 중대", "POH"), "{f:?}");
        assert!(found("", &[]).is_empty());
    }
}
