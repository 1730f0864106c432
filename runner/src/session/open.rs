//! Turning a started session sandbox into a [`Session`], cold (the helper's process) or warm (a
//! fork of the zygote) alike: connect to the kernel's socket, wait for its "ready", find the
//! kernel's pid for interrupts.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::host::{Holder, Reports};
use super::{streams::Streams, wire, Kernel, Session, SessionSpec};
use crate::cgroup::RunCgroup;
use crate::protocol::Report;
use crate::uids::UidLease;
use crate::workdir::Workdir;
use crate::RunnerError;

/// How long the kernel may take to say it is ready (Python's start, cold).
const READY_WITHIN: Duration = Duration::from_secs(15);

#[derive(serde::Deserialize)]
struct Ready {
    ready: bool,
    #[serde(default)]
    python: String,
}

/// A session's sandbox once its kernel is started: what differs between a cold and a warm one.
pub(super) struct Sandbox {
    /// The sandbox id (its workdir's and cgroup's name).
    pub id: String,
    pub holder: Holder,
    pub cgroup: Option<RunCgroup>,
    pub workdir: Workdir,
    pub lease: Option<UidLease>,
    /// Fed from the sandbox's stdout and stderr.
    pub streams: Streams,
    /// Reads the sandbox's reports until they end.
    pub reports: JoinHandle<Vec<Report>>,
    pub started: Instant,
}

/// The session of `sandbox`, whose kernel talks on `kernel` (our end of the session socket),
/// once the kernel is ready (see [`handshake`]); `reaper` gives the host pid of the sandbox's
/// reaper.
pub(super) async fn open(
    sandbox: Sandbox,
    kernel: std::os::unix::net::UnixStream,
    spec: &SessionSpec,
    reaper: impl std::future::Future<Output = Option<i32>>,
) -> Result<Session, RunnerError> {
    kernel.set_nonblocking(true)?;
    let kernel = tokio::net::UnixStream::from_std(kernel)?;
    let (kernel_r, kernel_w) = kernel.into_split();
    let replies = wire::spawn_reader(kernel_r);
    let session = Session {
        id: sandbox.id,
        holder: sandbox.holder,
        cgroup: sandbox.cgroup,
        workdir: sandbox.workdir,
        _lease: sandbox.lease,
        to_kernel: kernel_w,
        replies: None,
        streams: sandbox.streams,
        kernel: None,
        known: spec.files.iter().map(|f| f.path.clone()).collect(),
        limits: spec.limits.clone(),
        started: sandbox.started,
        python: String::new(),
        ended: None,
        reports: Reports::new(sandbox.reports),
    };
    handshake(session, replies, reaper).await
}

/// Wait for the kernel's "ready", then find the kernel process (the only child of the sandbox's
/// reaper, whose host pid `reaper` gives) for interrupts. A kernel that never says ready ends
/// the session with the reason its sandbox gave.
async fn handshake(
    mut session: Session,
    mut replies: tokio::sync::mpsc::Receiver<Vec<u8>>,
    reaper: impl std::future::Future<Output = Option<i32>>,
) -> Result<Session, RunnerError> {
    let ready = tokio::time::timeout(READY_WITHIN, replies.recv()).await;
    let ready: Option<Ready> = match ready {
        Ok(Some(frame)) => wire::decode(&frame),
        _ => None,
    };
    match ready {
        Some(r) if r.ready => session.python = r.python,
        _ => {
            let why = session.setup_failure().await;
            session.close().await;
            return Err(RunnerError::Sandbox(why));
        }
    }
    session.replies = Some(replies);
    if let Some(reaper) = reaper.await {
        session.kernel = Kernel::find(reaper);
    }
    if session.kernel.is_none() {
        tracing::warn!(
            "a session kernel's pid was not found: cells past their time end the session at once"
        );
    }
    tracing::debug!(
        session = %session.id,
        warm = session.is_warm(),
        start_ms = session.started.elapsed().as_millis() as u64,
        "session started"
    );
    Ok(session)
}
