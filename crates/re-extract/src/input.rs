//! Input lines → sentences: plain text (a paragraph is split into sentences), JSONL (`text`, optional `entities`
//! and `id`) or inline markup (`[[삼성전자|ORG]]`). Offsets are characters, `end` inclusive (KLUE). A line with
//! given entities (JSONL `entities`, markup) is one sentence; one without is split.
use crate::error::{ExtractError, Result};
use crate::Mention;
use re_data::record::{span_text, EntityType};
use serde::{Deserialize, Serialize};

/// One sentence to extract from. `entities: None` asks the mention finder for candidates; `Some` (even empty) is
/// taken as the complete list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    pub sentence_id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<Mention>>,
}

/// How an input line is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One sentence or paragraph per line.
    Text,
    /// One JSON object per line: `text`, optional `id` (string or number) and `entities`.
    Jsonl,
    /// Text with mentions marked inline as `[[word|TYPE]]`.
    Markup,
    /// Per line: JSONL when it starts with `{`, markup when it holds `[[…|…]]`, else text.
    #[default]
    Auto,
}

impl std::str::FromStr for InputFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "txt" => Ok(InputFormat::Text),
            "jsonl" | "json" => Ok(InputFormat::Jsonl),
            "markup" => Ok(InputFormat::Markup),
            "auto" => Ok(InputFormat::Auto),
            other => Err(format!("unknown input format {other:?} (expected auto, text, jsonl or markup)")),
        }
    }
}

impl InputFormat {
    /// The format of `line` under `Auto` (other formats are returned as they are).
    pub fn detect(self, line: &str) -> InputFormat {
        if self != InputFormat::Auto {
            return self;
        }
        let t = line.trim_start();
        if t.starts_with('{') {
            InputFormat::Jsonl
        } else if t.find("[[").is_some_and(|a| t[a..].contains('|') && t[a..].contains("]]")) {
            InputFormat::Markup
        } else {
            InputFormat::Text
        }
    }
}

/// One input line (1-based `line_no`) → its sentences; a blank line gives none. Sentence ids are the line's `id`
/// (JSONL) or its line number, with `.1`, `.2` … appended when a line without given entities splits into several
/// sentences.
pub fn parse_line(line: &str, line_no: usize, format: InputFormat) -> Result<Vec<Sentence>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return Ok(Vec::new());
    }
    match format.detect(line) {
        InputFormat::Text | InputFormat::Auto => Ok(split_into_sentences(&line_no.to_string(), line, None)),
        InputFormat::Markup => {
            let (text, entities) = parse_markup(line, line_no)?;
            Ok(split_into_sentences(&line_no.to_string(), &text, Some(entities)))
        }
        InputFormat::Jsonl => parse_json_line(line, line_no),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    #[serde(default)]
    id: Option<serde_json::Value>,
    text: Option<String>,
    #[serde(default)]
    entities: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntity {
    word: String,
    start: usize,
    end: usize,
    #[serde(rename = "type")]
    entity_type: String,
}

fn parse_json_line(line: &str, line_no: usize) -> Result<Vec<Sentence>> {
    let parsed: JsonLine = serde_json::from_str(line).map_err(|e| {
        let msg = e.to_string();
        // serde names the unknown/missing field in its message; keep it, and say what is expected.
        ExtractError::input(line_no, None, format!("not a JSON object with `text` (optional `id`, `entities`): {msg}"))
    })?;
    let text = parsed.text.ok_or_else(|| ExtractError::input(line_no, Some("text"), "missing"))?;
    if text.trim().is_empty() {
        return Err(ExtractError::input(line_no, Some("text"), "empty"));
    }
    let id = match parsed.id {
        None | Some(serde_json::Value::Null) => line_no.to_string(),
        Some(serde_json::Value::String(s)) if !s.is_empty() => s,
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(ExtractError::input(
                line_no,
                Some("id"),
                format!("expected a non-empty string or a number, got {other}"),
            ))
        }
    };
    let entities = match parsed.entities {
        None => None,
        Some(values) => {
            let mut out = Vec::with_capacity(values.len());
            for (k, v) in values.into_iter().enumerate() {
                let field = format!("entities[{k}]");
                let e: JsonEntity = serde_json::from_value(v).map_err(|e| {
                    ExtractError::input(line_no, Some(&field), format!("expected {{word, start, end, type}}: {e}"))
                })?;
                out.push(checked_mention(&text, e, line_no, &field)?);
            }
            Some(out)
        }
    };
    Ok(split_into_sentences(&id, &text, entities))
}

fn checked_mention(text: &str, e: JsonEntity, line_no: usize, field: &str) -> Result<Mention> {
    if e.entity_type.trim().is_empty() {
        return Err(ExtractError::input(line_no, Some(&format!("{field}.type")), "empty"));
    }
    if e.end < e.start {
        return Err(ExtractError::input(
            line_no,
            Some(&format!("{field}.end")),
            format!("end {} is before start {} (end is inclusive)", e.end, e.start),
        ));
    }
    match span_text(text, e.start, e.end) {
        None => Err(ExtractError::input(
            line_no,
            Some(&format!("{field}.end")),
            format!("span {}..={} lies outside the text ({} characters)", e.start, e.end, text.chars().count()),
        )),
        Some(s) if s != e.word => Err(ExtractError::input(
            line_no,
            Some(&format!("{field}.word")),
            format!("offsets {}..={} select {s:?} but the word is {:?} (end is inclusive)", e.start, e.end, e.word),
        )),
        Some(_) => Ok(Mention::new(e.word, e.start, e.end, EntityType::from(e.entity_type))),
    }
}

/// Removes `[[word|TYPE]]` markup from `line`; returns the plain text and the marked mentions with their offsets in
/// it. A `[[` without a matching `|TYPE]]` is an error naming the column.
pub fn parse_markup(line: &str, line_no: usize) -> Result<(String, Vec<Mention>)> {
    let mut text = String::with_capacity(line.len());
    let mut chars = 0usize; // characters written to `text`
    let mut mentions = Vec::new();
    let mut rest = line;
    let mut consumed_chars = 0usize; // characters of `line` consumed, for error columns
    while let Some(open) = rest.find("[[") {
        let before = &rest[..open];
        text.push_str(before);
        chars += before.chars().count();
        consumed_chars += before.chars().count();
        let column = consumed_chars + 1;
        let inner_start = open + 2;
        let close = rest[inner_start..].find("]]").map(|c| inner_start + c).ok_or_else(|| {
            ExtractError::input(line_no, Some(&format!("markup at column {column}")), "`[[` without a closing `]]`")
        })?;
        let inner = &rest[inner_start..close];
        let (word, ty) = inner.rsplit_once('|').ok_or_else(|| {
            ExtractError::input(
                line_no,
                Some(&format!("markup at column {column}")),
                format!("`[[{inner}]]` has no `|TYPE`"),
            )
        })?;
        let ty = ty.trim();
        if word.is_empty() || ty.is_empty() || word.contains("[[") {
            return Err(ExtractError::input(
                line_no,
                Some(&format!("markup at column {column}")),
                format!("`[[{inner}]]` needs a word and a type, as in `[[삼성전자|ORG]]`"),
            ));
        }
        let n = word.chars().count();
        mentions.push(Mention::new(word, chars, chars + n - 1, EntityType::from(ty)));
        text.push_str(word);
        chars += n;
        consumed_chars += rest[open..close + 2].chars().count();
        rest = &rest[close + 2..];
    }
    text.push_str(rest);
    Ok((text, mentions))
}

/// Char ranges (half-open) of the sentences of `text`, whitespace trimmed: a sentence ends after `.`, `?`, `!`, `。`
/// or `…` (and any closing quotes/brackets after them) followed by whitespace, or at the end.
pub fn sentence_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if matches!(chars[i], '.' | '?' | '!' | '。' | '…' | '？' | '！') {
            let mut j = i + 1;
            while j < chars.len()
                && matches!(chars[j], '.' | '?' | '!' | '"' | '\'' | '”' | '’' | ')' | ']' | '」' | '』')
            {
                j += 1;
            }
            if j == chars.len() || chars[j].is_whitespace() {
                out.push(start..j);
                start = j;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out.push(start..chars.len());
    // Trim whitespace, drop empty pieces.
    out.into_iter()
        .filter_map(|r| {
            let mut a = r.start;
            let mut b = r.end;
            while a < b && chars[a].is_whitespace() {
                a += 1;
            }
            while b > a && chars[b - 1].is_whitespace() {
                b -= 1;
            }
            (a < b).then_some(a..b)
        })
        .collect()
}

/// The sentences of a line: with given `entities` the text stays whole (its offsets are the user's and a KLUE
/// "sentence" may hold several); without, a paragraph is split into sentences.
fn split_into_sentences(id: &str, text: &str, entities: Option<Vec<Mention>>) -> Vec<Sentence> {
    if entities.is_some() {
        return vec![Sentence { sentence_id: id.to_string(), text: text.to_string(), entities }];
    }
    let chars: Vec<char> = text.chars().collect();
    let ranges = sentence_ranges(text);
    let many = ranges.len() > 1;
    ranges
        .iter()
        .enumerate()
        .map(|(k, r)| Sentence {
            sentence_id: if many { format!("{id}.{}", k + 1) } else { id.to_string() },
            text: chars[r.clone()].iter().collect(),
            entities: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(line: &str, format: InputFormat) -> String {
        parse_line(line, 7, format).unwrap_err().to_string()
    }

    #[test]
    fn text_lines_split_into_sentences_with_ids() {
        let s = parse_line("  이순신은 장군이다. 그는 1545년에 태어났다!  \"정말?\" 그렇다 ", 3, InputFormat::Text)
            .unwrap();
        let texts: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["이순신은 장군이다.", "그는 1545년에 태어났다!", "\"정말?\"", "그렇다"]);
        let ids: Vec<&str> = s.iter().map(|s| s.sentence_id.as_str()).collect();
        assert_eq!(ids, ["3.1", "3.2", "3.3", "3.4"]);
        assert!(s.iter().all(|s| s.entities.is_none()));
        // One sentence keeps the bare line number; decimals and "다.\"" do not split.
        let one = parse_line("환율은 1.5% 올랐다.", 9, InputFormat::Auto).unwrap();
        assert_eq!((one.len(), one[0].sentence_id.as_str()), (1, "9"));
        let quoted = sentence_ranges("그는 \"가자.\" 라고 말했다.");
        assert_eq!(quoted.len(), 2);
        assert!(parse_line(" \t\r", 1, InputFormat::Auto).unwrap().is_empty());
    }

    #[test]
    fn markup_is_removed_and_offsets_recorded() {
        let (text, ms) = parse_markup("[[삼성전자|ORG]]와 [[애플|ORG]]은 [[2020년|DAT]]에 경쟁했다.", 1).unwrap();
        assert_eq!(text, "삼성전자와 애플은 2020년에 경쟁했다.");
        let got: Vec<(&str, usize, usize, &str)> =
            ms.iter().map(|m| (m.word.as_str(), m.start, m.end, m.entity_type.as_str())).collect();
        assert_eq!(got, [("삼성전자", 0, 3, "ORG"), ("애플", 6, 7, "ORG"), ("2020년", 10, 14, "DAT")]);
        for m in &ms {
            assert_eq!(span_text(&text, m.start, m.end).as_deref(), Some(m.word.as_str()));
        }
        // With given entities, a line is never split: the offsets refer to the whole text.
        let s = parse_line("[[이순신|PER]]은 장군이다. 그는 [[조선|ORG]] 사람이다.", 2, InputFormat::Auto).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].sentence_id, "2");
        let e = &s[0].entities.as_ref().unwrap()[1];
        assert_eq!((e.word.as_str(), e.start, e.end), ("조선", 14, 15));
        assert_eq!(span_text(&s[0].text, e.start, e.end).as_deref(), Some("조선"));
    }

    #[test]
    fn markup_errors_name_line_and_column() {
        let e = err_of("가 [[삼성전자|ORG]] 나 [[애플 다", InputFormat::Markup);
        assert!(e.contains("line 7") && e.contains("column 18") && e.contains("closing"), "{e}");
        let e = err_of("[[삼성전자]]", InputFormat::Markup);
        assert!(e.contains("line 7") && e.contains("|TYPE"), "{e}");
        let e = err_of("[[|ORG]]", InputFormat::Markup);
        assert!(e.contains("needs a word and a type"), "{e}");
    }

    #[test]
    fn jsonl_with_and_without_entities() {
        let line = r#"{"id": "doc-1", "text": "이순신은 조선의 장군이다.", "entities": [{"word": "이순신", "start": 0, "end": 2, "type": "PER"}, {"word": "조선", "start": 5, "end": 6, "type": "ORG"}]}"#;
        let s = parse_line(line, 1, InputFormat::Auto).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].sentence_id, "doc-1");
        let es = s[0].entities.as_ref().unwrap();
        assert_eq!((es[1].word.as_str(), es[1].entity_type.as_str()), ("조선", "ORG"));
        let s = parse_line(r#"{"id": 42, "text": "가. 나."}"#, 5, InputFormat::Jsonl).unwrap();
        assert_eq!(s.iter().map(|s| s.sentence_id.as_str()).collect::<Vec<_>>(), ["42.1", "42.2"]);
        let s = parse_line(r#"{"text": "가나다"}"#, 5, InputFormat::Jsonl).unwrap();
        assert_eq!(s[0].sentence_id, "5");
    }

    #[test]
    fn jsonl_errors_name_line_and_field() {
        let cases = [
            (
                r#"{"text": "가나다", "entities": [{"word": "나다", "start": 1, "end": 1, "type": "PER"}]}"#,
                "entities[0].word",
            ),
            (
                r#"{"text": "가나다", "entities": [{"word": "나다", "start": 1, "end": 5, "type": "PER"}]}"#,
                "entities[0].end",
            ),
            (
                r#"{"text": "가나다", "entities": [{"word": "나", "start": 1, "end": 0, "type": "PER"}]}"#,
                "entities[0].end",
            ),
            (
                r#"{"text": "가나다", "entities": [{"word": "나", "start": 1, "end": 1, "type": " "}]}"#,
                "entities[0].type",
            ),
            (r#"{"text": "가나다", "entities": [{"word": "나", "start": 1, "type": "PER"}]}"#, "entities[0]"),
            (r#"{"text": "가나다", "id": [1]}"#, "`id`"),
            (r#"{"text": ""}"#, "`text`"),
            (r#"{"id": "x"}"#, "`text`"),
        ];
        for (line, field) in cases {
            let e = err_of(line, InputFormat::Auto);
            assert!(e.starts_with("line 7") && e.contains(field), "{line}: {e}");
        }
        let e = err_of(r#"{"txt": "가"}"#, InputFormat::Jsonl);
        assert!(e.contains("line 7") && e.contains("txt"), "{e}");
        let e = err_of("not json", InputFormat::Jsonl);
        assert!(e.contains("line 7"), "{e}");
    }

    #[test]
    fn auto_detection() {
        assert_eq!(InputFormat::Auto.detect(" {\"text\": 1}"), InputFormat::Jsonl);
        assert_eq!(InputFormat::Auto.detect("a [[b|ORG]] c"), InputFormat::Markup);
        assert_eq!(InputFormat::Auto.detect("a [[b]] c"), InputFormat::Text);
        assert_eq!(InputFormat::Text.detect("{"), InputFormat::Text);
        assert_eq!("JSONL".parse::<InputFormat>(), Ok(InputFormat::Jsonl));
        assert!("xml".parse::<InputFormat>().is_err());
    }
}
