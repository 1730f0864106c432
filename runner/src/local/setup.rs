//! Making a LocalRunner: find the helper, set up the scratch directory, probe the host's
//! isolation (root or rootless, cgroups, Landlock), lease uids, sweep an earlier process's
//! leftovers, and decide whether runs are refused (`runner.isolation: full` on a host that
//! lacks a protection).

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use coderunner_config::{Config, IsolationPolicy};

use super::{Inner, LocalRunner, SandboxSummary};
use crate::cgroup::Cgroups;
use crate::host::{probe_isolation_cached, Verdict};
use crate::owner::{is_stale, owner_tag};
use crate::plan::BaseLayout;
use crate::uids::UidPool;
use crate::workdir;
use crate::{seccomp, RunnerError};

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
