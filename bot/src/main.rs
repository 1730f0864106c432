//! The `coderunner` binary: parses the command line and starts the chosen frontend or tool.

use std::process::ExitCode;

use clap::Parser;

use coderunner::cli::Cli;

fn main() -> ExitCode {
    // The runner starts this same executable as its sandbox helper when no `coderunner-sandbox`
    // sits beside it; that must happen before anything else, while the process is single-threaded.
    if coderunner_runner::helper::started_as_helper() {
        std::process::exit(coderunner_runner::helper::main());
    }
    coderunner_runner::helper::embed();
    let cli = Cli::parse();
    let quiet = coderunner::cli::starts_console(&cli) && !cli.verbose;
    coderunner::cli::init_logging(cli.log_format, quiet);
    match coderunner::cli::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
