//! A pre-made empty network namespace that runs join instead of creating one each (DESIGN §5:
//! create nothing per run that can be made once).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use super::{Context, SetupError};

/// `coderunner-sandbox make-netns PATH`: create an empty network namespace and pin it by
/// bind-mounting it on PATH (which must be an existing empty file).
pub(crate) fn make(path: &str) -> Result<(), SetupError> {
    unshare(CloneFlags::CLONE_NEWNET).ctx(|| "unshare(CLONE_NEWNET)".into())?;
    mount(
        Some("/proc/self/ns/net"),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(|| format!("bind-mounting the new network namespace on {path}"))
}

/// Join the pinned namespace at `path`.
pub(crate) fn join(path: &Path) -> Result<(), SetupError> {
    let file = File::open(path).ctx(|| format!("opening network namespace {}", path.display()))?;
    setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
        .ctx(|| format!("joining network namespace {}", path.display()))
}
