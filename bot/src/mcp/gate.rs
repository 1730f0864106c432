//! `/mcp` on `coderunner serve`: rmcp's streamable HTTP service (stateless, JSON answers, Host and
//! Origin checked against `mcp.allowed_hosts` / `mcp.allowed_origins`), behind the API's key check
//! and a gate that gives refusals the API's JSON shape and 429/503 statuses.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::caller::StatusSlot;
use super::server::CodeRunnerMcp;
use crate::http::{ApiError, AppState};

/// Longest rmcp refusal body read back to reword it (they are one line).
const REFUSAL_BODY_LIMIT: usize = 4096;

/// The streamable HTTP service of `server`, configured from `mcp:` and `http.max_body`.
pub fn http_service(
    server: CodeRunnerMcp,
    config: &coderunner_config::Config,
) -> StreamableHttpService<CodeRunnerMcp, NeverSessionManager> {
    let settings = StreamableHttpServerConfig::default()
        // No sessions: every request carries its key, and a tool call needs nothing from earlier
        // requests. Answers are plain JSON unless the handler streams.
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(config.mcp.allowed_hosts.clone())
        .with_allowed_origins(config.mcp.allowed_origins.clone())
        .enforce_origin_validation()
        .with_max_request_body_bytes(
            usize::try_from(config.http.max_body.bytes()).unwrap_or(usize::MAX),
        );
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        settings,
    )
}

/// Middleware around the MCP service: hands tool calls a [`StatusSlot`] and applies what they put
/// in it (429/503 with `Retry-After`), and turns rmcp's plain-text Host/Origin refusals into the
/// API's JSON errors that say which setting to change.
pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let slot = StatusSlot::default();
    request.extensions_mut().insert(slot.clone());
    let origin = header_text(&request, header::ORIGIN);
    let host = header_text(&request, header::HOST);
    let mut response = next.run(request).await;
    if response.status() == StatusCode::FORBIDDEN {
        let body = std::mem::replace(response.body_mut(), Body::empty());
        let text = axum::body::to_bytes(body, REFUSAL_BODY_LIMIT)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mcp = &state.config.mcp;
        let error = if text.contains("Origin") {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                format!(
                    "requests from the browser origin {} may not call /mcp (a defence against web pages driving this server); the operator can allow it in mcp.allowed_origins{}",
                    origin.as_deref().unwrap_or("(unreadable)"),
                    listed(&mcp.allowed_origins)
                ),
            )
        } else if text.contains("Host") {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "host_not_allowed",
                format!(
                    "/mcp does not answer to the host name {} (a defence against DNS rebinding); the operator can add it to mcp.allowed_hosts{}",
                    host.as_deref().unwrap_or("(missing)"),
                    listed(&mcp.allowed_hosts)
                ),
            )
        } else {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", text)
        };
        tracing::warn!(code = error.code, "mcp request refused: {}", error.message);
        return error.into_response();
    }
    if let Some((status, wait)) = slot.take() {
        *response.status_mut() = status;
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn header_text(request: &Request, name: header::HeaderName) -> Option<String> {
    request.headers().get(name).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(200)
            .collect()
    })
}

fn listed(values: &[String]) -> String {
    if values.is_empty() {
        " (empty now)".to_string()
    } else {
        format!(" (now: {})", values.join(", "))
    }
}
