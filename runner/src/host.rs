//! Live probing of what this host gives the sandbox: namespaces, user namespaces, cgroup
//! controllers (v1/v2, and whether we may create cgroups), seccomp, Landlock, root and the per-run
//! uid range, container hints, and each language's program. Measured, never assumed: kernel
//! features are tried in short-lived probe children. Used by `coderunner doctor` and by the runner
//! to choose root or rootless mode.

mod cache;
mod cgroups;
mod probe;
mod programs;

use std::fmt;
use std::fs;
use std::path::Path;

use coderunner_config::Config;

pub use cache::probe_isolation_cached;
pub use cgroups::{CgroupVersion, Controller};
pub use programs::{
    is_compiled, language_status, main_program, resolve, version, LanguageStatus, SEARCH_DIRS,
    VERSION_TIMEOUT,
};

/// How one protection stands on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Available and usable.
    Ok,
    /// Unavailable: the sandbox runs with less than it should.
    Missing,
    /// Not a protection, just a fact worth showing (e.g. "in a container").
    Info,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Missing => "MISSING",
            Status::Info => "info",
        })
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// e.g. `user namespaces`, `cgroup memory`.
    pub name: String,
    pub status: Status,
    /// What was measured, or why it is missing.
    pub detail: String,
}

/// Whether runs get every protection of the security model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Full,
    /// What is missing and why, one entry per missing protection.
    Degraded(Vec<String>),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Full => f.write_str("full isolation"),
            Verdict::Degraded(why) => write!(f, "degraded: {}", why.join("; ")),
        }
    }
}

/// Everything probed about this host.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HostReport {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Effective uid 0: runs use per-run uids and no user namespace.
    pub root: bool,
    /// The configured per-run uid range `[first, last]`.
    pub uid_range: [u32; 2],
    /// Problems with using that range (only meaningful as root).
    pub uid_problem: Option<String>,
    /// unshare of mount, pid, net, ipc, uts and cgroup namespaces (inside a user namespace when
    /// not root) in a probe child.
    pub namespaces: Result<(), String>,
    /// unshare(CLONE_NEWUSER) in a probe child.
    pub user_namespaces: Result<(), String>,
    /// memory, pids and cpu, in that order.
    pub cgroups: Vec<Controller>,
    /// An allow-all seccomp filter installed in a probe child.
    pub seccomp: Result<(), String>,
    /// This process's own seccomp mode from /proc/self/status (0 none, 1 strict, 2 filter).
    pub seccomp_mode: Option<u32>,
    pub landlock_abi: Result<u32, String>,
    /// Why we think we are in a container, if we do.
    pub container: Option<String>,
    /// Each configured language, in config order.
    #[serde(skip)]
    pub languages: Vec<LanguageStatus>,
}

impl HostReport {
    /// Probe this host for `config` (its cgroup parent, uid range and languages). Takes a moment:
    /// it starts a few probe children and runs each language's version command.
    pub fn probe(config: &Config) -> HostReport {
        let mut report = HostReport::probe_isolation(config);
        report.languages = config
            .languages
            .iter()
            .map(|(name, lang)| language_status(name, lang))
            .collect();
        report
    }

    /// Like [`HostReport::probe`] without the languages (no version commands are run): what the
    /// runner needs to pick its mode.
    pub fn probe_isolation(config: &Config) -> HostReport {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let ns_flags = libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP;
        let namespaces = if root {
            probe::unshare(ns_flags)
        } else {
            probe::unshare(ns_flags | libc::CLONE_NEWUSER)
        };
        let report = HostReport {
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            root,
            uid_range: config.runner.uid_range,
            uid_problem: uid_problem(config.runner.uid_range),
            namespaces,
            user_namespaces: probe::unshare(libc::CLONE_NEWUSER),
            cgroups: if config.runner.cgroups {
                cgroups::probe(&config.runner.cgroup_parent)
            } else {
                cgroups::turned_off()
            },
            seccomp: probe::seccomp_filter(),
            seccomp_mode: status_field("Seccomp").and_then(|v| v.parse().ok()),
            landlock_abi: probe::landlock_abi(),
            container: container_hint(),
            languages: Vec::new(),
        };
        tracing::debug!(?report, "host probed");
        report
    }

    /// A controller by name (`memory`, `pids`, `cpu`).
    pub fn controller(&self, name: &str) -> Option<&Controller> {
        self.cgroups.iter().find(|c| c.name == name)
    }

    /// Whether the runner should use root mode (per-run uids, no user namespace).
    pub fn root_mode(&self) -> bool {
        self.root
    }

    /// Whether runs can be sandboxed at all: namespaces can be created (as root, or inside a user
    /// namespace when not).
    pub fn can_sandbox(&self) -> bool {
        self.namespaces.is_ok() && (self.root || self.user_namespaces.is_ok())
    }

    /// The isolation rows, in order: privileges, namespaces, user namespaces, each cgroup
    /// controller, seccomp, Landlock, container.
    pub fn checks(&self) -> Vec<Check> {
        let mut rows = Vec::new();
        let [first, last] = self.uid_range;
        let count = u64::from(last.saturating_sub(first)) + 1;
        rows.push(if self.root {
            match &self.uid_problem {
                None => check(
                    "per-run uids",
                    Status::Ok,
                    format!("root: each run gets its own uid from {first}-{last} ({count} uids, none in /etc/passwd)"),
                ),
                Some(p) => check("per-run uids", Status::Missing, format!("root, but {p}")),
            }
        } else {
            check(
                "per-run uids",
                Status::Info,
                format!(
                    "not root (euid {}): rootless mode, each run is root only inside its own user namespace",
                    // SAFETY: geteuid has no preconditions.
                    unsafe { libc::geteuid() }
                ),
            )
        });
        rows.push(match &self.namespaces {
            Ok(()) => check(
                "namespaces",
                Status::Ok,
                "mount, pid, net, ipc, uts, cgroup: created in a probe child",
            ),
            Err(e) => check(
                "namespaces",
                Status::Missing,
                format!("cannot create mount/pid/net/ipc/uts/cgroup namespaces: {e}"),
            ),
        });
        rows.push(match &self.user_namespaces {
            Ok(()) => check(
                "user namespaces",
                Status::Ok,
                "unshare(CLONE_NEWUSER) succeeded in a probe child",
            ),
            Err(e) => check(
                "user namespaces",
                if self.root {
                    Status::Info
                } else {
                    Status::Missing
                },
                format!(
                    "unshare(CLONE_NEWUSER) failed: {e}{}",
                    if self.root {
                        " (not needed as root)"
                    } else {
                        ""
                    }
                ),
            ),
        });
        for c in &self.cgroups {
            let name = format!("cgroup {}", c.name);
            rows.push(match (&c.version, &c.mount, &c.writable) {
                (Some(v), Some(mp), Ok(())) => check(
                    &name,
                    Status::Ok,
                    format!(
                        "{v} at {}: created and removed a probe cgroup",
                        mp.display()
                    ),
                ),
                (Some(v), Some(mp), Err(e)) => check(
                    &name,
                    Status::Missing,
                    format!("{v} at {}, but not writable: {e}", mp.display()),
                ),
                (_, _, Err(e)) => check(&name, Status::Missing, e.clone()),
                _ => check(&name, Status::Missing, "not found"),
            });
        }
        let mode = match self.seccomp_mode {
            Some(0) => "this process runs unfiltered".to_string(),
            Some(2) => {
                "this process already runs under a filter (e.g. a container's); filters stack"
                    .to_string()
            }
            Some(m) => format!("this process is in seccomp mode {m}"),
            None => "no Seccomp field in /proc/self/status".to_string(),
        };
        rows.push(match &self.seccomp {
            Ok(()) => check(
                "seccomp",
                Status::Ok,
                format!("filter installed in a probe child; {mode}"),
            ),
            Err(e) => check(
                "seccomp",
                Status::Missing,
                format!("cannot install a filter: {e}; {mode}"),
            ),
        });
        rows.push(match &self.landlock_abi {
            Ok(abi) => check("landlock", Status::Ok, format!("ABI {abi}")),
            Err(e) => check("landlock", Status::Missing, e.clone()),
        });
        rows.push(check(
            "container",
            Status::Info,
            self.container
                .clone()
                .unwrap_or_else(|| "no container detected".into()),
        ));
        rows
    }

    /// `full isolation`, or `degraded:` with each missing protection and what runs lose.
    pub fn verdict(&self) -> Verdict {
        let mut why = Vec::new();
        if let Err(e) = &self.namespaces {
            why.push(format!(
                "namespaces unavailable ({e}): runs cannot be sandboxed"
            ));
        }
        if !self.root {
            if let Err(e) = &self.user_namespaces {
                why.push(format!(
                    "not root and no user namespaces ({e}): runs cannot be sandboxed"
                ));
            }
        } else if let Some(p) = &self.uid_problem {
            why.push(format!("per-run uids unusable: {p}"));
        }
        for c in &self.cgroups {
            if let Err(e) = &c.writable {
                let loss = match c.name.as_str() {
                    "memory" => "memory is bounded by RLIMIT_AS only (none for cgroup_only languages such as node) and peak memory is not measured",
                    "pids" => "process count is bounded by RLIMIT_NPROC only",
                    _ => "no CPU quota, only RLIMIT_CPU",
                };
                why.push(format!(
                    "no writable cgroup {} controller ({e}): {loss}",
                    c.name
                ));
            }
        }
        if let Err(e) = &self.seccomp {
            why.push(format!(
                "no seccomp filter ({e}): dangerous system calls are not blocked"
            ));
        }
        if let Err(e) = &self.landlock_abi {
            why.push(format!(
                "no Landlock ({e}): no second wall around the filesystem"
            ));
        }
        if why.is_empty() {
            Verdict::Full
        } else {
            Verdict::Degraded(why)
        }
    }
}

impl HostReport {
    /// Names of the protections this host lacks (the `MISSING` rows), without details.
    pub fn missing(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .checks()
            .into_iter()
            .filter(|c| c.status == Status::Missing)
            .map(|c| c.name)
            .collect();
        if !self.root {
            names.push("root (rootless mode: no per-run uids, no cgroups)".into());
        }
        names
    }

    /// How to get each missing protection, in words an operator can act on (no host paths).
    pub fn remedies(&self) -> Vec<String> {
        let mut how = Vec::new();
        if !self.root {
            how.push("run coderunner as root, e.g. in its container (`docker run --privileged`, or the capabilities the README lists)".to_string());
        }
        if self.namespaces.is_err() || (!self.root && self.user_namespaces.is_err()) {
            how.push("allow namespaces: run as root, or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0)".into());
        }
        if self.root && self.uid_problem.is_some() {
            how.push("set runner.uid_range to uids that no account of /etc/passwd uses".into());
        }
        if self.cgroups.iter().any(|c| c.writable.is_err()) {
            how.push("give coderunner writable memory, pids and cpu cgroups: run it as root with /sys/fs/cgroup mounted read-write (a container needs its own cgroup namespace, e.g. `--cgroupns=private`), and keep runner.cgroups: true".into());
        }
        if self.seccomp.is_err() {
            how.push("use a kernel with seccomp filters (CONFIG_SECCOMP_FILTER) and no container profile that forbids installing one".into());
        }
        if self.landlock_abi.is_err() {
            how.push("use a kernel with Landlock (5.13 or later) enabled at boot (`landlock` in the lsm= parameter)".into());
        }
        how
    }
}

fn check(name: &str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_string(),
        status,
        detail: detail.into(),
    }
}

/// A field of /proc/self/status, e.g. `Seccomp`.
fn status_field(name: &str) -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

/// Why the per-run uid range cannot be used safely, if it cannot: it must not hold uid 0 nor
/// any account of /etc/passwd (their files would be reachable to runs).
fn uid_problem([first, last]: [u32; 2]) -> Option<String> {
    if first > last {
        return Some(format!("the uid range [{first}, {last}] is reversed"));
    }
    if first == 0 {
        return Some("the uid range includes 0 (root)".into());
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let taken: Vec<String> = passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let user = f.next()?;
            let uid: u32 = f.nth(1)?.parse().ok()?;
            (first..=last)
                .contains(&uid)
                .then(|| format!("{user} ({uid})"))
        })
        .collect();
    (!taken.is_empty()).then(|| {
        format!(
            "the uid range {first}-{last} contains accounts of /etc/passwd: {}",
            taken.join(", ")
        )
    })
}

/// Signs that this process runs in a container, in words.
fn container_hint() -> Option<String> {
    let mut hints = Vec::new();
    for f in ["/.dockerenv", "/run/.containerenv"] {
        if Path::new(f).exists() {
            hints.push(format!("{f} exists"));
        }
    }
    if let Ok(cg) = fs::read_to_string("/proc/1/cgroup") {
        for word in ["docker", "kubepods", "containerd", "libpod", "lxc"] {
            if cg.contains(word) {
                hints.push(format!("/proc/1/cgroup mentions {word}"));
                break;
            }
        }
    }
    if let Ok(env) = fs::read("/proc/1/environ") {
        if let Some(v) = env
            .split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"container="))
        {
            hints.push(format!("container={}", String::from_utf8_lossy(v)));
        }
    }
    (!hints.is_empty()).then(|| format!("yes: {}", hints.join(", ")))
}
