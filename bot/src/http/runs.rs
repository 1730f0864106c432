//! `POST /v1/runs`: authenticate, cap, parse and check the body, run it through the pipeline and
//! answer with the RunOutcome JSON (output files inlined as base64 on `?files=inline`).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use base64::Engine as _;
use coderunner_commands::Progress;
use coderunner_runner::RunOutcome;
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::body;
use super::error::ApiError;
use super::metrics::Metrics;
use super::AppState;

/// Query parameters of `POST /v1/runs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// `inline` adds `content_base64` to each output file; `list` (default) gives only metadata.
    #[serde(default)]
    pub files: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<RunQuery>, QueryRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let result = handle(&state, &caller, query, raw).await;
    if let Err(e) = &result {
        state.metrics.refused(e.code);
        tracing::info!(key = %caller.name, status = e.status.as_u16(), error = e.code, "http run refused: {}", e.message);
    }
    result
}

async fn handle(
    state: &AppState,
    caller: &Caller,
    query: Result<Query<RunQuery>, QueryRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "{}; the only query parameter is `files=inline` or `files=list`",
                e.body_text()
            ),
        )
    })?;
    let inline = match query.files.as_deref() {
        None | Some("list") => false,
        Some("inline") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("files={other:?} is not understood; use files=inline to get output file contents, or files=list (the default)"),
            ))
        }
    };
    let raw = raw.map_err(|e| body_rejection(e, state.config.http.max_body.bytes()))?;
    let run = body::validate(body::parse(&raw)?, &state.config)?;
    check_version(state, &run)?;
    let language = run.language.clone();
    let progress = GaugeProgress::new(state.metrics.clone());
    let outcome = state.backend.run(caller, run, &progress).await?;
    drop(progress);
    let wall = outcome.wall_ms + outcome.compile.as_ref().map_or(0, |c| c.wall_ms);
    state.metrics.run_finished(
        &language,
        outcome.status.as_str(),
        Duration::from_millis(wall),
    );
    tracing::info!(key = %caller.name, %language, status = outcome.status.as_str(), wall_ms = wall, "http run finished");
    outcome_json(&outcome, inline).map(Json)
}

/// A 413 names the limit; anything else that stopped the body from arriving is a 400.
fn body_rejection(e: BytesRejection, limit: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is larger than the limit of {} ({limit} bytes, http.max_body); send smaller files or ask the operator to raise http.max_body",
                coderunner_config::ByteSize(limit)
            ),
        )
    } else {
        ApiError::bad_request(
            "unreadable_body",
            format!("the request body could not be read: {}", e.body_text()),
        )
    }
}

/// A requested `version` must be a prefix of what this host has (`3`, `3.11`, `3.11.2`).
fn check_version(state: &AppState, run: &body::ValidRun) -> Result<(), ApiError> {
    let Some(wanted) = run.version.as_deref() else {
        return Ok(());
    };
    let have = state
        .languages
        .iter()
        .find(|l| l.name == run.language)
        .and_then(|l| l.version.clone());
    let matches = have.as_deref().is_some_and(|have| {
        have == wanted || have.starts_with(&format!("{}.", wanted.trim_end_matches('.')))
    });
    if matches || wanted == "*" {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "unknown_version",
        match have {
            Some(have) => format!(
                "{} {wanted} is not available; this host has {} {have}. Leave version out or ask for a prefix of {have}",
                run.language, run.language
            ),
            None => format!(
                "{} {wanted} is not available: this host could not tell its {} version; leave version out",
                run.language, run.language
            ),
        },
    ))
}

/// The RunOutcome JSON, with `content_base64` per file when asked.
fn outcome_json(outcome: &RunOutcome, inline: bool) -> Result<Value, ApiError> {
    let mut value = serde_json::to_value(outcome).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("could not encode the outcome: {e}"),
        )
    })?;
    if inline {
        if let Some(files) = value.get_mut("files").and_then(Value::as_array_mut) {
            for (json, file) in files.iter_mut().zip(&outcome.files) {
                if let Some(obj) = json.as_object_mut() {
                    obj.insert(
                        "content_base64".into(),
                        Value::String(
                            base64::engine::general_purpose::STANDARD.encode(&file.content),
                        ),
                    );
                }
            }
        }
    }
    Ok(value)
}

const NEW: u8 = 0;
const QUEUED: u8 = 1;
const RUNNING: u8 = 2;

/// Keeps the queue-depth and in-progress gauges true for one request, including when the client
/// goes away mid-run (the handler future is dropped, and so is this).
struct GaugeProgress {
    metrics: Arc<Metrics>,
    phase: AtomicU8,
}

impl GaugeProgress {
    fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            phase: AtomicU8::new(NEW),
        }
    }

    fn enter(&self, next: u8) {
        let before = self.phase.swap(next, Ordering::SeqCst);
        if before == next {
            return;
        }
        self.leave(before);
        match next {
            QUEUED => self.metrics.queued_delta(true),
            RUNNING => self.metrics.running_delta(true),
            _ => {}
        }
    }

    fn leave(&self, phase: u8) {
        match phase {
            QUEUED => self.metrics.queued_delta(false),
            RUNNING => self.metrics.running_delta(false),
            _ => {}
        }
    }
}

impl Drop for GaugeProgress {
    fn drop(&mut self) {
        self.leave(self.phase.load(Ordering::SeqCst));
    }
}

#[async_trait::async_trait]
impl Progress for GaugeProgress {
    async fn queued(&self, _ahead: usize) {
        self.enter(QUEUED);
    }
    async fn running(&self) {
        self.enter(RUNNING);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coderunner_runner::{OutputFile, RunStatus};

    #[test]
    fn inline_adds_base64_only_when_asked() {
        let mut o = RunOutcome::sandbox_error("x");
        o.status = RunStatus::Exited;
        o.files.push(OutputFile {
            path: "out.bin".into(),
            size: 3,
            mime: "application/octet-stream".into(),
            content: vec![1, 2, 3],
        });
        let plain = outcome_json(&o, false).expect("json");
        assert!(plain["files"][0].get("content_base64").is_none());
        assert_eq!(plain["status"], "exited");
        let inline = outcome_json(&o, true).expect("json");
        assert_eq!(inline["files"][0]["content_base64"], "AQID");
        assert_eq!(inline["files"][0]["path"], "out.bin");
    }

    #[tokio::test]
    async fn gauges_follow_the_phases_and_drop() {
        let m = Arc::new(Metrics::default());
        let p = GaugeProgress::new(m.clone());
        p.queued(2).await;
        assert!(m.render().contains("coderunner_queue_depth 1"));
        p.running().await;
        let text = m.render();
        assert!(text.contains("coderunner_queue_depth 0"));
        assert!(text.contains("coderunner_runs_in_progress 1"));
        drop(p);
        assert!(m.render().contains("coderunner_runs_in_progress 0"));
    }
}
