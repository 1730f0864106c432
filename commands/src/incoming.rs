//! What a frontend hands the pipeline (a chat message) and what it gets back (a reply).

use std::sync::Arc;

/// Which frontend a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Discord,
    Console,
    Http,
    /// An AI agent over the Model Context Protocol (`coderunner mcp`, or `/mcp` on `serve`).
    Mcp,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Discord => "discord",
            Platform::Console => "console",
            Platform::Http => "http",
            Platform::Mcp => "mcp",
        }
    }
}

/// A role a member holds: its id where the platform has ids, and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: Option<u64>,
    pub name: String,
}

/// Who sent the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub platform: Platform,
    pub user_id: String,
    pub display: String,
    pub roles: Vec<Role>,
}

/// Where the message was sent. A thread carries its parent channel so allowlists can inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub guild: Option<u64>,
    /// The channel; for a thread, its parent channel.
    pub channel: Option<u64>,
    /// The thread, when the message is in one.
    pub thread: Option<u64>,
    pub is_dm: bool,
    /// A workspace key for frontends without threads (the console session), if any.
    pub session: Option<String>,
}

/// Why an attachment could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{name} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { name: String, size: u64, limit: u64 },
    #[error("could not download {name}: {reason}")]
    Failed { name: String, reason: String },
}

/// Fetches an attachment's bytes; provided by the frontend (reqwest for Discord, a file for the console).
#[async_trait::async_trait]
pub trait AttachmentSource: Send + Sync {
    /// Fetch at most `limit` bytes; more than that is `FetchError::TooLarge`.
    async fn fetch(&self, attachment: &AttachmentRef, limit: u64) -> Result<Vec<u8>, FetchError>;
}

/// An attachment as announced by the platform, before download.
#[derive(Clone)]
pub struct AttachmentRef {
    /// The name as the user gave it (sanitised before use).
    pub name: String,
    /// Declared size in bytes.
    pub size: u64,
    /// Platform locator (a URL for Discord, a path for the console).
    pub locator: String,
    pub source: Arc<dyn AttachmentSource>,
}

impl std::fmt::Debug for AttachmentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentRef")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("locator", &self.locator)
            .finish()
    }
}

/// One chat message addressed to the bot.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub who: Identity,
    pub place: Place,
    pub text: String,
    pub attachments: Vec<AttachmentRef>,
    /// The platform's id for this message (Discord: the message, or the interaction of a slash
    /// command), so the frontend can later say which reply answered it.
    pub message: Option<u64>,
    /// The message this one answers (Discord's `message_reference`), e.g. `!explain` sent as a
    /// reply to a run's reply.
    pub reply_to: Option<u64>,
}

/// A file attached to a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyFile {
    pub name: String,
    pub mime: String,
    pub content: Vec<u8>,
}

/// What the frontend posts back: at most 2,000 characters plus files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub content: String,
    pub files: Vec<ReplyFile>,
}

impl Reply {
    /// A reply with text only.
    pub fn text(content: impl Into<String>) -> Self {
        Reply {
            content: content.into(),
            files: Vec::new(),
        }
    }
}

/// Progress of a run while it waits or runs, so a frontend can show "queued: 3 ahead".
#[async_trait::async_trait]
pub trait Progress: Send + Sync {
    async fn queued(&self, ahead: usize);
    async fn running(&self);
}

/// A `Progress` that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

#[async_trait::async_trait]
impl Progress for NoProgress {
    async fn queued(&self, _ahead: usize) {}
    async fn running(&self) {}
}
