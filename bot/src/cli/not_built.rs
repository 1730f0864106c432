//! The answer of a subcommand whose issue has not landed yet.

use std::process::ExitCode;

/// Say clearly that `name` is not built yet, and fail.
// Unused once every frontend has landed; kept until the last committed caller is gone.
#[allow(dead_code)]
pub fn say(name: &str) -> anyhow::Result<ExitCode> {
    eprintln!("coderunner {name}: not built yet in this version");
    Ok(ExitCode::from(2))
}
