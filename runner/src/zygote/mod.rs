//! The Python zygote: one sandboxed Python per warm pool that imported
//! `languages.python.preload` and froze its heap, and forks the pool's slots (see zygote.py for
//! the process side). Started through the ordinary sandbox helper (namespaces, read-only root,
//! its own cgroup and workdir, empty environment, no network, no_new_privs, a seccomp policy), as
//! a run's program would be, except that it keeps uid 0, four capabilities (namespaces and
//! mounts, uid/gid changes, dropping the bounding set) and a seccomp policy that lets it mount
//! and unshare: each slot it forks needs those to confine itself (uid, mounts, Landlock,
//! seccomp) before any user code runs. See helper/exec.rs `zygote_exec`.
//!
//! It is re-executed (a fresh ASLR layout and hash seed) every [`MAX_FORKS`] slots or
//! [`MAX_AGE`], and a new LocalRunner (a new configuration) starts a new one.

mod channel;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coderunner_config::{Language, Profile};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

pub(crate) use channel::Channel;

use crate::cgroup::{CgroupLimits, RunCgroup};
use crate::local::{Inner, STACK_BYTES, TMPFS_INODES};
use crate::owner::next_run_id;
use crate::plan::{self, Placeholders};
use crate::protocol::{encode_frame, Rlimits};
use crate::workdir::Workdir;

/// The zygote's script, written into its workdir.
const SCRIPT: &str = include_str!("zygote.py");
/// Where the script is, inside the zygote's sandbox.
const SCRIPT_PATH: &str = "/work/.coderunner-zygote.py";
/// Slots one zygote forks before it is replaced (they share its address-space layout).
pub(crate) const MAX_FORKS: u64 = 500;
/// How long one zygote serves before it is replaced.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(30 * 60);
/// Memory of the zygote's own cgroup (the preloaded modules; its slots have their own).
const MEMORY: u64 = 1 << 30;
/// Processes of the zygote's cgroup: helper, reaper, zygote, and slots not yet attached.
const PIDS: u64 = 64;
/// CPU seconds the zygote may use over its life (imports, then forking).
const CPU_SECS: u64 = 24 * 3600;
/// How long the preload may take (a cold page cache and a busy host make it slow).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running zygote.
#[derive(Debug)]
pub(crate) struct Zygote {
    /// The sandbox helper it runs under; killed (taking the zygote and every slot it forked
    /// with it) when this is dropped.
    _helper: tokio::process::Child,
    channel: Channel,
    /// Why the preload failed (Python runs then go cold); `None` when it succeeded.
    pub preload_error: Option<String>,
    /// Top-level modules loaded in the zygote.
    pub modules: Vec<String>,
    /// The command it serves in-process: the Python language's `run` (without `{file}`).
    pub run_prefix: Vec<String>,
    /// The read-only binds of its sandbox (a slot unmounts those its language lacks).
    pub binds: Vec<std::path::PathBuf>,
    /// Host pid of the zygote's Python process.
    pub pid: Option<i32>,
    started: Instant,
    forks: AtomicU64,
    cgroup: Option<RunCgroup>,
    _workdir: Workdir,
}

#[derive(Deserialize)]
struct Hello {
    kind: String,
    preload_error: Option<String>,
    #[serde(default)]
    modules: Vec<String>,
}

impl Zygote {
    /// Start a zygote for `python` (the language named `python`) under `profile`'s environment.
    pub(crate) async fn start(
        inner: &Inner,
        python: &Language,
        profile: &Profile,
    ) -> Result<Zygote, String> {
        let run_prefix = run_prefix(&python.run)?;
        let values = Placeholders::new(&python.file, profile.memory.0);
        // Resolved as a run's command is, so a run's argv can be compared with it.
        let run_prefix = plan::command(&run_prefix, &values, &[]).map_err(|e| e.0)?;
        let mut argv = run_prefix.clone();
        argv.push(SCRIPT_PATH.into());
        let id = format!("{}z", next_run_id(&inner.owner_tag));
        let workdir = Workdir::create(&inner.runs_dir, &id, 1 << 20, 64, Some((0, 0)), true)
            .map_err(|e| format!("the zygote's workdir: {e}"))?;
        std::fs::write(workdir.path().join(&SCRIPT_PATH[6..]), SCRIPT)
            .map_err(|e| format!("writing the zygote's script: {e}"))?;
        let cgroup = match &inner.cgroups {
            Some(c) => Some(
                c.create(
                    &id,
                    CgroupLimits {
                        memory: MEMORY.max(profile.memory.0),
                        pids: PIDS,
                        cpus: 0.0,
                    },
                )
                .map_err(|e| format!("the zygote's cgroup: {e}"))?,
            ),
            None => None,
        };
        let env = plan::environment(python, profile, &values);
        let rlimits = Rlimits {
            cpu_secs: CPU_SECS,
            file_size: profile.file_size.0,
            open_files: 1024,
            processes: PIDS,
            stack: STACK_BYTES,
            address_space: None,
        };
        let mut zprofile = profile.clone();
        zprofile.network = false;
        let mut spec = inner.helper_spec(
            python,
            &zprofile,
            workdir.path(),
            (0, 0),
            argv,
            env,
            rlimits,
        );
        spec.zygote = true;
        // The preloads of slots that start node or bash ahead of their run, in the root every
        // slot shares (see pool/prestart.rs).
        for (path, text) in [
            (crate::pool::NODE_PRELOAD_PATH, crate::pool::NODE_PRELOAD),
            (crate::pool::BASH_PRELOAD_PATH, crate::pool::BASH_PRELOAD),
        ] {
            spec.files.push((path.into(), text.into()));
        }
        spec.seccomp.truncate(crate::seccomp::ZYGOTE_FILTERS);
        spec.tmpfs_inodes = TMPFS_INODES;
        let binds = spec.ro_binds.clone();
        let spec_json = serde_json::to_vec(&spec).map_err(|e| e.to_string())?;

        let (channel, theirs) = Channel::pair().map_err(|e| format!("zygote channel: {e}"))?;
        let (control, helper_control) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| format!("zygote control socket: {e}"))?;
        let mut cmd = tokio::process::Command::new(&inner.helper);
        cmd.arg0(crate::helper::PROGRAM_NAME)
            .arg("run")
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(helper_control)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let raw = theirs.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl).
        unsafe {
            cmd.pre_exec(move || put_on_fd3(raw));
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting the sandbox helper for the zygote: {e}"))?;
        drop(cmd);
        drop(theirs);
        let pid = child
            .id()
            .ok_or("the zygote's helper exited at once".to_string())?;
        if let Some(cg) = &cgroup {
            if let Err(e) = cg.add(pid) {
                let _ = child.start_kill();
                return Err(format!("moving the zygote into its cgroup: {e}"));
            }
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::warn!(target: "coderunner_runner::zygote", "zygote: {line}");
                }
            });
        }
        control
            .set_nonblocking(true)
            .map_err(|e| format!("zygote control socket: {e}"))?;
        let control = tokio::net::UnixStream::from_std(control)
            .map_err(|e| format!("zygote control socket: {e}"))?;
        let (mut control_r, mut control_w) = control.into_split();
        let mut frames = Vec::new();
        encode_frame(&mut frames, &spec_json);
        encode_frame(&mut frames, b"");
        control_w
            .write_all(&frames)
            .await
            .map_err(|e| format!("sending the zygote's spec: {e}"))?;
        // The helper's reports (a set-up error, or how the zygote ended) go to the log.
        let reports = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut control_r, &mut buf).await;
            let _keep = control_w;
            crate::protocol::Report::parse_stream(&buf)
        });

        let init = serde_json::json!({ "preload": python.preload });
        channel
            .send(init.to_string().as_bytes(), &[])
            .map_err(|e| format!("greeting the zygote: {e}"))?;
        let hello = match tokio::time::timeout(START_TIMEOUT, channel.recv()).await {
            Ok(Ok(m)) if !m.bytes.is_empty() => m,
            Ok(Ok(_)) | Ok(Err(_)) => {
                let _ = child.start_kill();
                let why = match tokio::time::timeout(Duration::from_secs(5), reports).await {
                    Ok(Ok(r)) => format!("{r:?}"),
                    _ => "no report".into(),
                };
                return Err(format!("the zygote did not start: {why}"));
            }
            Err(_) => {
                let _ = child.start_kill();
                return Err(format!(
                    "the zygote did not finish its preload within {} s",
                    START_TIMEOUT.as_secs()
                ));
            }
        };
        let pid = hello.pid.filter(|p| *p > 0);
        let hello: Hello = serde_json::from_slice(&hello.bytes)
            .map_err(|e| format!("the zygote's greeting: {e}"))?;
        if hello.kind != "zygote" {
            return Err(format!("the zygote greeted with `{}`", hello.kind));
        }
        if let Some(why) = &hello.preload_error {
            tracing::warn!("the Python zygote's preload failed, Python runs start cold: {why}");
        }
        Ok(Zygote {
            _helper: child,
            channel,
            preload_error: hello.preload_error,
            modules: hello.modules,
            run_prefix,
            binds,
            pid,
            started: Instant::now(),
            forks: AtomicU64::new(0),
            cgroup,
            _workdir: workdir,
        })
    }

    /// Ask for one slot: `spec` is the slot's JSON, `fds` the slot socket, the stdout and stderr
    /// pipes and the workdir mount.
    pub(crate) fn fork(&self, spec: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
        self.forks.fetch_add(1, Ordering::Relaxed);
        self.channel.send(spec, fds)
    }

    /// Whether it is time to replace it.
    pub(crate) fn due(&self) -> bool {
        self.forks.load(Ordering::Relaxed) >= MAX_FORKS || self.started.elapsed() >= MAX_AGE
    }

    /// How long it has been serving.
    pub(crate) fn age(&self) -> Duration {
        self.started.elapsed()
    }

    /// Its workdir on the host.
    pub(crate) fn workdir(&self) -> &std::path::Path {
        self._workdir.path()
    }

    /// Slots forked so far.
    pub(crate) fn forks(&self) -> u64 {
        self.forks.load(Ordering::Relaxed)
    }

    /// Host pids of the zygote's own processes (helper, reaper, the zygote).
    pub(crate) fn pids(&self) -> Vec<i32> {
        self.cgroup
            .as_ref()
            .map(RunCgroup::pids)
            .unwrap_or_default()
    }
}

/// The Python `run` command up to `{file}`, which must be its last word (the zygote runs the
/// file itself, with the interpreter and flags before it).
pub(crate) fn run_prefix(run: &[String]) -> Result<Vec<String>, String> {
    match run.split_last() {
        Some((last, rest)) if last == "{file}" && !rest.iter().any(|a| a.contains("{file}")) => {
            Ok(rest.to_vec())
        }
        _ => Err(
            "languages.python.run must end with \"{file}\" (e.g. [/usr/bin/python3, -E, -s, -B, -u, \"{file}\"]) for the zygote to stand in for it"
                .into(),
        ),
    }
}

/// In the helper's child between fork and exec: make `fd` its fd 3 (inherited across exec).
fn put_on_fd3(fd: RawFd) -> std::io::Result<()> {
    const TARGET: RawFd = crate::helper::exec::ZYGOTE_CHANNEL;
    // SAFETY: dup2/fcntl on fds this process holds; both are async-signal-safe.
    let rc = unsafe {
        if fd == TARGET {
            libc::fcntl(fd, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, TARGET)
        }
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Resident, proportional and private (USS) memory (bytes) of `pids` together, from
/// smaps_rollup.
pub(crate) fn memory_of(pids: &[i32]) -> (u64, u64, u64) {
    let (mut rss, mut pss, mut uss) = (0, 0, 0);
    for pid in pids {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(key), Some(kib)) = (words.next(), words.next()) else {
                continue;
            };
            let kib: u64 = kib.parse().unwrap_or(0);
            match key {
                "Rss:" => rss += kib * 1024,
                "Pss:" => pss += kib * 1024,
                "Private_Clean:" | "Private_Dirty:" => uss += kib * 1024,
                _ => {}
            }
        }
    }
    (rss, pss, uss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_command_must_end_with_the_file() {
        let ok: Vec<String> = ["/usr/bin/python3", "-E", "-u", "{file}"]
            .map(String::from)
            .to_vec();
        assert_eq!(run_prefix(&ok).expect("ok"), ok[..3]);
        let bad: Vec<String> = ["/usr/bin/python3", "{file}", "-u"]
            .map(String::from)
            .to_vec();
        assert!(run_prefix(&bad).is_err());
        assert!(run_prefix(&[]).is_err());
    }

    #[test]
    fn memory_of_this_process_is_counted() {
        let (rss, pss, uss) = memory_of(&[std::process::id() as i32]);
        assert!(
            rss > 0 && pss > 0 && uss > 0 && uss <= pss && pss <= rss,
            "rss {rss} pss {pss} uss {uss}"
        );
    }
}
