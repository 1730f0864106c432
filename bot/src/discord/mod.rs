//! The Discord frontend: serenity + poise wiring that turns Discord messages and interactions into
//! pipeline `Incoming`s and posts the replies. The only module allowed to import serenity/poise.

mod attachments;
mod commands;
mod connect;
mod context_menu;
mod events;
mod feedback;
mod identity;
mod lifecycle;
mod reply;
mod rerun;
mod state;
mod surface;
mod text;

use std::sync::Arc;

use coderunner_commands::{Incoming, Pipeline, Progress, Reply};
use coderunner_config::Config;

pub use connect::{require_token, StartError};

/// What the Discord frontend needs from the chat pipeline: handle one message, shut down.
///
/// A seam rather than the concrete pipeline so this module's wiring does not care how the
/// pipeline is assembled (local runner, remote runner pool).
#[async_trait::async_trait]
pub trait ChatHandler: Send + Sync {
    /// Handle one message; `None` when it was not addressed to the bot.
    async fn handle(&self, incoming: Incoming, progress: &dyn Progress) -> Option<Reply>;
    /// The answer to `incoming` was posted as message `reply` (so a reply to it can find the run).
    fn replied(&self, incoming: &Incoming, reply: u64);
    /// Stop accepting work, end running jobs and flush the audit log.
    async fn shutdown(&self);
}

#[async_trait::async_trait]
impl ChatHandler for Pipeline {
    async fn handle(&self, incoming: Incoming, progress: &dyn Progress) -> Option<Reply> {
        Pipeline::handle(self, incoming, progress).await
    }
    fn replied(&self, incoming: &Incoming, reply: u64) {
        Pipeline::replied(self, incoming, reply);
    }
    async fn shutdown(&self) {
        Pipeline::shutdown(self).await;
    }
}

/// Connect to Discord and serve the pipeline until SIGTERM/Ctrl-C (graceful) or a fatal
/// gateway error (rejected token, refused intents).
pub async fn run(config: Arc<Config>, pipeline: Arc<Pipeline>) -> anyhow::Result<()> {
    run_with(config, pipeline).await
}

/// Connect to Discord and serve `chat` until SIGTERM/Ctrl-C (graceful) or a fatal gateway error.
pub async fn run_with(config: Arc<Config>, chat: Arc<dyn ChatHandler>) -> anyhow::Result<()> {
    connect::serve(config, chat).await
}
