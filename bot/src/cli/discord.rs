//! `coderunner discord`: load the config and connect to Discord through the CodeRunnerAgent
//! (local sandbox, or the remote pool of `runner.remote`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::agent::{CodeRunnerAgent, Frontend};

pub fn execute(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    // A missing token is the most common start-up mistake: say so before anything else.
    crate::discord::require_token(&config)?;
    let agent = CodeRunnerAgent::new(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(agent.run(Frontend::Discord))?;
    Ok(ExitCode::SUCCESS)
}
