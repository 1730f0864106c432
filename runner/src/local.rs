//! LocalRunner: runs requests in sandboxes on this host. Owns what is made once (seccomp program,
//! cgroup parent, base layout, uid pool) and orchestrates each run:
//! workdir, cgroup, optional compile stage, run stage, output files, teardown.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coderunner_config::{Config, IsolationPolicy, MemoryStrategy, Profile};

use crate::cgroup::{CgroupLimits, CgroupStats, Cgroups, RunCgroup};
use crate::files::{self, CollectLimits, Snapshot};
use crate::host::{probe_isolation_cached, Verdict};
use crate::outcome::{CompileOutcome, RunOutcome, RunStatus};
use crate::output::into_text;
use crate::owner::{is_stale, owner_tag};
use crate::plan::{self, BaseLayout, Placeholders};
use crate::protocol::{HelperSpec, Isolation, Network, ProgramStdin, Rlimits};
use crate::spawn::{run_stage, StageResult};
use crate::status::{self, classify};
use crate::uids::{UidLease, UidPool};
use crate::workdir::{self, Workdir};
use crate::{seccomp, RunRequest, Runner, RunnerError};

/// Inode cap of every tmpfs of a run (files a program can create: bounds directory bombs).
const TMPFS_INODES: u64 = 16_384;
/// Stack limit of sandboxed programs.
const STACK_BYTES: u64 = 8 << 20;
/// The helper and the reaper count against the pids cgroup too.
const HELPER_PIDS: u64 = 2;
/// Output-file scan caps beyond the profile's count and bytes.
const SCAN_MAX_DEPTH: usize = 16;
const SCAN_MAX_ENTRIES: usize = 20_000;
const SCAN_MAX_TIME: Duration = Duration::from_secs(2);

/// Which isolation this host gives, for `doctor` and for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSummary {
    /// `root` (per-run uids, no user namespace) or `rootless` (user namespace).
    pub mode: String,
    /// e.g. `cgroup v1 (memory, pids, cpu, cpuacct)`; `None` when memory and pids are bounded by
    /// rlimits only.
    pub cgroups: Option<String>,
    pub landlock_abi: Option<i32>,
    /// Protections this host cannot give, in words.
    pub degraded: Vec<String>,
}

#[derive(Debug)]
struct Inner {
    helper: PathBuf,
    runs_dir: PathBuf,
    root_mountpoint: PathBuf,
    rootless: Option<(u32, u32)>,
    cgroups: Option<Cgroups>,
    uids: Option<UidPool>,
    seccomp: Vec<Vec<u64>>,
    landlock: bool,
    layout: BaseLayout,
    owner_tag: String,
    summary: SandboxSummary,
    /// Why every run is refused (`runner.isolation: full` on a host that lacks a protection).
    refusal: Option<String>,
}

/// Runs code in sandboxes on this host. Cheap to clone; safe for many concurrent runs.
#[derive(Debug, Clone)]
pub struct LocalRunner {
    inner: Arc<Inner>,
}

impl LocalRunner {
    /// Prepare the sandbox: find the helper, choose root or rootless mode, set up the scratch
    /// directory, cgroup parent and seccomp program, and sweep
    /// leftovers of a crashed earlier process.
    pub fn new(config: &Config) -> Result<LocalRunner, RunnerError> {
        let rc = &config.runner;
        let helper = match &rc.helper {
            Some(p) => p.clone(),
            None => default_helper()?,
        };
        if !helper.is_file() {
            return Err(RunnerError::Sandbox(format!(
                "the sandbox helper {} does not exist; build it with `cargo build --bins` or set runner.helper",
                helper.display()
            )));
        }
        let scratch = rc.scratch_dir.clone();
        if !scratch.is_absolute()
            || scratch.starts_with("/root")
            || scratch.starts_with(&config.data_dir)
        {
            return Err(RunnerError::InvalidRequest(format!(
                "runner.scratch_dir `{}` must be an absolute path outside /root and the data directory",
                scratch.display()
            )));
        }
        for dir in [&scratch, &scratch.join("runs"), &scratch.join("root")] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        std::fs::set_permissions(&scratch, std::fs::Permissions::from_mode(0o700))?;

        // The same probe `coderunner doctor` reports, so the two never disagree; a full-isolation
        // result is reused for a few minutes within one boot (see host::cache), which saves every
        // one-shot `coderunner run` its probe children.
        let host = probe_isolation_cached(config, &scratch);
        if !host.can_sandbox() {
            return Err(RunnerError::Sandbox(format!(
                "cannot sandbox on this host: {}; run coderunner as root (e.g. in its container) or enable user namespaces",
                host.verdict()
            )));
        }
        let root = host.root_mode();
        let mut degraded = match host.verdict() {
            Verdict::Full => Vec::new(),
            Verdict::Degraded(why) => why,
        };
        let rootless = if root {
            None
        } else {
            degraded.push("not root: rootless mode (user namespace); no per-run uids, no cgroups (memory bounded by RLIMIT_AS and language flags), workdir size bounded only per file".to_string());
            Some((
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            ))
        };

        let cgroups = if root && rc.cgroups {
            Cgroups::open(&rc.cgroup_parent)
        } else {
            None
        };
        let mut missing = host.missing();
        if root && cgroups.is_none() && !degraded.iter().any(|d| d.contains("cgroup")) {
            degraded.push("no writable cgroup memory+pids controllers: memory bounded by RLIMIT_AS only, pids by RLIMIT_NPROC only".into());
            missing.push("cgroups (memory, pids)".into());
        }
        let uids = if root {
            let [first, last] = rc.uid_range;
            if first == 0 || last < first {
                return Err(RunnerError::InvalidRequest(format!(
                    "runner.uid_range [{first}, {last}] must be a non-empty range of non-root uids"
                )));
            }
            Some(UidPool::new(scratch.join("uids"), first, last)?)
        } else {
            None
        };

        let owner_tag = owner_tag(std::process::id());
        let stale = |name: &str| is_stale(name, &owner_tag);
        let swept_dirs = workdir::sweep(&scratch.join("runs"), stale);
        let swept_cgroups = cgroups.as_ref().map_or(0, |c| c.sweep(stale));
        if swept_dirs + swept_cgroups > 0 {
            tracing::warn!(
                swept_dirs,
                swept_cgroups,
                "removed leftovers of an earlier coderunner process"
            );
        }

        let seccomp = seccomp::compile_policy().map_err(|e| RunnerError::Sandbox(e.to_string()))?;
        let landlock_abi = host.landlock_abi.as_ref().ok().map(|v| *v as i32);
        let summary = SandboxSummary {
            mode: if root { "root" } else { "rootless" }.into(),
            cgroups: cgroups.as_ref().map(Cgroups::describe),
            landlock_abi,
            degraded,
        };
        let refusal = match (rc.isolation, summary.degraded.is_empty()) {
            (_, true) => None,
            (IsolationPolicy::Full, false) => {
                let mut how = host.remedies();
                if how.is_empty() {
                    how.push("see `coderunner doctor`".into());
                }
                let message = format!(
                    "this host does not give full isolation, so runs are refused (runner.isolation: full). Missing: {}. How to get it: {}. Or accept less isolation with runner.isolation: degraded_ok.",
                    missing.join(", "),
                    how.join("; ")
                );
                for d in &summary.degraded {
                    tracing::error!("sandbox protection missing: {d}");
                }
                tracing::error!("{message}");
                Some(message)
            }
            (IsolationPolicy::DegradedOk, false) => {
                for d in &summary.degraded {
                    tracing::warn!(
                        "runner.isolation is degraded_ok: running with less isolation: {d}"
                    );
                }
                None
            }
        };
        Ok(LocalRunner {
            inner: Arc::new(Inner {
                helper,
                runs_dir: scratch.join("runs"),
                root_mountpoint: scratch.join("root"),
                rootless,
                cgroups,
                uids,
                seccomp,
                landlock: landlock_abi.is_some(),
                layout: BaseLayout::detect(),
                owner_tag,
                summary,
                refusal,
            }),
        })
    }

    /// What isolation this runner gives on this host.
    pub fn summary(&self) -> &SandboxSummary {
        &self.inner.summary
    }
}

#[async_trait::async_trait]
impl Runner for LocalRunner {
    async fn run(&self, request: RunRequest) -> Result<RunOutcome, RunnerError> {
        match self.inner.run(request).await {
            // Set-up failures name host paths (helper, scratch dir, cgroups): log them, and
            // give the caller, which shows it to chat and HTTP users, the plain reason.
            Err(e @ (RunnerError::Sandbox(_) | RunnerError::Io(_))) => {
                tracing::error!(error = %e, "the sandbox could not be set up");
                Err(RunnerError::Sandbox(
                    "a problem on the server, not in your code (the operator's log has the details)"
                        .into(),
                ))
            }
            other => other,
        }
    }
}

/// The helper when the config names none: this executable itself if it embeds the helper (it is
/// then always the same build as the runner; a `coderunner-sandbox` left beside it by an older
/// build could speak an older protocol), else a `coderunner-sandbox` beside it.
fn default_helper() -> Result<PathBuf, RunnerError> {
    let exe = std::env::current_exe()?;
    if crate::helper::embedded() {
        return Ok(exe);
    }
    Ok(exe
        .parent()
        .map(|d| d.join(crate::helper::PROGRAM_NAME))
        .unwrap_or_else(|| PathBuf::from(crate::helper::PROGRAM_NAME)))
}

/// Limits of one stage.
struct StageLimits {
    wall: Duration,
    cpu_secs: u64,
    memory: u64,
    pids: u64,
    output: usize,
}

impl StageLimits {
    fn run(p: &Profile) -> Self {
        StageLimits {
            wall: p.wall_time.as_duration(),
            cpu_secs: p.cpu_time.as_duration().as_secs_f64().ceil() as u64,
            memory: p.memory.0,
            pids: u64::from(p.pids),
            output: p.output.0 as usize,
        }
    }

    fn compile(p: &Profile) -> Self {
        let c = &p.compile;
        StageLimits {
            wall: c.wall_time.as_duration(),
            cpu_secs: c.cpu_time.as_duration().as_secs_f64().ceil() as u64,
            memory: c.memory.0,
            pids: u64::from(c.pids),
            output: c.output.0 as usize,
        }
    }
}

impl StageLimits {
    /// How the stage ended, judged against these limits.
    fn verdict(&self, m: &Measured) -> status::Verdict {
        classify(
            &m.result.end,
            m.result.killed,
            &m.stats,
            self.wall.as_millis() as u64,
            self.cpu_secs,
            self.memory,
        )
    }
}

/// What one stage measured, ready for the outcome.
struct Measured {
    result: StageResult,
    stats: CgroupStats,
    /// No process of the stage is left (see [`StageResult::all_gone`]) and its cgroup is removed.
    all_gone: bool,
}

impl Measured {
    fn cpu_ms(&self) -> u64 {
        self.stats
            .cpu_ns
            .map(|ns| ns / 1_000_000)
            .or(self.result.usage.map(|(_, us)| us / 1000))
            .unwrap_or(0)
    }

    fn peak_memory(&self) -> Option<u64> {
        self.stats
            .peak_memory
            .or(self.result.usage.map(|(kib, _)| kib * 1024))
    }
}

impl Inner {
    async fn run(&self, req: RunRequest) -> Result<RunOutcome, RunnerError> {
        if let Some(why) = &self.refusal {
            return Ok(RunOutcome::sandbox_error(why.clone()));
        }
        // Whatever runner.isolation says: without a cgroup nothing bounds such a language's
        // memory (no RLIMIT_AS either, it would break the runtime).
        if self.cgroups.is_none() && req.spec.memory == MemoryStrategy::CgroupOnly {
            return Ok(RunOutcome::sandbox_error(format!(
                "{} cannot run on this host: only a memory cgroup bounds its memory (memory: cgroup_only), and this host gives coderunner none; run coderunner as root with writable memory cgroups",
                req.language
            )));
        }
        files::validate_input_set(req.files.iter().map(|f| f.path.as_str()))
            .map_err(|e| RunnerError::InvalidRequest(e.to_string()))?;
        let main = req.main.clone().unwrap_or_else(|| req.spec.file.clone());
        if !req.files.iter().any(|f| f.path == main) {
            return Err(RunnerError::InvalidRequest(format!(
                "the program file `{main}` is not among the files of the request"
            )));
        }
        crate::user_env::check(&req.env).map_err(|e| RunnerError::InvalidRequest(e.to_string()))?;
        for a in &req.args {
            if a.contains('\0') {
                return Err(RunnerError::InvalidRequest(
                    "a program argument contains a NUL byte; remove it".into(),
                ));
            }
        }
        let values = Placeholders::new(&main, req.limits.memory.0);
        let compile_argv = match &req.spec.compile {
            Some(t) => match plan::command(t, &values, &[]) {
                Ok(a) => Some(a),
                Err(e) => {
                    return Ok(RunOutcome::sandbox_error(format!(
                        "{}: {}",
                        req.language, e.0
                    )))
                }
            },
            None => None,
        };
        let run_argv = match plan::command(&req.spec.run, &values, &req.args) {
            Ok(a) => a,
            Err(e) => {
                return Ok(RunOutcome::sandbox_error(format!(
                    "{}: {}",
                    req.language, e.0
                )))
            }
        };

        let lease: Option<UidLease> = match &self.uids {
            Some(pool) => Some(pool.lease()?.ok_or_else(|| {
                RunnerError::Sandbox("every uid of runner.uid_range is in use; raise the range or lower the concurrency".into())
            })?),
            None => None,
        };
        let (uid, gid) = match (&lease, self.rootless) {
            (Some(l), _) => (l.uid, l.uid),
            (None, Some(ids)) => ids,
            (None, None) => return Err(RunnerError::Sandbox("no uid for the run".into())),
        };
        // The sequence is per process, not per runner: two LocalRunners in one process (tests,
        // or an embedder) must never name a run directory or cgroup the same.
        static RUN_SEQ: AtomicU64 = AtomicU64::new(0);
        let run_id = format!(
            "{}-{}",
            self.owner_tag,
            RUN_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut workdir = Workdir::create(
            &self.runs_dir,
            &run_id,
            req.limits.workdir_size.0,
            TMPFS_INODES,
            lease.as_ref().map(|_| (uid, gid)),
            self.rootless.is_none(),
        )?;
        let result = self
            .run_in(
                &req,
                &run_id,
                &workdir,
                uid,
                gid,
                compile_argv,
                run_argv,
                &values,
            )
            .await;
        workdir.remove();
        drop(lease);
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_in(
        &self,
        req: &RunRequest,
        run_id: &str,
        workdir: &Workdir,
        uid: u32,
        gid: u32,
        compile_argv: Option<Vec<String>>,
        run_argv: Vec<String>,
        values: &Placeholders,
    ) -> Result<RunOutcome, RunnerError> {
        let owner = self.rootless.is_none().then_some((uid, gid));
        files::write_inputs(workdir.path(), &req.files, owner).map_err(|e| {
            RunnerError::InvalidRequest(format!(
                "writing the input files: {e} (are they larger than the workdir?)"
            ))
        })?;
        let mut env = plan::environment(&req.spec, &req.limits, values);
        for (k, v) in &req.env {
            env.retain(|(existing, _)| existing != k);
            env.push((k.clone(), v.clone()));
        }

        let mut compile = None;
        if let Some(argv) = compile_argv {
            let limits = StageLimits::compile(&req.limits);
            let m = self
                .stage(
                    req,
                    &format!("{run_id}c"),
                    workdir,
                    uid,
                    gid,
                    argv,
                    env.clone(),
                    &[],
                    &limits,
                )
                .await?;
            let v = limits.verdict(&m);
            let ok = v.status == RunStatus::Exited && v.exit_code == Some(0);
            let cpu_ms = m.cpu_ms();
            let peak_memory = m.peak_memory();
            let captured = m.result.captured;
            let outcome = CompileOutcome {
                status: v.status,
                exit_code: v.exit_code,
                stdout: into_text(captured.stdout),
                stderr: into_text(captured.stderr),
                wall_ms: m.result.wall.as_millis() as u64,
            };
            if !ok {
                if v.status == RunStatus::SandboxError {
                    let mut o = RunOutcome::sandbox_error(v.error.unwrap_or_default());
                    o.compile = Some(outcome);
                    return Ok(o);
                }
                let mut o = RunOutcome::sandbox_error(String::new());
                o.status = RunStatus::CompileError;
                o.error = v.error.map(|e| format!("compile stage: {e}"));
                o.stdout = outcome.stdout.clone();
                o.stderr = outcome.stderr.clone();
                o.output = into_text(captured.output);
                o.truncated = captured.truncated;
                o.wall_ms = outcome.wall_ms;
                o.cpu_ms = cpu_ms;
                o.peak_memory_bytes = peak_memory;
                o.compile = Some(outcome);
                return Ok(o);
            }
            compile = Some(outcome);
        }

        let snapshot = Snapshot::of_inputs(workdir.path(), &req.files);
        let limits = StageLimits::run(&req.limits);
        let m = self
            .stage(
                req, run_id, workdir, uid, gid, run_argv, env, &req.stdin, &limits,
            )
            .await?;
        let v = limits.verdict(&m);
        if let Some(status) = &m.result.landlock {
            if status != "fully_enforced" {
                tracing::warn!(landlock = %status, "Landlock was not fully enforced for a run");
            }
        }
        let scan = CollectLimits {
            max_files: req.limits.output_files as usize,
            max_total_bytes: req.limits.output_files_bytes.0,
            max_depth: SCAN_MAX_DEPTH,
            max_entries: SCAN_MAX_ENTRIES,
            max_time: SCAN_MAX_TIME,
        };
        let dir = workdir.path().to_path_buf();
        // Collect only once nothing of the run can still change the workdir (the cgroup could be
        // removed, so it was empty, and the reaper is gone).
        let files = if v.status == RunStatus::SandboxError || !m.all_gone {
            Vec::new()
        } else {
            tokio::task::spawn_blocking(move || files::collect_outputs(&dir, &snapshot, scan))
                .await
                .unwrap_or_default()
        };
        let (cpu_ms, peak_memory_bytes) = (m.cpu_ms(), m.peak_memory());
        let captured = m.result.captured;
        Ok(RunOutcome {
            status: v.status,
            exit_code: v.exit_code,
            signal: v.signal,
            stdout: into_text(captured.stdout),
            stderr: into_text(captured.stderr),
            output: into_text(captured.output),
            truncated: captured.truncated,
            wall_ms: m.result.wall.as_millis() as u64,
            cpu_ms,
            peak_memory_bytes,
            files,
            compile,
            error: v.error,
        })
    }

    /// One sandboxed process with its own cgroup.
    #[allow(clippy::too_many_arguments)]
    async fn stage(
        &self,
        req: &RunRequest,
        cgroup_id: &str,
        workdir: &Workdir,
        uid: u32,
        gid: u32,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        stdin: &[u8],
        limits: &StageLimits,
    ) -> Result<Measured, RunnerError> {
        let p = &req.limits;
        let began = Instant::now();
        let cgroup: Option<RunCgroup> = match &self.cgroups {
            Some(c) => Some(
                c.create(
                    cgroup_id,
                    CgroupLimits {
                        memory: limits.memory,
                        pids: limits.pids + HELPER_PIDS,
                        cpus: p.cpus,
                    },
                )
                .map_err(|e| RunnerError::Sandbox(format!("creating the run's cgroup: {e}")))?,
            ),
            None => None,
        };
        // With a cgroup, it is the memory limit (and reports memory_limit); without one, languages
        // that tolerate it get RLIMIT_AS.
        let address_space = (cgroup.is_none() && req.spec.memory == MemoryStrategy::RlimitAs)
            .then_some(limits.memory);
        let network = if p.network {
            Network::Host
        } else {
            Network::Isolated
        };
        let isolation = match self.rootless {
            Some((outer_uid, outer_gid)) => Isolation::Rootless {
                outer_uid,
                outer_gid,
            },
            None => Isolation::Root { uid, gid },
        };
        let spec = HelperSpec {
            argv,
            env,
            isolation,
            network,
            root_mountpoint: self.root_mountpoint.clone(),
            workdir_host: workdir.path().to_path_buf(),
            workdir: plan::WORKDIR.into(),
            ro_binds: self.layout.binds_for(&req.spec, p.network),
            symlinks: self.layout.symlinks.clone(),
            files: plan::etc_files(uid, gid, p.network),
            tmp_size: p.tmp_size.0,
            shm_size: p.shm_size.0,
            tmpfs_inodes: TMPFS_INODES,
            rlimits: Rlimits {
                cpu_secs: limits.cpu_secs,
                file_size: p.file_size.0,
                open_files: u64::from(p.open_files),
                processes: limits.pids,
                stack: STACK_BYTES,
                address_space,
            },
            hostname: "sandbox".into(),
            landlock: self.landlock,
            seccomp: self.seccomp.clone(),
            stdin: ProgramStdin::Memfd,
        };
        let spawned = Instant::now();
        let result = run_stage(
            &self.helper,
            &spec,
            stdin,
            cgroup.as_ref(),
            limits.wall,
            limits.output,
        )
        .await;
        let ended = Instant::now();
        let stats = cgroup.as_ref().map(RunCgroup::stats).unwrap_or_default();
        let cgroup_gone = match cgroup {
            Some(cg) => cg.remove().await,
            None => true,
        };
        // Where a stage's time goes, for `RUST_LOG=coderunner_runner=debug` and the benchmarks.
        tracing::debug!(
            stage = cgroup_id,
            setup_us = (spawned - began).as_micros() as u64,
            sandboxed_us = (ended - spawned).as_micros() as u64,
            teardown_us = ended.elapsed().as_micros() as u64,
            "stage timings"
        );
        let result = result?;
        Ok(Measured {
            all_gone: result.all_gone && cgroup_gone,
            result,
            stats,
        })
    }
}

/// What a session sandbox shares with runs (built by `session::start` from these).
pub(crate) struct Parts<'a> {
    pub helper: &'a std::path::Path,
    pub runs_dir: &'a std::path::Path,
    pub root_mountpoint: &'a std::path::Path,
    pub rootless: Option<(u32, u32)>,
    pub cgroups: Option<&'a Cgroups>,
    pub uids: Option<&'a UidPool>,
    pub seccomp: &'a [Vec<u64>],
    pub landlock: bool,
    pub layout: &'a BaseLayout,
    pub owner_tag: &'a str,
    pub refusal: Option<&'a str>,
}

impl LocalRunner {
    pub(crate) fn parts(&self) -> Parts<'_> {
        let i = &self.inner;
        Parts {
            helper: &i.helper,
            runs_dir: &i.runs_dir,
            root_mountpoint: &i.root_mountpoint,
            rootless: i.rootless,
            cgroups: i.cgroups.as_ref(),
            uids: i.uids.as_ref(),
            seccomp: &i.seccomp,
            landlock: i.landlock,
            layout: &i.layout,
            owner_tag: &i.owner_tag,
            refusal: i.refusal.as_deref(),
        }
    }
}
