//! `coderunner mcp`: the MCP server on stdin/stdout for one local agent. stdout carries only
//! JSON-RPC messages; logs go to stderr. It ends when the agent closes stdin, or on SIGTERM/Ctrl-C.

use std::sync::Arc;

use anyhow::Context;
use coderunner_commands::Pipeline;
use coderunner_config::Config;
use rmcp::ServiceExt;

use super::caller::Who;
use super::server::CodeRunnerMcp;

/// Serve MCP on stdio, running tool calls through `pipeline` as `mcp.tier`.
pub async fn serve_stdio(config: Arc<Config>, pipeline: Arc<Pipeline>) -> anyhow::Result<()> {
    let who = Who::Stdio {
        tier: config.mcp.tier.clone(),
    };
    tracing::info!(tier = %config.mcp.tier, "MCP server on stdio");
    let server = CodeRunnerMcp::new(pipeline, config, who, None);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the MCP server on stdio")?;
    let stop = running.cancellation_token();
    let signals = tokio::spawn(async move {
        crate::http::shutdown_signal().await;
        stop.cancel();
    });
    let reason = running.waiting().await;
    signals.abort();
    tracing::info!(?reason, "MCP server on stdio stopped");
    Ok(())
}
