//! The seam where thread and session workspaces plug in (issue 6): files copied into a run's
//! working directory before it starts, and the run's files synced back after it ends.

use coderunner_runner::{InputFile, RunOutcome};

use crate::refusal::Refusal;
use crate::{Identity, Place};

/// Which workspace a message belongs to: a Discord thread, a configured channel, a console session.
pub fn key_for(who: &Identity, place: &Place) -> Option<String> {
    if let Some(thread) = place.thread {
        return Some(format!("thread-{thread}"));
    }
    place
        .session
        .as_ref()
        .map(|s| format!("{}-{s}", who.platform.as_str()))
}

/// Persistent files between runs. The pipeline calls `before_run` and `after_run` around every
/// run that has a workspace key, and `list`/`reset` for `!files`/`!reset`.
pub trait Workspaces: Send + Sync {
    /// Add the workspace's files to `files` (the message's own files win on a name clash).
    fn before_run(&self, key: &str, files: &mut Vec<InputFile>) -> Result<(), Refusal>;
    /// Keep what the run wrote.
    fn after_run(&self, key: &str, outcome: &RunOutcome);
    /// The reply to `!files`.
    fn list(&self, key: Option<&str>) -> String;
    /// The reply to `!reset`.
    fn reset(&self, key: Option<&str>) -> String;
}

/// Until workspaces land: nothing persists, and `!files`/`!reset` say so.
#[derive(Debug, Default)]
pub struct NoWorkspaces;

const NOT_YET: &str = "workspaces are not enabled yet in this version: every run starts in an empty directory, and files do not carry over between runs. Attach the files a run needs to the `!run` message.";

impl Workspaces for NoWorkspaces {
    fn before_run(&self, _key: &str, _files: &mut Vec<InputFile>) -> Result<(), Refusal> {
        Ok(())
    }
    fn after_run(&self, _key: &str, _outcome: &RunOutcome) {}
    fn list(&self, _key: Option<&str>) -> String {
        format!("📁 {NOT_YET}")
    }
    fn reset(&self, _key: Option<&str>) -> String {
        format!("📁 nothing to reset: {NOT_YET}")
    }
}
