//! A refusal: why a request was not run, and what would be allowed instead.

use std::time::Duration;

/// The kind of refusal; frontends map it (HTTP status codes, audit rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The tier, the privilege or the place does not allow it.
    NotAllowed,
    /// A quota is used up; `retry_after` says when to try again.
    RateLimited,
    /// The global queue is full.
    Busy,
    /// The request itself is malformed (bad flag, no code, bad attachment).
    BadRequest,
    UnknownLanguage,
    /// AI assist is not configured (`ai.base_url` unset).
    AiOff,
    /// The model endpoint failed or gave an unusable answer.
    AiFailed,
}

impl RefusalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::NotAllowed => "not_allowed",
            RefusalKind::RateLimited => "rate_limited",
            RefusalKind::Busy => "busy",
            RefusalKind::BadRequest => "bad_request",
            RefusalKind::UnknownLanguage => "unknown_language",
            RefusalKind::AiOff => "ai_off",
            RefusalKind::AiFailed => "ai_failed",
        }
    }
}

/// A request that was not run. `message` is a sentence for the user: what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl Refusal {
    pub fn new(kind: RefusalKind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(RefusalKind::NotAllowed, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(RefusalKind::BadRequest, message)
    }

    /// The chat line for this refusal, with an emoji that says which kind it is.
    pub fn chat_line(&self) -> String {
        let emoji = match self.kind {
            RefusalKind::NotAllowed => "🚫",
            RefusalKind::RateLimited | RefusalKind::Busy => "⏳",
            RefusalKind::BadRequest | RefusalKind::UnknownLanguage => "❓",
            RefusalKind::AiOff => "🤖",
            RefusalKind::AiFailed => "⚠️",
        };
        format!("{emoji} {}", self.message)
    }
}

/// Whole seconds to wait, rounded up and at least 1, for "retry in N s".
pub fn retry_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}
