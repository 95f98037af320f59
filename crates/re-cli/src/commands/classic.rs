//! (placeholder until its issue lands)
#[derive(clap::Args, Debug)]
pub struct ClassicArgs {}
pub fn run(_args: ClassicArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
