//! A short-lived cache of the isolation probe, so that every one-shot `coderunner run` does not
//! start probe children and create probe cgroups again (about a third of its start-up).
//!
//! Only a "full isolation" report is ever reused, only within the same boot, for the same uid,
//! kernel and sandbox settings, and for a few minutes. A cached report can therefore only claim
//! protections that this very boot really gave; if one disappears later (a sysctl, an unmounted
//! controller), the helper's own attempt to use it fails and the run is refused: closed, not open.
//! `coderunner doctor` never reads the cache.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use coderunner_config::Config;
use serde::{Deserialize, Serialize};

use super::{HostReport, Verdict};

/// How long a cached probe is trusted.
const MAX_AGE: Duration = Duration::from_secs(10 * 60);
const FILE_NAME: &str = "host-probe.json";

/// What a cached report is only valid for.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Key {
    boot_id: String,
    euid: u32,
    kernel: String,
    cgroup_parent: String,
    cgroups: bool,
    uid_range: [u32; 2],
    coderunner: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    key: Key,
    report: HostReport,
}

impl Key {
    fn current(config: &Config) -> Option<Key> {
        let read = |p: &str| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
        Some(Key {
            boot_id: read("/proc/sys/kernel/random/boot_id")?,
            // SAFETY: geteuid has no preconditions.
            euid: unsafe { libc::geteuid() },
            kernel: read("/proc/sys/kernel/osrelease")?,
            cgroup_parent: config.runner.cgroup_parent.clone(),
            cgroups: config.runner.cgroups,
            uid_range: config.runner.uid_range,
            coderunner: env!("CARGO_PKG_VERSION").to_string(),
        })
    }
}

/// [`HostReport::probe_isolation`], reusing a recent full-isolation report kept in `dir` (the
/// runner's private scratch directory) when it was made for this boot and these settings.
pub fn probe_isolation_cached(config: &Config, dir: &Path) -> HostReport {
    let path = dir.join(FILE_NAME);
    let Some(key) = Key::current(config) else {
        return HostReport::probe_isolation(config);
    };
    if let Some(report) = read_fresh(&path, &key) {
        tracing::debug!(path = %path.display(), "host probe reused from the cache");
        return report;
    }
    let report = HostReport::probe_isolation(config);
    // Full isolation implies the namespaces worked, so nothing that cannot sandbox is kept.
    if report.verdict() == Verdict::Full {
        let entry = Entry {
            key,
            report: report.clone(),
        };
        if let Err(e) = write(&path, &entry) {
            tracing::debug!("could not cache the host probe at {}: {e}", path.display());
        }
    }
    report
}

fn read_fresh(path: &Path, key: &Key) -> Option<HostReport> {
    let meta = fs::symlink_metadata(path).ok()?;
    let age = SystemTime::now()
        .duration_since(meta.modified().ok()?)
        .ok()?;
    if !meta.is_file() || age > MAX_AGE {
        return None;
    }
    let entry: Entry = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    (entry.key == *key && entry.report.verdict() == Verdict::Full).then_some(entry.report)
}

/// Write atomically (temporary file, then rename) with mode 0600.
fn write(path: &Path, entry: &Entry) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&bytes)?;
    drop(f);
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Controller;

    fn config() -> Config {
        Config::embedded_default().expect("default config")
    }

    /// A report no live probe would make (a marker in `container`), claiming full isolation.
    fn marked_full_report(config: &Config) -> HostReport {
        let ok = |name: &str| Controller {
            name: name.into(),
            version: Some(crate::host::CgroupVersion::V1),
            mount: Some(format!("/sys/fs/cgroup/{name}").into()),
            writable: Ok(()),
        };
        HostReport {
            kernel: "k".into(),
            root: true,
            uid_range: config.runner.uid_range,
            uid_problem: None,
            namespaces: Ok(()),
            user_namespaces: Ok(()),
            cgroups: vec![ok("memory"), ok("pids"), ok("cpu")],
            seccomp: Ok(()),
            seccomp_mode: Some(0),
            landlock_abi: Ok(6),
            container: Some("cache-test-marker".into()),
            languages: Vec::new(),
        }
    }

    fn store(dir: &Path, key: Key, report: HostReport) {
        write(&dir.join(FILE_NAME), &Entry { key, report }).expect("write cache");
    }

    #[test]
    fn a_fresh_full_report_for_this_boot_is_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config();
        let report = marked_full_report(&config);
        assert_eq!(
            report.verdict(),
            Verdict::Full,
            "the test report must be full"
        );
        store(dir.path(), Key::current(&config).expect("key"), report);
        let got = probe_isolation_cached(&config, dir.path());
        assert_eq!(got.container.as_deref(), Some("cache-test-marker"));
    }

    #[test]
    fn another_boot_uid_or_setting_is_probed_live() {
        let config = config();
        let current = Key::current(&config).expect("key");
        let variants = [
            Key {
                boot_id: "another-boot".into(),
                ..Key::current(&config).expect("key")
            },
            Key {
                euid: current.euid.wrapping_add(1),
                ..Key::current(&config).expect("key")
            },
            Key {
                cgroup_parent: "elsewhere".into(),
                ..Key::current(&config).expect("key")
            },
        ];
        for key in variants {
            let dir = tempfile::tempdir().expect("tempdir");
            store(dir.path(), key, marked_full_report(&config));
            let got = probe_isolation_cached(&config, dir.path());
            assert_ne!(got.container.as_deref(), Some("cache-test-marker"));
        }
    }

    #[test]
    fn a_degraded_report_is_never_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config();
        let mut report = marked_full_report(&config);
        report.seccomp = Err("pretend".into());
        store(dir.path(), Key::current(&config).expect("key"), report);
        let got = probe_isolation_cached(&config, dir.path());
        assert_ne!(got.container.as_deref(), Some("cache-test-marker"));
    }

    #[test]
    fn an_old_report_is_probed_live() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config();
        store(
            dir.path(),
            Key::current(&config).expect("key"),
            marked_full_report(&config),
        );
        let old = SystemTime::now() - MAX_AGE - Duration::from_secs(5);
        fs::File::options()
            .write(true)
            .open(dir.path().join(FILE_NAME))
            .and_then(|f| f.set_modified(old))
            .expect("age the cache");
        let got = probe_isolation_cached(&config, dir.path());
        assert_ne!(got.container.as_deref(), Some("cache-test-marker"));
    }
}
