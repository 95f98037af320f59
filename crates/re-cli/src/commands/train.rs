//! (placeholder until its issue lands)
#[derive(clap::Args, Debug)]
pub struct TrainArgs {}
pub fn train(_args: TrainArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
#[derive(clap::Args, Debug)]
pub struct PredictArgs {}
pub fn predict(_args: PredictArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
#[derive(clap::Args, Debug)]
pub struct SearchArgs {}
pub fn search(_args: SearchArgs) -> anyhow::Result<()> { anyhow::bail!("kre: this command is not built yet") }
