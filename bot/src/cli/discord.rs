//! `coderunner discord`: load the config, build the runner (local sandbox, or the remote pool of
//! `runner.remote`) and the chat pipeline, and connect to Discord.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use coderunner_commands::Pipeline;
use coderunner_runner::{LocalRunner, Runner};

use crate::remote_runner::RemoteRunner;

pub fn execute(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Arc::new(super::load_config(config_path)?);
    // A missing token is the most common start-up mistake: say so before anything else.
    crate::discord::require_token(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let runner: Arc<dyn Runner> = if config.runner.remote.is_empty() {
            Arc::new(LocalRunner::new(&config).context("preparing the sandbox")?)
        } else {
            tracing::info!(
                nodes = config.runner.remote.len(),
                "sending runs to remote runner nodes"
            );
            Arc::new(RemoteRunner::new(&config)?)
        };
        let pipeline =
            Pipeline::new(config.clone(), runner).context("starting the chat pipeline")?;
        let pipeline = Arc::new(pipeline);
        let served = crate::discord::run(config, pipeline.clone()).await;
        // Idempotent: the frontend already shut the pipeline down on a graceful stop.
        pipeline.shutdown().await;
        served
    })?;
    Ok(ExitCode::SUCCESS)
}
