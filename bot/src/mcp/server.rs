//! The MCP server itself: the `run_code` and `list_languages` tools, with titles, descriptions
//! written for a model, input schemas (from the argument types) and output schemas.

use std::sync::Arc;

use axum::http::StatusCode;
use coderunner_commands::{access, NoProgress, Pipeline, RefusalKind, RequestedLimits};
use coderunner_config::Config;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use tokio::sync::OnceCell;

use super::args::{to_direct_run, RunCodeArgs};
use super::caller::{StatusSlot, Who};
use super::result::{self, RunText};
use super::schema;
use crate::http::{probe_languages, LanguageInfo};

/// What the agent reads on connecting (`instructions` of `initialize`).
const INSTRUCTIONS: &str = "coderunner runs code in a locked-down sandbox (no network, limited time and memory) \
and returns its output. Use run_code to execute a complete program and see what it prints, the files it \
writes and the plots it saves as PNG (shown as images). Each call is a fresh sandbox: nothing is kept \
between calls. Call list_languages to see which languages and versions exist.";

struct Shared {
    pipeline: Arc<Pipeline>,
    config: Arc<Config>,
    who: Who,
    languages: OnceCell<Arc<Vec<LanguageInfo>>>,
}

/// coderunner as an MCP server; cheap to clone (one clone serves each HTTP request).
#[derive(Clone)]
pub struct CodeRunnerMcp {
    shared: Arc<Shared>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for CodeRunnerMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRunnerMcp")
            .field("who", &self.shared.who)
            .finish_non_exhaustive()
    }
}

impl CodeRunnerMcp {
    /// A server running calls through `pipeline` as `who`; `languages` is the probed list when
    /// the caller has it already (else it is probed on the first `list_languages`).
    pub fn new(
        pipeline: Arc<Pipeline>,
        config: Arc<Config>,
        who: Who,
        languages: Option<Arc<Vec<LanguageInfo>>>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                pipeline,
                config,
                who,
                languages: OnceCell::new_with(languages),
            }),
            tool_router: Self::tool_router(),
        }
    }

    async fn languages(&self) -> Arc<Vec<LanguageInfo>> {
        self.shared
            .languages
            .get_or_init(|| async { Arc::new(probe_languages(&self.shared.config).await) })
            .await
            .clone()
    }

    /// The version this host has of `language`, for the status line.
    async fn version_of(&self, language: &str) -> Option<String> {
        self.languages()
            .await
            .iter()
            .find(|l| l.name == language)
            .and_then(|l| l.version.clone())
    }
}

#[tool_router]
impl CodeRunnerMcp {
    #[tool(
        name = "run_code",
        title = "Run code in a sandbox",
        description = "Run a complete program in a locked-down sandbox and get what it printed. \
Give `language` (e.g. python, javascript, c, cpp, bash, rust; see list_languages) and the full source in `code`; \
optionally `files` to place beside it (data, modules), `stdin`, command-line `args`, and a `timeout` (seconds) \
or `memory` (e.g. \"512MiB\") up to your tier's maximum. There is no network, and nothing persists between calls. \
The result's text starts with a status line (exit code or what stopped the program, time, peak memory), then \
stdout and stderr interleaved; very long output keeps its start and end and says how much was cut. PNG files \
the program writes (e.g. plt.savefig(\"plot.png\") with matplotlib) come back as images. structuredContent holds \
the full RunOutcome (status, exit_code, stdout, stderr, files...). A program that fails, times out, runs out of \
memory or does not compile returns isError with its error output, so read the traceback, fix the code and call again.",
        output_schema = schema::run_outcome(),
        annotations(
            title = "Run code in a sandbox",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn run_code(
        &self,
        Parameters(args): Parameters<RunCodeArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let Some(who) = self.shared.who.resolve(&ctx.extensions) else {
            // The auth layer puts the caller in every /mcp request; without one nothing runs.
            tracing::error!("mcp: a tool call arrived without an authenticated caller");
            return Err(ErrorData::internal_error(
                "no authenticated caller for this request",
                None,
            ));
        };
        let config = Arc::clone(&self.shared.config);
        let tier = who.tier.clone();
        let user = who.identity.user_id.clone();
        let run = match to_direct_run(args, who, &config) {
            Ok(run) => run,
            Err(message) => {
                tracing::info!(%user, "mcp run_code: bad arguments: {message}");
                return Ok(result::bad_arguments(message));
            }
        };
        let language = run.language.clone();
        let requested: RequestedLimits = run.limits;
        let outcome = match self.shared.pipeline.run_direct(run, &NoProgress).await {
            Ok(outcome) => outcome,
            Err(refusal) => {
                if let (Some(slot), Some(status)) = (
                    StatusSlot::of(&ctx.extensions),
                    match refusal.kind {
                        RefusalKind::RateLimited => Some(StatusCode::TOO_MANY_REQUESTS),
                        RefusalKind::Busy => Some(StatusCode::SERVICE_UNAVAILABLE),
                        _ => None,
                    },
                ) {
                    slot.set(
                        status,
                        refusal
                            .retry_after
                            .unwrap_or(std::time::Duration::from_secs(1)),
                    );
                }
                return Ok(result::refusal(&refusal));
            }
        };
        // The limits the pipeline granted (the same pure function it used), for the status words.
        let limits = config
            .tier(&tier)
            .and_then(|t| access::grant(&config, t, false, requested).ok())
            .map(|g| g.limits);
        let version = self.version_of(&language).await;
        tracing::info!(%user, %language, status = outcome.status.as_str(), wall_ms = outcome.wall_ms, "mcp run finished");
        let fallback;
        let limits =
            match &limits {
                Some(l) => l,
                None => {
                    fallback =
                        config.profiles.values().next().cloned().ok_or_else(|| {
                            ErrorData::internal_error("no profiles configured", None)
                        })?;
                    &fallback
                }
            };
        Ok(result::outcome(
            &RunText {
                language: &language,
                version: version.as_deref(),
                limits,
                max_chars: usize::try_from(config.mcp.output_chars).unwrap_or(usize::MAX),
            },
            &outcome,
        ))
    }

    #[tool(
        name = "list_languages",
        title = "List languages",
        description = "List the languages run_code accepts on this server: each one's name (what to pass as \
`language`), aliases, file extensions, the installed version, whether it is compiled, and whether this host \
has it. Call it when unsure of a language name or version.",
        output_schema = schema::languages(),
        annotations(
            title = "List languages",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_languages(&self) -> Result<CallToolResult, ErrorData> {
        let languages = self.languages().await;
        let lines: Vec<String> = languages
            .iter()
            .map(|l| {
                let mut line = l.name.clone();
                if let Some(v) = &l.version {
                    line.push(' ');
                    line.push_str(v);
                }
                if !l.aliases.is_empty() {
                    line.push_str(&format!(" (aliases: {})", l.aliases.join(", ")));
                }
                if !l.available {
                    line.push_str(" [not installed on this host]");
                }
                line
            })
            .collect();
        let structured = serde_json::json!({ "languages": languages.as_ref() });
        let mut result = CallToolResult::success(vec![ContentBlock::text(lines.join("\n"))]);
        result.structured_content = Some(structured);
        Ok(result)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CodeRunnerMcp {
    fn get_info(&self) -> ServerConfig {
        let mut info = Implementation::new("coderunner", env!("CARGO_PKG_VERSION"));
        info.title = Some("coderunner".into());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(info)
            .with_instructions(INSTRUCTIONS)
    }
}
