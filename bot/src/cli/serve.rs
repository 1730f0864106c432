//! `coderunner serve`: the HTTP API, running code on this host's sandbox or on the remote nodes of
//! `runner.remote`, until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::agent::{CodeRunnerAgent, Frontend};

pub fn execute(config_path: Option<&Path>, listen: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let agent = CodeRunnerAgent::new(super::load_config(config_path)?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The agent shuts the pipeline down after the server stops, so runs in flight are audited.
    runtime.block_on(agent.run(Frontend::Http { listen }))?;
    Ok(ExitCode::SUCCESS)
}
