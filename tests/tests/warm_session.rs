//! Notebook sessions forked from the warm pool's Python zygote, through the real sandbox: a warm
//! session starts with the data stack imported yet is indistinguishable from a cold one where it
//! matters: its own uid and cgroup with the session's limits (a memory bomb ends only that
//! session), no capability, the zygote and its own set-up process out of reach, fresh random
//! values, and nothing carried over from another session. (session_sandbox.rs runs its whole
//! suite through the warm path too, in scripts/test.sh's warm pass.)

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use coderunner_config::Profile;
use coderunner_runner::session::{self, Cell, CellOutcome, Session, SessionSpec};
use coderunner_runner::{LocalRunner, RunStatus};
use coderunner_tests::{safety_net, warm};

/// A warm runner of this suite's size (see [`warm::with_warm_runner`]).
async fn with_warm_runner<F, Fut>(body: F)
where
    F: FnOnce(LocalRunner) -> Fut,
    Fut: Future<Output = ()>,
{
    warm::with_warm_runner(1, None, body).await
}

fn spec(env: Vec<(String, String)>) -> SessionSpec {
    let (_, python) = safety_net::config()
        .find_language("python")
        .expect("python in the default config");
    SessionSpec {
        language: python.clone(),
        files: Vec::new(),
        limits: limits(),
        env,
    }
}

fn limits() -> Profile {
    safety_net::profile()
}

/// A session forked from the zygote (it fails the test if it started cold).
async fn warm(runner: &LocalRunner) -> Session {
    let s = session::start(runner, spec(Vec::new()))
        .await
        .expect("the session started");
    assert!(s.is_warm(), "the session started cold");
    s
}

async fn cell(s: &mut Session, code: &str) -> CellOutcome {
    s.run_cell(Cell {
        code: code.into(),
        stdin: String::new(),
        limits: limits(),
    })
    .await
}

/// The text the cell's last expression showed.
async fn value(s: &mut Session, code: &str) -> String {
    let o = cell(s, code).await;
    assert_eq!(o.outcome.status, RunStatus::Exited, "{code}: {o:?}");
    assert_eq!(o.outcome.exit_code, Some(0), "{code}: {o:?}");
    o.display
        .iter()
        .find(|d| d.mime == "text/plain")
        .map(|d| d.data.clone())
        .unwrap_or_else(|| panic!("{code} showed nothing: {o:?}"))
}

fn proc_status(pid: i32) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn cgroup_file(controller: &str, id: &str, file: &str) -> String {
    let path = Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(safety_net::CGROUP_PARENT)
        .join(id)
        .join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Each warm session runs as a uid of its own, in a cgroup of its own with the session
/// profile's memory and pids limits; a memory bomb in one ends that session only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_session_has_its_own_uid_and_cgroup_and_a_memory_bomb_ends_only_it() {
    let _g = safety_net::exclusive().await;
    safety_net::dangerous_tests_allowed().await;
    with_warm_runner(|runner| async move {
        let mut a = warm(&runner).await;
        let mut b = warm(&runner).await;
        let uid_a: u32 = value(&mut a, "import os\nos.getuid()").await.parse().expect("uid");
        let uid_b: u32 = value(&mut b, "import os\nos.getuid()").await.parse().expect("uid");
        for uid in [uid_a, uid_b] {
            assert!(
                (safety_net::UIDS[0]..=safety_net::UIDS[1]).contains(&uid),
                "a session uid outside the suite's range: {uid}"
            );
        }
        assert_ne!(uid_a, uid_b, "two live sessions share a uid");
        assert_eq!(
            value(&mut a, "os.getgid(), os.getgroups()").await,
            format!("({uid_a}, [])")
        );

        let p = limits();
        assert_eq!(
            cgroup_file("memory", a.id(), "memory.limit_in_bytes"),
            p.memory.0.to_string(),
            "the session's memory limit"
        );
        // The session's processes plus its reaper (a cold session's cgroup also holds the
        // helper, and gets one more).
        assert_eq!(
            cgroup_file("pids", a.id(), "pids.max"),
            (u64::from(p.pids) + 1).to_string(),
            "the session's pids limit"
        );
        let procs: Vec<i32> = cgroup_file("pids", a.id(), "cgroup.procs")
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        let uids: Vec<String> = procs
            .iter()
            .map(|pid| proc_status(*pid).get("Uid").cloned().unwrap_or_default())
            .collect();
        assert!(
            uids.iter().any(|u| u.starts_with(&format!("{uid_a}\t"))),
            "the kernel is not in the session's cgroup: {procs:?} {uids:?}"
        );

        // The session's pids limit holds (the process count is the cold session's).
        let o = cell(
            &mut a,
            &format!(
                "import os, time\nn = 0\nfor _ in range({}):\n    try:\n        p = os.fork()\n    except OSError:\n        break\n    if p == 0:\n        time.sleep(2)\n        os._exit(0)\n    n += 1\nn",
                p.pids * 4
            ),
        )
        .await;
        let forked: u32 = o
            .display
            .first()
            .map(|d| d.data.parse().expect("a count"))
            .unwrap_or_else(|| panic!("{o:?}"));
        assert!(
            forked < p.pids,
            "forked {forked} with a pids limit of {}",
            p.pids
        );

        let bomb = cell(&mut a, "x = []\nwhile True:\n    x.append(bytearray(1 << 20))").await;
        assert_eq!(bomb.outcome.status, RunStatus::MemoryLimit, "{bomb:?}");
        let ended = bomb.ended.expect("the bomb ended its session");
        assert!(ended.contains("out of memory"), "{ended}");
        a.close().await;
        assert_eq!(
            value(&mut b, "os.getuid()").await,
            uid_b.to_string(),
            "the other session lives on"
        );
        b.close().await;
        let fresh = warm(&runner).await;
        fresh.close().await;
    })
    .await;
    let left = safety_net::leftovers_after(Duration::from_secs(5)).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// A warm session has no capability, runs with no_new_privs and seccomp, has no network, and
/// cannot signal, trace or read the zygote or its own set-up process (PID 1 of its pid
/// namespace); the zygote is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_session_has_no_capability_and_cannot_reach_the_zygote() {
    let _g = safety_net::shared().await;
    with_warm_runner(|runner| async move {
        let zpid = runner
            .warm_pool_report()
            .await
            .and_then(|r| r.zygote)
            .and_then(|z| z.pid)
            .expect("the zygote's pid");
        let mut s = warm(&runner).await;
        let status = value(
            &mut s,
            "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n\
             ' '.join(status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'))",
        )
        .await;
        assert_eq!(
            status,
            "'0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000 1 2'"
        );
        let net = value(
            &mut s,
            "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    r = 'connected'\nexcept OSError as e:\n    r = type(e).__name__\nr",
        )
        .await;
        assert_ne!(net, "'connected'", "a warm session reached the network");

        let code = format!(
            "import ctypes, errno, os, signal\n\
             libc = ctypes.CDLL(None, use_errno=True)\n\
             me = os.getpid()\n\
             pids = {{int(p) for p in os.listdir('/proc') if p.isdigit()}} - {{me}}\n\
             out = []\n\
             for pid in sorted(pids | {{1, {zpid}}}):\n\
             \x20   r = [str(pid)]\n\
             \x20   try:\n\
             \x20       os.kill(pid, signal.SIGKILL); r.append('KILLED')\n\
             \x20   except OSError as e:\n\
             \x20       r.append(errno.errorcode[e.errno])\n\
             \x20   rc = libc.ptrace(16, pid, None, None)\n\
             \x20   r.append('ATTACHED' if rc == 0 else errno.errorcode[ctypes.get_errno()])\n\
             \x20   try:\n\
             \x20       open(f'/proc/{{pid}}/mem', 'rb').read(1); r.append('READ')\n\
             \x20   except OSError as e:\n\
             \x20       r.append(errno.errorcode[e.errno])\n\
             \x20   out.append(' '.join(r))\n\
             print(*out, sep='\\n')\n"
        );
        let o = cell(&mut s, &code).await;
        assert_eq!(o.outcome.status, RunStatus::Exited, "{o:?}");
        let attempts: Vec<&str> = o.outcome.stdout.lines().collect();
        assert!(
            attempts.iter().any(|l| l.starts_with("1 ")),
            "PID 1 was not tried: {o:?}"
        );
        assert!(
            attempts.iter().any(|l| l.starts_with(&format!("{zpid} "))),
            "the zygote's pid was not tried: {o:?}"
        );
        for line in &attempts {
            assert!(
                !line.contains("KILLED") && !line.contains("ATTACHED") && !line.contains("READ"),
                "a session reached another process: {line}\n{o:?}"
            );
        }
        assert_eq!(
            value(&mut s, "1 + 1").await,
            "2",
            "the session survived its own attempts"
        );
        s.close().await;
        let z = proc_status(zpid);
        assert_eq!(z.get("Name").map(String::as_str), Some("python3"), "{z:?}");
        let again = warm(&runner).await;
        again.close().await;
    })
    .await;
}

/// Two warm sessions draw different random values, and a module one session monkey-patches
/// (or a global it fills) is untouched in the next: each is a fresh fork, and the preloaded
/// modules carry no state between them. A session with an environment of its own starts cold,
/// and works the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_sessions_share_no_state_and_draw_their_own_random_values() {
    let _g = safety_net::shared().await;
    with_warm_runner(|runner| async move {
        const DRAW: &str = "import random, sys, numpy\n\
                            ('pandas' in sys.modules, random.random(), numpy.random.rand(), numpy.random.randint(1 << 30))";
        let mut a = warm(&runner).await;
        let mut b = warm(&runner).await;
        let da = value(&mut a, DRAW).await;
        let db = value(&mut b, DRAW).await;
        assert!(
            da.starts_with("(True, "),
            "pandas was not preloaded: {da}"
        );
        let (va, vb): (Vec<&str>, Vec<&str>) = (
            da.trim_matches(|c| c == '(' || c == ')').split(", ").skip(1).collect(),
            db.trim_matches(|c| c == '(' || c == ')').split(", ").skip(1).collect(),
        );
        assert_eq!(va.len(), 3, "{da}");
        for (x, y) in va.iter().zip(&vb) {
            assert_ne!(x, y, "two warm sessions drew the same random value: {da} / {db}");
        }

        let o = cell(
            &mut a,
            "import json, builtins, pandas as pd\n\
             pd.DataFrame = None\n\
             json.dumps = lambda *a, **k: 'patched'\n\
             builtins.planted = 'by a'\n\
             pd.options.display.max_rows = 3\n\
             sys.modules['numpy'].pi = 3",
        )
        .await;
        assert_eq!(o.outcome.status, RunStatus::Exited, "{o:?}");
        a.close().await;
        b.close().await;

        let mut c = warm(&runner).await;
        let seen = value(
            &mut c,
            "import json, builtins, sys, pandas as pd, numpy as np\n\
             (pd.DataFrame is None, json.dumps({}), hasattr(builtins, 'planted'), pd.options.display.max_rows, np.pi > 3.1)",
        )
        .await;
        assert_eq!(seen, "(False, '{}', False, 60, True)");
        c.close().await;

        let mut cold = session::start(
            &runner,
            spec(vec![("GREETING".into(), "hello".into())]),
        )
        .await
        .expect("the session started");
        assert!(
            !cold.is_warm(),
            "a session with its own environment must start cold"
        );
        assert_eq!(
            value(&mut cold, "import os\nos.environ['GREETING']").await,
            "'hello'"
        );
        cold.close().await;
    })
    .await;
}
