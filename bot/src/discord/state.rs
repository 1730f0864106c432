//! The data every command and event handler shares (poise's user data), and the poise type aliases.

use std::sync::Arc;

use coderunner_config::Config;

use super::attachments::HttpAttachments;
use super::identity::Directory;
use super::lifecycle::Lifecycle;
use super::reply::ReplyLimits;
use super::rerun::RerunBook;
use super::ChatHandler;

/// Shared by all handlers for the life of the connection.
pub(crate) struct Data {
    pub config: Arc<Config>,
    pub chat: Arc<dyn ChatHandler>,
    pub lifecycle: Arc<Lifecycle>,
    pub reruns: RerunBook,
    pub attachments: Arc<HttpAttachments>,
    pub directory: Directory,
    pub limits: ReplyLimits,
}

impl Data {
    /// The configured command prefix (`!` by default).
    pub fn prefix(&self) -> &str {
        &self.config.discord.prefix
    }
}

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Ctx<'a> = poise::Context<'a, Data, Error>;
pub(crate) type AppCtx<'a> = poise::ApplicationContext<'a, Data, Error>;
