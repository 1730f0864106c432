//! The fake's REST API (`/api/v10/...`) and attachment downloads (`/attachments/...`): every
//! request is recorded, multipart bodies parsed, and answered like Discord would.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::multipart;
use super::payloads::{self, User};
use super::{Call, State};

fn reply(status: StatusCode, body: Value) -> Response {
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"message": "Unknown", "code": 10003}),
    )
}

/// Record and answer one request.
pub(super) async fn handle(
    AxumState(state): AxumState<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if let Some(rest) = path.strip_prefix("/attachments/") {
        return serve_attachment(&state, rest);
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut call = Call {
        method: method.to_string(),
        path: path.clone(),
        content_type: content_type.clone(),
        json: None,
        payload_json: None,
        files: Vec::new(),
        status: 0,
    };
    match multipart::boundary(&content_type) {
        Some(b) => {
            let parts = multipart::parse(&body, &b);
            call.payload_json = parts.payload_json;
            call.files = parts.files;
        }
        None if !body.is_empty() => call.json = serde_json::from_slice(&body).ok(),
        None => {}
    }
    let (status, answer) = route(&state, &method, &path, &call);
    call.status = status.as_u16();
    state.record(call);
    reply(status, answer)
}

fn serve_attachment(state: &State, rest: &str) -> Response {
    state
        .fetches
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    match state.hosted(rest) {
        Some(bytes) => (
            StatusCode::OK,
            [("content-type", "application/octet-stream")],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The body the bot sent: JSON, or the payload_json part of a multipart body.
fn payload(call: &Call) -> Value {
    call.payload_json
        .clone()
        .or_else(|| call.json.clone())
        .unwrap_or(Value::Null)
}

/// Attachments of a message the bot posted, as Discord would list them.
fn uploaded(state: &State, call: &Call) -> Vec<Value> {
    call.files
        .iter()
        .map(|f| {
            let id = state.ids.next();
            payloads::attachment(
                id,
                &f.filename,
                f.content.len() as u64,
                &format!("{}/attachments/{id}/{}", state.base(), f.filename),
            )
        })
        .collect()
}

fn bot_message(state: &State, channel: u64, call: &Call) -> Value {
    let body = payload(call);
    let content = body["content"].as_str().unwrap_or("");
    let id = state.ids.next();
    let msg = payloads::message(
        id,
        channel,
        Some(state.guild),
        &state.bot_user(),
        content,
        uploaded(state, call),
    );
    state.store_message(id, msg.clone());
    msg
}

fn edit_message(state: &State, id: u64, channel: u64, call: &Call) -> (StatusCode, Value) {
    let body = payload(call);
    let mut msg = state.message(id).unwrap_or_else(|| {
        payloads::message(
            id,
            channel,
            Some(state.guild),
            &state.bot_user(),
            "",
            vec![],
        )
    });
    if let Some(content) = body.get("content").and_then(Value::as_str) {
        msg["content"] = json!(content);
    }
    if !call.files.is_empty() || body.get("attachments").is_some() {
        msg["attachments"] = json!(uploaded(state, call));
    }
    msg["edited_timestamp"] = json!(payloads::now_iso());
    state.store_message(id, msg.clone());
    (StatusCode::OK, msg)
}

fn num(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn route(state: &State, method: &Method, path: &str, call: &Call) -> (StatusCode, Value) {
    let Some(api) = path.strip_prefix("/api/v10/") else {
        return not_found();
    };
    let seg: Vec<&str> = api.split('/').collect();
    let is_reply_post = *method == Method::POST
        && (matches!(seg.as_slice(), ["channels", _, "messages"])
            || matches!(seg.as_slice(), ["webhooks", _, _]));
    if is_reply_post && state.take_failure() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "500: Internal Server Error", "code": 0}),
        );
    }
    match (method.as_str(), seg.as_slice()) {
        ("GET", ["gateway"]) => (StatusCode::OK, json!({"url": state.gateway_url()})),
        ("GET", ["gateway", "bot"]) => (
            StatusCode::OK,
            json!({"url": state.gateway_url(), "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}}),
        ),
        ("GET", ["users", "@me"]) => {
            if state.token_rejected() {
                (
                    StatusCode::UNAUTHORIZED,
                    json!({"message": "401: Unauthorized", "code": 0}),
                )
            } else {
                (StatusCode::OK, state.bot_user().json())
            }
        }
        ("GET", ["oauth2", "applications", "@me"]) => (
            StatusCode::OK,
            json!({"id": state.app.to_string(), "name": "coderunner", "icon": null, "description": "",
                "bot_public": true, "bot_require_code_grant": false, "verify_key": "", "flags": 0,
                "owner": state.bot_user().json()}),
        ),
        ("PUT", ["applications", _, "commands"])
        | ("PUT", ["applications", _, "guilds", _, "commands"]) => {
            let commands = call.json.clone().unwrap_or(json!([]));
            let registered: Vec<Value> = commands
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    c["id"] = json!(state.ids.next().to_string());
                    c["application_id"] = json!(state.app.to_string());
                    c["version"] = json!("1");
                    c["default_member_permissions"] = Value::Null;
                    c["type"] = c.get("type").cloned().unwrap_or(json!(1));
                    c["description"] = c.get("description").cloned().unwrap_or(json!(""));
                    c
                })
                .collect();
            (StatusCode::OK, json!(registered))
        }
        ("GET", ["guilds", g, "roles"]) if num(g) == Some(state.guild) => {
            (StatusCode::OK, json!(state.roles_json(state.guild)))
        }
        ("GET", ["guilds", g, "roles"]) if num(g) == Some(super::OTHER_GUILD) => {
            (StatusCode::OK, json!(state.roles_json(super::OTHER_GUILD)))
        }
        ("GET", ["channels", c]) => match num(c).and_then(|c| state.channel_json(c)) {
            Some(ch) => (StatusCode::OK, ch),
            None => not_found(),
        },
        ("POST", ["channels", _, "typing"]) => (StatusCode::NO_CONTENT, Value::Null),
        ("POST", ["channels", c, "messages"]) => match num(c) {
            Some(c) => (StatusCode::OK, bot_message(state, c, call)),
            None => not_found(),
        },
        ("GET", ["channels", _, "messages", m]) => match num(m).and_then(|m| state.message(m)) {
            Some(msg) => (StatusCode::OK, msg),
            None => not_found(),
        },
        ("PATCH", ["channels", c, "messages", m]) => match (num(c), num(m)) {
            (Some(c), Some(m)) => edit_message(state, m, c, call),
            _ => not_found(),
        },
        ("DELETE", ["channels", _, "messages", m]) => {
            if let Some(m) = num(m) {
                state.remove_message(m);
            }
            (StatusCode::NO_CONTENT, Value::Null)
        }
        ("PUT", ["channels", _, "messages", _, "reactions", _, "@me"]) => {
            (StatusCode::NO_CONTENT, Value::Null)
        }
        ("POST", ["interactions", _, _, "callback"]) => (StatusCode::NO_CONTENT, Value::Null),
        ("POST", ["webhooks", _, token]) => {
            let msg = bot_message(state, state.channel, call);
            state.link_webhook(token, "followup", &msg);
            (StatusCode::OK, msg)
        }
        ("GET", ["webhooks", _, token, "messages", "@original"]) => {
            match state.webhook_message(token, "@original") {
                Some(m) => (StatusCode::OK, m),
                None => (
                    StatusCode::OK,
                    bot_message(state, state.channel, &Call::default()),
                ),
            }
        }
        ("PATCH", ["webhooks", _, token, "messages", which]) => {
            let id = if *which == "@original" {
                state
                    .webhook_message(token, "@original")
                    .and_then(|m| m["id"].as_str().and_then(num))
            } else {
                num(which)
            };
            let id = id.unwrap_or_else(|| state.ids.next());
            let (status, msg) = edit_message(state, id, state.channel, call);
            if *which == "@original" {
                state.link_webhook(token, "@original", &msg);
            }
            (status, msg)
        }
        ("DELETE", ["webhooks", _, _, "messages", m]) => {
            if let Some(m) = num(m) {
                state.remove_message(m);
            }
            (StatusCode::NO_CONTENT, Value::Null)
        }
        _ => not_found(),
    }
}

impl State {
    fn bot_user(&self) -> User {
        let mut u = User::new(self.bot, "coderunner", &[]);
        u.bot = true;
        u
    }
}
