//! Directories and files only the bot's own user may read: the audit log and the workspaces
//! hold everyone's code and data, so they never take their modes from the process umask.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the bot's private directories.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of the bot's private files.
pub(crate) const FILE_MODE: u32 = 0o600;

/// `mkdir -p` where every directory it creates is 0700 (a umask can only take bits away).
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// Like [`create_dir_all`], and `path` itself is made 0700 even if it was there before.
pub(crate) fn own_dir(path: &Path) -> io::Result<()> {
    create_dir_all(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE))
}

/// A new file opened for writing with mode 0600 (truncated if it exists).
pub(crate) fn create_file(path: &Path) -> io::Result<fs::File> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    // An existing file keeps its mode through open(2); make it private too.
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Create `path` empty with mode 0600 if it does not exist; make it 0600 if it does.
pub(crate) fn ensure_private_file(path: &Path) -> io::Result<()> {
    let file = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
}
