//! `/v1/sessions`: notebook sessions for programs. A session belongs to the API key that made it;
//! any other key gets 404 for its id. A cell answers with the run outcome's fields plus
//! `display` (text/plain, text/html, image/png in base64) and `notes`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use coderunner_commands::{Identity, NoProgress, Platform, RequestedLimits};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::body::LimitsBody;
use super::error::ApiError;
use super::pipeline_backend::refusal_to_api;
use super::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CellBody {
    code: String,
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    limits: Option<LimitsBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    language: Option<String>,
}

fn who(caller: &Caller) -> Identity {
    Identity {
        platform: Platform::Http,
        user_id: caller.name.clone(),
        display: caller.name.clone(),
        roles: Vec::new(),
    }
}

fn pipeline(state: &AppState) -> Result<&std::sync::Arc<coderunner_commands::Pipeline>, ApiError> {
    state
        .pipeline
        .as_ref()
        .filter(|p| p.sessions().is_some())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "no_sessions",
                "this server keeps no sessions (it sends runs to remote nodes); use POST /v1/runs",
            )
        })
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "session_not_found",
        format!(
            "there is no session `{}` for this API key; create one with POST /v1/sessions",
            id.chars().take(64).collect::<String>()
        ),
    )
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = pipeline(&state)?;
    let raw = raw.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    let body: CreateBody = if raw.iter().all(u8::is_ascii_whitespace) {
        CreateBody::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                format!("{e}; the body is empty or {{\"language\": \"python\"}}"),
            )
        })?
    };
    if let Some(l) = body.language.as_deref() {
        let python = state.config.find_language(l).map(|(n, _)| n);
        if python != Some("python") {
            return Err(ApiError::bad_request(
                "unknown_language",
                format!("sessions are for Python only, not `{}`; other languages run one-shot with POST /v1/runs", l.chars().take(40).collect::<String>()),
            ));
        }
    }
    let id = p
        .session_create(&who(&caller), &caller.tier)
        .map_err(refusal_to_api)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "language": "python", "live": false})),
    ))
}

pub async fn run_cell(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = pipeline(&state)?;
    let raw = raw.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    let body: CellBody = serde_json::from_slice(&raw).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("{e}; send {{\"code\": \"...\", \"stdin\"?: \"...\", \"limits\"?: {{\"wall_time\": \"5s\"}}}}"),
        )
    })?;
    let limits = body.limits.unwrap_or_default();
    let requested = RequestedLimits {
        wall_time: limits.wall_time.map(|d| d.as_duration()),
        memory: limits.memory.map(|m| m.bytes()),
    };
    let reply = p
        .session_cell(
            &who(&caller),
            &caller.tier,
            &id,
            body.code,
            body.stdin.unwrap_or_default(),
            requested,
            &NoProgress,
        )
        .await
        .map_err(refusal_to_api)?
        .ok_or_else(|| not_found(&id))?;
    let mut v = serde_json::to_value(&reply.cell.outcome)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    if let Value::Object(map) = &mut v {
        map.insert("display".into(), json!(reply.cell.display));
        map.insert("notes".into(), json!(reply.notes));
        map.insert("session_ended".into(), json!(reply.cell.ended));
    }
    Ok(Json(v))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = pipeline(&state)?;
    let info = p
        .session_info(&who(&caller), &id)
        .await
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({
        "id": id,
        "language": "python",
        "live": info.live,
        "python": info.python,
        "age_ms": info.age.map(|d| d.as_millis() as u64),
        "idle_ms": info.idle.as_millis() as u64,
        "memory_used_bytes": info.memory_used,
        "memory_limit_bytes": info.memory_limit,
        "variables": info.variables,
    })))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let p = pipeline(&state)?;
    if p.session_close(&who(&caller), &id).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}
