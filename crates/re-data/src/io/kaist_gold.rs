//! The KAIST `kor-re-gold` TSV (no header): `head<TAB>tail<TAB>relation<TAB>sentence<TAB>id<TAB>answer`.
//!
//! In `sentence` every linked mention is written ` [[ mention ]] ` (a space is added on each side of the brackets,
//! and `_` stands for a space inside the mention); the subject and object mentions are ` [[ _sbj_ ]] ` and
//! ` [[ _obj_ ]] `. Reading rebuilds the plain sentence:
//! - each ` [[ m ]] ` becomes `m` with `_` → space, removing the one space added before `[[` and the one after `]]`
//!   (so `는  [[ X ]]  때` → `는 X 때` and ` [[ X ]] 의` → `X의`, as in the original Wikipedia text);
//! - `_sbj_`/`_obj_` become `head`/`tail` with `_` → space, and their character offsets are recorded;
//! - leading/trailing whitespace of the result is trimmed (about half the rows start with a space).
//!
//! Label: `relation` when `answer` is `yes`, else `no_relation`. Entity type `UNK` (the file has none), source
//! `kor-re-gold`, id from the `id` column (or `line<N>` when empty). The relation names are DBpedia properties, not
//! KLUE relations: read this format with `--infer-labels`.
//!
//! The writer is the inverse (head/tail with spaces → `_`, the entity spans replaced by ` [[ _sbj_ ]] ` /
//! ` [[ _obj_ ]] `; `no_relation` rows get relation `no_relation` and answer `no`), so records round-trip. It cannot
//! write unlabeled records, entity words containing `_`, overlapping entities, or sentences containing tabs,
//! newlines or `[[`/`]]`: those are errors.
use crate::error::{DataError, Result};
use crate::fsutil::write_atomic;
use crate::io::read_text;
use crate::labels::NO_RELATION;
use crate::record::{Entity, EntityType, RelationRecord};
use std::path::Path;

/// The `source` of records read from this format.
pub const SOURCE: &str = "kor-re-gold";

/// Read a KAIST gold TSV file.
pub fn read(path: &Path) -> Result<Vec<RelationRecord>> {
    let text = read_text(path)?;
    parse_str(&text, path)
}

/// Parse KAIST gold TSV text; `path` names the source in errors.
pub fn parse_str(text: &str, path: &Path) -> Result<Vec<RelationRecord>> {
    let mut records = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i + 1;
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 6 {
            return Err(DataError::parse(
                path,
                format!("line {line_no}"),
                format!(
                    "expected 6 tab-separated fields (head, tail, relation, sentence, id, answer), found {}",
                    fields.len()
                ),
            ));
        }
        let [head, tail, relation, sentence, id, answer] =
            [fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]];
        let id = if id.trim().is_empty() { format!("line{line_no}") } else { id.trim().to_string() };
        let locate = || format!("line {line_no} (id={id})");
        let label = match answer.trim().to_ascii_lowercase().as_str() {
            "yes" => relation.trim().to_string(),
            "no" => NO_RELATION.to_string(),
            other => {
                return Err(DataError::parse(path, locate(), format!("answer must be yes or no, found {other:?}")))
            }
        };
        if label.is_empty() {
            return Err(DataError::parse(path, locate(), "empty relation"));
        }
        let (sentence, subject, object) = rebuild_sentence(sentence, &unescape(head), &unescape(tail))
            .map_err(|msg| DataError::parse(path, locate(), msg))?;
        records.push(RelationRecord {
            id,
            sentence,
            subject,
            object,
            label: Some(label),
            source: Some(SOURCE.to_string()),
        });
    }
    Ok(records)
}

/// `_` stands for a space in KAIST entity names.
fn unescape(name: &str) -> String {
    name.trim().replace('_', " ")
}

/// Replace the ` [[ … ]] ` mentions by their text; returns the sentence and the subject/object entities.
fn rebuild_sentence(marked: &str, head: &str, tail: &str) -> std::result::Result<(String, Entity, Entity), String> {
    let mut out = String::with_capacity(marked.len());
    let mut out_chars = 0usize;
    let mut subject: Option<(usize, usize)> = None;
    let mut object: Option<(usize, usize)> = None;
    let mut rest = marked;
    while let Some(open) = rest.find("[[") {
        let before = &rest[..open];
        out.push_str(before);
        out_chars += before.chars().count();
        // the space added before "[["
        if out.ends_with(' ') {
            out.pop();
            out_chars -= 1;
        }
        let after_open = &rest[open + 2..];
        let close = after_open.find("]]").ok_or_else(|| "unterminated [[ mention (no ]])".to_string())?;
        let inner = after_open[..close].trim();
        let text = match inner {
            "_sbj_" => {
                if subject.is_some() {
                    return Err("the sentence has two _sbj_ mentions".into());
                }
                subject = Some((out_chars, head.chars().count()));
                head.to_string()
            }
            "_obj_" => {
                if object.is_some() {
                    return Err("the sentence has two _obj_ mentions".into());
                }
                object = Some((out_chars, tail.chars().count()));
                tail.to_string()
            }
            other => other.replace('_', " "),
        };
        out.push_str(&text);
        out_chars += text.chars().count();
        rest = &after_open[close + 2..];
        // the space added after "]]"
        rest = rest.strip_prefix(' ').unwrap_or(rest);
    }
    if rest.contains("]]") {
        return Err("]] without a matching [[".into());
    }
    out.push_str(rest);
    let (subject, object) = match (subject, object) {
        (Some(s), Some(o)) => (s, o),
        (None, _) => return Err("the sentence has no [[ _sbj_ ]] mention".into()),
        (_, None) => return Err("the sentence has no [[ _obj_ ]] mention".into()),
    };
    if head.is_empty() || tail.is_empty() {
        return Err("empty head or tail entity name".into());
    }
    // trim, shifting offsets by the characters removed at the front
    let leading = out.chars().take_while(|c| c.is_whitespace()).count();
    let sentence = out.trim().to_string();
    let entity = |(start, len): (usize, usize), word: &str| {
        let start = start.saturating_sub(leading);
        Entity::new(word, start, start + len - 1, EntityType::Unk)
    };
    Ok((sentence, entity(subject, head), entity(object, tail)))
}

/// Serialize records as KAIST gold TSV (see the module docs for what cannot be written).
pub fn to_string(path: &Path, records: &[RelationRecord]) -> Result<String> {
    let mut out = String::new();
    for r in records {
        let fail = |msg: &str| {
            DataError::invalid_record(path, format!("id={}", r.id), format!("cannot write as KAIST TSV: {msg}"))
        };
        let label =
            r.label.as_deref().ok_or_else(|| fail("the record is unlabeled (KAIST rows have a yes/no answer)"))?;
        for (what, text) in [("sentence", r.sentence.as_str()), ("id", r.id.as_str()), ("label", label)] {
            if text.contains(['\t', '\n', '\r']) {
                return Err(fail(&format!("the {what} contains a tab or newline")));
            }
        }
        if r.sentence.contains("[[") || r.sentence.contains("]]") {
            return Err(fail("the sentence contains [[ or ]]"));
        }
        for e in [&r.subject, &r.object] {
            if e.word.contains(['_', '\t', '\n', '\r']) {
                return Err(fail(&format!(
                    "entity word {:?} contains '_' (KAIST uses it for spaces) or a tab",
                    e.word
                )));
            }
        }
        if r.subject.overlaps(&r.object) {
            return Err(fail("subject and object overlap"));
        }
        let span = |e: &Entity| {
            e.byte_range(&r.sentence).ok_or_else(|| fail(&format!("entity {:?} lies outside the sentence", e.word)))
        };
        let (s, o) = (span(&r.subject)?, span(&r.object)?);
        let (first, first_marker, second, second_marker) =
            if s.start < o.start { (s, "_sbj_", o, "_obj_") } else { (o, "_obj_", s, "_sbj_") };
        let sentence = format!(
            "{} [[ {first_marker} ]] {} [[ {second_marker} ]] {}",
            &r.sentence[..first.start],
            &r.sentence[first.end..second.start],
            &r.sentence[second.end..]
        );
        let (relation, answer) = if label == NO_RELATION { (NO_RELATION, "no") } else { (label, "yes") };
        out.push_str(&format!(
            "{}\t{}\t{relation}\t{sentence}\t{}\t{answer}\n",
            r.subject.word.replace(' ', "_"),
            r.object.word.replace(' ', "_"),
            r.id
        ));
    }
    Ok(out)
}

/// Write KAIST gold TSV atomically.
pub fn write(path: &Path, records: &[RelationRecord]) -> Result<()> {
    let text = to_string(path, records)?;
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("k.tsv")
    }

    #[test]
    fn brackets_and_their_added_spaces_are_removed() {
        // modelled on row 1 of agreement_content.tsv
        let line = "판초_비야\t멕시코_혁명\tbattle\t치와와 주는  [[ _obj_ ]]  때에는 중요한 곳으로,  [[ _sbj_ ]] 가 인솔하는  [[ 1월_21일 ]] 의 군\tbattle369\tyes";
        let r = &parse_str(line, p()).unwrap()[0];
        assert_eq!(r.sentence, "치와와 주는 멕시코 혁명 때에는 중요한 곳으로, 판초 비야가 인솔하는 1월 21일의 군");
        // "치와와 주는 " is 7 characters; "멕시코 혁명" is 6
        assert_eq!((r.object.start, r.object.end), (7, 12));
        assert_eq!(r.object_text(), Some("멕시코 혁명"));
        assert_eq!(r.subject_text(), Some("판초 비야"));
        assert_eq!(r.label.as_deref(), Some("battle"));
        assert_eq!(r.id, "battle369");
    }

    #[test]
    fn leading_space_is_trimmed_and_offsets_shift() {
        let line = "가\t나\tchild\t  [[ _sbj_ ]] 와  [[ _obj_ ]] \tc1\tno";
        let r = &parse_str(line, p()).unwrap()[0];
        assert_eq!(r.sentence, "가와 나");
        assert_eq!((r.subject.start, r.object.start), (0, 3));
        assert_eq!(r.label.as_deref(), Some(NO_RELATION));
    }

    #[test]
    fn writer_round_trips() {
        let text = "판초_비야\t멕시코_혁명\tbattle\t치와와 주는  [[ _obj_ ]]  때에는,  [[ _sbj_ ]] 가 인솔\tb1\tyes\n\
                    가\t나\tchild\t [[ _sbj_ ]] 와 [[ _obj_ ]] \tc1\tno\n";
        let records = parse_str(text, p()).unwrap();
        let back = parse_str(&to_string(p(), &records).unwrap(), p()).unwrap();
        assert_eq!(back, records);
    }

    #[test]
    fn malformed_rows_name_the_line() {
        for (bad, needle) in [
            ("a\tb\tc\td\te", "6 tab-separated"),
            ("a\tb\tr\tno mentions here\tx1\tyes", "_sbj_"),
            ("a\tb\tr\t[[ _sbj_ ]] [[ _obj_\tx1\tyes", "unterminated"),
            ("a\tb\tr\t[[ _sbj_ ]] [[ _obj_ ]]\tx1\tmaybe", "yes or no"),
        ] {
            let err = parse_str(&format!("\n{bad}"), p()).unwrap_err().to_string();
            assert!(err.contains("k.tsv") && err.contains("line 2") && err.contains(needle), "{err}");
        }
    }
}
