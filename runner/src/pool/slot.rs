//! One warm slot, parent side: made ahead of time (uid lease, workdir tmpfs, cgroup, a child of
//! the zygote moved into that cgroup and confined), then used for exactly one run: the inputs
//! are written, "go" starts the program, and the run is timed, capped and killed like a cold
//! stage. Dropping an unused slot tears it down (its processes exit when their socket closes,
//! and the cgroup, workdir and uid go the way of a cold run's).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coderunner_config::Profile;
use nix::fcntl::OFlag;
use serde::Deserialize;

use super::prestart::{self, Prestart, Runtime};
use super::spec::{Go, Shape, SlotSpec};
use crate::cgroup::{CgroupLimits, RunCgroup};
use crate::local::{Inner, TMPFS_INODES};
use crate::output::{Capture, Stream};
use crate::owner::next_run_id;
use crate::protocol::Report;
use crate::spawn::{wait_for_exit, End, Kill, StageResult, DRAIN_GRACE};
use crate::stage::{Measured, StageLimits};
use crate::uids::UidLease;
use crate::workdir::Workdir;
use crate::zygote::{Channel, Zygote};

/// How long a slot may take to confine itself.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a killed slot may take to report and exit.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How long a used slot waits before its teardown (see [`Slot::retire`]).
const RETIRE_AFTER: Duration = Duration::from_millis(10);

/// A ready slot.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Closing it ends the slot's processes if they never got a run.
    sock: Channel,
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    cgroup: Option<RunCgroup>,
    /// The limits its cgroup was made with (a run with the same ones writes none).
    limits: CgroupLimits,
    pub workdir: Workdir,
    pub uid: u32,
    /// Host pid of the slot's PID 1 (its reaper).
    pid: i32,
    landlock: Option<String>,
    pub zygote: Arc<Zygote>,
    /// The node or bash the slot started ahead of its run, the memfd that is its stdin, and
    /// (bash) the write end of its go pipe.
    pub prestart: Option<Prestart>,
    stdin: Option<OwnedFd>,
    go_pipe: Option<OwnedFd>,
    _lease: UidLease,
}

/// Why a slot could not serve a run that was handed to it before the program started (the run
/// then goes cold).
#[derive(Debug)]
pub(crate) struct Unusable(pub String);

#[derive(Deserialize)]
struct Kind {
    kind: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

impl Slot {
    /// Make one slot of `shape` from `zygote`.
    pub(crate) async fn create(
        inner: &Inner,
        shape: &Shape,
        zygote: Arc<Zygote>,
    ) -> Result<Slot, String> {
        let cgroups = inner.cgroups.as_ref().ok_or("no cgroups")?;
        let uids = inner.uids.as_ref().ok_or("no per-run uids")?;
        let lease = uids
            .lease()
            .map_err(|e| format!("leasing a uid: {e}"))?
            .ok_or("every uid of runner.uid_range is in use")?;
        let uid = lease.uid;
        let run_id = next_run_id(&inner.owner_tag);
        let workdir = Workdir::create(
            &inner.runs_dir,
            &run_id,
            shape.profile.workdir_size.0,
            TMPFS_INODES,
            Some((uid, uid)),
            true,
        )
        .map_err(|e| format!("the slot's workdir: {e}"))?;
        let tree = open_tree(workdir.path()).map_err(|e| format!("open_tree: {e}"))?;
        let limits = CgroupLimits {
            memory: shape.profile.memory.0,
            pids: Shape::cgroup_pids(&shape.profile),
            cpus: shape.profile.cpus,
        };
        let cgroup = cgroups
            .create(&run_id, limits)
            .map_err(|e| format!("the slot's cgroup: {e}"))?;
        let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
        let (sock, theirs) = Channel::pair().map_err(|e| format!("slot socket: {e}"))?;
        let mut prestart = prestart_of(shape);
        let exec = match &prestart {
            Some(p) => match p.exec(u64::from(shape.profile.open_files)) {
                Ok(e) => Some((e, p.preload_path())),
                // Too few fds for the preload's: the slot execs the command at go instead.
                Err(why) => {
                    tracing::debug!(language = %shape.language, "not started ahead of runs: {why}");
                    None
                }
            },
            None => None,
        };
        if exec.is_none() {
            prestart = None;
        }
        let spec = SlotSpec::new(inner, shape, uid, &zygote.binds, exec);
        let spec = serde_json::to_vec(&spec).map_err(|e| e.to_string())?;
        zygote
            .fork(
                &spec,
                &[
                    theirs.as_raw_fd(),
                    out_w.as_raw_fd(),
                    err_w.as_raw_fd(),
                    tree.as_raw_fd(),
                ],
            )
            .map_err(|e| format!("asking the zygote for a slot: {e}"))?;
        drop((theirs, out_w, err_w, tree));
        let mut slot = Slot {
            sock,
            out: Some(out_r),
            err: Some(err_r),
            cgroup: Some(cgroup),
            limits,
            workdir,
            uid,
            pid: 0,
            landlock: None,
            zygote,
            prestart,
            stdin: None,
            go_pipe: None,
            _lease: lease,
        };
        tokio::time::timeout(SETUP_TIMEOUT, slot.confine())
            .await
            .map_err(|_| "the slot did not get ready in time".to_string())??;
        Ok(slot)
    }

    /// The slot's side of its set-up: hello (with its pid), attach, then ready.
    async fn confine(&mut self) -> Result<(), String> {
        let hello = self.sock.recv().await.map_err(|e| e.to_string())?;
        let kind = parse(&hello.bytes)?;
        if kind.kind != "hello" {
            return Err(kind
                .message
                .unwrap_or_else(|| format!("the slot said `{}`", kind.kind)));
        }
        let pid = hello
            .pid
            .filter(|p| *p > 0)
            .ok_or("the slot's pid is not visible")?;
        self.pid = pid;
        // The cgroup v1 attach waits for an RCU grace period: here, off the run's path.
        if let Some(cg) = &self.cgroup {
            cg.add(pid as u32)
                .map_err(|e| format!("moving the slot into its cgroup: {e}"))?;
        }
        self.sock
            .send(b"attached", &[])
            .map_err(|e| e.to_string())?;
        loop {
            let m = self.sock.recv().await.map_err(|e| e.to_string())?;
            if m.bytes.is_empty() {
                return Err("the slot ended during its set-up".into());
            }
            let kind = parse(&m.bytes)?;
            match kind.kind.as_str() {
                "landlock" => self.landlock = kind.status,
                "stdin" if self.prestart.is_some() => {
                    let mut fds = m.fds.into_iter();
                    self.stdin = Some(fds.next().ok_or("no stdin memfd")?);
                    self.go_pipe = fds.next();
                }
                "ready" if self.prestart.is_some() && self.stdin.is_none() => {
                    return Err("a slot got ready without its stdin".into())
                }
                "ready"
                    if self.prestart.as_ref().map(|p| p.runtime) == Some(Runtime::Bash)
                        && self.go_pipe.is_none() =>
                {
                    return Err("a bash slot got ready without its go pipe".into())
                }
                "ready" => return Ok(()),
                "setup_error" => {
                    return Err(kind.message.unwrap_or_else(|| "set-up failed".into()))
                }
                other => return Err(format!("unexpected message `{other}` from a slot")),
            }
        }
    }

    /// Run the program (its inputs already written to the workdir) under `limits`.
    pub(crate) async fn run(
        &mut self,
        go: &Go,
        stdin: &[u8],
        limits: &StageLimits,
        profile: &Profile,
    ) -> Result<Measured, Unusable> {
        let cgroup = self
            .cgroup
            .take()
            .ok_or_else(|| Unusable("the slot was used".into()))?;
        let wanted = CgroupLimits {
            memory: limits.memory,
            pids: Shape::cgroup_pids(profile),
            cpus: profile.cpus,
        };
        let set = if wanted == self.limits {
            Ok(())
        } else {
            cgroup.set_limits(wanted)
        };
        if let Err(e) = set {
            self.cgroup = Some(cgroup);
            return Err(Unusable(format!("setting the slot's limits: {e}")));
        }
        // A pre-started node has had its stdin since before it started: fill that one.
        let stdin_fd = match self.stdin.take() {
            Some(memfd) => {
                if let Err(e) = prestart::fill_stdin(&memfd, stdin) {
                    self.cgroup = Some(cgroup);
                    return Err(Unusable(format!("the slot's stdin: {e}")));
                }
                None
            }
            None => Some(
                crate::helper::exec::stdin_memfd(stdin)
                    .map_err(|e| Unusable(format!("stdin: {}", e.0)))?,
            ),
        };
        let go_json = serde_json::to_vec(go).map_err(|e| Unusable(e.to_string()))?;
        let capture = Capture::new(limits.output);
        let started = Instant::now();
        let fds: Vec<_> = stdin_fd.iter().map(AsRawFd::as_raw_fd).collect();
        let sent = match self.go_pipe.take() {
            // A pre-started bash reads its go from a pipe (the arguments fit in its buffer).
            Some(pipe) => match prestart::bash_go(&go.args) {
                Some(bytes) => std::io::Write::write_all(&mut std::fs::File::from(pipe), &bytes),
                None => Err(std::io::Error::other(
                    "the arguments are too large for the go pipe",
                )),
            },
            None => self.sock.send(&go_json, &fds),
        };
        if let Err(e) = sent {
            self.cgroup = Some(cgroup);
            return Err(Unusable(format!("starting the slot's program: {e}")));
        }
        drop(stdin_fd);
        // The output is read from here on, while the program starts (what it writes first waits
        // in the pipes).
        let readers = [
            (Stream::Stdout, self.out.take()),
            (Stream::Stderr, self.err.take()),
        ]
        .map(|(stream, fd)| {
            let c = capture.clone();
            tokio::spawn(async move {
                if let Some(r) =
                    fd.and_then(|fd| tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok())
                {
                    c.read_from(stream, r).await
                }
            })
        });

        let mut reports: Vec<Report> = Vec::new();
        let mut ended = false;
        let killed = {
            let collect = self.sock.reports(&mut reports);
            tokio::pin!(collect);
            let deadline = tokio::time::sleep(limits.wall);
            tokio::pin!(deadline);
            tokio::select! {
                _ = &mut collect => { ended = true; None }
                _ = &mut deadline => Some(Kill::WallClock),
                _ = capture.overflowed() => Some(Kill::Output),
            }
        };
        if killed.is_some() {
            cgroup.kill_all();
        }
        if !ended {
            let _ = tokio::time::timeout(KILL_GRACE, self.sock.reports(&mut reports)).await;
        }
        let wall = started.elapsed();
        let pid = self.pid;
        // The reaper said it is the run's last process: nothing of the run can still write, and
        // its own exit (which kills nothing) need not be waited for here.
        let alone = killed.is_none() && reports.iter().any(|r| matches!(r, Report::Alone));
        let all_gone = alone
            || tokio::task::spawn_blocking(move || wait_for_exit(pid, KILL_GRACE))
                .await
                .unwrap_or(false);
        if !all_gone {
            tracing::error!(
                pid,
                "a warm run's processes were still alive after it ended"
            );
        }
        for handle in readers {
            let abort = handle.abort_handle();
            if tokio::time::timeout(DRAIN_GRACE, handle).await.is_err() {
                tracing::error!("sandbox output pipes stayed open after the run ended");
                abort.abort();
            }
        }
        let (end, usage, landlock) = judge(reports);
        let stats = cgroup.stats();
        // A cgroup holding only a reaper that is alone (it waits to be let go), or none at all,
        // is removed by the slot's retirement, after the outcome is returned (see
        // [`Slot::retire`]); one that still holds a process is emptied and removed before, as
        // the cold path does.
        let cgroup_gone = if alone || (all_gone && cgroup.is_empty()) {
            self.cgroup = Some(cgroup);
            true
        } else {
            cgroup.remove().await
        };
        Ok(Measured {
            result: StageResult {
                end,
                killed,
                captured: capture.take(),
                wall,
                usage,
                landlock: landlock.or_else(|| self.landlock.clone()),
                all_gone,
            },
            stats,
            all_gone: all_gone && cgroup_gone,
        })
    }

    /// Tear a used slot down a little after its run was answered: the reaper's exit (a copy
    /// of the zygote's address space and the run's namespaces), the cgroup's rmdir and the
    /// workdir's unmount take milliseconds of CPU that, on a small host, would otherwise compete
    /// with sending the answer. The uid is released last, when nothing of the run is left.
    /// (Cancelled, e.g. by its runtime shutting down, the slot's drop does the same at once.)
    pub(crate) async fn retire(mut self) {
        tokio::time::sleep(RETIRE_AFTER).await;
        if let Some(cgroup) = self.cgroup.take() {
            if !cgroup.remove().await {
                tracing::error!("a warm run's cgroup could not be removed");
            }
        }
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }

    /// Host pids of the slot's processes.
    pub(crate) fn pids(&self) -> Vec<i32> {
        self.cgroup
            .as_ref()
            .map(RunCgroup::pids)
            .unwrap_or_default()
    }
}

/// The program a slot of `shape` starts ahead of its run, for node and bash (else the slot
/// execs the command when the run starts).
fn prestart_of(shape: &Shape) -> Option<Prestart> {
    prestart::serves(&shape.spec)?;
    match Prestart::new(&shape.spec, &shape.profile) {
        Ok(n) => Some(n),
        Err(why) => {
            tracing::warn!(language = %shape.language, "not started ahead of runs: {why}");
            None
        }
    }
}

impl Slot {
    /// Hand the confined slot over to a notebook session, which keeps its pieces for its life
    /// (see session_slot.rs).
    pub(crate) fn into_session(self) -> super::session_slot::SessionSlot {
        super::session_slot::SessionSlot {
            sock: self.sock,
            out: self.out,
            err: self.err,
            cgroup: self.cgroup,
            workdir: self.workdir,
            lease: self._lease,
            uid: self.uid,
            pid: self.pid,
            zygote: self.zygote,
        }
    }
}

/// How the program ended, as the slot reported it (the cold path's rules: a set-up error wins).
fn judge(reports: Vec<Report>) -> (End, Option<(u64, u64)>, Option<String>) {
    let mut end = End::Unknown;
    let mut usage = None;
    let mut landlock = None;
    for r in reports {
        match r {
            Report::SetupError { message } if !matches!(end, End::SetupError(_)) => {
                end = End::SetupError(message)
            }
            Report::Exited { code } if !matches!(end, End::SetupError(_)) => {
                end = End::Exited(code)
            }
            Report::Signaled { signal } if !matches!(end, End::SetupError(_)) => {
                end = End::Signaled(signal)
            }
            Report::Usage {
                max_rss_kib,
                user_us,
                system_us,
            } => usage = Some((max_rss_kib, user_us + system_us)),
            Report::Landlock { status } => landlock = Some(status),
            _ => {}
        }
    }
    (end, usage, landlock)
}

fn parse(bytes: &[u8]) -> Result<Kind, String> {
    if bytes.is_empty() {
        return Err("the slot ended during its set-up".into());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("a slot's message: {e}"))
}

/// A detached copy of the mount at `path` (open_tree with OPEN_TREE_CLONE, Linux 5.2), which
/// the slot attaches at /work in its own mount namespace: the same tmpfs the parent writes the
/// inputs into and reads the outputs from.
fn open_tree(path: &Path) -> std::io::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: open_tree with a valid path; returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
