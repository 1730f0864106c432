//! Reading a workspace generation: its regular files (never symlinks), and the `!files` reply.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use coderunner_runner::MAX_PATH_DEPTH;

use crate::fmt;
use crate::render::{cut_chars, neutralize, MAX_REPLY_CHARS};

/// Most files one workspace walk returns; a workspace never legitimately holds more.
const MAX_FILES: usize = 10_000;

/// One stored file.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Relative path with `/` separators.
    pub rel: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

/// Regular files under `root`, sorted by path. Symlinks and special files are skipped without
/// being followed (the runner never returns them, but the directory is on disk and could be
/// tampered with).
pub(crate) fn walk(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let Ok(meta) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() && depth + 1 < MAX_PATH_DEPTH {
                stack.push((e.path(), child, depth + 1));
            } else if meta.is_file() && out.len() < MAX_FILES {
                out.push(Entry {
                    rel: child,
                    path: e.path(),
                    size: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// "just now", "5 min ago", "3 h ago", "2 days ago".
pub(crate) fn age(now: SystemTime, then: SystemTime) -> String {
    let secs = now.duration_since(then).unwrap_or(Duration::ZERO).as_secs();
    match secs {
        0..=59 => "just now".to_string(),
        60..=3_599 => format!("{} min ago", secs / 60),
        3_600..=172_799 => format!("{} h ago", secs / 3_600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// A TTL in words: "24 h", "30 min", "5 s".
pub(crate) fn span(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3_600 && secs.is_multiple_of(3_600) {
        format!("{} h", secs / 3_600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        fmt::duration(d)
    }
}

/// The `!files` reply: a header with the total against the quota, then one line per file.
pub(crate) fn render(
    entries: &[Entry],
    now: SystemTime,
    quota: u64,
    ttl: Duration,
    prefix: &str,
) -> String {
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let mut text = format!(
        "📁 **workspace** · {} · {} of {} · cleared after {} idle · `{prefix}reset` empties it",
        fmt::plural(entries.len(), "file", "files"),
        fmt::bytes(total),
        fmt::bytes(quota),
        span(ttl),
    );
    for (i, e) in entries.iter().enumerate() {
        let name = neutralize(cut_chars(&e.rel, 80)).replace('`', "'");
        let line = format!(
            "\n• `{name}` · {} · {}",
            fmt::bytes(e.size),
            age(now, e.modified)
        );
        if text.chars().count() + line.chars().count() + 40 > MAX_REPLY_CHARS {
            text.push_str(&format!("\n… and {} more", entries.len() - i));
            break;
        }
        text.push_str(&line);
    }
    text
}
