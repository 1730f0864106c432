//! What a new sandbox that the helper makes (a cold run's, a cold session's) gets first: its
//! uid, held by a lease as root, and its workdir, a size- and inode-capped tmpfs.

use super::{Inner, TMPFS_INODES};
use crate::uids::UidLease;
use crate::workdir::Workdir;
use crate::RunnerError;

impl Inner {
    /// The uid and gid a new sandbox runs as, with the lease that holds them: as root a uid of
    /// runner.uid_range of its own; rootless this process's (the sandbox's user namespace maps
    /// them).
    pub(crate) fn sandbox_ids(&self) -> Result<(Option<UidLease>, (u32, u32)), RunnerError> {
        let lease = match &self.uids {
            Some(pool) => Some(pool.lease()?.ok_or_else(|| {
                RunnerError::Sandbox("every uid of runner.uid_range is in use; raise the range or lower the concurrency".into())
            })?),
            None => None,
        };
        let ids = match (&lease, self.rootless) {
            (Some(l), _) => (l.uid, l.uid),
            (None, Some(ids)) => ids,
            (None, None) => return Err(RunnerError::Sandbox("no uid for the sandbox".into())),
        };
        Ok((lease, ids))
    }

    /// A new sandbox's workdir of at most `size` bytes: as root made here, named `id` and owned
    /// by `owner`; rootless the parent may not mount, so the helper makes it.
    pub(crate) async fn sandbox_workdir(
        &self,
        id: &str,
        size: u64,
        owner: Option<(u32, u32)>,
    ) -> std::io::Result<Workdir> {
        if self.rootless.is_some() {
            Workdir::create_detached(&self.helper, size, TMPFS_INODES).await
        } else {
            Workdir::create(&self.runs_dir, id, size, TMPFS_INODES, owner, true)
        }
    }
}
