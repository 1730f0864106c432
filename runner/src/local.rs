//! LocalRunner: runs requests in sandboxes on this host. Owns what is made once (seccomp program,
//! cgroup parent, base layout, uid pool) and orchestrates each run: the request's checks
//! (checks.rs), a warm-pool slot when one serves it, else a cold run (cold.rs: workdir, cgroup,
//! optional compile stage, run stage, output files, teardown). Made by setup.rs.

mod checks;
mod cold;
mod sandbox;
mod setup;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use coderunner_config::{Config, Language, Profile};

use crate::cgroup::Cgroups;
use crate::outcome::RunOutcome;
use crate::plan::{self, BaseLayout};
use crate::pool::{PoolReport, WarmPool};
use crate::protocol::{HelperSpec, Isolation, Network, ProgramStdin, Rlimits};
use crate::uids::UidPool;
use crate::{RunRequest, Runner, RunnerError};

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

impl Inner {
    /// Check `req`, then run it in a ready slot of the warm pool when one serves it, else cold.
    async fn run(
        &self,
        req: RunRequest,
        pool: Option<&WarmPool>,
    ) -> Result<RunOutcome, RunnerError> {
        if let Some(why) = self.refusal_for(&req) {
            return Ok(RunOutcome::sandbox_error(why));
        }
        let main = checks::check_request(&req)?;
        let commands = match checks::commands(&req, &main) {
            Ok(c) => c,
            Err(why) => return Ok(RunOutcome::sandbox_error(why)),
        };
        if commands.compile.is_none() {
            if let Some(pool) = pool {
                if let Some(outcome) = pool.try_run(&req, &main, &commands.run).await {
                    return outcome;
                }
            }
        }
        self.run_cold(&req, commands).await
    }
}

impl LocalRunner {
    /// What the runner made once, for the sessions it starts (they share it with runs).
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The warm pool, when this runner keeps one (a session may fork from its zygote).
    pub(crate) fn warm_pool(&self) -> Option<&WarmPool> {
        self.pool.as_deref()
    }
}

impl Inner {
    /// Why every run and session is refused on this host (`runner.isolation: full` where a
    /// protection is missing); `None` when they are not.
    pub(crate) fn refusal(&self) -> Option<&str> {
        self.refusal.as_deref()
    }

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
