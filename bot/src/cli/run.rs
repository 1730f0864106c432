//! `coderunner run`: one file through the sandbox, printed as a summary or RunOutcome JSON.

use std::path::Path;
use std::process::ExitCode;

use super::RunArgs;

pub fn execute(_config: Option<&Path>, _args: RunArgs) -> anyhow::Result<ExitCode> {
    super::not_built::say("run")
}
