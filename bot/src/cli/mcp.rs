//! `coderunner mcp`: the MCP server on stdio, through the CodeRunnerAgent (runs as `mcp.tier`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::agent::{CodeRunnerAgent, Frontend};

pub fn execute(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let agent = CodeRunnerAgent::new(super::load_config(config_path)?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(agent.run(Frontend::Mcp))?;
    // The stdin reader may still be blocked on a read once the agent hung up; do not wait for it.
    runtime.shutdown_background();
    Ok(ExitCode::SUCCESS)
}
