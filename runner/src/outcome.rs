//! What a run produced: the RunOutcome JSON contract of DESIGN §3.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Exited,
    Signaled,
    Timeout,
    MemoryLimit,
    OutputLimit,
    CompileError,
    SandboxError,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Exited => "exited",
            RunStatus::Signaled => "signaled",
            RunStatus::Timeout => "timeout",
            RunStatus::MemoryLimit => "memory_limit",
            RunStatus::OutputLimit => "output_limit",
            RunStatus::CompileError => "compile_error",
            RunStatus::SandboxError => "sandbox_error",
        }
    }
}

/// A file the program created or changed in its working directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Relative to the working directory.
    pub path: String,
    pub size: u64,
    pub mime: String,
    /// The bytes; not part of the JSON contract (the HTTP API inlines them on request).
    #[serde(skip)]
    pub content: Vec<u8>,
}

/// The compile stage of a compiled language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileOutcome {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall_ms: u64,
}

/// The result of one run. Field names are a contract (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    /// e.g. `SIGSEGV`.
    pub signal: Option<String>,
    pub stdout: String,
    pub stderr: String,
    /// stdout and stderr interleaved in arrival order.
    pub output: String,
    pub truncated: bool,
    pub wall_ms: u64,
    pub cpu_ms: u64,
    pub peak_memory_bytes: Option<u64>,
    pub files: Vec<OutputFile>,
    pub compile: Option<CompileOutcome>,
    pub error: Option<String>,
}

impl RunOutcome {
    /// An outcome for a run the sandbox could not carry out.
    pub fn sandbox_error(message: impl Into<String>) -> Self {
        RunOutcome {
            status: RunStatus::SandboxError,
            exit_code: None,
            signal: None,
            stdout: String::new(),
            stderr: String::new(),
            output: String::new(),
            truncated: false,
            wall_ms: 0,
            cpu_ms: 0,
            peak_memory_bytes: None,
            files: Vec::new(),
            compile: None,
            error: Some(message.into()),
        }
    }
}
