//! (placeholder until its issue lands)
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {}
pub fn evaluate(_args: EvaluateArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
#[derive(clap::Args, Debug)]
pub struct EnsembleArgs {}
pub fn ensemble(_args: EnsembleArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
