//! The on-disk store: `<data_dir>/workspaces/<sanitised key>/` holding `meta.json` and one
//! generation directory (`g<N>/`) with the files. A sync builds the next generation beside the
//! current one and switches by rewriting `meta.json` with a rename, so a workspace is always
//! either wholly the old or wholly the new set of files.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use coderunner_config::{Config, WorkspaceConfig};
use coderunner_runner::{InputFile, RunOutcome};

use super::listing::{self, Entry};
use super::locks::KeyLocks;
use super::meta::Meta;
use super::{keys, Workspaces};
use crate::fmt;
use crate::refusal::Refusal;
use crate::{Identity, Place};

/// The store's notion of "now"; tests pass a fake to exercise the idle TTL.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("cannot create the workspace directory {path}: {source}; check `data_dir` in the config and that the bot may write there")]
    Create { path: PathBuf, source: io::Error },
}

/// Workspaces kept on disk under the data directory; they survive restarts.
pub struct DiskWorkspaces {
    pub(super) root: PathBuf,
    pub(super) config: WorkspaceConfig,
    pub(super) prefix: String,
    pub(super) clock: Clock,
    pub(super) locks: KeyLocks,
}

impl std::fmt::Debug for DiskWorkspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskWorkspaces")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// `platform:user_id`, as workspace owners are recorded.
pub(super) fn user_key(who: &Identity) -> String {
    format!("{}:{}", who.platform.as_str(), who.user_id)
}

/// Whether two relative paths cannot both exist: equal, or one is a directory of the other.
pub(super) fn clash(a: &str, b: &str) -> bool {
    a == b
        || b.strip_prefix(a).is_some_and(|r| r.starts_with('/'))
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('/'))
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Read a stored file only if it is a regular file, and the same one that was checked: a symlink
/// swapped in between the check and the open is caught by comparing inodes.
fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let before = fs::symlink_metadata(path)?;
    if !before.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let mut file = fs::File::open(path)?;
    let after = file.metadata()?;
    if !after.is_file() || after.ino() != before.ino() || after.dev() != before.dev() {
        return Err(io::Error::other("the file changed while it was being read"));
    }
    let mut content = Vec::new();
    file.read_to_end(&mut content)?;
    Ok(content)
}

/// A stored file as a run's input; an unreadable one is skipped with a warning (the run goes
/// on without it rather than failing on the workspace's account).
fn read_entry(key: &str, entry: Entry) -> Option<InputFile> {
    match read_regular(&entry.path) {
        Ok(content) => Some(InputFile {
            path: entry.rel,
            content,
        }),
        Err(e) => {
            tracing::warn!(key, file = %entry.rel, error = %e, "skipping an unreadable workspace file");
            None
        }
    }
}

impl DiskWorkspaces {
    /// The store for `config`: `<data_dir>/workspaces`, the real clock.
    pub fn open(config: &Config) -> Result<DiskWorkspaces, WorkspaceError> {
        let root = config.resolve_data_path(Path::new("workspaces"));
        Self::with_clock(
            root,
            config.workspaces.clone(),
            config.discord.prefix.clone(),
            Arc::new(SystemTime::now),
        )
    }

    /// A store at `root` with its own clock.
    pub fn with_clock(
        root: PathBuf,
        config: WorkspaceConfig,
        prefix: String,
        clock: Clock,
    ) -> Result<DiskWorkspaces, WorkspaceError> {
        crate::private_fs::own_dir(&root).map_err(|source| WorkspaceError::Create {
            path: root.clone(),
            source,
        })?;
        Ok(DiskWorkspaces {
            root,
            config,
            prefix,
            clock,
            locks: KeyLocks::default(),
        })
    }

    pub(super) fn now(&self) -> SystemTime {
        (self.clock)()
    }

    pub(super) fn dir(&self, key: &str) -> PathBuf {
        self.root.join(keys::sanitise_key(key))
    }

    fn expired(&self, meta: &Meta) -> bool {
        let ttl = self.config.ttl.as_duration();
        !ttl.is_zero() && secs(self.now()).saturating_sub(meta.used) >= ttl.as_secs()
    }

    /// The workspace's directory and metadata when it exists; an expired one is removed first.
    pub(super) fn live(&self, key: &str) -> Option<(PathBuf, Meta)> {
        let dir = self.dir(key);
        let meta = Meta::read(&dir)?;
        if self.expired(&meta) {
            tracing::info!(key, "workspace expired after its idle TTL; removing it");
            if let Err(e) = fs::remove_dir_all(&dir) {
                tracing::error!(key, error = %e, "removing an expired workspace failed");
            }
            return None;
        }
        Some((dir, meta))
    }

    /// The files of a live workspace (empty when there is none).
    pub(super) fn entries(&self, key: &str) -> Vec<Entry> {
        match self.live(key) {
            Some((dir, meta)) => match &meta.current {
                Some(generation) => listing::walk(&dir.join(generation)),
                None => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    pub(super) fn touch(&self, dir: &Path, meta: &mut Meta) {
        meta.used = secs(self.now());
        if let Err(e) = meta.write(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "recording workspace use failed");
        }
    }

    pub(super) fn now_secs(&self) -> u64 {
        secs(self.now())
    }

    fn where_workspaces_are(&self) -> String {
        let mut places = Vec::new();
        if self.config.threads {
            places.push("Discord threads");
        }
        if !self.config.channels.is_empty() {
            places.push("a few configured channels");
        }
        if self.config.console {
            places.push("console sessions");
        }
        if places.is_empty() {
            return "workspaces are switched off in this bot's config".to_string();
        }
        format!(
            "workspaces exist in {}; here every run starts in an empty directory — attach the files a run needs, or start a thread",
            places.join(", ")
        )
    }
}

impl Workspaces for DiskWorkspaces {
    fn key_for(&self, who: &Identity, place: &Place) -> Option<String> {
        keys::key_for(&self.config, who, place)
    }

    fn lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.get(key)
    }

    fn before_run(&self, key: &str, files: &mut Vec<InputFile>, room: u64) -> Result<(), Refusal> {
        let Some((dir, mut meta)) = self.live(key) else {
            return Ok(());
        };
        let stored = match &meta.current {
            Some(generation) => listing::walk(&dir.join(generation)),
            None => Vec::new(),
        };
        let own: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
        let mut total: u64 = files.iter().map(|f| f.content.len() as u64).sum();
        for entry in stored {
            if own.iter().any(|o| clash(o, &entry.rel)) {
                continue; // the message's own file wins
            }
            if let Some(file) = read_entry(key, entry) {
                total += file.content.len() as u64;
                files.push(file);
            }
        }
        if total > room {
            let p = &self.prefix;
            return Err(Refusal::bad_request(format!(
                "this workspace and the message's files add up to {}, more than the {} working directory a run of your tier gets. `{p}files` lists the workspace; `{p}reset` empties it",
                fmt::bytes(total),
                fmt::bytes(room)
            )));
        }
        self.touch(&dir, &mut meta);
        Ok(())
    }

    fn after_run(
        &self,
        key: &str,
        who: &Identity,
        kept: &[InputFile],
        outcome: &RunOutcome,
    ) -> Option<String> {
        self.sync(key, who, kept, outcome)
    }

    fn top_level_files_not_in(&self, key: &str, present: &dyn Fn(&str) -> bool) -> Vec<InputFile> {
        self.entries(key)
            .into_iter()
            .filter(|e| !e.rel.contains('/') && !e.rel.starts_with('.') && !present(&e.rel))
            .filter_map(|e| read_entry(key, e))
            .collect()
    }

    fn file_count(&self, key: &str) -> Option<usize> {
        Some(self.entries(key).len())
    }

    fn list(&self, key: Option<&str>) -> String {
        let Some(key) = key else {
            return format!("📁 no workspace here: {}.", self.where_workspaces_are());
        };
        let entries = self.entries(key);
        if entries.is_empty() {
            return format!(
                "📁 this workspace is empty. Files your runs write and files you attach to `{}run` are kept here for the next runs (up to {}, cleared after {} idle).",
                self.prefix,
                fmt::bytes(self.config.quota.bytes()),
                listing::span(self.config.ttl.as_duration())
            );
        }
        listing::render(
            &entries,
            self.now(),
            self.config.quota.bytes(),
            self.config.ttl.as_duration(),
            &self.prefix,
        )
    }

    fn reset(&self, key: Option<&str>, who: &Identity, admin: bool) -> String {
        let Some(key) = key else {
            return format!("📁 nothing to reset: {}.", self.where_workspaces_are());
        };
        let Some((dir, meta)) = self.live(key) else {
            return "📁 nothing to reset: this workspace is already empty.".to_string();
        };
        if !admin && !meta.owner.is_empty() && meta.owner != user_key(who) {
            let owner = crate::render::neutralize(crate::render::cut_chars(&meta.owner_name, 40))
                .replace('`', "'");
            return format!(
                "🚫 only {owner}, who started this workspace, or an admin can reset it. `{}files` lists what it holds",
                self.prefix
            );
        }
        let entries = match &meta.current {
            Some(generation) => listing::walk(&dir.join(generation)),
            None => Vec::new(),
        };
        let bytes: u64 = entries.iter().map(|e| e.size).sum();
        match fs::remove_dir_all(&dir) {
            Ok(()) => {
                tracing::info!(key, by = %user_key(who), "workspace reset");
                format!(
                    "🗑️ workspace cleared: removed {} ({}). The next run starts in an empty directory.",
                    fmt::plural(entries.len(), "file", "files"),
                    fmt::bytes(bytes)
                )
            }
            Err(e) => {
                tracing::error!(key, error = %e, "resetting a workspace failed");
                "⚠️ could not clear the workspace; see the bot's log".to_string()
            }
        }
    }

    fn sweep(&self) {
        let Ok(dirs) = fs::read_dir(&self.root) else {
            return;
        };
        for d in dirs.flatten() {
            let dir = d.path();
            let Some(meta) = Meta::read(&dir) else {
                continue;
            };
            if self.expired(&meta) && !self.locks.busy(&meta.key) {
                tracing::info!(key = %meta.key, "sweeping an expired workspace");
                if let Err(e) = fs::remove_dir_all(&dir) {
                    tracing::error!(key = %meta.key, error = %e, "removing an expired workspace failed");
                }
            }
        }
        self.locks.prune();
    }
}
