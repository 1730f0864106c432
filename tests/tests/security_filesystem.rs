//! Filesystem and secrets attacks against the real sandbox: filling the tmpfs mounts, writing to
//! system paths, reading the bot's secrets, symlink escapes through output files, file-count,
//! depth and sparse-file bombs, concurrent runs spying on each other, and unbounded compiles.

use std::time::Duration;

use coderunner_runner::RunStatus;
use coderunner_tests::safety_net::{self, run};

/// Fill `path` with 1 MiB files until an error; prints the errno name and the bytes written.
fn filler(path: &str) -> String {
    format!(
        "import errno, os\n\
         total = 0\n\
         try:\n\
         \x20   for i in range(100000):\n\
         \x20       with open(os.path.join('{path}', f'fill{{i}}'), 'wb') as f:\n\
         \x20           for _ in range(64):\n\
         \x20               f.write(b'x' * (1 << 20)); f.flush(); total += 1 << 20\n\
         except OSError as e:\n\
         \x20   print(errno.errorcode[e.errno], total)\n"
    )
}

#[tokio::test]
async fn filling_workdir_tmp_and_shm_stops_at_their_caps() {
    let _g = safety_net::shared().await;
    let p = safety_net::profile();
    for (path, cap) in [
        (".", p.workdir_size.0),
        ("/tmp", p.tmp_size.0),
        ("/dev/shm", p.shm_size.0),
    ] {
        let o = run("python", &filler(path)).await;
        let mut words = o.stdout.split_whitespace();
        let (err, total) = (
            words.next().unwrap_or(""),
            words.next().and_then(|t| t.parse::<u64>().ok()),
        );
        assert!(matches!(err, "ENOSPC" | "EFBIG"), "{path}: {o:?}");
        let total = total.expect("bytes written");
        assert!(
            total <= cap,
            "{path}: wrote {total} bytes past its {cap}-byte cap"
        );
        // One file never exceeds RLIMIT_FSIZE either (written in chunks: one huge write()
        // just returns short at the limit).
        let code = format!(
            "f = open('{path}/big', 'wb', buffering=0)\n\
             n = 0\n\
             try:\n\
             \x20   while n <= {limit}:\n\
             \x20       n += f.write(b'x' * (1 << 20))\n\
             \x20   print('wrote past the limit', n)\n\
             except OSError as e:\n\
             \x20   print(e.strerror, n)\n",
            limit = p.file_size.0
        );
        let o = run("python", &code).await;
        assert!(
            o.stdout.starts_with("File too large") || o.stdout.starts_with("No space left"),
            "{path}: {:?}",
            (&o.stdout, o.status)
        );
    }
    // They are tmpfs mounts inside the sandbox, never the host disk.
    let o = run("python", "import os\nfor p in ('/work', '/tmp', '/dev/shm'):\n    s = os.statvfs(p)\n    print(p, s.f_blocks * s.f_frsize)\nprint([l.split()[4] + ' ' + l.split()[-3] for l in open('/proc/self/mountinfo') if l.split()[4] in ('/work', '/tmp', '/dev/shm')])").await;
    assert!(
        o.stdout.contains(&format!("/work {}", p.workdir_size.0)),
        "{o:?}"
    );
    assert!(
        o.stdout.contains(&format!("/tmp {}", p.tmp_size.0)),
        "{o:?}"
    );
    assert!(
        o.stdout.contains("'/work tmpfs'")
            && o.stdout.contains("'/tmp tmpfs'")
            && o.stdout.contains("'/dev/shm tmpfs'"),
        "{o:?}"
    );
}

#[tokio::test]
async fn system_paths_and_the_coderunner_binary_are_not_writable() {
    let _g = safety_net::shared().await;
    let bin = coderunner_tests::harness::coderunner_bin();
    let before = std::fs::metadata(&bin)
        .expect("binary")
        .modified()
        .expect("mtime");
    let code = format!(
        "for p in ('/usr/evil', '/usr/bin/python3', '/etc/evil', '/etc/passwd', '/evil', '/proc/sys/kernel/hostname', '{}'):\n\
         \x20   try:\n\
         \x20       open(p, 'a').write('x')\n\
         \x20       print('WROTE', p)\n\
         \x20   except OSError as e:\n\
         \x20       print('refused', p, e.strerror)\n",
        bin.display()
    );
    let o = run("python", &code).await;
    assert!(!o.stdout.contains("WROTE"), "{o:?}");
    assert_eq!(o.stdout.matches("refused").count(), 7, "{o:?}");
    assert_eq!(
        std::fs::metadata(&bin)
            .expect("binary")
            .modified()
            .expect("mtime"),
        before
    );
    assert!(
        !std::path::Path::new("/usr/evil").exists() && !std::path::Path::new("/etc/evil").exists()
    );
}

#[tokio::test]
async fn secrets_of_the_bot_are_unreachable() {
    let _g = safety_net::shared().await;
    let secret = "discord-token-that-must-not-leak";
    let dir = tempfile::tempdir().expect("tempdir");
    let config = safety_net::config_file(dir.path());
    let program = dir.path().join("spy.py");
    std::fs::write(
        &program,
        format!(
            "import os, glob\n\
             print('ENV', dict(os.environ))\n\
             for f in glob.glob('/proc/*/environ'):\n\
             \x20   try:\n\
             \x20       print('ENVIRON', f, open(f, 'rb').read())\n\
             \x20   except OSError as e:\n\
             \x20       print('no', f, e.strerror)\n\
             for p in ('{config}', '/etc/shadow', '/root', '/root/.cargo', '/proc/1/root/etc/shadow', '/proc/1/cwd'):\n\
             \x20   try:\n\
             \x20       print('READ', p, os.listdir(p) if os.path.isdir(p) else open(p).read()[:50])\n\
             \x20   except OSError as e:\n\
             \x20       print('no', p, e.strerror)\n",
            config = config.display()
        ),
    )
    .expect("write");
    let out = tokio::process::Command::new(coderunner_tests::harness::coderunner_bin())
        .args([
            "--config".as_ref(),
            config.as_os_str(),
            "run".as_ref(),
            "--json".as_ref(),
            program.as_os_str(),
        ])
        .env("DISCORD_TOKEN", secret)
        .output()
        .await
        .expect("coderunner run");
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).expect("RunOutcome JSON");
    let text = outcome["output"].as_str().unwrap_or_default();
    assert_eq!(outcome["status"], "exited", "{outcome}");
    assert!(text.contains("ENV {"), "{text}");
    assert!(!text.contains(secret), "the token leaked: {text}");
    assert!(
        !text.lines().any(|l| l.starts_with("READ ")),
        "a secret path was readable: {text}"
    );
    assert!(!text.contains("root:"), "{text}");
    assert!(
        text.contains(&format!("no {} No such file", config.display())),
        "{text}"
    );
}

#[tokio::test]
async fn output_file_collection_is_bounded_and_never_follows_symlinks() {
    let _g = safety_net::shared().await;
    let p = safety_net::profile();
    let code = "import os\n\
                os.symlink('/etc/passwd', 'passwd')\n\
                os.symlink('/etc', 'etc')\n\
                os.mkfifo('fifo')\n\
                for i in range(5000):\n\
                \x20   open(f'f{i:04}.txt', 'w').write('x')\n\
                d = 'deep'\n\
                for i in range(500):\n\
                \x20   d += '/d'\n\
                os.makedirs(d)\n\
                open(d + '/bottom.txt', 'w').write('deep')\n\
                try:\n\
                \x20   with open('sparse.bin', 'wb') as f: f.truncate(1 << 40)\n\
                except OSError as e:\n\
                \x20   print('sparse:', e.strerror)\n\
                with open('sparse2.bin', 'wb') as f: f.truncate(15 << 20)\n\
                print('made')\n";
    let started = std::time::Instant::now();
    let o = run("python", code).await;
    assert_eq!(o.stdout.lines().last(), Some("made"), "{o:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "collection must not hang"
    );
    let names: Vec<&str> = o.files.iter().map(|f| f.path.as_str()).collect();
    assert!(o.files.len() <= p.output_files as usize, "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("passwd") || n.starts_with("etc") || *n == "fifo"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("bottom")), "{names:?}");
    assert!(!names.contains(&"sparse.bin"), "{names:?}");
    let total: u64 = o.files.iter().map(|f| f.size).sum();
    assert!(total <= p.output_files_bytes.0);
    assert!(o.files.iter().all(|f| !f.content.starts_with(b"root:")));
}

#[tokio::test]
async fn concurrent_runs_cannot_see_each_other() {
    let _g = safety_net::shared().await;
    let marker = "secret-of-run-a";
    let a = tokio::spawn(run(
        "python",
        Box::leak(
            format!("import time\nopen('{marker}', 'w').write('x')\nopen('/tmp/{marker}', 'w').write('x')\ntime.sleep(2)\nprint('a done')")
                .into_boxed_str(),
        ),
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let b = run(
        "python",
        "import os\nprint(sorted(os.listdir('.')), sorted(os.listdir('/tmp')))\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))",
    )
    .await;
    let a = a.await.expect("join");
    assert_eq!(a.stdout, "a done\n", "{a:?}");
    assert!(!b.stdout.contains(marker), "{b:?}");
    assert!(
        b.stdout.ends_with("[1, 2]\n"),
        "run b sees only its reaper and itself: {b:?}"
    );
}

#[tokio::test]
async fn a_compile_of_dev_zero_is_bounded() {
    let _g = safety_net::shared().await;
    let o = run("c", "#include </dev/zero>\nint main(void){return 0;}").await;
    assert_eq!(
        o.status,
        RunStatus::CompileError,
        "{:?}",
        (o.status, &o.error, &o.compile)
    );
    // Either the compiler is killed at the compile stage's memory limit, or gcc reports that
    // cc1 was killed; either way the stage ends within its limits.
    let c = o.compile.expect("compile outcome");
    assert_ne!(c.exit_code, Some(0), "{c:?}");
    let limits = safety_net::profile().compile;
    assert!(
        c.wall_ms <= limits.wall_time.as_duration().as_millis() as u64 + 2000,
        "{c:?}"
    );
}
