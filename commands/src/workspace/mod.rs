//! Thread, channel and session workspaces: files copied into a run's working directory before
//! it starts, and the run's new or changed files (plus the message's attachments) synced back
//! after it ends. The pipeline talks to the [`Workspaces`] trait; [`DiskWorkspaces`] is the
//! on-disk store, [`NoWorkspaces`] the "off" switch.

mod keys;
mod listing;
mod locks;
mod meta;
mod store;
mod sync;

use std::sync::Arc;

use coderunner_runner::{InputFile, RunOutcome};

use crate::refusal::Refusal;
use crate::{Identity, Place};

pub use keys::{key_for, sanitise_key};
pub use store::{Clock, DiskWorkspaces, WorkspaceError};

/// Persistent files between runs. The pipeline holds the key's [`Workspaces::lock`] from
/// `before_run` to `after_run`, so runs in one thread are serialised while other threads run in
/// parallel.
pub trait Workspaces: Send + Sync {
    /// The workspace a message belongs to, or `None` where files do not carry over.
    fn key_for(&self, who: &Identity, place: &Place) -> Option<String>;
    /// The key's mutex; the pipeline locks it across before_run → run → after_run and `!reset`.
    fn lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>>;
    /// Add the workspace's files to `files` (the message's own files win on a name clash).
    /// `room` is the run's working-directory size; a workspace that does not fit is refused.
    fn before_run(&self, key: &str, files: &mut Vec<InputFile>, room: u64) -> Result<(), Refusal>;
    /// Keep what the run wrote and the message's attachments (`kept`), all or nothing.
    /// Returns a note for the reply when something was not kept.
    fn after_run(
        &self,
        key: &str,
        who: &Identity,
        kept: &[InputFile],
        outcome: &RunOutcome,
    ) -> Option<String>;
    /// The workspace's top-level, non-hidden files for which `present` says no: what a live
    /// notebook session, which got the workspace's files when it started, has not seen yet.
    fn top_level_files_not_in(
        &self,
        _key: &str,
        _present: &dyn Fn(&str) -> bool,
    ) -> Vec<InputFile> {
        Vec::new()
    }
    /// How many files the workspace holds now, for the reply's status line.
    fn file_count(&self, key: &str) -> Option<usize>;
    /// The reply to `!files`.
    fn list(&self, key: Option<&str>) -> String;
    /// The reply to `!reset`; `admin` is whether the sender's tier is an admin tier.
    fn reset(&self, key: Option<&str>, who: &Identity, admin: bool) -> String;
    /// Drop expired workspaces (called by the pipeline's housekeeping timer).
    fn sweep(&self) {}
}

/// The workspace a run uses, and a note for its reply. A `--privileged` run (network on) uses
/// none: any member of a thread can write its workspace, so a planted `json.py` or
/// `node_modules/` would run with the admin's network; and what a privileged run writes is
/// returned to its author but never left where every member can read it.
pub fn key_for_run(
    workspaces: &dyn Workspaces,
    who: &Identity,
    place: &Place,
    privileged: bool,
) -> (Option<String>, Option<String>) {
    let key = workspaces.key_for(who, place);
    if privileged && key.is_some() {
        return (
            None,
            Some("🔒 privileged run: it saw only this message's files, not the workspace, and its files were not saved to the workspace".to_string()),
        );
    }
    (key, None)
}

/// Workspaces switched off: nothing persists, and `!files`/`!reset` say so.
#[derive(Debug, Default)]
pub struct NoWorkspaces;

const NOT_YET: &str = "workspaces are not enabled yet in this version: every run starts in an empty directory, and files do not carry over between runs. Attach the files a run needs to the `!run` message.";

impl Workspaces for NoWorkspaces {
    fn key_for(&self, _who: &Identity, _place: &Place) -> Option<String> {
        None
    }
    fn lock(&self, _key: &str) -> Arc<tokio::sync::Mutex<()>> {
        Arc::new(tokio::sync::Mutex::new(()))
    }
    fn before_run(
        &self,
        _key: &str,
        _files: &mut Vec<InputFile>,
        _room: u64,
    ) -> Result<(), Refusal> {
        Ok(())
    }
    fn after_run(
        &self,
        _key: &str,
        _who: &Identity,
        _kept: &[InputFile],
        _outcome: &RunOutcome,
    ) -> Option<String> {
        None
    }
    fn file_count(&self, _key: &str) -> Option<usize> {
        None
    }
    fn list(&self, _key: Option<&str>) -> String {
        format!("📁 {NOT_YET}")
    }
    fn reset(&self, _key: Option<&str>, _who: &Identity, _admin: bool) -> String {
        format!("📁 nothing to reset: {NOT_YET}")
    }
}

#[cfg(test)]
mod tests;
