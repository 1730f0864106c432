//! `coderunner serve`: the HTTP API, running code on this host's sandbox or on the remote nodes of
//! `runner.remote`, until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use coderunner_commands::Pipeline;
use coderunner_runner::{LocalRunner, Runner};

use crate::remote_runner::RemoteRunner;

pub fn execute(config_path: Option<&Path>, listen: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let config = Arc::new(super::load_config(config_path)?);
    let listen = listen.unwrap_or(config.http.listen);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let runner: Arc<dyn Runner> = if config.runner.remote.is_empty() {
            Arc::new(LocalRunner::new(&config).context("setting up the local sandbox")?)
        } else {
            tracing::info!(
                nodes = config.runner.remote.len(),
                "sending runs to remote runner nodes"
            );
            Arc::new(RemoteRunner::new(&config)?)
        };
        let pipeline =
            Arc::new(Pipeline::new(config.clone(), runner).context("starting the run pipeline")?);
        let served = crate::http::serve(config, pipeline.clone(), listen).await;
        // Runs still in flight finish (and are audited) before the process exits.
        pipeline.shutdown().await;
        served
    })?;
    Ok(ExitCode::SUCCESS)
}
