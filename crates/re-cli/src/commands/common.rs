//! What every command shares: the data-file options ([`DataOpts`]) and the results writer ([`stdout`]).
use re_data::io::{LabelSource, ReadOptions};
use re_data::labels::LabelMap;
use re_data::record::Validation;
use std::io::{self, Write};
use std::path::PathBuf;

/// How data files are read: label map, extra entity types, offset repair.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DataOpts {
    /// Label map instead of the KLUE-RE order: JSON (`{"labels": [...]}` or `{label: id}`) or the competition's
    /// `dict_label_to_num.pkl` / `dict_num_to_label.pkl`.
    #[arg(long, value_name = "FILE", conflicts_with = "infer_labels")]
    pub label_map: Option<PathBuf>,
    /// Take the label set from the data (sorted, no_relation first): exploratory use, other tasks, KAIST gold.
    #[arg(long)]
    pub infer_labels: bool,
    /// Entity types accepted besides PER, ORG, LOC, DAT, POH, NOH and UNK (comma-separated).
    #[arg(long, value_name = "TYPE,..", value_delimiter = ',')]
    pub entity_types: Vec<String>,
    /// Relocate an entity whose offsets are wrong when its word occurs exactly once in the sentence.
    #[arg(long)]
    pub fix_offsets: bool,
}

impl DataOpts {
    /// The [`ReadOptions`] these flags describe (loads `--label-map`).
    pub fn read_options(&self) -> anyhow::Result<ReadOptions> {
        let labels = match (&self.label_map, self.infer_labels) {
            (Some(path), _) => LabelSource::Map(LabelMap::load(path)?),
            (None, true) => LabelSource::Infer,
            (None, false) => LabelSource::default(),
        };
        let extra_types = self.entity_types.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        Ok(ReadOptions { labels, validation: Validation { extra_types, fix_offsets: self.fix_offsets } })
    }
}

/// A command's standard output, locked once for the whole command. Print results with `writeln!(out, …)?` instead of
/// `println!`, which panics when the reader has gone (`kre … | head`): here that write fails with an error that
/// [`is_closed_stdout`] recognises, and `main` exits 0 on it.
pub fn stdout() -> Stdout {
    Stdout { inner: io::stdout().lock() }
}

/// See [`stdout`].
pub struct Stdout {
    inner: io::StdoutLock<'static>,
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(mark_closed)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(mark_closed)
    }
}

/// Tags a broken pipe on stdout, so that a broken pipe elsewhere (a socket, a child process) stays an error.
#[derive(Debug)]
struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed by its reader")
    }
}

impl std::error::Error for StdoutClosed {}

fn mark_closed(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

/// Whether `error` comes from writing to a standard output whose reader has closed it: a success for `kre`.
pub fn is_closed_stdout(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().and_then(|e| e.get_ref()).is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_tagged_broken_pipe_counts_as_closed_stdout() {
        let tagged = anyhow::Error::from(mark_closed(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(is_closed_stdout(&tagged));
        assert!(is_closed_stdout(&tagged.context("writing the report")));
        let elsewhere = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(!is_closed_stdout(&elsewhere), "a broken pipe that is not stdout stays an error");
        let other = anyhow::Error::from(mark_closed(io::Error::from(io::ErrorKind::PermissionDenied)));
        assert!(!is_closed_stdout(&other));
    }
}
