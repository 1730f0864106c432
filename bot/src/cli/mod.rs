//! Command-line interface: global options, subcommands and their dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use coderunner_config::Config;

mod check_config;
mod console;
mod discord;
mod doctor;
mod doctor_pool;
mod env;
mod languages;
mod mcp;
mod not_built;
mod run;
mod serve;
mod table;

/// coderunner runs people's code safely, from Discord, a local console or an HTTP API.
#[derive(Debug, Parser)]
#[command(name = "coderunner", version, about)]
pub struct Cli {
    /// Config file (default: the embedded default config).
    #[arg(long, global = true, env = "CODERUNNER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format on stderr. The level comes from RUST_LOG (default: info).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Show the INFO log lines in the console too (by default the console, a conversation,
    /// shows only warnings and errors; RUST_LOG overrides both).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect to Discord (token from the configured environment variable).
    Discord,
    /// A local chat: type `!run py` and a code block, read the reply.
    Console {
        /// Where reply attachments are saved.
        #[arg(long, default_value = "coderunner-out")]
        out: PathBuf,
    },
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on (default: http.listen from the config).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Serve MCP on stdin/stdout, for an AI agent (Claude, Cursor, VS Code...) that starts it.
    Mcp,
    /// Run one file in the sandbox and print the outcome.
    Run(RunArgs),
    /// Check a config file and print a summary or the errors.
    CheckConfig {
        /// The file to check (default: --config, else the embedded default).
        path: Option<PathBuf>,
    },
    /// Config utilities.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Package sets (`config.environments`): build them from the package index.
    #[command(subcommand)]
    Env(EnvCommand),
    /// List the configured languages and whether this host has them.
    Languages,
    /// Report which protections this host gives the sandbox, measured live.
    Doctor,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Install the package sets (or only NAME) into the data directory with pip; sets that are
    /// up to date are left alone.
    Build {
        /// The set to build (default: every set of the config).
        name: Option<String>,
        /// Rebuild even when the set is up to date.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the embedded default config (the reference for every key).
    PrintDefault,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Language (default: inferred from the file's extension).
    #[arg(long)]
    pub lang: Option<String>,
    /// Tier whose default profile sets the limits.
    #[arg(long)]
    pub tier: Option<String>,
    /// File whose content is the program's standard input.
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Package set to run with (`config.environments`); `none` for none. Default: the tier's.
    #[arg(long = "env", value_name = "SET")]
    pub env_set: Option<String>,
    /// Print the RunOutcome JSON.
    #[arg(long)]
    pub json: bool,
    /// The program, or `-` for standard input.
    pub file: PathBuf,
    /// Arguments passed to the program (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Whether this command line starts the console (explicitly, or by default without a token).
pub fn starts_console(cli: &Cli) -> bool {
    match &cli.command {
        Some(Command::Console { .. }) => true,
        None => std::env::var_os("DISCORD_TOKEN").is_none(),
        Some(_) => false,
    }
}

/// Set up tracing on stderr; RUST_LOG sets the level (default: info, and warn in the console
/// unless `-v`, so its conversation is not interleaved with log lines).
pub fn init_logging(format: LogFormat, quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Load the config named by `--config`/`CODERUNNER_CONFIG`, or the embedded default.
pub fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Config::load(p).with_context(|| format!("loading config {}", p.display())),
        None => Config::embedded_default().context("loading the embedded default config"),
    }
}

/// Run the chosen subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    match cli.command {
        Some(Command::Config(ConfigCommand::PrintDefault)) => {
            print!("{}", coderunner_config::DEFAULT_YAML);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Discord) => discord::execute(config),
        Some(Command::Console { out }) => console::execute(config, out, false),
        Some(Command::Serve { listen }) => serve::execute(config, listen),
        Some(Command::Mcp) => mcp::execute(config),
        Some(Command::Run(args)) => run::execute(config, args),
        Some(Command::Env(EnvCommand::Build { name, force })) => {
            env::build(config, name.as_deref(), force)
        }
        Some(Command::CheckConfig { path }) => check_config::execute(path.as_deref().or(config)),
        Some(Command::Languages) => languages::execute(config),
        Some(Command::Doctor) => doctor::execute(config),
        None => start_default(config),
    }
}

/// No subcommand: Discord when the token variable is set, otherwise the console.
fn start_default(config_path: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let token_env = &config.discord.token_env;
    if std::env::var_os(token_env).is_some_and(|v| !v.is_empty()) {
        eprintln!("coderunner: {token_env} is set, connecting to Discord");
        discord::execute(config_path)
    } else {
        eprintln!("coderunner: {token_env} is not set, opening the local console");
        console::execute(
            config_path,
            std::path::PathBuf::from("coderunner-out"),
            true,
        )
    }
}
