//! A workspace's small metadata file: who started it, when, and when it was last used.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// File name of the metadata inside a workspace directory.
pub(crate) const META: &str = "meta.json";

/// Stored as JSON; times are seconds since the Unix epoch so they survive restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The workspace key (the directory name may be a sanitised form of it).
    pub key: String,
    /// `platform:user_id` of the member whose run started the workspace.
    pub owner: String,
    /// Their display name, for the `!reset` refusal.
    pub owner_name: String,
    pub created: u64,
    pub used: u64,
    /// Generation directory holding the files now (`g1`, `g2`, ...).
    pub current: Option<String>,
}

impl Meta {
    pub(crate) fn read(dir: &Path) -> Option<Meta> {
        let text = fs::read_to_string(dir.join(META)).ok()?;
        match serde_json::from_str(&text) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "unreadable workspace metadata");
                None
            }
        }
    }

    /// Write via a temporary file and a rename, so a crash leaves the old or the new file whole.
    /// The rename is what makes a new generation current.
    pub(crate) fn write(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join(format!("{META}.tmp"));
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        let mut file = crate::private_fs::create_file(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(META))
    }
}
