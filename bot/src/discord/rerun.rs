//! The 🔁 reaction: remembers which command produced which reply, so that when the command's
//! author reacts 🔁 (on the reply or on their own message) it runs again.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coderunner_commands::Incoming;
use poise::serenity_prelude as serenity;

/// The emoji that asks for a re-run.
pub(crate) const RERUN_EMOJI: &str = "🔁";

/// One re-runnable command.
#[derive(Debug, Clone)]
pub(crate) struct Rerunnable {
    /// The user's message (absent for slash commands).
    pub origin: Option<serenity::MessageId>,
    pub reply: serenity::MessageId,
    pub channel: serenity::ChannelId,
    pub author: serenity::UserId,
    pub incoming: Incoming,
    at: Instant,
}

/// Recent re-runnable commands, bounded in count and age.
#[derive(Debug)]
pub(crate) struct RerunBook {
    entries: Mutex<VecDeque<Rerunnable>>,
    capacity: usize,
    max_age: Duration,
}

impl RerunBook {
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            capacity,
            max_age,
        }
    }

    /// Remember (or update, after an edit re-run) the command behind `reply`.
    pub fn record(
        &self,
        origin: Option<serenity::MessageId>,
        reply: serenity::MessageId,
        channel: serenity::ChannelId,
        author: serenity::UserId,
        incoming: Incoming,
    ) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.retain(|e| e.reply != reply && e.at.elapsed() < self.max_age);
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(Rerunnable {
            origin,
            reply,
            channel,
            author,
            incoming,
            at: Instant::now(),
        });
    }

    /// The command whose reply or origin message is `message`.
    pub fn find(&self, message: serenity::MessageId) -> Option<Rerunnable> {
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .rev()
            .find(|e| {
                (e.reply == message || e.origin == Some(message)) && e.at.elapsed() < self.max_age
            })
            .cloned()
    }

    /// Forget commands whose origin message was deleted.
    pub fn forget(&self, message: serenity::MessageId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|e| e.origin != Some(message) && e.reply != message);
        }
    }
}

/// Whether a reaction is the re-run emoji.
pub(crate) fn is_rerun(emoji: &serenity::ReactionType) -> bool {
    matches!(emoji, serenity::ReactionType::Unicode(s) if s == RERUN_EMOJI)
}

#[cfg(test)]
mod tests {
    use coderunner_commands::{Identity, Place, Platform};

    use super::*;

    fn incoming(text: &str) -> Incoming {
        Incoming {
            who: Identity {
                platform: Platform::Discord,
                user_id: "5".into(),
                display: "alice".into(),
                roles: vec![],
            },
            place: Place::default(),
            text: text.into(),
            attachments: vec![],
            message: None,
            reply_to: None,
        }
    }

    #[test]
    fn found_by_reply_or_origin_and_bounded() {
        let book = RerunBook::new(2, Duration::from_secs(60));
        let (c, u) = (serenity::ChannelId::new(1), serenity::UserId::new(5));
        let m = serenity::MessageId::new;
        book.record(Some(m(10)), m(11), c, u, incoming("a"));
        book.record(Some(m(20)), m(21), c, u, incoming("b"));
        assert_eq!(book.find(m(10)).map(|e| e.incoming.text), Some("a".into()));
        assert_eq!(book.find(m(21)).map(|e| e.incoming.text), Some("b".into()));
        book.record(None, m(31), c, u, incoming("c"));
        assert!(
            book.find(m(11)).is_none(),
            "oldest entry evicted at capacity"
        );
        book.record(Some(m(20)), m(21), c, u, incoming("b2"));
        assert_eq!(book.find(m(20)).map(|e| e.incoming.text), Some("b2".into()));
        book.forget(m(20));
        assert!(book.find(m(21)).is_none());
    }
}
