//! The warm pool and the Python zygote, through the real sandbox: a warm run is a fork of the
//! zygote (pandas already imported) yet indistinguishable from a cold run: fresh random values,
//! nothing carried over from an earlier run, the same argv/__file__/stdin, tracebacks, exit
//! codes, statuses, limits and confinement.

use std::future::Future;
use std::time::Duration;

use coderunner_runner::{LocalRunner, RunOutcome, RunRequest, RunStatus};
use coderunner_tests::{safety_net, warm};

/// A warm runner of this suite's size (see [`warm::with_warm_runner`]). Runs wait for a slot
/// rather than go cold: back-to-back runs can outpace the refill on a busy 2-core machine.
async fn with_warm_runner<F, Fut>(body: F)
where
    F: FnOnce(LocalRunner) -> Fut,
    Fut: Future<Output = ()>,
{
    warm::with_warm_runner(2, Some(Duration::from_secs(60)), body).await
}

async fn warm(runner: &LocalRunner, req: RunRequest) -> RunOutcome {
    warm::warm_run(runner, req).await
}

async fn cold(req: RunRequest) -> RunOutcome {
    safety_net::run_request(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_is_a_fresh_fork_with_its_own_random_values() {
    with_warm_runner(|runner| async move {
        let code = "import random, sys, numpy\n\
                    print('pandas' in sys.modules, random.random(), numpy.random.rand(), numpy.random.randint(1 << 30))\n";
        let a = warm(&runner, safety_net::request("python", code)).await;
        let b = warm(&runner, safety_net::request("python", code)).await;
        assert_eq!(a.status, RunStatus::Exited, "{a:?}");
        let (la, lb) = (a.stdout.trim(), b.stdout.trim());
        assert!(
            la.starts_with("True "),
            "pandas was not preloaded in the warm run: {la}"
        );
        let (va, vb): (Vec<&str>, Vec<&str>) = (
            la.split(' ').skip(1).collect(),
            lb.split(' ').skip(1).collect(),
        );
        assert_eq!(va.len(), 3, "{la}");
        for (x, y) in va.iter().zip(&vb) {
            assert_ne!(x, y, "two warm runs drew the same random value: {la} / {lb}");
        }

        // A run that monkey-patches pandas, fills module globals and leaves files behind...
        let dirty = "import pandas as pd, numpy, json, os\n\
                     pd.DataFrame.sum = lambda *a, **k: 'patched'\n\
                     numpy.LEAKED = 'yes'\n\
                     json.dumps = None\n\
                     open('/tmp/left-behind', 'w').write('x')\n\
                     os.environ['LEAK'] = '1'\n\
                     print(pd.DataFrame({'a': [1, 2]}).sum())\n";
        let d = warm(&runner, safety_net::request("python", dirty)).await;
        assert_eq!(d.stdout.trim(), "patched", "{d:?}");
        // ...leaves the next one untouched.
        let check = "import pandas as pd, numpy, json, os\n\
                     print(int(pd.DataFrame({'a': [1, 2]}).sum()['a']), hasattr(numpy, 'LEAKED'), json.dumps([1]), os.path.exists('/tmp/left-behind'), 'LEAK' in os.environ)\n";
        let c = warm(&runner, safety_net::request("python", check)).await;
        assert_eq!(c.stdout, "3 False [1] False False\n", "{c:?}");
    })
    .await;
}

/// Programs whose whole observable result (status, exit code, signal, stdout, stderr) must be
/// the same warm and cold.
const SAME_RESULT: &[(&str, &str)] = &[
    (
        "argv, __file__, stdin and flags",
        "import sys, os\n\
         print(sys.argv, __file__, __name__, __spec__, sys.path[0], os.getcwd(), sys.flags)\n\
         print(input(), sys.stdin.read())\n\
         print(sorted(os.environ), os.getuid() >= 210000)\n",
    ),
    (
        "a traceback's frames and line numbers",
        "def f():\n    return 1 / 0\n\n\nf()\n",
    ),
    ("a syntax error", "x = (\nprint(1)\n"),
    ("sys.exit with a message", "import sys\nprint('out')\nsys.exit('bye')\n"),
    ("sys.exit with a code", "import sys\nsys.exit(3)\n"),
    ("os._exit", "import os\nprint('x', flush=True)\nos._exit(5)\n"),
    (
        "a signal",
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    ),
    ("an uncaught KeyboardInterrupt", "raise KeyboardInterrupt\n"),
    (
        "atexit and a file left open",
        "import atexit\nf = open('kept.txt', 'w')\nf.write('data')\natexit.register(lambda: print('bye'))\n",
    ),
    (
        "identity, processes, and what the sandbox lets through",
        "import ctypes, os, pwd, socket\n\
         print(pwd.getpwuid(os.getuid()).pw_name, os.getgroups(), socket.gethostname())\n\
         print(sorted(p for p in os.listdir('/proc') if p.isdigit()))\n\
         status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n\
         print([status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp', 'Seccomp_filters')])\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         print(libc.unshare(0x20000), ctypes.get_errno())\n\
         for path in ('/usr/x', '/etc/x', '/work/ok'):\n\
         \x20   try:\n\
         \x20       open(path, 'w').close(); print(path, 'written')\n\
         \x20   except OSError as e:\n\
         \x20       print(path, e.errno)\n\
         print(open('/proc/self/cgroup').read())\n",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_runs_match_cold_runs() {
    with_warm_runner(|runner| async move {
        for (what, code) in SAME_RESULT {
            let mut req = safety_net::request("python", code);
            req.stdin = b"line one\nrest\n".to_vec();
            req.args = vec!["a b".into(), "c".into()];
            let c = cold(req.clone()).await;
            let w = warm(&runner, req).await;
            assert_eq!(
                (&w.status, w.exit_code, &w.signal, &w.stdout, &w.stderr),
                (&c.status, c.exit_code, &c.signal, &c.stdout, &c.stderr),
                "{what}: warm and cold differ\nwarm: {w:?}\ncold: {c:?}"
            );
            let paths = |o: &RunOutcome| o.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
            assert_eq!(paths(&w), paths(&c), "{what}: output files differ");
        }
    })
    .await;
}

/// A warm slot's reaper tells coderunner it is alone (so the run need not wait for its exit)
/// only when nothing else of the run exists. A process the program left running must still be
/// killed before the output files are collected, and a child that ended before the program (a
/// zombie handed to the reaper) must not hold the run up or lose its file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_ends_only_when_nothing_of_it_is_left() {
    with_warm_runner(|runner| async move {
        let left_running = "import ctypes, os, time\n\
                            if os.fork() == 0:\n\
                            \x20   os.setsid()\n\
                            \x20   ctypes.CDLL(None).prctl(15, b'cr-left-behind', 0, 0, 0)\n\
                            \x20   time.sleep(0.5)\n\
                            \x20   open('late.txt', 'w').write('late')\n\
                            \x20   os._exit(0)\n\
                            open('early.txt', 'w').write('early')\n\
                            print('program done')\n";
        let ended_first = "import os, time\n\
                           if os.fork() == 0:\n\
                           \x20   open('child.txt', 'w').write('child')\n\
                           \x20   os._exit(0)\n\
                           time.sleep(0.2)\n\
                           print('program done')\n";
        for (code, want) in [
            (left_running, vec!["early.txt"]),
            (ended_first, vec!["child.txt"]),
        ] {
            let c = cold(safety_net::request("python", code)).await;
            let w = warm(&runner, safety_net::request("python", code)).await;
            for (how, o) in [("cold", &c), ("warm", &w)] {
                assert_eq!(o.stdout, "program done\n", "{how}: {o:?}");
                let mut paths: Vec<_> = o.files.iter().map(|f| f.path.as_str()).collect();
                paths.sort_unstable();
                assert_eq!(paths, want, "{how}: {o:?}");
            }
        }
        // The process left running (named by itself) is gone, not merely unheard of.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let named = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter(|p| {
                std::fs::read_to_string(p.path().join("comm"))
                    .is_ok_and(|c| c.trim() == "cr-left-behind")
            })
            .count();
        assert_eq!(
            named, 0,
            "a process the program left running outlived its run"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_runs_hit_the_same_limits() {
    safety_net::dangerous_tests_allowed().await;
    with_warm_runner(|runner| async move {
        let pids = safety_net::profile().pids;
        let cases: Vec<(&str, String, RunStatus)> = vec![
            (
                "wall-clock timeout",
                "import time\nprint('start', flush=True)\ntime.sleep(60)\n".into(),
                RunStatus::Timeout,
            ),
            (
                "CPU time",
                "while True:\n    pass\n".into(),
                RunStatus::Timeout,
            ),
            (
                "memory bomb",
                "chunks = []\nwhile True:\n    chunks.append(b'x' * (32 << 20))\n".into(),
                RunStatus::MemoryLimit,
            ),
            (
                "output flood",
                "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n".into(),
                RunStatus::OutputLimit,
            ),
            (
                "fork bomb",
                format!(
                    "import os, time\nn = 0\nfor _ in range({}):\n    try:\n        p = os.fork()\n    except OSError:\n        break\n    if p == 0:\n        time.sleep(3)\n        os._exit(0)\n    n += 1\nprint('forked', n)\n",
                    pids * 4
                ),
                RunStatus::Exited,
            ),
        ];
        for (what, code, expected) in cases {
            let c = cold(safety_net::request("python", &code)).await;
            let w = warm(&runner, safety_net::request("python", &code)).await;
            assert_eq!(c.status, expected, "{what} (cold): {c:?}");
            assert_eq!(w.status, c.status, "{what}: warm {w:?}\ncold {c:?}");
            assert_eq!(w.truncated, c.truncated, "{what}");
            if what == "fork bomb" {
                // The same number of processes, and fewer than the pids limit.
                assert_eq!(w.stdout, c.stdout, "{what}");
                let n: u32 = w.stdout.trim().trim_start_matches("forked ").parse().expect("count");
                assert!(n < pids, "{what}: forked {n} with a limit of {pids}");
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_bash_run_warm_like_cold() {
    with_warm_runner(|runner| async move {
        for (language, code) in [
            ("javascript", "console.log(process.argv.length, require('os').userInfo().username);\nprocess.exit(4);\n"),
            ("bash", "echo \"$0 $# $(id -un) $(cat)\"; ls /work; exit 6\n"),
        ] {
            let mut req = safety_net::request(language, code);
            req.stdin = b"piped".to_vec();
            let c = cold(req.clone()).await;
            let w = warm(&runner, req).await;
            assert_eq!(
                (&w.status, w.exit_code, &w.stdout, &w.stderr),
                (&c.status, c.exit_code, &c.stdout, &c.stderr),
                "{language}: warm {w:?}\ncold {c:?}"
            );
            assert_eq!(c.status, RunStatus::Exited, "{language}: {c:?}");
        }
    })
    .await;
}

/// `/proc/<pid>/status` as a map of its fields.
fn proc_status(pid: i32) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"))
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// The zygote keeps uid 0 but only the four capabilities its slots need (CAP_SETGID,
/// CAP_SETUID, CAP_SETPCAP, CAP_SYS_ADMIN), runs with no_new_privs and a seccomp filter; a run
/// forked from it has no capability at all and cannot signal, trace or read the memory of the
/// zygote or of its own slot's set-up process (PID 1 of its pid namespace, still uid 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zygote_is_confined_and_out_of_a_runs_reach() {
    safety_net::dangerous_tests_allowed().await;
    with_warm_runner(|runner| async move {
        let report = runner.warm_pool_report().await.expect("pool");
        let zpid = report
            .zygote
            .as_ref()
            .and_then(|z| z.pid)
            .expect("the zygote's pid");
        let z = proc_status(zpid);
        const KEPT: &str = "00000000002001c0";
        for (field, want) in [
            ("CapEff", KEPT),
            ("CapPrm", KEPT),
            ("CapBnd", KEPT),
            ("CapInh", "0000000000000000"),
            ("CapAmb", "0000000000000000"),
            ("NoNewPrivs", "1"),
            ("Seccomp", "2"),
        ] {
            assert_eq!(z[field], want, "the zygote's {field}: {z:?}");
        }
        // Its start time (field 22 of stat, after the parenthesised name).
        let started = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.to_string()))
                .and_then(|rest| rest.split_whitespace().nth(19).map(String::from))
        };
        let born = started(zpid).expect("the zygote's start time");

        let code = format!(
            "import ctypes, errno, os, signal\n\
             status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n\
             print('caps', *[status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')])\n\
             libc = ctypes.CDLL(None, use_errno=True)\n\
             me = os.getpid()\n\
             pids = {{int(p) for p in os.listdir('/proc') if p.isdigit()}} - {{me}}\n\
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
             \x20   print(*r)\n"
        );
        let o = warm(&runner, safety_net::request("python", &code)).await;
        assert_eq!(o.status, RunStatus::Exited, "{o:?}");
        let mut lines = o.stdout.lines();
        assert_eq!(
            lines.next(),
            Some("caps 0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000"),
            "{o:?}"
        );
        let attempts: Vec<&str> = lines.collect();
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
                "a run reached another process: {line}\n{o:?}"
            );
        }
        // The zygote is the same process as before, and still serves.
        assert_eq!(started(zpid), Some(born), "the zygote was hurt by the run");
        let again = warm(&runner, safety_net::request("python", "print(6 * 7)\n")).await;
        assert_eq!(again.stdout, "42\n", "{again:?}");
        let report = runner.warm_pool_report().await.expect("pool");
        assert_eq!(report.zygote.and_then(|z| z.pid), Some(zpid));
    })
    .await;
}
