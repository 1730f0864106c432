//! Resource limits of the program process (setrlimit), set before the identity drop.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use super::{Context, SetupError};
use crate::protocol::Rlimits;

/// The run's rlimits as (resource, soft, hard). CPU gets a soft limit (SIGXCPU) one second below
/// the hard limit (SIGKILL), so a program that ignores SIGXCPU still dies. The warm pool's
/// slots apply the same list (see runner/src/pool/spec.rs).
pub(crate) fn list(limits: &Rlimits) -> Vec<(Resource, u64, u64)> {
    let cpu = limits.cpu_secs.max(1);
    let mut list = vec![
        (Resource::RLIMIT_CPU, cpu, cpu + 1),
        (Resource::RLIMIT_FSIZE, limits.file_size, limits.file_size),
        (
            Resource::RLIMIT_NOFILE,
            limits.open_files,
            limits.open_files,
        ),
        (Resource::RLIMIT_NPROC, limits.processes, limits.processes),
        (Resource::RLIMIT_CORE, 0, 0),
        (Resource::RLIMIT_STACK, limits.stack, limits.stack),
        (Resource::RLIMIT_MEMLOCK, 0, 0),
        (Resource::RLIMIT_MSGQUEUE, 0, 0),
    ];
    if let Some(bytes) = limits.address_space {
        list.push((Resource::RLIMIT_AS, bytes, bytes));
    }
    list
}

/// The warm pool's zygote: the soft limits of [`list`], the hard limits left as inherited, so
/// each slot it forks can set its own run's limits (which may be higher: another profile) without
/// CAP_SYS_RESOURCE, which the zygote does not keep. It never runs user code; its slots' programs
/// get soft = hard limits before any does.
pub(crate) fn apply_soft(limits: &Rlimits) -> Result<(), SetupError> {
    for (resource, soft, _) in list(limits) {
        let (_, hard) = getrlimit(resource).ctx(|| format!("getrlimit({resource:?})"))?;
        setrlimit(resource, soft.min(hard), hard)
            .ctx(|| format!("setrlimit({resource:?}, {soft})"))?;
    }
    Ok(())
}

/// Apply the run's rlimits (see [`list`]).
pub(crate) fn apply(limits: &Rlimits) -> Result<(), SetupError> {
    for (resource, soft, hard) in list(limits) {
        setrlimit(resource, soft, hard).ctx(|| format!("setrlimit({resource:?}, {soft})"))?;
    }
    Ok(())
}
