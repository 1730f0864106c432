//! Runs a RunRequest in a locked-down sandbox and returns a RunOutcome.
//!
//! Parent side (this library, async): [`LocalRunner`] with `spawn` (helper process, deadline,
//! kill), `output` (bounded capture), `cgroup`, `workdir` and `files` (inputs, outputs).
//! Child side: [`helper`], the single-threaded `coderunner-sandbox` binary's code.

mod cgroup;
mod files;
pub mod helper;
pub mod host;
mod local;
mod mime;
mod outcome;
mod output;
mod owner;
pub mod packages;
mod plan;
mod pool;
mod protocol;
mod request;
mod seccomp;
pub mod session;
mod spawn;
mod stage;
mod status;
mod uids;
pub mod user_env;
mod workdir;
mod zygote;

pub use files::{
    validate_input_path, validate_input_set, FileNameError, MAX_PATH_BYTES, MAX_PATH_DEPTH,
};
pub use local::{LocalRunner, SandboxSummary};
pub use mime::guess_mime;
pub use outcome::{CompileOutcome, OutputFile, RunOutcome, RunStatus};
pub use packages::PackageMount;
pub use pool::{PoolReport, SlotMemory, ZygoteReport};
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
