//! The console frontend: a chat on stdin/stdout. Replies are printed exactly as they would be
//! posted; reply attachments are saved under `--out` and their paths printed.
//!
//! Directives (on a line of their own, outside a message): `:attach PATH` attaches a local file
//! to the next message, `:as USER [ROLE,ROLE]` switches identity, `:help`, `:quit`.

mod files;
mod reader;
mod session;

use std::path::PathBuf;

use coderunner_commands::Pipeline;

pub use files::{attach, LocalFiles};
pub use reader::{scan_fences, starts_fence};
pub use session::Session;

/// How the console runs.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// Where reply attachments are saved.
    pub out: PathBuf,
    /// Print the one-line banner first (when `coderunner` opens the console by default).
    pub banner: bool,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            out: PathBuf::from("coderunner-out"),
            banner: false,
        }
    }
}

/// The one-line banner.
pub fn banner(prefix: &str, out: &std::path::Path) -> String {
    format!(
        "coderunner console — type {prefix}run py then a ```code block``` ({prefix}help for more); :as USER ROLE,ROLE switches identity, :attach FILE attaches a file, Ctrl-D quits; reply files go to {}/",
        out.display()
    )
}

/// Serve the console on this process's stdin and stdout until EOF or `:quit`.
pub async fn run(pipeline: Pipeline, options: ConsoleOptions) -> anyhow::Result<()> {
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let mut out = std::io::stdout();
    if options.banner {
        println!(
            "{}",
            banner(&pipeline.config().discord.prefix, &options.out)
        );
    }
    let lines = session::stdin_lines();
    let mut session = Session::new(pipeline, options.out, interactive);
    session.serve(lines, &mut out).await
}
