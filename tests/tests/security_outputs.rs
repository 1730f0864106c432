//! Output files and read-only binds under attack: a program that keeps swapping an output
//! directory for a symlink to a host directory until it is killed gets nothing of the host back
//! (with and without cgroups: files are collected only once every process of the run is gone, by
//! a walk from directory fds), and a host mount nested under a read-only bind is read-only too.

use std::path::{Path, PathBuf};

use coderunner_config::IsolationPolicy;
use coderunner_runner::{LocalRunner, RunOutcome, RunStatus, Runner};
use coderunner_tests::safety_net::{self, request};

/// A program that builds `out/` and, until killed, keeps replacing it with a symlink to
/// `host_dir` and back, in two processes.
fn swapper(host_dir: &Path) -> String {
    format!(
        "import os, time\n\
         os.mkdir('out')\n\
         open('out/mine.txt', 'w').write('mine')\n\
         os.fork()\n\
         end = time.time() + 60\n\
         while time.time() < end:\n\
         \x20   try:\n\
         \x20       os.rename('out', 'out.real')\n\
         \x20       os.symlink('{}', 'out')\n\
         \x20       os.unlink('out')\n\
         \x20       os.rename('out.real', 'out')\n\
         \x20   except OSError:\n\
         \x20       pass\n",
        host_dir.display()
    )
}

fn assert_nothing_of_the_host(o: &RunOutcome, host_secret: &str) {
    assert_eq!(o.status, RunStatus::Timeout, "{o:?}");
    for f in &o.files {
        assert!(
            !String::from_utf8_lossy(&f.content).contains(host_secret),
            "a host file was collected as {}: {o:?}",
            f.path
        );
        assert!(!f.path.contains("secret"), "{}", f.path);
    }
}

fn host_dir_with_secret() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = format!("HOST-SECRET-{}", std::process::id());
    std::fs::write(dir.path().join("secret.txt"), &secret).expect("write");
    (dir, secret)
}

#[tokio::test]
async fn a_symlink_swap_during_collection_gets_nothing_of_the_host() {
    let _g = safety_net::shared().await;
    let (host, secret) = host_dir_with_secret();
    let o = safety_net::run("python", &swapper(host.path())).await;
    assert_nothing_of_the_host(&o, &secret);
}

#[tokio::test]
async fn without_cgroups_collection_waits_for_every_process_and_is_not_fooled() {
    // Exclusive: its leftover check counts every suite process, including the other tests' runs.
    let _g = safety_net::exclusive().await;
    let (host, secret) = host_dir_with_secret();
    let mut c = safety_net::config().clone();
    c.runner.cgroups = false;
    c.runner.isolation = IsolationPolicy::DegradedOk;
    let runner = LocalRunner::new(&c).expect("runner");
    let o = runner
        .run(request("python", &swapper(host.path())))
        .await
        .expect("an outcome");
    assert_nothing_of_the_host(&o, &secret);
    // And the swappers are dead: no process of the suite's uids is left.
    let left = safety_net::leftovers()
        .into_iter()
        .filter(|l| l.starts_with("process") && l.contains("python"))
        .count();
    assert_eq!(left, 0, "{:?}", safety_net::leftovers());
}

/// A directory with a writable tmpfs mounted inside, unmounted and removed on drop.
struct NestedMount {
    top: PathBuf,
}

impl NestedMount {
    fn new() -> NestedMount {
        // Under /run, not /tmp: the sandbox's own /tmp would cover a bind below /tmp.
        let top = PathBuf::from(format!("/run/coderunner-ro-test-{}", std::process::id()));
        std::fs::create_dir_all(top.join("sub")).expect("mkdir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=1777", "tmpfs"])
            .arg(top.join("sub"))
            .status()
            .expect("mount");
        assert!(status.success(), "mounting the nested tmpfs");
        NestedMount { top }
    }
}

impl Drop for NestedMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.top.join("sub"))
            .status();
        let _ = std::fs::remove_dir_all(&self.top);
    }
}

#[tokio::test]
async fn a_mount_nested_under_a_read_only_bind_is_read_only() {
    let _g = safety_net::shared().await;
    let nested = NestedMount::new();
    let mut c = safety_net::config().clone();
    let lang = c.languages.get_mut("python").expect("python");
    lang.mounts.push(nested.top.clone());
    let runner = LocalRunner::new(&c).expect("runner");
    let mut req = request(
        "python",
        &format!(
            "import os\n\
             for p in ['{top}/top.txt', '{top}/sub/nested.txt']:\n\
             \x20   try:\n\
             \x20       open(p, 'w').write('x')\n\
             \x20       print('WROTE', p)\n\
             \x20   except OSError as e:\n\
             \x20       print('refused', p, e.strerror)\n\
             print('sub is there', os.path.isdir('{top}/sub'))\n",
            top = nested.top.display()
        ),
    );
    req.spec = c.languages["python"].clone();
    let o = runner.run(req).await.expect("an outcome");
    assert!(o.stdout.contains("sub is there True"), "{o:?}");
    assert!(!o.stdout.contains("WROTE"), "{o:?}");
    assert_eq!(
        o.stdout.matches("Read-only file system").count(),
        2,
        "{o:?}"
    );
    assert!(!nested.top.join("sub/nested.txt").exists());
}
