//! Which workspace a message belongs to, and the key's safe directory name.

use coderunner_config::WorkspaceConfig;
use sha2::{Digest, Sha256};

use crate::{Identity, Place};

/// Longest directory name a key turns into (before the hash suffix).
const MAX_KEY_CHARS: usize = 80;

/// A Discord thread (when `threads` is on), a channel listed in `channels`, or a console session
/// (when `console` is on); `None` elsewhere.
pub fn key_for(config: &WorkspaceConfig, who: &Identity, place: &Place) -> Option<String> {
    if let Some(thread) = place.thread {
        if config.threads {
            return Some(format!("thread-{thread}"));
        }
    }
    if let Some(channel) = place.channel {
        if config.channels.contains(&channel) {
            return Some(format!("channel-{channel}"));
        }
    }
    if place.thread.is_none() && place.channel.is_none() && config.console {
        return place
            .session
            .as_ref()
            .map(|s| format!("{}-{s}", who.platform.as_str()));
    }
    None
}

/// The key as a directory name: ASCII letters, digits, `-` and `_` only. A key that had to be
/// changed gets a hash suffix so two different keys never share a directory.
pub fn sanitise_key(key: &str) -> String {
    let clean: String = key
        .chars()
        .take(MAX_KEY_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == key && !clean.is_empty() {
        return clean;
    }
    let digest = Sha256::digest(key.as_bytes());
    format!("{clean}-{}", &hex::encode(digest)[..12])
}
