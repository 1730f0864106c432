//! `coderunner doctor` on this machine: each row must agree with what this test measures itself
//! (its own unshare probe, its own cgroup directory, /proc/self/status, the Landlock syscall), and
//! the verdict and exit status must agree with the rows.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use coderunner_tests::harness::coderunner_bin;

struct Doctor {
    stdout: String,
    code: Option<i32>,
}

/// `coderunner doctor`'s output, run once for all the tests of this file (it measures the host,
/// starting sandboxes and the warm pool's zygote, which takes seconds).
fn doctor() -> &'static Doctor {
    static DOCTOR: OnceLock<Doctor> = OnceLock::new();
    DOCTOR.get_or_init(|| {
        let out = Command::new(coderunner_bin())
            .arg("doctor")
            .env_remove("CODERUNNER_CONFIG")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run coderunner doctor");
        Doctor {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            code: out.status.code(),
        }
    })
}

impl Doctor {
    /// (status, detail) of the row whose first column is `name`.
    fn row(&self, name: &str) -> (String, String) {
        let line = self
            .stdout
            .lines()
            .find(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with("  "))
            })
            .unwrap_or_else(|| panic!("no `{name}` row in:\n{}", self.stdout));
        let rest = line[name.len()..].trim_start();
        let (status, detail) = rest.split_once("  ").unwrap_or((rest, ""));
        (status.to_string(), detail.trim().to_string())
    }
}

/// This test's own probe: can a child create a user namespace?
fn userns_works() -> bool {
    let mut cmd = Command::new("/bin/true");
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: only the unshare syscall runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
    }
    cmd.status().is_ok_and(|s| s.success())
}

/// (version, mount point) of the hierarchy holding `controller`, v2 preferred, from /proc/mounts.
fn controller_mount(controller: &str) -> Option<(&'static str, PathBuf)> {
    let mounts = fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    let mut v1 = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        match f[2] {
            "cgroup2" => {
                let cs = fs::read_to_string(PathBuf::from(f[1]).join("cgroup.controllers"))
                    .unwrap_or_default();
                if cs.split_whitespace().any(|c| c == controller) {
                    return Some(("v2", PathBuf::from(f[1])));
                }
            }
            "cgroup" if f[3].split(',').any(|o| o == controller) && v1.is_none() => {
                v1 = Some(("v1", PathBuf::from(f[1])));
            }
            _ => {}
        }
    }
    v1
}

/// Can this test create (and remove) a cgroup under that mount?
fn can_create_cgroup(mount: &std::path::Path) -> bool {
    let dir = mount.join(format!("coderunner-cli-test-{}", std::process::id()));
    let made = fs::create_dir(&dir).is_ok();
    if made {
        fs::remove_dir(&dir).expect("remove the test cgroup");
    }
    made
}

#[test]
fn doctor_agrees_with_what_the_test_measures() {
    let d = doctor();

    let (status, detail) = d.row("user namespaces");
    let expect = if userns_works() { "ok" } else { "MISSING" };
    // As root a missing user namespace is only informational.
    assert!(
        status == expect || (expect == "MISSING" && status == "info"),
        "user namespaces: doctor says `{status}` ({detail}), the test's probe says {expect}"
    );

    for controller in ["memory", "pids", "cpu"] {
        let (status, detail) = d.row(&format!("cgroup {controller}"));
        match controller_mount(controller) {
            Some((version, mount)) => {
                assert!(
                    detail.starts_with(&format!("{version} at {}", mount.display())),
                    "cgroup {controller}: `{detail}` should say {version} at {}",
                    mount.display()
                );
                let expect = if can_create_cgroup(&mount) {
                    "ok"
                } else {
                    "MISSING"
                };
                assert_eq!(status, expect, "cgroup {controller}: {detail}");
            }
            None => assert_eq!(status, "MISSING", "cgroup {controller}: {detail}"),
        }
    }

    let proc_status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let (status, detail) = d.row("seccomp");
    if proc_status.lines().any(|l| l.starts_with("Seccomp:")) {
        assert_eq!(status, "ok", "the kernel has seccomp: {detail}");
    }

    // SAFETY: the Landlock ABI version query creates nothing.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32,
        )
    };
    let (status, detail) = d.row("landlock");
    if abi > 0 {
        assert_eq!(
            (status.as_str(), detail.as_str()),
            ("ok", format!("ABI {abi}").as_str())
        );
    } else {
        assert_eq!(status, "MISSING", "{detail}");
    }

    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let (status, detail) = d.row("per-run uids");
    if root {
        assert!(
            detail.starts_with("root: each run gets its own uid from 200000-200999"),
            "{detail}"
        );
        assert_eq!(status, "ok", "{detail}");
    } else {
        assert_eq!(status, "info", "{detail}");
    }
}

#[test]
fn verdict_and_exit_status_follow_the_rows() {
    let d = doctor();
    let last = d.stdout.lines().last().unwrap_or_default();
    let missing = d
        .stdout
        .lines()
        .take_while(|l| !l.starts_with("LANGUAGE"))
        .any(|l| l.contains("  MISSING  "));
    if missing {
        assert!(last.starts_with("verdict: degraded: "), "{}", d.stdout);
        assert!(
            d.stdout.contains("WARNING: MISSING on this host:"),
            "{}",
            d.stdout
        );
        assert_eq!(d.code, Some(1));
    } else {
        assert_eq!(last, "verdict: full isolation", "{}", d.stdout);
        assert_eq!(d.code, Some(0));
    }
}

#[test]
fn doctor_lists_each_language_program() {
    let d = doctor();
    let (status, detail) = d.row("python");
    assert_eq!(status, "ok", "{detail}");
    assert!(detail.starts_with("/usr/bin/python3"), "{detail}");
    let rustc_here = ["/usr/local/bin", "/usr/bin", "/bin"]
        .iter()
        .any(|dir| std::path::Path::new(dir).join("rustc").is_file());
    let (status, detail) = d.row("rust");
    if rustc_here {
        assert_eq!(status, "ok", "{detail}");
    } else {
        assert_eq!(status, "not installed", "{detail}");
    }
}

/// The warm-pool section (the default config: `auto`, 2 slots per core) reports the zygote's
/// preload as it went, and memory figures it measured on a live zygote, a Python slot and a
/// javascript slot (a whole node, started ahead of its run).
#[test]
fn doctor_reports_the_warm_pool_it_measured() {
    let d = doctor();
    let section: Vec<&str> = d
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("warm pool: "))
        .take_while(|l| l.starts_with("warm pool: ") || l.starts_with("  "))
        .collect();
    assert_eq!(section.first(), Some(&"warm pool: ready"), "{}", d.stdout);
    let per_core = std::thread::available_parallelism().map_or(1, |n| n.get()) * 2;
    assert!(
        section.contains(&format!("  slots per kind of run: {per_core}").as_str()),
        "{section:#?}"
    );
    assert!(
        section.contains(&"  ready slots in this probe: python 1, javascript 1"),
        "{section:#?}"
    );
    let zygote = section
        .iter()
        .find(|l| l.starts_with("  python zygote: "))
        .unwrap_or_else(|| panic!("no zygote line: {section:#?}"));
    assert!(
        zygote.starts_with("  python zygote: preload [numpy, pandas, matplotlib]: ok; "),
        "{zygote}"
    );
    let line = |prefix: &str| -> Vec<f64> {
        let l = section
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line: {section:#?}"));
        l.split(' ')
            .zip(l.split(' ').skip(1))
            .filter(|(_, unit)| unit.starts_with("MiB"))
            .filter_map(|(n, _)| n.parse().ok())
            .collect()
    };
    // Every figure is measured: the zygote holds pandas (tens of MiB), a Python slot is smaller
    // but not empty, a javascript slot holds a whole node, and PSS never exceeds RSS.
    let [z_rss, z_pss] = line("  memory (measured on the zygote")[..] else {
        panic!("two zygote figures: {section:#?}")
    };
    assert!(
        z_rss > 30.0 && z_pss > 0.0 && z_pss <= z_rss,
        "{section:#?}"
    );
    // A slot's RSS counts both of its processes (its reaper and the forked Python), so it may
    // exceed the zygote's; what it adds of its own is its private memory.
    let [s_rss, s_pss, s_private] = line("  one python slot: ")[..] else {
        panic!("three python slot figures: {section:#?}")
    };
    assert!(
        s_rss > 0.0 && s_pss > 0.0 && s_pss <= s_rss && s_private <= s_pss,
        "{section:#?}"
    );
    let [n_rss, n_pss, n_private] =
        line("  one javascript slot (a node started ahead of its run): ")[..]
    else {
        panic!("three javascript slot figures: {section:#?}")
    };
    assert!(
        n_rss > 20.0 && n_pss <= n_rss && n_private > 10.0 && n_private <= n_pss,
        "a pre-started node's memory: {section:#?}"
    );
    let [pool_pss] = line("  a full pool (")[..] else {
        panic!("one pool figure: {section:#?}")
    };
    assert!(
        pool_pss >= z_pss + s_pss + n_pss,
        "the estimate adds up: {section:#?}"
    );
    assert!(
        section.iter().any(|l| l.starts_with(&format!(
            "  a full pool ({} slots: {per_core} per kind for python, javascript, bash): about PSS ",
            per_core * 3
        ))),
        "{section:#?}"
    );
}
