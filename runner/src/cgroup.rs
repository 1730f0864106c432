//! Per-run cgroups: memory (no swap), pids and CPU quota, with CPU time, peak memory and OOM
//! kills read back. cgroup v2 when it has the memory and pids controllers, v1 otherwise.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Limits of one run's cgroup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CgroupLimits {
    pub memory: u64,
    pub pids: u64,
    /// Cores (e.g. 1.0); 0 or less means no quota.
    pub cpus: f64,
}

/// What a run's cgroup measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CgroupStats {
    pub peak_memory: Option<u64>,
    pub cpu_ns: Option<u64>,
    pub oom_kills: u64,
    /// Times the memory limit was hit (v1 failcnt, v2 `max` events).
    pub memory_limit_hits: u64,
}

#[derive(Debug, Clone)]
enum Layout {
    /// Controller -> directory of our parent cgroup in that controller's hierarchy.
    V1 {
        memory: Option<PathBuf>,
        pids: Option<PathBuf>,
        cpu: Option<PathBuf>,
        cpuacct: Option<PathBuf>,
    },
    /// Our parent cgroup in the unified hierarchy.
    V2 { parent: PathBuf },
}

/// The cgroup hierarchy runs are created under (`<controller>/<cgroup_parent>/<run id>`).
#[derive(Debug, Clone)]
pub(crate) struct Cgroups {
    layout: Layout,
}

impl Cgroups {
    /// Find usable hierarchies and create the parent cgroup (never changing an existing parent's
    /// limits: an operator, or the test suite's safety net, may have set them). `None` when the
    /// host offers no writable memory+pids controllers.
    pub(crate) fn open(parent_name: &str) -> Option<Cgroups> {
        let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mut v1: Vec<(String, PathBuf)> = Vec::new();
        let mut v2_root: Option<PathBuf> = None;
        for line in mounts.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = left.split_whitespace().nth(4).map(PathBuf::from);
            let mut right = right.split_whitespace();
            let fstype = right.next().unwrap_or("");
            let super_opts = right.nth(1).unwrap_or("");
            match (fstype, mount_point) {
                ("cgroup", Some(mp)) => {
                    for opt in super_opts.split(',') {
                        v1.push((opt.to_string(), mp.clone()));
                    }
                }
                ("cgroup2", Some(mp)) => {
                    let controllers =
                        fs::read_to_string(mp.join("cgroup.controllers")).unwrap_or_default();
                    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
                    if has("memory") && has("pids") && v2_root.is_none() {
                        v2_root = Some(mp);
                    }
                }
                _ => {}
            }
        }
        if let Some(root) = v2_root {
            let parent = root.join(parent_name);
            if fs::create_dir_all(&parent).is_ok() {
                // Delegate the controllers down to our runs.
                let enable = "+memory +pids +cpu";
                let _ = fs::write(root.join("cgroup.subtree_control"), enable);
                let _ = fs::write(parent.join("cgroup.subtree_control"), enable);
                let ok = fs::read_to_string(parent.join("cgroup.subtree_control"))
                    .is_ok_and(|s| s.contains("memory") && s.contains("pids"));
                if ok {
                    return Some(Cgroups {
                        layout: Layout::V2 { parent },
                    });
                }
            }
        }
        let find = |name: &str| -> Option<PathBuf> {
            let mp = v1.iter().find(|(c, _)| c == name)?.1.join(parent_name);
            fs::create_dir_all(&mp).ok()?;
            Some(mp)
        };
        let (memory, pids) = (find("memory"), find("pids"));
        if memory.is_none() || pids.is_none() {
            return None;
        }
        Some(Cgroups {
            layout: Layout::V1 {
                memory,
                pids,
                cpu: find("cpu"),
                cpuacct: find("cpuacct"),
            },
        })
    }

    /// `v1 (memory, pids, cpu, cpuacct)` or `v2`.
    pub(crate) fn describe(&self) -> String {
        match &self.layout {
            Layout::V1 { cpu, cpuacct, .. } => {
                let mut s = String::from("cgroup v1 (memory, pids");
                if cpu.is_some() {
                    s.push_str(", cpu");
                }
                if cpuacct.is_some() {
                    s.push_str(", cpuacct");
                }
                s.push(')');
                s
            }
            Layout::V2 { .. } => "cgroup v2 (memory, pids, cpu)".into(),
        }
    }

    fn parents(&self) -> Vec<&Path> {
        match &self.layout {
            Layout::V1 {
                memory,
                pids,
                cpu,
                cpuacct,
            } => {
                let mut v: Vec<&Path> = [memory, pids, cpu, cpuacct]
                    .into_iter()
                    .flatten()
                    .map(PathBuf::as_path)
                    .collect();
                v.sort();
                v.dedup();
                v
            }
            Layout::V2 { parent } => vec![parent.as_path()],
        }
    }

    /// Create the run's cgroup with its limits.
    pub(crate) fn create(&self, run_id: &str, limits: CgroupLimits) -> io::Result<RunCgroup> {
        let dirs: Vec<PathBuf> = self.parents().iter().map(|p| p.join(run_id)).collect();
        let run = RunCgroup {
            layout: self.layout.clone(),
            run_id: run_id.to_string(),
            dirs,
            removed: false,
        };
        for d in &run.dirs {
            fs::create_dir(d)?;
        }
        let period: u64 = 100_000;
        let quota = (limits.cpus * period as f64).round() as u64;
        match &self.layout {
            Layout::V1 { cpu, .. } => {
                let mem = run.v1_dir("memory").unwrap_or_default();
                write(&mem.join("memory.limit_in_bytes"), limits.memory)?;
                // No swap: memory+swap may not exceed memory (absent without swap accounting).
                let memsw = mem.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, limits.memory)?;
                }
                let _ = write(&mem.join("memory.swappiness"), 0);
                let pids = run.v1_dir("pids").unwrap_or_default();
                write(&pids.join("pids.max"), limits.pids)?;
                if let (Some(_), Some(cpu)) = (cpu, run.v1_dir("cpu")) {
                    if quota > 0 {
                        write(&cpu.join("cpu.cfs_period_us"), period)?;
                        write(&cpu.join("cpu.cfs_quota_us"), quota)?;
                    }
                }
            }
            Layout::V2 { .. } => {
                let d = &run.dirs[0];
                write(&d.join("memory.max"), limits.memory)?;
                let _ = write(&d.join("memory.swap.max"), 0);
                write(&d.join("pids.max"), limits.pids)?;
                if quota > 0 {
                    let _ = fs::write(d.join("cpu.max"), format!("{quota} {period}"));
                }
            }
        }
        Ok(run)
    }

    /// Kill and remove run cgroups left by an earlier coderunner process (`is_stale(run id)`).
    pub(crate) fn sweep(&self, is_stale: impl Fn(&str) -> bool) -> usize {
        let mut removed = 0;
        for parent in self.parents() {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() && is_stale(&name) {
                    kill_procs(&e.path());
                    if remove_dir_retrying(&e.path()) {
                        removed += 1;
                    }
                }
            }
        }
        removed
    }
}

/// One run's cgroup (a directory per v1 hierarchy, or one v2 directory).
#[derive(Debug)]
pub(crate) struct RunCgroup {
    layout: Layout,
    run_id: String,
    dirs: Vec<PathBuf>,
    removed: bool,
}

impl RunCgroup {
    fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        let Layout::V1 {
            memory,
            pids,
            cpu,
            cpuacct,
        } = &self.layout
        else {
            return None;
        };
        let parent = match controller {
            "memory" => memory,
            "pids" => pids,
            "cpu" => cpu,
            "cpuacct" => cpuacct,
            _ => &None,
        };
        parent.as_ref().map(|p| p.join(&self.run_id))
    }

    /// Move a process (the helper, before it may run anything) into every hierarchy.
    pub(crate) fn add(&self, pid: u32) -> io::Result<()> {
        for d in &self.dirs {
            fs::write(d.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    /// The processes in the cgroup (host pids).
    pub(crate) fn pids(&self) -> Vec<i32> {
        self.dirs
            .first()
            .and_then(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Whether every controller's cgroup could be read and holds no process.
    pub(crate) fn is_empty(&self) -> bool {
        self.dirs
            .iter()
            .all(|d| fs::read_to_string(d.join("cgroup.procs")).is_ok_and(|s| s.trim().is_empty()))
    }

    /// Change the memory, pids and CPU limits (a warm-pool slot made for one profile serving
    /// a run whose limits differ only here). Lowering memory below what is in use fails.
    pub(crate) fn set_limits(&self, limits: CgroupLimits) -> io::Result<()> {
        let period: u64 = 100_000;
        let quota = (limits.cpus * period as f64).round() as u64;
        match &self.layout {
            Layout::V1 { .. } => {
                let mem = self.v1_dir("memory").unwrap_or_default();
                let memsw = mem.join("memory.memsw.limit_in_bytes");
                // memsw may never be below memory: order the writes by direction.
                let current = read_u64(&mem.join("memory.limit_in_bytes")).unwrap_or(0);
                if memsw.exists() && limits.memory > current {
                    write(&memsw, limits.memory)?;
                    write(&mem.join("memory.limit_in_bytes"), limits.memory)?;
                } else {
                    write(&mem.join("memory.limit_in_bytes"), limits.memory)?;
                    if memsw.exists() {
                        write(&memsw, limits.memory)?;
                    }
                }
                if let Some(pids) = self.v1_dir("pids") {
                    write(&pids.join("pids.max"), limits.pids)?;
                }
                if let Some(cpu) = self.v1_dir("cpu") {
                    if quota > 0 && cpu.exists() {
                        write(&cpu.join("cpu.cfs_quota_us"), quota)?;
                    }
                }
            }
            Layout::V2 { .. } => {
                let d = &self.dirs[0];
                write(&d.join("memory.max"), limits.memory)?;
                write(&d.join("pids.max"), limits.pids)?;
                if quota > 0 {
                    let _ = fs::write(d.join("cpu.max"), format!("{quota} {period}"));
                }
            }
        }
        Ok(())
    }

    /// Read what the run used.
    pub(crate) fn stats(&self) -> CgroupStats {
        match &self.layout {
            Layout::V1 { .. } => {
                let mem = self.v1_dir("memory").unwrap_or_default();
                let oom = fs::read_to_string(mem.join("memory.oom_control")).unwrap_or_default();
                CgroupStats {
                    peak_memory: read_u64(&mem.join("memory.max_usage_in_bytes")),
                    cpu_ns: self
                        .v1_dir("cpuacct")
                        .and_then(|d| read_u64(&d.join("cpuacct.usage"))),
                    oom_kills: keyed(&oom, "oom_kill").unwrap_or(0),
                    memory_limit_hits: read_u64(&mem.join("memory.failcnt")).unwrap_or(0),
                }
            }
            Layout::V2 { .. } => {
                let d = &self.dirs[0];
                let events = fs::read_to_string(d.join("memory.events")).unwrap_or_default();
                let cpu = fs::read_to_string(d.join("cpu.stat")).unwrap_or_default();
                CgroupStats {
                    peak_memory: read_u64(&d.join("memory.peak")),
                    cpu_ns: keyed(&cpu, "usage_usec").map(|us| us * 1000),
                    oom_kills: keyed(&events, "oom_kill").unwrap_or(0),
                    memory_limit_hits: keyed(&events, "max").unwrap_or(0),
                }
            }
        }
    }

    /// SIGKILL everything in the cgroup.
    pub(crate) fn kill_all(&self) {
        if let Layout::V2 { .. } = self.layout {
            if fs::write(self.dirs[0].join("cgroup.kill"), "1").is_ok() {
                return;
            }
        }
        // Every process of the run is in each hierarchy's directory, so one list is enough.
        if let Some(d) = self.dirs.first() {
            kill_procs(d);
        }
    }

    /// Kill stragglers and remove the directories. Returns false if one could not be removed.
    /// If this future is dropped part way (a removal spawned on a runtime that shuts down),
    /// `Drop` finishes the job.
    pub(crate) async fn remove(mut self) -> bool {
        let mut all = true;
        for d in &self.dirs {
            let mut removed = false;
            for attempt in 0..200 {
                kill_procs(d);
                match fs::remove_dir(d) {
                    Ok(()) => {
                        removed = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        removed = true;
                        break;
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(if attempt < 20 { 1 } else { 10 }))
                            .await
                    }
                }
            }
            if !removed {
                tracing::error!(cgroup = %d.display(), "could not remove a run cgroup");
                all = false;
            }
        }
        self.removed = true;
        all
    }
}

impl Drop for RunCgroup {
    /// Only reached when a run, or a removal spawned after it, was cancelled mid-way (its future
    /// dropped, e.g. by its runtime shutting down): clean up synchronously.
    fn drop(&mut self) {
        if !self.removed {
            for d in &self.dirs {
                remove_dir_retrying(d);
            }
        }
    }
}

fn write(path: &Path, value: u64) -> io::Result<()> {
    fs::write(path, value.to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a "key value" per-line file.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn kill_procs(dir: &Path) {
    let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: kill(2) with a pid read from the cgroup; a stale pid at worst gets ESRCH.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

fn remove_dir_retrying(dir: &Path) -> bool {
    for _ in 0..100 {
        kill_procs(dir);
        match fs::remove_dir(dir) {
            Ok(()) => return true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::keyed;

    #[test]
    fn keyed_values() {
        let text = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed(text, "oom_kill"), Some(3));
        assert_eq!(keyed(text, "under_oom"), Some(0));
        assert_eq!(keyed(text, "missing"), None);
    }
}
