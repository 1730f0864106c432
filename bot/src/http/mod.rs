//! The HTTP API (`coderunner serve`): runs for other programs with the same tiers, limits, queue
//! and audit as chat. Keys authenticate; the pipeline is entered at `access` (DESIGN §2).

mod ai;
mod auth;
mod backend;
mod body;
mod error;
mod languages;
mod metrics;
mod pipeline_backend;
mod routes;
mod runs;
mod sessions;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use coderunner_commands::Pipeline;
use coderunner_config::Config;

pub use auth::{Caller, KeyError, KeyTable};
pub use backend::RunBackend;
pub use body::{validate as validate_run_body, Encoding, FileBody, LimitsBody, RunBody, ValidRun};
pub use error::ApiError;
pub use languages::{probe_all as probe_languages, LanguageInfo};
pub use metrics::Metrics;
pub use routes::{router, OPENAPI, ROUTES};

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub backend: Arc<dyn RunBackend>,
    pub keys: Arc<KeyTable>,
    pub metrics: Arc<Metrics>,
    pub languages: Arc<Vec<LanguageInfo>>,
    /// The MCP server mounted at `/mcp`, when the API runs on a pipeline.
    pub mcp: Option<crate::mcp::CodeRunnerMcp>,
    /// The pipeline behind the API when it runs locally (notebook sessions live there).
    pub pipeline: Option<Arc<Pipeline>>,
}

impl AppState {
    /// Load the keys (from the process environment) and probe the host's language versions.
    pub async fn new(config: Arc<Config>, backend: Arc<dyn RunBackend>) -> anyhow::Result<Self> {
        let keys = KeyTable::load(&config, |var| std::env::var(var).ok())
            .context("loading the HTTP API keys")?;
        let languages = languages::probe_all(&config).await;
        Ok(AppState {
            config,
            backend,
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::default()),
            languages: Arc::new(languages),
            mcp: None,
            pipeline: None,
        })
    }
}

/// Serve the API on `listen` through `pipeline` until SIGTERM or Ctrl-C, finishing requests in
/// flight before returning.
pub async fn serve(
    config: Arc<Config>,
    pipeline: Arc<Pipeline>,
    listen: SocketAddr,
) -> anyhow::Result<()> {
    let backend: Arc<dyn RunBackend> = Arc::new(pipeline_backend::PipelineBackend::new(
        Arc::clone(&pipeline),
    ));
    serve_until(config, backend, Some(pipeline), listen, shutdown_signal()).await
}

/// Serve the API on `listen` until `shutdown` completes; with a pipeline, MCP is served at `/mcp`.
pub async fn serve_until(
    config: Arc<Config>,
    backend: Arc<dyn RunBackend>,
    mcp_pipeline: Option<Arc<Pipeline>>,
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut state = AppState::new(config, backend).await?;
    state.pipeline = mcp_pipeline.clone();
    state.mcp = mcp_pipeline.map(|pipeline| {
        crate::mcp::CodeRunnerMcp::new(
            pipeline,
            Arc::clone(&state.config),
            crate::mcp::Who::Http,
            Some(Arc::clone(&state.languages)),
        )
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}; is another server using it? choose another with --listen ADDR"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    // Tests and scripts read this line to find the port when started with `--listen 127.0.0.1:0`.
    eprintln!("coderunner serve: listening on http://{local}");
    tracing::info!(%local, keys = state.config.http.api_keys.len(), "HTTP API listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("HTTP server failed")?;
    tracing::info!("HTTP API stopped");
    Ok(())
}

/// Completes on SIGTERM (Kubernetes, systemd) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: finishing requests in flight, then stopping"),
        () = term => tracing::info!("SIGTERM: finishing requests in flight, then stopping"),
    }
}
