//! `POST /v1/ai/explain|fix|ask|tests`: AI assist for API clients, with the same tiers, AI rate
//! limit, sandbox and audit as chat. explain/fix/tests take the program (it is run first, so the
//! model sees its real output); ask takes a question. The answer is the AiOutcome JSON.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use coderunner_commands::{AiKind, AiRequest, Identity, NoProgress, Place, Platform};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;

/// The body of every AI route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiBody {
    /// The program's language (explain/fix/tests), or the language to write in (ask).
    #[serde(default)]
    pub language: Option<String>,
    /// The program (explain/fix/tests).
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub stdin: Option<String>,
    /// The request in plain words (ask).
    #[serde(default)]
    pub question: Option<String>,
}

pub async fn handle(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(command): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let kind = match command.as_str() {
        "explain" => AiKind::Explain,
        "fix" => AiKind::Fix,
        "ask" => AiKind::Ask,
        "tests" => AiKind::Tests,
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("there is no AI command `{other}`; use explain, fix, ask or tests"),
            ))
        }
    };
    let raw = raw.map_err(|e| ApiError::bad_request("unreadable_body", e.body_text()))?;
    let body: AiBody = serde_json::from_slice(&raw).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not a valid AI request: {e}; send {{\"language\", \"code\", \"stdin\"}} or {{\"question\"}}"),
        )
    })?;
    if kind == AiKind::Ask {
        if body.question.as_deref().is_none_or(|q| q.trim().is_empty()) {
            return Err(ApiError::bad_request(
                "missing_question",
                "`question` is required: what the program should do, in plain words",
            ));
        }
    } else if body.code.as_deref().is_none_or(|c| c.trim().is_empty()) || body.language.is_none() {
        return Err(ApiError::bad_request(
            "missing_code",
            format!("`language` and `code` are required for {command}"),
        ));
    }
    let request = AiRequest {
        who: Identity {
            platform: Platform::Http,
            user_id: caller.name.clone(),
            display: caller.name.clone(),
            roles: Vec::new(),
        },
        place: Place::default(),
        tier: Some(caller.tier.clone()),
        kind,
        language: body.language,
        code: body.code,
        stdin: body.stdin.unwrap_or_default(),
        question: body.question.unwrap_or_default(),
        reply_to: None,
    };
    let outcome = state.backend.ai(request, &NoProgress).await?;
    tracing::info!(key = %caller.name, command = %command, "http AI call finished");
    serde_json::to_value(&outcome)
        .map(Json)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}
