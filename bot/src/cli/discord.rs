//! `coderunner discord`: connect to Discord.

use std::path::Path;
use std::process::ExitCode;

pub fn execute(_config: Option<&Path>) -> anyhow::Result<ExitCode> {
    super::not_built::say("discord")
}
