//! The MCP server: AI agents (Claude, Cursor, IDE assistants) run code through coderunner over the
//! Model Context Protocol, on stdio (`coderunner mcp`) or streamable HTTP (`/mcp` on `serve`).
//!
//! Tool calls enter the same pipeline as every other frontend (`Pipeline::run_direct`: access,
//! limits, queue, audit with frontend `mcp`); this module only translates arguments and results.

mod args;
mod caller;
mod gate;
mod result;
mod schema;
mod server;
mod stdio;
mod trim;

pub use caller::{StatusSlot, Who};
pub use gate::{gate, http_service};
pub use server::CodeRunnerMcp;
pub use stdio::serve_stdio;
