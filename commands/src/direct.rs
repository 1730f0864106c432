//! The HTTP entry point's request: a run without chat parsing or rendering.

use std::time::Duration;

use coderunner_config::Profile;
use coderunner_runner::InputFile;

use crate::Identity;

/// Limits a caller asks for; they may lower the tier's defaults, or raise them up to its maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestedLimits {
    pub wall_time: Option<Duration>,
    /// Bytes.
    pub memory: Option<u64>,
}

/// One run asked for directly (HTTP API, other agents).
#[derive(Debug, Clone)]
pub struct DirectRun {
    pub who: Identity,
    /// The tier the caller runs as (from its API key).
    pub tier: String,
    /// A language name or alias.
    pub language: String,
    pub files: Vec<InputFile>,
    /// Which file is the program; `None` means the language's default `file`.
    pub main: Option<String>,
    pub stdin: Vec<u8>,
    pub args: Vec<String>,
    /// Environment variables for the program (checked like a chat ```env block).
    pub env: Vec<(String, String)>,
    /// The package set to run with (`config.environments`); `None`: the tier's default, if any.
    pub environment: Option<String>,
    pub limits: RequestedLimits,
    pub privileged: bool,
    /// Every limit, from a bot forwarding its run here: each is capped by the tier's ceiling
    /// (instead of `limits`).
    pub profile: Option<Profile>,
}
