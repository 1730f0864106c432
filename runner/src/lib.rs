//! Runs a RunRequest in a locked-down sandbox and returns a RunOutcome.

mod outcome;
mod request;

pub use outcome::{CompileOutcome, OutputFile, RunOutcome, RunStatus};
pub use request::{InputFile, RunRequest};

/// Why the runner could not carry out a run at all (as opposed to the program failing).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("the sandbox could not start: {0}")]
    Sandbox(String),
    #[error("remote runner: {0}")]
    Remote(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Something that runs code: the local sandbox, or a pool of remote `coderunner serve` nodes.
#[async_trait::async_trait]
pub trait Runner: Send + Sync {
    async fn run(&self, request: RunRequest) -> Result<RunOutcome, RunnerError>;
}
