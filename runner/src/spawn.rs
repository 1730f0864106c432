//! Parent side of one sandboxed process: spawn the helper with tokio::process (never fork here),
//! put it into the run's cgroup before it may read its spec, feed it, capture its output under
//! the cap, enforce the wall-clock deadline and collect what the helper reports.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cgroup::RunCgroup;
use crate::output::{Capture, Captured, Stream};
use crate::protocol::{encode_frame, HelperSpec, Report};
use crate::RunnerError;

/// How long the output pipes may stay open after the helper is gone (only a process that escaped
/// the pid namespace could hold them; this keeps such a bug from hanging the bot).
pub(crate) const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// How long a killed helper may take to be reaped.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Why the parent killed the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kill {
    WallClock,
    Output,
}

/// How the sandboxed program ended, as the helper reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    Exited(i32),
    Signaled(i32),
    SetupError(String),
    /// Killed by the parent before the helper could report.
    Unknown,
}

/// The result of one stage (compile or run).
#[derive(Debug)]
pub(crate) struct StageResult {
    pub end: End,
    pub killed: Option<Kill>,
    pub captured: Captured,
    pub wall: Duration,
    /// (max RSS in KiB, user+system CPU in µs) from the reaper's rusage.
    pub usage: Option<(u64, u64)>,
    pub landlock: Option<String>,
    /// Whether every process of the stage is known to be gone (the reaper was reaped by the
    /// helper, or it has exited since); output files are collected only then.
    pub all_gone: bool,
}

/// Run the helper with `spec` and wait for the sandboxed program to finish.
pub(crate) async fn run_stage(
    helper: &Path,
    spec: &HelperSpec,
    stdin: &[u8],
    cgroup: Option<&RunCgroup>,
    wall_limit: Duration,
    output_cap: usize,
) -> Result<StageResult, RunnerError> {
    let spec_json = serde_json::to_vec(spec)
        .map_err(|e| RunnerError::Sandbox(format!("encoding the run spec: {e}")))?;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let mut cmd = tokio::process::Command::new(helper);
    // The name tells an executable that embeds the helper (the `coderunner` binary) to be it.
    // No pid or path in argv: it is what the sandbox's /proc/1/cmdline shows.
    cmd.arg0(crate::helper::PROGRAM_NAME)
        .arg("run")
        .env_clear()
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        RunnerError::Sandbox(format!(
            "starting the sandbox helper {}: {e}",
            helper.display()
        ))
    })?;
    // The Command still holds the helper's end of the socket; without dropping it we would never
    // see EOF on the reports.
    drop(cmd);
    let pid = child
        .id()
        .ok_or_else(|| RunnerError::Sandbox("the sandbox helper exited at once".into()))?;
    if let Some(cg) = cgroup {
        if let Err(e) = cg.add(pid) {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(RunnerError::Sandbox(format!(
                "moving the helper into its cgroup: {e}"
            )));
        }
    }
    ours.set_nonblocking(true)?;
    let control = tokio::net::UnixStream::from_std(ours)?;
    let (mut control_r, mut control_w) = control.into_split();

    let capture = Capture::new(output_cap);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let readers = {
        let (c1, c2) = (capture.clone(), capture.clone());
        (
            tokio::spawn(async move {
                if let Some(s) = stdout {
                    c1.read_from(Stream::Stdout, s).await
                }
            }),
            tokio::spawn(async move {
                if let Some(s) = stderr {
                    c2.read_from(Stream::Stderr, s).await
                }
            }),
        )
    };
    let reports_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = (&mut control_r).take(64 << 10).read_to_end(&mut buf).await;
        buf
    });
    let mut frames = Vec::with_capacity(spec_json.len() + stdin.len() + 16);
    encode_frame(&mut frames, &spec_json);
    encode_frame(&mut frames, stdin);
    let feeder = tokio::spawn(async move {
        // The helper reads both frames before doing anything else; an error only means it died.
        let _ = control_w.write_all(&frames).await;
        control_w
    });

    let deadline = tokio::time::sleep(wall_limit);
    tokio::pin!(deadline);
    let killed = tokio::select! {
        _ = child.wait() => None,
        _ = &mut deadline => Some(Kill::WallClock),
        _ = capture.overflowed() => Some(Kill::Output),
    };
    if killed.is_some() {
        // SIGKILL every process of the run directly first, so hundreds of them die in parallel
        // instead of one after another down the PDEATHSIG chain; killing the helper then takes
        // the reaper and so the whole pid namespace with it (the chain also covers runs without
        // a cgroup).
        if let Some(cg) = cgroup {
            cg.kill_all();
        }
        let _ = child.start_kill();
    }
    if tokio::time::timeout(KILL_GRACE, child.wait())
        .await
        .is_err()
    {
        tracing::error!(pid, "the sandbox helper did not exit after SIGKILL");
    }
    let wall = started.elapsed();
    for handle in [readers.0, readers.1] {
        let abort = handle.abort_handle();
        if tokio::time::timeout(DRAIN_GRACE, handle).await.is_err() {
            tracing::error!("sandbox output pipes stayed open after the run ended");
            abort.abort();
        }
    }
    feeder.abort();
    let reports = match tokio::time::timeout(DRAIN_GRACE, reports_task).await {
        Ok(Ok(bytes)) => Report::parse_stream(&bytes),
        _ => Vec::new(),
    };

    let mut end = End::Unknown;
    let mut usage = None;
    let mut landlock = None;
    let mut reaper = None;
    let finished = reports
        .iter()
        .any(|r| matches!(r, Report::Exited { .. } | Report::Signaled { .. }));
    for r in reports {
        match r {
            Report::Reaper { pid } => reaper = Some(pid),
            // A set-up error of the program process (execve failed) is followed by the
            // reaper's report of its exit: the set-up error is what happened.
            Report::Exited { code } if !matches!(end, End::SetupError(_)) => {
                end = End::Exited(code)
            }
            Report::Signaled { signal } if !matches!(end, End::SetupError(_)) => {
                end = End::Signaled(signal)
            }
            Report::Exited { .. } | Report::Signaled { .. } => {}
            Report::SetupError { message } => {
                if !matches!(end, End::SetupError(_)) {
                    end = End::SetupError(message)
                }
            }
            Report::Landlock { status } => landlock = Some(status),
            Report::Usage {
                max_rss_kib,
                user_us,
                system_us,
            } => usage = Some((max_rss_kib, user_us + system_us)),
            // Only a warm slot's reaper says so; the cold helper waits for its reaper instead.
            Report::Alone => {}
        }
    }
    // The helper reports how the program ended only after it has reaped the reaper, and when
    // the reaper exits the kernel has already killed the rest of its pid namespace. Otherwise
    // (the helper was killed, or failed) the reaper may still be dying: wait for it.
    let reaped = finished;
    let all_gone = match reaper {
        Some(pid) if !reaped => tokio::task::spawn_blocking(move || wait_for_exit(pid, KILL_GRACE))
            .await
            .unwrap_or(false),
        _ => true,
    };
    if !all_gone {
        tracing::error!(
            pid,
            "a run's processes were still alive after it was killed"
        );
    }
    Ok(StageResult {
        end,
        killed,
        captured: capture.take(),
        wall,
        usage,
        landlock,
        all_gone,
    })
}

/// Wait up to `within` for process `pid` (not our child) to exit; true when it has, or is not
/// there. Its pid cannot have been reused while it lived: a reused pid only means it is gone, and
/// at worst costs this wait.
pub(crate) fn wait_for_exit(pid: i32, within: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        // ESRCH: already gone. Anything else (ENOSYS before 5.3): poll /proc instead.
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            return true;
        }
        let started = Instant::now();
        while started.elapsed() < within {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        return false;
    }
    // SAFETY: a fresh fd from pidfd_open, owned here.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    let mut pfd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = within.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: poll on one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return n == 1;
        }
    }
}
