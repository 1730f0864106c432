//! Starting a session from the warm pool's Python zygote: a fork that confined itself exactly as
//! a cold session's helper confines the kernel (see pool/session_slot.rs), then runs the
//! kernel's source on the session socket, with numpy, pandas and matplotlib already imported.
//! Where the pool cannot serve a session (no pool, rootless, no cgroups, the preload failed, an
//! interpreter other than the zygote's, extra environment) the session starts cold, and the
//! user sees no difference but the time.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use serde::Serialize;

use super::host::Holder;
use super::open::{open, Sandbox};
use super::start::KERNEL;
use super::{streams::Streams, Session, SessionSpec};
use crate::files;
use crate::plan::{self, Placeholders};
use crate::protocol::Report;
use crate::zygote::Channel;
use crate::{LocalRunner, RunnerError};

/// The "go" that turns a confined fork into the session's kernel (zygote.py, `run_session`):
/// the kernel's source, run as `python3 -c` runs it, with the session socket as fd 0.
#[derive(Serialize)]
struct Go<'a> {
    mode: &'static str,
    env: Vec<(String, String)>,
    code: &'a str,
}

/// Start `spec`'s session as a fork of the zygote; `None` when the pool cannot serve it.
pub(super) async fn start(
    runner: &LocalRunner,
    spec: &SessionSpec,
    interpreter: &str,
) -> Option<Result<Session, RunnerError>> {
    let pool = runner.warm_pool()?;
    // As for runs: an environment of the caller's own goes cold (the zygote's interpreter read
    // its environment when it started).
    if !spec.env.is_empty() {
        return None;
    }
    let started = Instant::now();
    let slot = match pool
        .session_slot(&spec.language, interpreter, &spec.limits)
        .await?
    {
        Ok(slot) => slot,
        Err(why) => {
            return Some(Err(RunnerError::Sandbox(format!(
                "forking a session from the zygote: {why}"
            ))))
        }
    };
    Some(assemble(slot, spec, started).await)
}

async fn assemble(
    mut slot: crate::pool::SessionSlot,
    spec: &SessionSpec,
    started: Instant,
) -> Result<Session, RunnerError> {
    files::write_inputs(slot.workdir.path(), &spec.files, Some((slot.uid, slot.uid))).map_err(
        |e| {
            RunnerError::InvalidRequest(format!(
                "writing the workspace's files: {e} (are they larger than the workdir?)"
            ))
        },
    )?;
    let values = Placeholders::new("main.py", spec.limits.memory.0);
    let go = Go {
        mode: "session",
        env: plan::environment(&spec.language, &spec.limits, &values),
        code: KERNEL,
    };
    let go = serde_json::to_vec(&go)
        .map_err(|e| RunnerError::Sandbox(format!("encoding the session's start: {e}")))?;
    let (kernel_ours, kernel_theirs) = std::os::unix::net::UnixStream::pair()?;
    let kernel_theirs = OwnedFd::from(kernel_theirs);

    let pipe = |fd: Option<OwnedFd>| {
        fd.and_then(|fd| tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok())
    };
    let streams = Streams::reading(pipe(slot.out.take()), pipe(slot.err.take()));
    slot.sock
        .send(&go, &[kernel_theirs.as_raw_fd()])
        .map_err(|e| RunnerError::Sandbox(format!("starting the session's kernel: {e}")))?;
    drop(kernel_theirs);

    let reaper = slot.pid;
    let sock = slot.sock;
    // The reaper's reports: how the kernel ended, when it ends.
    let reports = tokio::spawn(async move { collect(sock).await });
    let id = slot
        .workdir
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sandbox = Sandbox {
        id,
        holder: Holder::Zygote {
            zygote: Some(slot.zygote),
        },
        cgroup: slot.cgroup,
        workdir: slot.workdir,
        lease: Some(slot.lease),
        streams,
        reports,
        started,
    };
    open(sandbox, kernel_ours, spec, async move { Some(reaper) }).await
}

/// Read a slot's reports until its reaper says it is alone or exits; returning closes the
/// socket, which lets an alone reaper exit.
async fn collect(sock: Channel) -> Vec<Report> {
    let mut out = Vec::new();
    sock.reports(&mut out).await;
    out
}
