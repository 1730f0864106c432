//! Recent runs kept in memory so `!explain`, `!fix` and `!tests` know which run they are about:
//! the asker's last run in the same place, or the run a reply points at (by message id: the
//! `!run` message itself, or the bot's reply to it, which the frontend reports once posted).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use coderunner_runner::RunOutcome;

use crate::{Identity, Place};

/// Places remembered at most; the oldest is forgotten first.
const MAX_ENTRIES: usize = 2_000;
/// A run older than this is no longer offered to the model.
const MAX_AGE: Duration = Duration::from_secs(2 * 3_600);

/// What the model may see of one run: the asker's own code and its outcome.
#[derive(Debug, Clone)]
pub struct RunMemo {
    pub language: String,
    pub code: String,
    pub stdin: String,
    pub args: Vec<String>,
    pub outcome: RunOutcome,
    /// The platform message id of the `!run` message, when the frontend gave one.
    pub message: Option<u64>,
    /// The id of the bot's reply to it, once the frontend has posted it.
    pub reply: Option<u64>,
}

impl RunMemo {
    /// Whether a message replying to `id` is about this run.
    fn answers(&self, id: u64) -> bool {
        self.message == Some(id) || self.reply == Some(id)
    }
}

struct Entry {
    key: String,
    memo: RunMemo,
    at: Instant,
}

/// Runs by (platform, user, place), newest last.
#[derive(Default)]
pub struct RecentRuns {
    entries: Mutex<VecDeque<Entry>>,
}

/// Runs are private to their author: another member's `!fix` never sees someone else's code.
fn key(who: &Identity, place: &Place) -> String {
    format!(
        "{}:{}:{:?}:{:?}:{:?}:{:?}",
        who.platform.as_str(),
        who.user_id,
        place.guild,
        place.channel,
        place.thread,
        place.session
    )
}

impl RecentRuns {
    pub fn remember(&self, who: &Identity, place: &Place, memo: RunMemo) {
        let key = key(who, place);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // One entry per place, plus older ones addressable by message id.
        let same_place = entries.iter().filter(|e| e.key == key).count();
        if same_place >= 8 {
            if let Some(pos) = entries.iter().position(|e| e.key == key) {
                entries.remove(pos);
            }
        }
        entries.push_back(Entry {
            key,
            memo,
            at: Instant::now(),
        });
        while entries.len() > MAX_ENTRIES {
            entries.pop_front();
        }
    }

    /// The frontend posted `reply` in answer to `message`: a later reply to either finds the run.
    /// Nothing happens when `message` was not a remembered run (a `!help`, a refusal).
    pub fn replied(&self, who: &Identity, place: &Place, message: u64, reply: u64) {
        let key = key(who, place);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // The newest run of that message: an edited or 🔁 re-run answers with a new reply.
        if let Some(e) = entries
            .iter_mut()
            .rev()
            .find(|e| e.key == key && e.memo.message == Some(message))
        {
            e.memo.reply = Some(reply);
        }
    }

    /// The run `reply_to` names (if it is the asker's), else the asker's last run here.
    pub fn find(&self, who: &Identity, place: &Place, reply_to: Option<u64>) -> Option<RunMemo> {
        let key = key(who, place);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| e.at.elapsed() < MAX_AGE);
        let mine = entries.iter().rev().filter(|e| e.key == key);
        match reply_to {
            Some(id) => mine
                .clone()
                .find(|e| e.memo.answers(id))
                .or_else(|| entries.iter().rev().find(|e| e.key == key))
                .map(|e| e.memo.clone()),
            None => mine.map(|e| e.memo.clone()).next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;

    fn who(id: &str) -> Identity {
        Identity {
            platform: Platform::Discord,
            user_id: id.into(),
            display: id.into(),
            roles: Vec::new(),
        }
    }

    fn memo(code: &str, message: Option<u64>) -> RunMemo {
        RunMemo {
            language: "python".into(),
            code: code.into(),
            stdin: String::new(),
            args: Vec::new(),
            outcome: RunOutcome::sandbox_error("x"),
            message,
            reply: None,
        }
    }

    #[test]
    fn last_run_is_per_user_and_place_and_replies_pick_older_runs() {
        let runs = RecentRuns::default();
        let here = Place {
            channel: Some(1),
            ..Place::default()
        };
        let there = Place {
            channel: Some(2),
            ..Place::default()
        };
        runs.remember(&who("a"), &here, memo("first", Some(10)));
        runs.remember(&who("a"), &here, memo("second", Some(11)));
        runs.remember(&who("b"), &here, memo("b's", Some(12)));
        assert_eq!(
            runs.find(&who("a"), &here, None).map(|m| m.code).as_deref(),
            Some("second")
        );
        assert_eq!(
            runs.find(&who("a"), &here, Some(10))
                .map(|m| m.code)
                .as_deref(),
            Some("first")
        );
        // A reply to someone else's run does not reach their code.
        assert_eq!(
            runs.find(&who("a"), &here, Some(12))
                .map(|m| m.code)
                .as_deref(),
            Some("second")
        );
        assert!(runs.find(&who("a"), &there, None).is_none());
        // Once the frontend reports the bot's reply to a run, a reply to that reply finds it;
        // someone else cannot attach a reply to a's run.
        runs.replied(&who("a"), &here, 10, 20);
        runs.replied(&who("b"), &here, 11, 21);
        assert_eq!(
            runs.find(&who("a"), &here, Some(20))
                .map(|m| m.code)
                .as_deref(),
            Some("first")
        );
        assert_eq!(
            runs.find(&who("a"), &here, Some(21))
                .map(|m| m.code)
                .as_deref(),
            Some("second"),
            "21 is not the reply to a's second run: the fallback is the last run"
        );
        assert!(runs.find(&who("c"), &here, None).is_none());
    }
}
