//! `coderunner serve`: the HTTP API.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

pub fn execute(_config: Option<&Path>, _listen: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    super::not_built::say("serve")
}
