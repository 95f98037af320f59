//! (placeholder until its issue lands)
#[derive(clap::Args, Debug)]
pub struct EncodeArgs {}
pub fn encode(_args: EncodeArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
