//! After a run: keep the run's new or changed regular files and the message's attachments, all
//! or nothing, within the quota. The next generation is built beside the current one (unchanged
//! files hard-linked) and becomes current with one atomic rename of `meta.json`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use coderunner_runner::{validate_input_path, InputFile, RunOutcome};

use super::listing::{self, Entry};
use super::meta::Meta;
use super::store::{clash, user_key, DiskWorkspaces};
use crate::fmt;
use crate::private_fs;
use crate::Identity;

impl DiskWorkspaces {
    pub(super) fn sync(
        &self,
        key: &str,
        who: &Identity,
        kept: &[InputFile],
        outcome: &RunOutcome,
    ) -> Option<String> {
        let changes = changes(key, kept, outcome);
        let existing = self.live(key);
        if changes.is_empty() {
            if let Some((dir, mut meta)) = existing {
                self.touch(&dir, &mut meta);
            }
            return None;
        }
        let (dir, mut meta) = existing.unwrap_or_else(|| {
            let now = self.now_secs();
            (
                self.dir(key),
                Meta {
                    key: key.to_string(),
                    owner: user_key(who),
                    owner_name: who.display.clone(),
                    created: now,
                    used: now,
                    current: None,
                },
            )
        });
        let old: Vec<Entry> = match &meta.current {
            Some(generation) => listing::walk(&dir.join(generation)),
            None => Vec::new(),
        };
        let carried: Vec<&Entry> = old
            .iter()
            .filter(|e| !changes.keys().any(|c| clash(c, &e.rel)))
            .collect();
        let total: u64 = carried.iter().map(|e| e.size).sum::<u64>()
            + changes.values().map(|c| c.len() as u64).sum::<u64>();
        let quota = self.config.quota.bytes();
        if total > quota {
            let p = &self.prefix;
            let held: u64 = old.iter().map(|e| e.size).sum();
            tracing::info!(
                key,
                total,
                quota,
                "run's files not kept: over the workspace quota"
            );
            return Some(format!(
                "⚠️ workspace not updated: keeping this run's files would make it {}, over its {} quota, so nothing from this run was saved (it still holds {}, {}). `{p}files` lists them; `{p}reset` empties it.",
                fmt::bytes(total),
                fmt::bytes(quota),
                fmt::plural(old.len(), "file", "files"),
                fmt::bytes(held),
            ));
        }
        let count = carried.len() + changes.len();
        let max_files = self.config.max_files as usize;
        if count > max_files {
            let p = &self.prefix;
            tracing::info!(
                key,
                count,
                max_files,
                "run's files not kept: over the workspace's file count"
            );
            return Some(format!(
                "⚠️ workspace not updated: keeping this run's files would make it {}, over its limit of {max_files}, so nothing from this run was saved (it still holds {}). `{p}files` lists them; `{p}reset` empties it.",
                fmt::plural(count, "file", "files"),
                fmt::plural(old.len(), "file", "files"),
            ));
        }
        let next = next_generation(meta.current.as_deref());
        let next_dir = dir.join(&next);
        let built = private_fs::create_dir_all(&dir)
            .and_then(|()| remove_if_present(&next_dir))
            .and_then(|()| private_fs::create_dir_all(&next_dir))
            .and_then(|()| build(&next_dir, &carried, &changes))
            .and_then(|()| {
                let previous = meta.current.replace(next.clone());
                meta.used = self.now_secs();
                meta.write(&dir).inspect_err(|_| meta.current = previous)
            });
        if let Err(e) = built {
            tracing::error!(key, error = %e, "saving the run's files to the workspace failed");
            let _ = remove_if_present(&next_dir);
            return Some(
                "⚠️ this run's files could not be saved to the workspace (a problem on the bot's side); it is unchanged".to_string(),
            );
        }
        remove_stale_generations(&dir, &next);
        None
    }
}

/// What to store, by path: the message's attachments, then the run's files (which win, being
/// newer). Files whose bytes did not come back (a remote runner) or whose names are unsafe are left out.
fn changes<'a>(
    key: &str,
    kept: &'a [InputFile],
    outcome: &'a RunOutcome,
) -> BTreeMap<String, &'a [u8]> {
    let mut out: BTreeMap<String, &[u8]> = BTreeMap::new();
    for f in kept {
        out.insert(f.path.clone(), &f.content);
    }
    for f in &outcome.files {
        if f.content.len() as u64 != f.size {
            tracing::warn!(key, file = %f.path, "output file without its content; not kept");
            continue;
        }
        out.insert(f.path.clone(), &f.content);
    }
    out.retain(|path, _| match validate_input_path(path) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(key, error = %e, "unsafe file name; not kept");
            false
        }
    });
    // `dir` and `dir/x` cannot both be stored; the deeper, later-listed path wins.
    let paths: Vec<String> = out.keys().cloned().collect();
    out.retain(|p, _| {
        !paths
            .iter()
            .any(|q| q != p && clash(p, q) && q.len() > p.len())
    });
    out
}

fn next_generation(current: Option<&str>) -> String {
    let n = current
        .and_then(|g| g.strip_prefix('g'))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    format!("g{}", n + 1)
}

fn build(at: &Path, carried: &[&Entry], changes: &BTreeMap<String, &[u8]>) -> io::Result<()> {
    for entry in carried {
        let to = at.join(&entry.rel);
        make_parent(at, &to)?;
        // Stored files are never written in place, so generations may share them.
        if fs::hard_link(&entry.path, &to).is_err() {
            fs::copy(&entry.path, &to)?;
        }
    }
    for (rel, content) in changes {
        let to = at.join(rel);
        make_parent(at, &to)?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(private_fs::FILE_MODE)
            .open(&to)?;
        file.write_all(content)?;
        file.sync_all()?;
    }
    Ok(())
}

fn make_parent(root: &Path, file: &Path) -> io::Result<()> {
    match file.parent() {
        Some(parent) if parent != root => private_fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

fn remove_if_present(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Generations other than the current one (the previous one, or leftovers of a crash).
fn remove_stale_generations(dir: &Path, current: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_generation = name
            .strip_prefix('g')
            .is_some_and(|n| n.parse::<u64>().is_ok());
        if is_generation && name != current {
            if let Err(err) = fs::remove_dir_all(e.path()) {
                tracing::warn!(dir = %e.path().display(), error = %err, "removing an old workspace generation failed");
            }
        }
    }
}
