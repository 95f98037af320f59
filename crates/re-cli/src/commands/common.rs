//! Options shared by every command that reads a data file.
use re_data::io::{LabelSource, ReadOptions};
use re_data::labels::LabelMap;
use re_data::record::Validation;
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
