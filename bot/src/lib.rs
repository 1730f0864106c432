//! coderunner: a chat bot that runs people's code safely. Frontends (Discord, console, HTTP, MCP) and the CLI.

pub mod agent;
pub mod cli;
pub mod console;
pub mod discord;
pub mod http;
pub mod mcp;
pub mod remote_runner;
