//! The real backend: an API key's request becomes a `DirectRun` through the chat pipeline, and a
//! pipeline refusal becomes its HTTP status (403, 429, 503 with Retry-After, 400).

use std::sync::Arc;

use axum::http::StatusCode;
use coderunner_commands::{
    DirectRun, Identity, Pipeline, Platform, Progress, Refusal, RefusalKind, RequestedLimits,
};
use coderunner_runner::RunOutcome;

use super::auth::Caller;
use super::backend::RunBackend;
use super::body::ValidRun;
use super::error::ApiError;

pub struct PipelineBackend {
    pipeline: Arc<Pipeline>,
}

impl PipelineBackend {
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Self { pipeline }
    }
}

#[async_trait::async_trait]
impl RunBackend for PipelineBackend {
    async fn run(
        &self,
        caller: &Caller,
        run: ValidRun,
        progress: &dyn Progress,
    ) -> Result<RunOutcome, ApiError> {
        let request = DirectRun {
            who: Identity {
                platform: Platform::Http,
                user_id: caller.name.clone(),
                display: caller.name.clone(),
                roles: Vec::new(),
            },
            tier: caller.tier.clone(),
            language: run.language,
            files: run.files,
            main: Some(run.main),
            stdin: run.stdin,
            args: run.args,
            limits: RequestedLimits {
                wall_time: run.limits.wall_time.map(|d| d.as_duration()),
                memory: run.limits.memory.map(|m| m.bytes()),
            },
            privileged: run.privileged,
        };
        self.pipeline
            .run_direct(request, progress)
            .await
            .map_err(refusal_to_api)
    }
}

/// The HTTP face of a pipeline refusal.
pub fn refusal_to_api(refusal: Refusal) -> ApiError {
    let (status, code) = match refusal.kind {
        RefusalKind::NotAllowed => (StatusCode::FORBIDDEN, "not_allowed"),
        RefusalKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        RefusalKind::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        RefusalKind::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
        RefusalKind::UnknownLanguage => (StatusCode::BAD_REQUEST, "unknown_language"),
    };
    let mut error = ApiError::new(status, code, refusal.message);
    let wait = refusal.retry_after.or(match refusal.kind {
        // A client told 429/503 without a time would guess; one second is a safe floor.
        RefusalKind::RateLimited | RefusalKind::Busy => Some(std::time::Duration::from_secs(1)),
        _ => None,
    });
    if let Some(wait) = wait {
        error = error.with_retry_after(wait);
    }
    error
}
