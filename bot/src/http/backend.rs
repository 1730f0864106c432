//! What the HTTP API runs requests on: the chat pipeline entered at `access` (so keys get the same
//! tiers, limits, queue and audit as chat), behind a small trait the handlers depend on.

use coderunner_commands::{AiOutcome, AiRequest, Progress};
use coderunner_runner::RunOutcome;

use super::auth::Caller;
use super::body::ValidRun;
use super::error::ApiError;

/// Runs a validated request as `caller`, or refuses it with the status the client should see.
#[async_trait::async_trait]
pub trait RunBackend: Send + Sync {
    async fn run(
        &self,
        caller: &Caller,
        run: ValidRun,
        progress: &dyn Progress,
    ) -> Result<RunOutcome, ApiError>;

    /// An AI assist command (`POST /v1/ai/...`); backends without a pipeline have none.
    async fn ai(
        &self,
        _request: AiRequest,
        _progress: &dyn Progress,
    ) -> Result<AiOutcome, ApiError> {
        Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "ai_off",
            "this server runs no AI assist",
        ))
    }
}
