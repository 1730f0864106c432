//! `coderunner console`: the local chat frontend.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn execute(_config: Option<&Path>, _out: PathBuf, _banner: bool) -> anyhow::Result<ExitCode> {
    super::not_built::say("console")
}
