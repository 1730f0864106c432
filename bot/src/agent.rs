//! `CodeRunnerAgent`, the entry point named by the seed: from a config to a running frontend.
//!
//! It wires the configuration, the runner (the sandbox), the chat pipeline (with its audit log)
//! and then the frontend the CLI or the caller selects.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use coderunner_commands::Pipeline;
use coderunner_config::Config;
use coderunner_runner::{LocalRunner, Runner};

use crate::console::ConsoleOptions;

/// The only `agent_type` this agent runs as.
pub const AGENT_TYPE: &str = "CodeRunnerAgent";

/// Which frontend the agent serves.
#[derive(Debug, Clone)]
pub enum Frontend {
    /// A local chat on stdin/stdout.
    Console(ConsoleOptions),
    /// A Discord bot (token from the configured environment variable).
    Discord,
    /// The HTTP API (with MCP at `/mcp`).
    Http { listen: Option<SocketAddr> },
    /// MCP on stdin/stdout, for one local AI agent.
    Mcp,
}

/// Why an agent could not be created.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("config.agent_type is `{0}`, but this is a CodeRunnerAgent; set `agent_type: CodeRunnerAgent`")]
    WrongType(String),
}

/// The Code Runner Agent: runs people's code in a sandbox, from chat or from other programs.
///
/// ```no_run
/// use coderunner::agent::{CodeRunnerAgent, Frontend};
/// use coderunner::console::ConsoleOptions;
///
/// # async fn demo() -> anyhow::Result<()> {
/// let config = coderunner_config::Config::embedded_default()?;
/// let agent = CodeRunnerAgent::new(config)?;
/// agent.run(Frontend::Console(ConsoleOptions::default())).await?;
/// # Ok(())
/// # }
/// ```
///
/// Any other `agent_type` is refused:
///
/// ```
/// use coderunner::agent::CodeRunnerAgent;
///
/// let mut config = coderunner_config::Config::embedded_default().unwrap();
/// config.agent_type = "TradingAgent".into();
/// let err = CodeRunnerAgent::new(config).unwrap_err();
/// assert!(err.to_string().contains("agent_type: CodeRunnerAgent"));
/// ```
pub struct CodeRunnerAgent {
    config: Arc<Config>,
    runner: Option<Arc<dyn Runner>>,
}

impl std::fmt::Debug for CodeRunnerAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRunnerAgent")
            .field("agent_id", &self.config.agent_id)
            .finish_non_exhaustive()
    }
}

impl CodeRunnerAgent {
    /// An agent for `config`; refuses any `agent_type` but `CodeRunnerAgent`.
    pub fn new(config: Config) -> Result<CodeRunnerAgent, AgentError> {
        if config.agent_type != AGENT_TYPE {
            return Err(AgentError::WrongType(config.agent_type));
        }
        Ok(CodeRunnerAgent {
            config: Arc::new(config),
            runner: None,
        })
    }

    /// Use this runner instead of the local sandbox (a remote pool, or a test double).
    pub fn with_runner(mut self, runner: Arc<dyn Runner>) -> Self {
        self.runner = Some(runner);
        self
    }

    pub fn agent_id(&self) -> &str {
        &self.config.agent_id
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Wire runner, pipeline and audit, then serve `frontend` until it ends; flush on the way out.
    pub async fn run(self, frontend: Frontend) -> anyhow::Result<()> {
        let config = Arc::clone(&self.config);
        type Starter = Arc<dyn coderunner_runner::session::SessionStarter>;
        // This process serves many runs: the local sandbox keeps a warm pool, torn down below.
        let (runner, sessions, local): (Arc<dyn Runner>, Option<Starter>, Option<LocalRunner>) =
            match self.runner {
                Some(r) => (r, None, None),
                None if config.runner.remote.is_empty() => {
                    let local = LocalRunner::new(&config)
                        .context("preparing the sandbox")?
                        .start_warm_pool();
                    (
                        Arc::new(local.clone()),
                        Some(Arc::new(local.clone())),
                        Some(local),
                    )
                }
                None => (runner_for(&config)?, None, None),
            };
        let pipeline = Pipeline::with_sessions(Arc::clone(&config), runner, sessions)
            .context("starting the chat pipeline")?;
        tracing::info!(agent_id = %config.agent_id, ?frontend, "agent starting");
        let served = match frontend {
            Frontend::Console(options) => crate::console::run(pipeline.clone(), options).await,
            Frontend::Discord => {
                crate::discord::run(Arc::clone(&config), Arc::new(pipeline.clone())).await
            }
            Frontend::Http { listen } => {
                let listen = listen.unwrap_or(config.http.listen);
                crate::http::serve(Arc::clone(&config), Arc::new(pipeline.clone()), listen).await
            }
            Frontend::Mcp => {
                crate::mcp::serve_stdio(Arc::clone(&config), Arc::new(pipeline.clone())).await
            }
        };
        pipeline.shutdown().await;
        if let Some(local) = local {
            local.shutdown_warm_pool().await;
        }
        served
    }
}

/// The runner the config asks for: the remote `coderunner serve` nodes of `runner.remote`, or
/// this host's sandbox.
pub fn runner_for(config: &Config) -> anyhow::Result<Arc<dyn Runner>> {
    if config.runner.remote.is_empty() {
        Ok(Arc::new(
            LocalRunner::new(config).context("preparing the sandbox")?,
        ))
    } else {
        tracing::info!(
            nodes = config.runner.remote.len(),
            "sending runs to remote runner nodes"
        );
        Ok(Arc::new(crate::remote_runner::RemoteRunner::new(config)?))
    }
}
