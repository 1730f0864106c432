//! Starting a session: the same sandbox as a run (uid, cgroup, namespaces, seccomp, Landlock,
//! no network, a capped tmpfs workdir holding the workspace's files), with the kernel as its
//! program and a socket to it as its fd 0. Forked from the warm pool's zygote when the runner
//! has one that can serve it (warm.rs), else started cold through the sandbox helper (here);
//! either way open.rs makes the Session.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coderunner_config::MemoryStrategy;
use tokio::io::AsyncReadExt;

use super::open::{open, Sandbox};
use super::{host::Holder, streams::Streams, Session, SessionSpec};
use crate::cgroup::{CgroupLimits, RunCgroup};
use crate::files;
use crate::local::{HELPER_PIDS, STACK_BYTES};
use crate::plan::{self, Placeholders};
use crate::protocol::{encode_frame, ProgramStdin, Report, Rlimits};
use crate::{LocalRunner, RunnerError};

/// The kernel, run with `python3 -c` (or its source run so in a zygote's fork).
pub(super) const KERNEL: &str = include_str!("kernel.py");
/// The session's RLIMIT_CPU: the host bounds each cell's CPU time itself, this only bounds a
/// session nobody stops (a day of CPU).
const SESSION_CPU_SECS: u64 = 24 * 3600;

/// Start a session sandbox for `spec` on this host.
pub async fn start(runner: &LocalRunner, spec: SessionSpec) -> Result<Session, RunnerError> {
    let inner = runner.inner();
    if let Some(why) = inner.refusal() {
        return Err(RunnerError::InvalidRequest(why.to_string()));
    }
    if inner.cgroups.is_none() && spec.language.memory == MemoryStrategy::CgroupOnly {
        return Err(RunnerError::InvalidRequest(
            "sessions of this language need a memory cgroup, which this host does not give".into(),
        ));
    }
    files::validate_input_set(spec.files.iter().map(|f| f.path.as_str()))
        .map_err(|e| RunnerError::InvalidRequest(e.to_string()))?;
    let limits = &spec.limits;
    let values = Placeholders::new("main.py", limits.memory.0);
    let python = spec
        .language
        .run
        .first()
        .cloned()
        .ok_or_else(|| RunnerError::InvalidRequest("the language has no run command".into()))?;
    let mut argv = plan::command(&[python], &values, &[])
        .map_err(|e| RunnerError::InvalidRequest(format!("python: {}", e.0)))?;
    let interpreter = argv.first().cloned().unwrap_or_default();
    match super::warm::start(runner, &spec, &interpreter).await {
        Some(Ok(session)) => return Ok(session),
        Some(Err(e @ RunnerError::InvalidRequest(_))) => return Err(e),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "a warm session could not start; it starts cold");
        }
        None => {}
    }
    // As a one-shot run: no environment, no user site, no bytecode files; unbuffered so output
    // arrives as it is written. The workdir is on the import path (`-c` puts '' first).
    argv.extend(["-E", "-s", "-B", "-u", "-c", KERNEL].map(String::from));

    let (lease, (uid, gid)) = inner.sandbox_ids()?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let id = format!(
        "{}-s{}",
        inner.owner_tag,
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let workdir = inner
        .sandbox_workdir(
            &id,
            limits.workdir_size.0,
            lease.as_ref().map(|_| (uid, gid)),
        )
        .await?;
    let owner = inner.rootless.is_none().then_some((uid, gid));
    files::write_inputs(workdir.path(), &spec.files, owner).map_err(|e| {
        RunnerError::InvalidRequest(format!(
            "writing the workspace's files: {e} (are they larger than the workdir?)"
        ))
    })?;
    let cgroup: Option<RunCgroup> = match &inner.cgroups {
        Some(c) => Some(
            c.create(
                &id,
                CgroupLimits {
                    memory: limits.memory.0,
                    pids: u64::from(limits.pids) + HELPER_PIDS,
                    cpus: limits.cpus,
                },
            )
            .map_err(|e| RunnerError::Sandbox(format!("creating the session's cgroup: {e}")))?,
        ),
        None => None,
    };
    let address_space = (cgroup.is_none() && spec.language.memory == MemoryStrategy::RlimitAs)
        .then_some(limits.memory.0);
    let mut env = plan::environment(&spec.language, limits, &values);
    for (k, v) in &spec.env {
        env.retain(|(existing, _)| existing != k);
        env.push((k.clone(), v.clone()));
    }
    let rlimits = Rlimits {
        cpu_secs: SESSION_CPU_SECS,
        file_size: limits.file_size.0,
        open_files: u64::from(limits.open_files),
        processes: u64::from(limits.pids),
        stack: STACK_BYTES,
        address_space,
    };
    // A session never has network, whatever the profile says (`--privileged` never runs in
    // one).
    let mut offline = limits.clone();
    offline.network = false;
    let mut helper_spec = inner.helper_spec(
        &spec.language,
        &offline,
        workdir.path(),
        (uid, gid),
        argv,
        env,
        rlimits,
    );
    (helper_spec.workdir_host, helper_spec.workdir_handle) = workdir.helper_source();
    helper_spec.stdin = ProgramStdin::Fd3;
    let spec_json = serde_json::to_vec(&helper_spec)
        .map_err(|e| RunnerError::Sandbox(format!("encoding the session spec: {e}")))?;

    let (control_ours, control_theirs) = std::os::unix::net::UnixStream::pair()?;
    let (kernel_ours, kernel_theirs) = std::os::unix::net::UnixStream::pair()?;
    let kernel_fd = OwnedFd::from(kernel_theirs);
    let raw = kernel_fd.as_raw_fd();
    let mut cmd = tokio::process::Command::new(&inner.helper);
    cmd.arg0(crate::helper::PROGRAM_NAME)
        .arg("run")
        .env_clear()
        .stdin(Stdio::from(OwnedFd::from(control_theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: dup2 is async-signal-safe; it gives the helper the kernel's socket as fd 3 (dup2
    // clears close-on-exec on the copy; the original stays close-on-exec).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        RunnerError::Sandbox(format!(
            "starting the sandbox helper {}: {e}",
            inner.helper.display()
        ))
    })?;
    drop(cmd);
    drop(kernel_fd);
    let pid = child
        .id()
        .ok_or_else(|| RunnerError::Sandbox("the sandbox helper exited at once".into()))?;
    if let Some(cg) = &cgroup {
        if let Err(e) = cg.add(pid) {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(RunnerError::Sandbox(format!(
                "moving the helper into its cgroup: {e}"
            )));
        }
    }
    let streams = Streams::reading(child.stdout.take(), child.stderr.take());
    control_ours.set_nonblocking(true)?;
    let control = tokio::net::UnixStream::from_std(control_ours)?;
    let (mut control_r, mut control_w) = control.into_split();
    let mut frames = Vec::with_capacity(spec_json.len() + 16);
    encode_frame(&mut frames, &spec_json);
    encode_frame(&mut frames, &[]);
    tokio::io::AsyncWriteExt::write_all(&mut control_w, &frames).await?;
    // The helper's reports: the reaper's pid first, the program's end when the session ends.
    let (reaper_tx, reaper_rx) = tokio::sync::oneshot::channel();
    let reports = tokio::spawn(async move {
        let _keep_open = control_w;
        let mut buf = Vec::new();
        let mut reaper_tx = Some(reaper_tx);
        let mut chunk = [0u8; 4096];
        loop {
            match control_r.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 64 << 10 {
                break;
            }
            if let Some(tx) = reaper_tx.take() {
                match Report::parse_stream(&buf)
                    .into_iter()
                    .find_map(|r| match r {
                        Report::Reaper { pid } => Some(pid),
                        _ => None,
                    }) {
                    Some(pid) => {
                        let _ = tx.send(pid);
                    }
                    None => reaper_tx = Some(tx),
                }
            }
        }
        Report::parse_stream(&buf)
    });

    let sandbox = Sandbox {
        id,
        holder: Holder::Helper(child),
        cgroup,
        workdir,
        lease,
        streams,
        reports,
        started,
    };
    let reaper = async move {
        tokio::time::timeout(Duration::from_secs(2), reaper_rx)
            .await
            .ok()
            .and_then(Result::ok)
    };
    open(sandbox, kernel_ours, &spec, reaper).await
}
