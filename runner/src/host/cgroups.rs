//! Finds each cgroup controller the sandbox uses (v2 unified or v1 per-controller hierarchy) and
//! proves this process may create cgroups there by making and removing a probe directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// cgroup v1 or v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CgroupVersion {
    V1,
    V2,
}

impl std::fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        })
    }
}

/// One controller as this host offers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Controller {
    /// `memory`, `pids` or `cpu`.
    pub name: String,
    /// `None` when no mounted hierarchy has the controller.
    pub version: Option<CgroupVersion>,
    /// Where the hierarchy is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mount: Option<PathBuf>,
    /// Whether a cgroup could be created (and removed) under `<mount>/<cgroup_parent>`, or why not.
    pub writable: Result<(), String>,
}

impl Controller {
    /// Present and writable: runs can be confined by it.
    pub fn usable(&self) -> bool {
        self.version.is_some() && self.writable.is_ok()
    }
}

struct Mounts {
    /// (v1 controller option, mount point)
    v1: Vec<(String, PathBuf)>,
    /// (mount point, controllers listed in its cgroup.controllers)
    v2: Vec<(PathBuf, Vec<String>)>,
}

fn read_mounts() -> Mounts {
    let mut mounts = Mounts {
        v1: Vec::new(),
        v2: Vec::new(),
    };
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in text.lines() {
        // `id parent maj:min root mountpoint opts [optional...] - fstype source superopts`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = left.split_whitespace().nth(4).map(PathBuf::from) else {
            continue;
        };
        let mut right = right.split_whitespace();
        let fstype = right.next().unwrap_or("");
        let super_opts = right.nth(1).unwrap_or("");
        match fstype {
            "cgroup" => {
                for opt in super_opts.split(',') {
                    mounts.v1.push((opt.to_string(), mount_point.clone()));
                }
            }
            "cgroup2" => {
                let controllers = fs::read_to_string(mount_point.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                mounts.v2.push((mount_point, controllers));
            }
            _ => {}
        }
    }
    mounts
}

/// Probe `memory`, `pids` and `cpu`. A controller is taken from cgroup v2 when a unified
/// hierarchy has it, else from its v1 hierarchy (the same preference as the runner).
/// The controllers as reported when the config turns cgroups off (`runner.cgroups: false`):
/// missing, saying why, so the runner and `doctor` treat the host as having none.
pub fn turned_off() -> Vec<Controller> {
    ["memory", "pids", "cpu"]
        .into_iter()
        .map(|name| Controller {
            name: name.to_string(),
            version: None,
            mount: None,
            writable: Err("turned off in the config (runner.cgroups: false)".into()),
        })
        .collect()
}

pub fn probe(cgroup_parent: &str) -> Vec<Controller> {
    let mounts = read_mounts();
    ["memory", "pids", "cpu"]
        .into_iter()
        .map(|name| {
            let v2 = mounts
                .v2
                .iter()
                .find(|(_, cs)| cs.iter().any(|c| c == name))
                .map(|(mp, _)| (CgroupVersion::V2, mp.clone()));
            let v1 = mounts
                .v1
                .iter()
                .find(|(opt, _)| opt == name)
                .map(|(_, mp)| (CgroupVersion::V1, mp.clone()));
            match v2.or(v1) {
                Some((version, mount)) => Controller {
                    name: name.to_string(),
                    version: Some(version),
                    writable: try_create(&mount, cgroup_parent),
                    mount: Some(mount),
                },
                None => Controller {
                    name: name.to_string(),
                    version: None,
                    mount: None,
                    writable: Err(format!(
                        "no cgroup v1 or v2 hierarchy with the {name} controller is mounted"
                    )),
                },
            }
        })
        .collect()
}

/// Create `<mount>/<parent>` (kept: the runner makes it anyway) and a probe cgroup under it,
/// then remove the probe.
fn try_create(mount: &Path, parent: &str) -> Result<(), String> {
    let parent_dir = mount.join(parent);
    match fs::create_dir(&parent_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", parent_dir.display())),
    }
    // Unique within the process too: runners made at once (tests, doctor) probe side by side.
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = parent_dir.join(format!("doctor-probe-{}-{n}", std::process::id()));
    fs::create_dir(&probe).map_err(|e| format!("cannot create {}: {e}", probe.display()))?;
    fs::remove_dir(&probe)
        .map_err(|e| format!("created but cannot remove {}: {e}", probe.display()))
}
