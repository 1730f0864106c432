//! Notebook sessions from the warm pool: a session's sandbox forked on demand from the pool's
//! Python zygote (numpy, pandas and matplotlib already imported, heap frozen), confined like a
//! cold session (its own uid lease, workdir tmpfs, cgroup with the session profile's memory,
//! pids and CPU share, namespaces, rlimits, Landlock, every seccomp filter, no network) by the
//! same slot machinery as a warm run. Only the shape differs from a run's: the session profile's
//! limits, and a day of RLIMIT_CPU, since the host bounds each cell's CPU time itself.
//!
//! Forked on demand rather than kept ready: a ready slot would cost a uid, a cgroup and a
//! process per idle slot for sessions that may never come, and the fork, confinement and cgroup
//! attach together cost tens of milliseconds (see the README's session figures).

use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coderunner_config::{Language, Profile};

use super::slot::Slot;
use super::spec::Shape;
use super::WarmPool;
use crate::cgroup::RunCgroup;
use crate::uids::UidLease;
use crate::workdir::Workdir;
use crate::zygote::{Channel, Zygote};

/// The session's RLIMIT_CPU, as the cold session's (session/start.rs): a day of CPU bounds only a
/// session nobody stops; each cell's CPU time is watched by the host.
pub(crate) const SESSION_CPU: Duration = Duration::from_secs(24 * 3600);

/// A confined fork of the zygote waiting for the session's "go": the pieces a session keeps
/// for its life. Its processes end when `sock` closes before "go", or with its cgroup.
#[derive(Debug)]
pub(crate) struct SessionSlot {
    /// The slot's socket: "go" goes out on it, and the reaper's reports (how the kernel ended)
    /// come back on it.
    pub sock: Channel,
    pub out: Option<OwnedFd>,
    pub err: Option<OwnedFd>,
    pub cgroup: Option<RunCgroup>,
    pub workdir: Workdir,
    pub lease: UidLease,
    pub uid: u32,
    /// Host pid of the slot's PID 1 (its reaper; the kernel is its only child).
    pub pid: i32,
    /// The zygote it was forked from, kept alive for as long as the session lives: a slot's
    /// reaper dies with its zygote (PR_SET_PDEATHSIG).
    pub zygote: Arc<Zygote>,
}

impl WarmPool {
    /// The zygote a session of `language` (its `run` already resolved to `interpreter`) can be
    /// forked from: the pool is on, the preload succeeded, the interpreter is the zygote's (run
    /// unbuffered) and the language's read-only binds are all in the zygote's sandbox. Waits for a zygote that
    /// is still starting as a run would (the pool's slot wait, zero in a service).
    async fn session_zygote(&self, language: &Language, interpreter: &str) -> Option<Arc<Zygote>> {
        let deadline = Instant::now() + self.slot_wait;
        loop {
            let (zygote, starting) = {
                let st = self.lock();
                (st.zygote.clone(), st.status == "starting")
            };
            if self.stopped.load(Ordering::Relaxed) {
                return None;
            }
            match zygote {
                Some(z) => {
                    let binds = self.inner.layout.binds_for(language, false);
                    let fits = z.preload_error.is_none()
                        && z.run_prefix.first().map(String::as_str) == Some(interpreter)
                        // The kernel's output must arrive as it is written, as with the cold
                        // kernel's -u.
                        && z.run_prefix.iter().any(|a| a == "-u")
                        && binds.iter().all(|b| z.binds.contains(b));
                    return fits.then_some(z);
                }
                None if starting && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => return None,
            }
        }
    }

    /// Fork and confine a session sandbox for `language` under `profile`; `None` when the pool
    /// cannot serve sessions of this language (the session then starts cold), an error when
    /// forking or confining failed.
    pub(crate) async fn session_slot(
        &self,
        language: &Language,
        interpreter: &str,
        profile: &Profile,
    ) -> Option<Result<SessionSlot, String>> {
        let zygote = self.session_zygote(language, interpreter).await?;
        let mut profile = profile.clone();
        // A session never has network, whatever the profile says; and its RLIMIT_CPU is the
        // session's, not a run's.
        profile.network = false;
        profile.cpu_time = SESSION_CPU.into();
        let shape = Shape::new("python-session", language, &profile);
        let slot = match Slot::create(&self.inner, &shape, zygote).await {
            Ok(slot) => slot,
            Err(why) => return Some(Err(why)),
        };
        Some(Ok(slot.into_session()))
    }
}
