//! The `coderunner` binary: parses the command line and starts the chosen frontend or tool.

use std::process::ExitCode;

use clap::Parser;

use coderunner::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    coderunner::cli::init_logging(cli.log_format);
    match coderunner::cli::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
