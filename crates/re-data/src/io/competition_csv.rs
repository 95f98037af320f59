//! The competition CSV: `id,sentence,subject_entity,object_entity,label,source`.
//!
//! The entity columns hold Python dict literals as `str(dict)` prints them,
//! e.g. `{'word': '비틀즈', 'start_idx': 24, 'end_idx': 26, 'type': 'ORG'}`. Words may contain quotes (Python then
//! switches to double quotes: `"'a'"`, or escapes: `'\'"'`), commas and backslashes; [`parse_py_dict`] is a small
//! parser for dict literals of `str`/`int` values with Python's string escapes.
//!
//! The `label` column holds the relation name; `100` (the blind test set's marker) or an empty cell means unlabeled.
//! `source` is optional; other extra columns (a pandas index) are ignored.
//!
//! The writer emits what pandas `to_csv(index=False)` would: `\n` line ends, minimal CSV quoting, entity dicts in
//! Python `repr` style ([`py_repr_str`]) so `ast.literal_eval` reads them back; unlabeled records get `100`.
use crate::error::{DataError, Result};
use crate::fsutil::write_atomic_with;
use crate::record::{Entity, RelationRecord};
use std::fmt::Write as _;
use std::path::Path;

/// The columns the reader requires.
pub const REQUIRED_COLUMNS: [&str; 5] = ["id", "sentence", "subject_entity", "object_entity", "label"];
/// The label value of unlabeled rows.
pub const UNLABELED: &str = "100";

/// A value of a Python dict literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PyValue {
    Str(String),
    Int(i64),
}

/// Read a competition CSV file.
pub fn read(path: &Path) -> Result<Vec<RelationRecord>> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    read_from(std::io::BufReader::new(file), path)
}

/// Read competition CSV from any reader; `path` names the source in errors.
pub fn read_from<R: std::io::Read>(reader: R, path: &Path) -> Result<Vec<RelationRecord>> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
    let headers = csv.headers().map_err(|e| csv_error(path, &e))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}').trim() == name);
    let mut idx = [0usize; 5];
    for (slot, name) in idx.iter_mut().zip(REQUIRED_COLUMNS) {
        *slot = column(name).ok_or_else(|| {
            DataError::parse(
                path,
                "line 1 (header)",
                format!(
                    "missing column {name:?} (found: {}; expected {})",
                    headers.iter().collect::<Vec<_>>().join(","),
                    REQUIRED_COLUMNS.join(",")
                ),
            )
        })?;
    }
    let [id_col, sentence_col, subject_col, object_col, label_col] = idx;
    let source_col = column("source");

    let mut records = Vec::new();
    let mut row = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, &e)),
        }
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let get = |i: usize| row.get(i).unwrap_or_default();
        let id = get(id_col).to_string();
        let locate = || if id.is_empty() { format!("line {line}") } else { format!("line {line} (id={id})") };
        let entity = |col: usize, role: &str| {
            parse_entity(get(col)).map_err(|msg| DataError::parse(path, locate(), format!("{role}: {msg}")))
        };
        let subject = entity(subject_col, "subject_entity")?;
        let object = entity(object_col, "object_entity")?;
        let label = match get(label_col).trim() {
            "" | UNLABELED => None,
            l => Some(l.to_string()),
        };
        let source = source_col.map(get).filter(|s| !s.is_empty()).map(str::to_string);
        records.push(RelationRecord {
            id: if id.is_empty() { format!("line{line}") } else { id },
            sentence: get(sentence_col).to_string(),
            subject,
            object,
            label,
            source,
        });
    }
    Ok(records)
}

fn csv_error(path: &Path, e: &csv::Error) -> DataError {
    let location = match e.position() {
        Some(p) => format!("line {}", p.line()),
        None => "CSV".to_string(),
    };
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 in field {} (not a UTF-8 CSV?)", err.field() + 1),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields but the header has {expected_len} (truncated file or unbalanced quotes?)")
        }
        _ => e.to_string(),
    };
    DataError::parse(path, location, message)
}

/// Parse an entity dict literal into an [`Entity`] (keys `word`, `start_idx`, `end_idx`, `type`).
pub fn parse_entity(text: &str) -> std::result::Result<Entity, String> {
    let pairs = parse_py_dict(text)?;
    let get = |key: &str| {
        pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v).ok_or_else(|| format!("missing key {key:?} in {text}"))
    };
    let string = |key: &str| match get(key)? {
        PyValue::Str(s) => Ok(s.clone()),
        PyValue::Int(i) => Err(format!("{key} must be a string, got {i}")),
    };
    let index = |key: &str| match get(key)? {
        PyValue::Int(i) => usize::try_from(*i).map_err(|_| format!("{key} must be >= 0, got {i}")),
        PyValue::Str(s) => Err(format!("{key} must be an integer, got {s:?}")),
    };
    Ok(Entity::new(string("word")?, index("start_idx")?, index("end_idx")?, string("type")?))
}

/// Parse a Python dict literal whose keys are strings and values strings or integers, keeping key order.
pub fn parse_py_dict(text: &str) -> std::result::Result<Vec<(String, PyValue)>, String> {
    let mut p = PyParser { chars: text.chars().collect(), pos: 0 };
    p.skip_ws();
    p.expect('{')?;
    let mut out = Vec::new();
    p.skip_ws();
    if p.peek() == Some('}') {
        p.pos += 1;
    } else {
        loop {
            p.skip_ws();
            let key = p.string()?;
            p.skip_ws();
            p.expect(':')?;
            p.skip_ws();
            let value = match p.peek() {
                Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => PyValue::Int(p.int()?),
                _ => PyValue::Str(p.string()?),
            };
            out.push((key, value));
            p.skip_ws();
            match p.next() {
                Some(',') => {
                    p.skip_ws();
                    if p.peek() == Some('}') {
                        p.pos += 1;
                        break;
                    }
                }
                Some('}') => break,
                Some(c) => return Err(format!("expected ',' or '}}' at character {}, found {c:?}", p.pos - 1)),
                None => return Err("unterminated dict literal (missing '}')".into()),
            }
        }
    }
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(format!("unexpected text after the dict at character {}", p.pos));
    }
    Ok(out)
}

struct PyParser {
    chars: Vec<char>,
    pos: usize,
}

impl PyParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, want: char) -> std::result::Result<(), String> {
        match self.next() {
            Some(c) if c == want => Ok(()),
            Some(c) => Err(format!("expected {want:?} at character {}, found {c:?}", self.pos - 1)),
            None => Err(format!("expected {want:?}, found the end of the text")),
        }
    }

    fn int(&mut self) -> std::result::Result<i64, String> {
        let start = self.pos;
        if matches!(self.peek(), Some('-') | Some('+')) {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().filter(|&&c| c != '_').collect();
        digits.parse().map_err(|_| format!("bad integer {digits:?} at character {start}"))
    }

    /// A Python string literal: optional `u`/`r` prefix, single or double quotes, Python escapes.
    fn string(&mut self) -> std::result::Result<String, String> {
        let mut raw = false;
        while let Some(c) = self.peek() {
            match c {
                'r' | 'R' => raw = true,
                'u' | 'U' => {}
                _ => break,
            }
            self.pos += 1;
        }
        let start = self.pos;
        let quote = match self.next() {
            Some(q @ ('\'' | '"')) => q,
            Some(c) => return Err(format!("expected a string at character {start}, found {c:?}")),
            None => return Err("expected a string, found the end of the text".into()),
        };
        let mut out = String::new();
        loop {
            let c = self.next().ok_or_else(|| format!("unterminated string starting at character {start}"))?;
            if c == quote {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = self.next().ok_or_else(|| format!("unterminated string starting at character {start}"))?;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                '\n' => {} // line continuation
                '\\' | '\'' | '"' => out.push(e),
                'a' => out.push('\u{07}'),
                'b' => out.push('\u{08}'),
                'f' => out.push('\u{0c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\u{0b}'),
                '0'..='7' => {
                    let mut code = e.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match self.peek().and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                code = code * 8 + d;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(code).ok_or_else(|| format!("bad octal escape \\{code:o}"))?);
                }
                'x' | 'u' | 'U' => {
                    let width = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = (0..width).filter_map(|_| self.next()).collect();
                    let code = u32::from_str_radix(&hex, 16)
                        .ok()
                        .filter(|_| hex.len() == width)
                        .ok_or_else(|| format!("bad escape \\{e}{hex} in string starting at character {start}"))?;
                    out.push(char::from_u32(code).ok_or_else(|| format!("escape \\{e}{hex} is not a character"))?);
                }
                other => {
                    // Python keeps unknown escapes verbatim
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`; escapes `\\`, the quote, `\t\n\r`,
/// other control characters and the common non-printable characters (`\xa0`, zero-width and bidi marks,
/// separators, private use) exactly as CPython does.
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_is_printable(c) => {
                let code = c as u32;
                // writing to a String cannot fail
                let _ = if code <= 0xff {
                    write!(out, "\\x{code:02x}")
                } else if code <= 0xffff {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Approximates CPython's `str.isprintable` for one character: false for controls (Cc), the space separators
/// other than ' ' (Zs), line/paragraph separators (Zl, Zp), the common format characters (Cf), private use (Co),
/// surrogates and noncharacters. Unassigned code points are treated as printable (a repr difference only; the text
/// still reads back identically).
fn py_is_printable(c: char) -> bool {
    let u = c as u32;
    !matches!(u,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f | 0x3000
        | 0xd800..=0xf8ff | 0xfdd0..=0xfdef | 0xfeff | 0xfff9..=0xfffb | 0xfffe..=0xffff
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
        && (u & 0xfffe) != 0xfffe
}

/// The entity column text: `{'word': …, 'start_idx': …, 'end_idx': …, 'type': …}` in Python repr style.
pub fn entity_literal(e: &Entity) -> String {
    format!(
        "{{'word': {}, 'start_idx': {}, 'end_idx': {}, 'type': {}}}",
        py_repr_str(&e.word),
        e.start,
        e.end,
        py_repr_str(e.entity_type.as_str())
    )
}

/// Serialize records as competition CSV bytes.
pub fn to_bytes(records: &[RelationRecord]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_to(&mut buf, records).map_err(|e| DataError::Invalid(format!("writing CSV: {e}")))?;
    Ok(buf)
}

fn write_to(w: &mut dyn std::io::Write, records: &[RelationRecord]) -> std::io::Result<()> {
    let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(w);
    csv.write_record(["id", "sentence", "subject_entity", "object_entity", "label", "source"])?;
    for r in records {
        let subject = entity_literal(&r.subject);
        let object = entity_literal(&r.object);
        csv.write_record([
            r.id.as_str(),
            r.sentence.as_str(),
            subject.as_str(),
            object.as_str(),
            r.label.as_deref().unwrap_or(UNLABELED),
            r.source.as_deref().unwrap_or(""),
        ])?;
    }
    csv.flush()
}

/// Write a competition CSV atomically.
pub fn write(path: &Path, records: &[RelationRecord]) -> Result<()> {
    write_atomic_with(path, |w| write_to(w, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_competition_example() {
        let e = parse_entity("{'word': '비틀즈', 'start_idx': 24, 'end_idx': 26, 'type': 'ORG'}").unwrap();
        assert_eq!(e, Entity::new("비틀즈", 24, 26, "ORG"));
    }

    #[test]
    fn parses_quotes_commas_and_escapes() {
        let d = parse_py_dict(r#"{"word": "'a', b", 'x': 'it\'s \\ \x41\u00e9\U0001f600\n', 'n': -3}"#).unwrap();
        assert_eq!(d[0], ("word".into(), PyValue::Str("'a', b".into())));
        assert_eq!(d[1], ("x".into(), PyValue::Str("it's \\ Aé😀\n".into())));
        assert_eq!(d[2], ("n".into(), PyValue::Int(-3)));
    }

    #[test]
    fn repr_matches_python_quote_choice() {
        // Hand-checked against CPython: repr("a'b") == "\"a'b\"", repr('a"b') == "'a\"b'",
        // repr("'\"") == "'\\'\"'", repr('\xa0\t') == "'\\xa0\\t'"
        assert_eq!(py_repr_str("a'b"), "\"a'b\"");
        assert_eq!(py_repr_str("a\"b"), "'a\"b'");
        assert_eq!(py_repr_str("'\""), "'\\'\"'");
        assert_eq!(py_repr_str("\u{a0}\t"), "'\\xa0\\t'");
        assert_eq!(py_repr_str("\u{200b}"), "'\\u200b'");
        assert_eq!(py_repr_str("비틀즈😀"), "'비틀즈😀'");
        for s in ["a'b", "a\"b", "'\"\\", "\u{a0}x\u{3000}\u{feff}\n\r\t", "😀,"] {
            let lit = format!("{{'w': {}}}", py_repr_str(s));
            assert_eq!(parse_py_dict(&lit).unwrap()[0].1, PyValue::Str(s.into()), "{lit}");
        }
    }

    #[test]
    fn malformed_literals_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "{'a': }",
            "{'a': 'x'",
            "{'a' 1}",
            "{'a': 1} trailing",
            "{'a': '\\x4'}",
            "{1: 2}",
            "{'a': '\\ud800'}",
        ] {
            assert!(parse_py_dict(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse_entity("{'word': 'a', 'start_idx': 0, 'type': 'PER'}").unwrap_err().contains("end_idx"));
        assert!(parse_entity("{'word': 'a', 'start_idx': -1, 'end_idx': 0, 'type': 'PER'}").is_err());
    }
}
