//! LocalRunner: runs requests in sandboxes on this host. Owns what is made once (seccomp program,
//! cgroup parent, base layout, uid pool) and orchestrates each run:
//! workdir, cgroup, optional compile stage, run stage, output files, teardown.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coderunner_config::{Config, IsolationPolicy, Language, MemoryStrategy, Profile};

use crate::cgroup::{CgroupLimits, Cgroups, RunCgroup};
use crate::files::{self, Snapshot};
use crate::host::{probe_isolation_cached, Verdict};
use crate::outcome::{CompileOutcome, RunOutcome, RunStatus};
use crate::output::into_text;
use crate::owner::{is_stale, next_run_id, owner_tag};
use crate::plan::{self, BaseLayout, Placeholders};
use crate::pool::{PoolReport, WarmPool};
use crate::protocol::{HelperSpec, Isolation, Network, ProgramStdin, Rlimits};
use crate::spawn::run_stage;
use crate::stage::{finish_run, Measured, StageLimits};
use crate::uids::{UidLease, UidPool};
use crate::workdir::{self, Workdir};
use crate::{seccomp, PackageMount, RunRequest, Runner, RunnerError};

/// Inode cap of every tmpfs of a run (files a program can create: bounds directory bombs).
pub(crate) const TMPFS_INODES: u64 = 16_384;
/// Stack limit of sandboxed programs.
pub(crate) const STACK_BYTES: u64 = 8 << 20;
/// The helper and the reaper count against the pids cgroup too.
pub(crate) const HELPER_PIDS: u64 = 2;

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

/// What a LocalRunner makes once and every run (cold, or a warm-pool slot) uses.
#[derive(Debug)]
pub(crate) struct Inner {
    pub helper: PathBuf,
    pub runs_dir: PathBuf,
    pub root_mountpoint: PathBuf,
    pub rootless: Option<(u32, u32)>,
    pub cgroups: Option<Cgroups>,
    pub uids: Option<UidPool>,
    pub seccomp: Vec<Vec<u64>>,
    pub landlock: bool,
    pub layout: BaseLayout,
    pub owner_tag: String,
    summary: SandboxSummary,
    /// Why every run is refused (`runner.isolation: full` on a host that lacks a protection).
    refusal: Option<String>,
    /// The configuration the runner was made from (the warm pool reads its languages).
    pub config: Config,
}

/// Runs code in sandboxes on this host. Cheap to clone; safe for many concurrent runs.
#[derive(Debug, Clone)]
pub struct LocalRunner {
    inner: Arc<Inner>,
    /// Ready sandboxes and the Python zygote, in long-running processes (see
    /// [`LocalRunner::start_warm_pool`]).
    pool: Option<Arc<WarmPool>>,
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
            degraded.push("not root: rootless mode (user namespace); no per-run uids, no cgroups (memory bounded by RLIMIT_AS and language flags)".to_string());
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
                config: config.clone(),
            }),
            pool: None,
        })
    }

    /// What isolation this runner gives on this host.
    pub fn summary(&self) -> &SandboxSummary {
        &self.inner.summary
    }

    /// Keep sandboxes ready (`runner.warm_pool`) and start the Python zygote, for a process that
    /// serves many runs (the one-shot `coderunner run` stays cold). Needs a tokio runtime; the
    /// pool fills in the background, and runs go cold until a slot of their kind is ready. Off
    /// (every run cold) when `runner.warm_pool` is 0, in rootless mode, or without cgroups; see
    /// [`LocalRunner::warm_pool_report`] for why.
    pub fn start_warm_pool(mut self) -> LocalRunner {
        self.pool = Some(WarmPool::start(
            Arc::clone(&self.inner),
            Duration::ZERO,
            false,
        ));
        self
    }

    /// [`LocalRunner::start_warm_pool`], but a run the pool can serve waits up to `slot_wait`
    /// for a slot of its kind instead of going cold at once: for test suites and benchmarks
    /// that must exercise the warm path (a service wants the cold run, which is sooner).
    pub fn start_warm_pool_waiting(mut self, slot_wait: Duration) -> LocalRunner {
        self.pool = Some(WarmPool::start(Arc::clone(&self.inner), slot_wait, false));
        self
    }

    /// `doctor`'s look at the warm pool: the zygote and a single Python slot, enough to measure
    /// what each costs without making every slot a long-running process would keep (the report
    /// still gives `runner.warm_pool` as the slots per kind).
    pub fn start_warm_pool_probe(mut self) -> LocalRunner {
        self.pool = Some(WarmPool::start(
            Arc::clone(&self.inner),
            Duration::ZERO,
            true,
        ));
        self
    }

    /// What the warm pool holds on the host: the run ids of the zygote's and the ready slots'
    /// workdirs and cgroups, and the slots' uids (for leftover checks, which must tell a ready
    /// slot from a run that was not cleaned up). Empty without a pool; `None` while the pool is
    /// still making slots.
    pub fn warm_pool_footprint(&self) -> Option<(Vec<String>, Vec<u32>)> {
        match &self.pool {
            Some(p) => p.footprint(),
            None => Some(Default::default()),
        }
    }

    /// The warm pool's state for `doctor` and logs; `None` when it was never started.
    pub async fn warm_pool_report(&self) -> Option<PoolReport> {
        match &self.pool {
            Some(p) => Some(p.report().await),
            None => None,
        }
    }

    /// Wait until the warm pool is full (or has given up), at most `within`.
    pub async fn warm_pool_ready(&self, within: Duration) -> bool {
        match &self.pool {
            Some(p) => p.wait_full(within).await,
            None => false,
        }
    }

    /// Stop the warm pool: its ready sandboxes and the zygote are torn down (runs in flight
    /// finish first). Runs after this go cold.
    pub async fn shutdown_warm_pool(&self) {
        if let Some(p) = &self.pool {
            p.shutdown().await;
        }
    }
}

#[async_trait::async_trait]
impl Runner for LocalRunner {
    async fn run(&self, request: RunRequest) -> Result<RunOutcome, RunnerError> {
        match self.inner.run(request, self.pool.as_deref()).await {
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

/// A package set may only be mounted for a language that takes its kind, from a real directory,
/// under a plain name (it becomes a path inside the sandbox).
fn check_packages(m: &PackageMount, req: &RunRequest) -> Result<(), RunnerError> {
    if req.spec.packages != Some(m.kind) {
        return Err(RunnerError::InvalidRequest(format!(
            "{} does not take {} packages, so package set `{}` cannot be used with it",
            req.language,
            m.kind.as_str(),
            m.name
        )));
    }
    if !coderunner_config::is_set_name(&m.name) {
        return Err(RunnerError::InvalidRequest(format!(
            "`{}` is not a package set name",
            m.name
        )));
    }
    if !m.dir.is_absolute() || !m.dir.is_dir() {
        return Err(RunnerError::InvalidRequest(format!(
            "package set `{}` is not built (its directory {} is missing); build it with `{}`",
            m.name,
            m.dir.display(),
            crate::packages::build_command(&m.name)
        )));
    }
    Ok(())
}

impl Inner {
    async fn run(
        &self,
        req: RunRequest,
        pool: Option<&WarmPool>,
    ) -> Result<RunOutcome, RunnerError> {
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
        if let Some(m) = &req.packages {
            check_packages(m, &req)?;
        }
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

        if compile_argv.is_none() {
            if let Some(pool) = pool {
                if let Some(outcome) = pool.try_run(&req, &main, &run_argv).await {
                    return outcome;
                }
            }
        }

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
        let run_id = next_run_id(&self.owner_tag);
        // Rootless, the parent may not mount: the helper makes the capped tmpfs for it.
        let mut workdir = if self.rootless.is_some() {
            Workdir::create_detached(&self.helper, req.limits.workdir_size.0, TMPFS_INODES).await?
        } else {
            Workdir::create(
                &self.runs_dir,
                &run_id,
                req.limits.workdir_size.0,
                TMPFS_INODES,
                lease.as_ref().map(|_| (uid, gid)),
                true,
            )?
        };
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
        if let Some(m) = &req.packages {
            let (name, value) = m.path_variable();
            env.retain(|(existing, _)| *existing != name);
            env.push((name, value));
        }
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
        Ok(finish_run(req, workdir.path(), snapshot, &limits, m, compile).await)
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
        let rlimits = Rlimits {
            cpu_secs: limits.cpu_secs,
            file_size: p.file_size.0,
            open_files: u64::from(p.open_files),
            processes: limits.pids,
            stack: STACK_BYTES,
            address_space,
        };
        let mut spec =
            self.helper_spec(&req.spec, p, workdir.path(), (uid, gid), argv, env, rlimits);
        (spec.workdir_host, spec.workdir_handle) = workdir.helper_source();
        spec.ro_binds_at = req
            .packages
            .iter()
            .map(|m| (m.dir.clone(), m.inside()))
            .collect();
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

    /// The warm pool, when this runner keeps one (a session may fork from its zygote).
    pub(crate) fn warm_pool(&self) -> Option<&WarmPool> {
        self.pool.as_deref()
    }
}

impl Inner {
    /// The helper's spec for one sandboxed process of `language` under profile `p`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn helper_spec(
        &self,
        language: &Language,
        p: &Profile,
        workdir: &Path,
        (uid, gid): (u32, u32),
        argv: Vec<String>,
        env: Vec<(String, String)>,
        rlimits: Rlimits,
    ) -> HelperSpec {
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
        HelperSpec {
            argv,
            env,
            isolation,
            network,
            root_mountpoint: self.root_mountpoint.clone(),
            workdir_host: workdir.to_path_buf(),
            workdir_handle: false,
            workdir: plan::WORKDIR.into(),
            ro_binds: self.layout.binds_for(language, p.network),
            ro_binds_at: Vec::new(),
            symlinks: self.layout.symlinks.clone(),
            files: plan::etc_files(uid, gid, p.network),
            tmp_size: p.tmp_size.0,
            shm_size: p.shm_size.0,
            tmpfs_inodes: TMPFS_INODES,
            rlimits,
            hostname: "sandbox".into(),
            landlock: self.landlock,
            seccomp: self.seccomp.clone(),
            zygote: false,
            stdin: ProgramStdin::Memfd,
        }
    }
}
