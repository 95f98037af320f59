//! Streaming extraction over a whole input (`kre extract`): lines are read, extracted and written in chunks (a
//! number of lines or of candidate pairs, whichever comes first), so memory stays constant in the number of lines.
use crate::error::{ExtractError, Result};
use crate::input::{parse_line, InputFormat, Sentence};
use crate::options::ExtractOptions;
use crate::pairs::{CandidatePair, Extractor};
use burn::tensor::backend::Backend;
use re_train::predict::TrainedModel;
use std::io::{BufRead, Write};

/// What a stream run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamSummary {
    pub lines: usize,
    pub sentences: usize,
    pub pairs: usize,
    pub triples: usize,
    /// Pair records whose entity span was cut off by the model's `max_length`.
    pub truncated_entities: usize,
}

/// How [`extract_stream`] reads and batches.
#[derive(Clone, Debug)]
pub struct StreamOptions {
    pub format: InputFormat,
    /// Records per encoder batch.
    pub batch_size: usize,
    /// Input lines read before their pairs are scored and written …
    pub chunk_lines: usize,
    /// … or candidate pairs collected (whichever comes first): long paragraphs with many mentions make many pairs.
    pub chunk_pairs: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions { format: InputFormat::Auto, batch_size: 64, chunk_lines: 256, chunk_pairs: 1024 }
    }
}

/// Reads `input` line by line, extracts triples with `model` and writes them to `out` as JSONL, one per line.
/// `progress(bytes_read, lines_read)` is called after each chunk. Errors name the line (wrap them with
/// [`ExtractError::in_file`]); a write error is reported as an `std::io::Error` inside [`ExtractError::Io`] with
/// `out_name`.
#[allow(clippy::too_many_arguments)]
pub fn extract_stream<B: Backend>(
    model: &TrainedModel<B>,
    extractor: &Extractor,
    options: &ExtractOptions,
    stream: &StreamOptions,
    mut input: impl BufRead,
    out: &mut dyn Write,
    out_name: &std::path::Path,
    progress: &mut dyn FnMut(u64, usize),
) -> Result<StreamSummary> {
    options.check(model.labels())?;
    let mut summary = StreamSummary::default();
    let mut line = String::new();
    let mut bytes = 0u64;
    // The chunk: its sentences and their candidate pairs (`sentence` indexes `sentences`).
    let mut sentences: Vec<Sentence> = Vec::new();
    let mut pairs: Vec<CandidatePair> = Vec::new();
    let mut chunk_lines = 0;
    loop {
        line.clear();
        let n = match input.read_line(&mut line) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(ExtractError::input(summary.lines + 1, None, "not valid UTF-8"));
            }
            Err(e) => return Err(ExtractError::input(summary.lines + 1, None, format!("read failed: {e}"))),
        };
        if n > 0 {
            bytes += n as u64;
            summary.lines += 1;
            let text = line.strip_suffix('\n').unwrap_or(&line);
            let parsed = parse_line(text, summary.lines, stream.format)?;
            let base = sentences.len();
            let line_no = summary.lines;
            pairs.extend(
                extractor
                    .pairs(&parsed)
                    .map_err(|e| match e {
                        // Name the line, as parse errors do.
                        ExtractError::NoMentionFinder { .. } | ExtractError::Morph(_) => {
                            ExtractError::input(line_no, None, e.to_string())
                        }
                        other => other,
                    })?
                    .into_iter()
                    .map(|p| CandidatePair { sentence: p.sentence + base, ..p }),
            );
            sentences.extend(parsed);
            chunk_lines += 1;
        }
        let full = chunk_lines >= stream.chunk_lines.max(1) || pairs.len() >= stream.chunk_pairs.max(1);
        if (n == 0 && !sentences.is_empty()) || full {
            let (triples, truncated) =
                extract_chunk(model, extractor, options, stream.batch_size, &sentences, &pairs, out, out_name)?;
            summary.sentences += sentences.len();
            summary.pairs += pairs.len();
            summary.triples += triples;
            summary.truncated_entities += truncated;
            sentences.clear();
            pairs.clear();
            chunk_lines = 0;
            progress(bytes, summary.lines);
        }
        if n == 0 {
            break;
        }
    }
    progress(bytes, summary.lines);
    Ok(summary)
}

/// (triples written, truncated entities) of one chunk.
#[allow(clippy::too_many_arguments)]
fn extract_chunk<B: Backend>(
    model: &TrainedModel<B>,
    extractor: &Extractor,
    options: &ExtractOptions,
    batch_size: usize,
    sentences: &[Sentence],
    pairs: &[CandidatePair],
    out: &mut dyn Write,
    out_name: &std::path::Path,
) -> Result<(usize, usize)> {
    let records: Vec<_> = pairs.iter().map(|p| p.record.clone()).collect();
    let probs = model.predict(&records, batch_size)?;
    let triples = extractor.triples(sentences, pairs, &probs, model.labels(), options);
    let io = |e: std::io::Error| ExtractError::Io { path: out_name.to_path_buf(), source: e };
    for t in &triples {
        serde_json::to_writer(&mut *out, t).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
    }
    Ok((triples.len(), probs.truncated_entities))
}
