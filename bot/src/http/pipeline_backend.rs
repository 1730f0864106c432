//! The real backend: an API key's request becomes a `DirectRun` through the chat pipeline, and a
//! pipeline refusal becomes its HTTP status (403, 429, 503 with Retry-After, 400).

use std::sync::Arc;

use axum::http::StatusCode;
use coderunner_commands::{
    AiOutcome, AiRequest, DirectRun, Identity, Pipeline, Platform, Progress, Refusal, RefusalKind,
    RequestedLimits,
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
            env: run.env,
            environment: run.environment,
            limits: RequestedLimits {
                wall_time: run.limits.wall_time.map(|d| d.as_duration()),
                memory: run.limits.memory.map(|m| m.bytes()),
            },
            privileged: run.privileged,
            profile: run.profile,
        };
        self.pipeline
            .run_direct(request, progress)
            .await
            .map_err(refusal_to_api)
    }

    async fn ai(&self, request: AiRequest, progress: &dyn Progress) -> Result<AiOutcome, ApiError> {
        self.pipeline
            .ai(request, progress)
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
        RefusalKind::AiOff => (StatusCode::SERVICE_UNAVAILABLE, "ai_off"),
        RefusalKind::AiFailed => (StatusCode::BAD_GATEWAY, "ai_failed"),
    };
    let mut error = ApiError::new(status, code, api_wording(&refusal.message));
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

/// The pipeline words refusals for chat (`--timeout=30`); an API client sets JSON fields instead.
fn api_wording(message: &str) -> String {
    let mut out = message.replace("`--privileged`", "`\"privileged\": true`");
    for (flag, field, unit) in [
        ("`--timeout=", "limits.wall_time", "s"),
        ("`--memory=", "limits.memory", ""),
    ] {
        while let Some(start) = out.find(flag) {
            let value_start = start + flag.len();
            let Some(len) = out[value_start..].find('`') else {
                break;
            };
            let value = out[value_start..value_start + len].to_string();
            let replacement = format!("`{field}: \"{value}{unit}\"`");
            out.replace_range(start..value_start + len + 1, &replacement);
        }
    }
    out.replace("`--memory`", "`limits.memory`")
        .replace("`--timeout`", "`limits.wall_time`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_flags_become_api_fields() {
        assert_eq!(
            api_wording("`--timeout=30` is more than the `member` tier allows (at most 10 s); use `--timeout=10` or less"),
            "`limits.wall_time: \"30s\"` is more than the `member` tier allows (at most 10 s); use `limits.wall_time: \"10s\"` or less"
        );
        assert_eq!(
            api_wording("`--memory=1GiB` is more than the `member` tier allows (at most 256 MiB); use `--memory=256MiB` or less"),
            "`limits.memory: \"1GiB\"` is more than the `member` tier allows (at most 256 MiB); use `limits.memory: \"256MiB\"` or less"
        );
        assert_eq!(
            api_wording("`--privileged` is for admins only"),
            "`\"privileged\": true` is for admins only"
        );
        assert_eq!(
            api_wording("`--memory` must be at least 16 MiB"),
            "`limits.memory` must be at least 16 MiB"
        );
        assert_eq!(api_wording("busy, try again"), "busy, try again");
    }

    #[test]
    fn refusals_map_to_statuses_with_retry_after() {
        let e = refusal_to_api(Refusal {
            kind: RefusalKind::RateLimited,
            message: "slow down".into(),
            retry_after: Some(std::time::Duration::from_millis(2500)),
        });
        assert_eq!(
            (e.status, e.retry_after_secs()),
            (StatusCode::TOO_MANY_REQUESTS, Some(3))
        );
        let e = refusal_to_api(Refusal::new(RefusalKind::Busy, "full"));
        assert_eq!(
            (e.status, e.retry_after_secs()),
            (StatusCode::SERVICE_UNAVAILABLE, Some(1))
        );
        let e = refusal_to_api(Refusal::not_allowed("no"));
        assert_eq!(
            (e.status, e.retry_after_secs()),
            (StatusCode::FORBIDDEN, None)
        );
        let e = refusal_to_api(Refusal::new(RefusalKind::UnknownLanguage, "?"));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "unknown_language")
        );
    }
}
