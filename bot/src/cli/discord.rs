//! `coderunner discord`: load the config, build the runner and the chat pipeline, connect.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use coderunner_commands::Pipeline;
use coderunner_runner::LocalRunner;

pub fn execute(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Arc::new(super::load_config(config_path)?);
    // A missing token is the most common start-up mistake: say so before anything else.
    crate::discord::require_token(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let runner = LocalRunner::new(&config).context("preparing the sandbox")?;
        let pipeline = Pipeline::new(config.clone(), Arc::new(runner))
            .context("starting the chat pipeline")?;
        crate::discord::run(config, Arc::new(pipeline)).await
    })?;
    Ok(ExitCode::SUCCESS)
}
