//! Rootless mode (coderunner started as an ordinary user, so runs go through a user namespace):
//! the workdir is a tmpfs capped in bytes and files like the root path's, never a host directory,
//! so a program cannot fill the host's disk or leave files behind (not even `chmod 000` ones), and
//! `/proc/self/mountinfo` inside shows no host path; a compiled language's two stages share the
//! workdir. Every test runs the real `coderunner run` as uid 65534.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use coderunner_config::{Config, IsolationPolicy, PackageSet};
use coderunner_tests::harness::{coderunner_bin, workspace_root};
use coderunner_tests::safety_net::{self, bytes};

/// An ordinary user that is not one of the suite's sandbox uids.
const NOBODY: u32 = 65534;
/// The workdir cap of these tests' profile.
const WORKDIR: u64 = 4 << 20;
/// The tmpfs inode cap the runner gives every run (runner::local::TMPFS_INODES).
const INODES: u64 = 16_384;

/// One rootless `coderunner run --json` of a program, in a temp dir of its own that holds the
/// config, the program, the scratch and the data directory.
struct Rootless {
    dir: tempfile::TempDir,
    json: serde_json::Value,
}

impl Rootless {
    /// A Python program.
    fn run(code: &str) -> Rootless {
        Rootless::run_file("attack.py", code)
    }

    /// A program whose language is told by the extension of `name`.
    fn run_file(name: &str, code: &str) -> Rootless {
        Rootless::run_with(name, code, false)
    }

    /// Like [`Rootless::run_file`]; with `cowtest`, the run gets the test package set that
    /// scripts/test.sh builds (`--env cowtest`).
    fn run_with(name: &str, code: &str, cowtest: bool) -> Rootless {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let scratch = dir.path().join("scratch");
        let data = dir.path().join("data");
        for d in [&scratch, &data] {
            std::fs::create_dir(d).expect("mkdir");
            std::os::unix::fs::chown(d, Some(NOBODY), Some(NOBODY)).expect("chown");
        }
        let mut c: Config = safety_net::config().clone();
        c.runner.scratch_dir = scratch;
        c.runner.isolation = IsolationPolicy::DegradedOk; // rootless lacks cgroups and per-run uids
        c.data_dir = data;
        for p in c.profiles.values_mut() {
            p.workdir_size = bytes(WORKDIR);
            // Below the workdir cap, so only the workdir's own cap can stop many files.
            p.file_size = bytes(1 << 20);
        }
        if cowtest {
            let prebuilt = workspace_root().join(".tools/env-test/data/environments/cowtest");
            std::fs::create_dir(c.environments_dir()).expect("mkdir environments");
            std::os::unix::fs::symlink(&prebuilt, c.environments_dir().join("cowtest"))
                .expect("link the prebuilt set");
            c.environments.sets = BTreeMap::from([(
                "cowtest".to_string(),
                PackageSet {
                    python: vec!["cowsay==6.1".to_string()],
                },
            )]);
        }
        let config = safety_net::write_config_file(dir.path(), &c);
        let program = dir.path().join(name);
        std::fs::write(&program, code).expect("write");
        for f in [&config, &program] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let out = std::process::Command::new(coderunner_bin())
            .arg("--config")
            .arg(&config)
            .args(["run", "--json"])
            .args(if cowtest {
                &["--env", "cowtest"][..]
            } else {
                &[]
            })
            .arg(&program)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .expect("coderunner run as an ordinary user");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "no outcome: {} {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        Rootless { dir, json }
    }

    fn stdout(&self) -> &str {
        self.json["stdout"].as_str().unwrap_or_default()
    }

    /// Regular files the run left on the host under its scratch and data directories, with
    /// their sizes.
    fn host_files(&self) -> Vec<(PathBuf, u64)> {
        let mut found = Vec::new();
        for d in ["scratch", "data"] {
            walk(&self.dir.path().join(d), &mut found);
        }
        found
    }
}

fn walk(dir: &Path, found: &mut Vec<(PathBuf, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            walk(&e.path(), found);
        } else {
            found.push((e.path(), meta.len()));
        }
    }
}

/// The numbers after `key` on the line of stdout that starts with it.
fn numbers(stdout: &str, key: &str) -> Vec<u64> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[tokio::test]
async fn rootless_many_files_cannot_write_past_the_workdir_byte_cap() {
    let _g = safety_net::shared().await;
    // Each file stays under the per-file limit (RLIMIT_FSIZE), which was all that bounded a
    // rootless workdir when it was a host directory: 32 of them would be 32 MiB of host disk.
    let r = Rootless::run(
        "import os\n\
         written = 0\n\
         try:\n\
         \x20   for i in range(32):\n\
         \x20       with open(f'fill{i}', 'wb') as f:\n\
         \x20           f.write(b'x' * (1 << 20))\n\
         \x20       written += 1 << 20\n\
         \x20   print('wrote all', written)\n\
         except OSError as e:\n\
         \x20   print('stopped', e.errno, written)\n",
    );
    let got = numbers(r.stdout(), "stopped");
    assert_eq!(got.len(), 2, "the writes were not stopped: {}", r.json);
    assert_eq!(got[0], 28, "not ENOSPC: {}", r.json);
    assert!(
        (1 << 20..=WORKDIR).contains(&got[1]),
        "wrote {} bytes with a {WORKDIR}-byte workdir: {}",
        got[1],
        r.json
    );
    let left = r.host_files();
    assert!(left.is_empty(), "files on the host: {left:?}");
}

#[tokio::test]
async fn rootless_empty_files_cannot_pass_the_workdir_file_cap() {
    let _g = safety_net::shared().await;
    let r = Rootless::run(
        "import os\n\
         made = 0\n\
         try:\n\
         \x20   for i in range(100_000):\n\
         \x20       os.close(os.open(f'e{i}', os.O_CREAT | os.O_WRONLY, 0o644))\n\
         \x20       made += 1\n\
         \x20   print('made all', made)\n\
         except OSError as e:\n\
         \x20   print('stopped', e.errno, made)\n",
    );
    let got = numbers(r.stdout(), "stopped");
    assert_eq!(got.len(), 2, "the files were not stopped: {}", r.json);
    assert_eq!(got[0], 28, "not ENOSPC: {}", r.json);
    assert!(
        (1000..INODES).contains(&got[1]),
        "made {} files with a {INODES}-inode workdir: {}",
        got[1],
        r.json
    );
    let left = r.host_files();
    assert!(left.is_empty(), "files on the host: {left:?}");
}

#[tokio::test]
async fn rootless_a_chmod_000_directory_does_not_survive_the_run() {
    let _g = safety_net::shared().await;
    let r = Rootless::run(
        "import os\n\
         os.makedirs('locked/inner/deeper')\n\
         open('locked/inner/deeper/f.txt', 'w').write('x')\n\
         for d in ['locked/inner/deeper', 'locked/inner', 'locked']:\n\
         \x20   os.chmod(d, 0)\n\
         print('locked')\n",
    );
    assert_eq!(r.stdout(), "locked\n", "{}", r.json);
    let runs = r.dir.path().join("scratch/runs");
    let left: Vec<_> = std::fs::read_dir(&runs)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "workdirs left behind: {left:?}");
    assert!(r.host_files().is_empty(), "{:?}", r.host_files());
}

#[tokio::test]
async fn rootless_a_compiled_program_keeps_its_workdir_between_stages() {
    let _g = safety_net::shared().await;
    // The compile stage and the run stage are two sandboxes: each attaches the same tmpfs.
    let r = Rootless::run_file(
        "twostage.c",
        "#include <stdio.h>\n\
         int main(void) {\n\
         \x20   FILE *f = fopen(\"made.txt\", \"w\");\n\
         \x20   if (!f) return 1;\n\
         \x20   fputs(\"from the run stage\", f);\n\
         \x20   fclose(f);\n\
         \x20   puts(\"compiled and ran\");\n\
         \x20   return 0;\n\
         }\n",
    );
    assert_eq!(r.stdout(), "compiled and ran\n", "{}", r.json);
    let files = r.json["files"].as_array().cloned().unwrap_or_default();
    assert!(
        files.iter().any(|f| f["path"] == "made.txt"),
        "the output file was not collected: {}",
        r.json
    );
    assert!(r.host_files().is_empty(), "{:?}", r.host_files());
}

#[tokio::test]
async fn rootless_mountinfo_shows_no_host_path() {
    let _g = safety_net::shared().await;
    let r = Rootless::run(
        "import os\n\
         open('out.txt', 'w').write('x')\n\
         print(open('/proc/self/mountinfo').read())\n\
         print('cwd', os.getcwd())\n",
    );
    let text = r.stdout();
    assert!(text.contains(" /work "), "no /work mount? {}", r.json);
    let tempdir = r.dir.path().display().to_string();
    let exe = coderunner_bin().display().to_string();
    for host_path in [
        tempdir.as_str(),
        exe.as_str(),
        "/tmp/",
        "/work/",
        "/run/",
        "/proc/",
        "/root",
        "scratch",
    ] {
        assert!(
            !text.contains(host_path),
            "mountinfo shows the host path {host_path}: {text}"
        );
    }
}

/// A package set in rootless mode is an overlay too (mounted inside the run's user namespace):
/// it imports, and mountinfo names no host path.
#[tokio::test]
async fn rootless_package_set_imports_and_shows_no_host_path() {
    let _g = safety_net::shared().await;
    let r = Rootless::run_with(
        "attack.py",
        "import cowsay\n\
         print('cowsay from', cowsay.__file__)\n\
         print(open('/proc/self/mountinfo').read())\n",
        true,
    );
    let text = r.stdout();
    assert!(
        text.contains("cowsay from /opt/env/cowtest/"),
        "the set did not import: {}",
        r.json
    );
    let root = workspace_root().display().to_string();
    let tempdir = r.dir.path().display().to_string();
    for host_path in [root.as_str(), tempdir.as_str(), ".tools", "environments"] {
        assert!(
            !text.contains(host_path),
            "mountinfo shows the host path {host_path}: {text}"
        );
    }
}
