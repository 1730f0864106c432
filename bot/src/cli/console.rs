//! `coderunner console`: the local chat frontend, through the CodeRunnerAgent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::agent::{CodeRunnerAgent, Frontend};
use crate::console::ConsoleOptions;

pub fn execute(config: Option<&Path>, out: PathBuf, banner: bool) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config)?;
    let agent = CodeRunnerAgent::new(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(agent.run(Frontend::Console(ConsoleOptions { out, banner })))?;
    // The stdin reader thread may still be blocked on a read; do not wait for it.
    runtime.shutdown_background();
    Ok(ExitCode::SUCCESS)
}
