//! (placeholder until its issue lands)
#[derive(clap::Args, Debug)]
pub struct SplitArgs {}
pub fn split(_args: SplitArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
#[derive(clap::Args, Debug)]
pub struct EdaArgs {}
pub fn eda(_args: EdaArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
#[derive(clap::Args, Debug)]
pub struct SynthArgs {}
pub fn synth(_args: SynthArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {}
pub fn convert(_args: ConvertArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
