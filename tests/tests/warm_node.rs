//! Warm javascript runs through the real sandbox: the slot's node was started before the run
//! (with a preload that waits for "go"), yet the run is indistinguishable from a cold
//! `node <flags> main.js`: argv, the main module, paths, execArgv, stdin, exit codes, uncaught
//! errors, unhandled rejections, ESM syntax, the environment, timers, worker threads; and the
//! preload leaves nothing a program can use (no global, no socket, nothing in the workdir).

use std::future::Future;
use std::time::Duration;

use coderunner_runner::{LocalRunner, RunOutcome, RunRequest, RunStatus, Runner};
use coderunner_tests::{safety_net, warm};

/// A warm runner of this suite's size (see [`warm::with_warm_runner`]).
async fn with_warm_runner<F, Fut>(body: F)
where
    F: FnOnce(LocalRunner) -> Fut,
    Fut: Future<Output = ()>,
{
    let _g = safety_net::shared().await;
    warm::with_warm_runner(2, Some(Duration::from_secs(60)), body).await
}

async fn warm(runner: &LocalRunner, req: RunRequest) -> RunOutcome {
    warm::warm_run(runner, req).await
}

async fn cold(req: RunRequest) -> RunOutcome {
    safety_net::run_request(req).await
}

fn js(code: &str) -> RunRequest {
    let mut req = safety_net::request("javascript", code);
    req.stdin = b"line one\nrest of stdin\n".to_vec();
    req.args = vec!["a b".into(), "--c".into(), "".into()];
    req
}

/// Programs whose whole observable result must be the same warm and cold.
const SAME_RESULT: &[(&str, &str)] = &[
    (
        "argv, the main module, paths and execArgv",
        "console.log(JSON.stringify([process.argv, require.main === module, module.id, \
         __filename, __dirname, process.execArgv, process.cwd(), process.argv0, \
         process.execPath, typeof process.send, process.connected, process.mainModule === module]));\n",
    ),
    (
        "the environment",
        "console.log(JSON.stringify(Object.entries(process.env)));\n",
    ),
    (
        "stdin read to the end, and what it is",
        "const fs = require('fs');\n\
         const s = fs.fstatSync(0);\n\
         console.log(s.isFile(), s.size, s.mode, s.uid, fs.readlinkSync('/proc/self/fd/0'));\n\
         console.log(JSON.stringify(fs.readFileSync(0, 'utf8')));\n",
    ),
    (
        "stdin as a stream",
        "let got = '';\n\
         process.stdin.setEncoding('utf8');\n\
         process.stdin.on('data', (d) => { got += d; });\n\
         process.stdin.on('end', () => console.log(JSON.stringify(got), process.stdin.constructor.name));\n",
    ),
    ("process.exit(3)", "console.log('out');\nprocess.exit(3);\n"),
    (
        "process.exitCode = 4",
        "process.exitCode = 4;\nsetTimeout(() => console.log('still ran'), 10);\n",
    ),
    (
        "an uncaught exception (the stack's frames included)",
        "function f() {\n  throw new Error('boom');\n}\nf();\n",
    ),
    (
        "an uncaught exception in a timer",
        "setTimeout(() => { null.x; }, 5);\n",
    ),
    (
        "an unhandled rejection",
        "Promise.reject(new Error('nope'));\nsetTimeout(() => console.log('not reached'), 50);\n",
    ),
    (
        "ESM syntax in main.js",
        "import fs from 'fs';\nconsole.log(typeof fs.readFileSync);\n",
    ),
    ("a syntax error", "let x = ;\n"),
    (
        "timers keep the process alive",
        "console.log('now');\n\
         setTimeout(() => console.log('later'), 300);\n\
         setImmediate(() => console.log('immediate'));\n\
         process.on('exit', (c) => console.log('exit', c));\n",
    ),
    (
        "no extra global, module or cache entry",
        "const Module = require('module');\n\
         console.log(JSON.stringify([Object.getOwnPropertyNames(globalThis).sort(), \
         Object.keys(require.cache), Object.keys(Module._pathCache), \
         Object.keys(process).sort(), module.paths, require.resolve.paths('x')]));\n",
    ),
    (
        "open fds, the workdir and /tmp",
        "const fs = require('fs');\n\
         const fds = fs.readdirSync('/proc/self/fd').map((fd) => { \
           try { return fd + ' ' + fs.readlinkSync('/proc/self/fd/' + fd).replace(/[0-9]+/g, 'N'); } \
           catch (e) { return fd + ' gone'; } });\n\
         console.log(JSON.stringify([fds, fs.readdirSync('/work'), fs.readdirSync('/tmp'), \
         fs.readdirSync('/dev/shm')]));\n",
    ),
    (
        "a worker thread and a child node",
        "const { Worker } = require('worker_threads');\n\
         const { execFileSync } = require('child_process');\n\
         const child = execFileSync(process.execPath, ['-e', \
           'console.log(JSON.stringify([process.execArgv, Object.keys(process.env)]))']);\n\
         console.log('child', child.toString().trim());\n\
         const w = new Worker('const { parentPort } = require(\"worker_threads\"); \
           parentPort.postMessage([process.execArgv, Object.keys(require.cache), typeof globalThis.x])', \
           { eval: true });\n\
         w.on('message', (m) => console.log('worker', JSON.stringify(m)));\n\
         w.on('error', (e) => console.log('worker error', e.message));\n",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_node_runs_match_cold_runs() {
    with_warm_runner(|runner| async move {
        for (what, code) in SAME_RESULT {
            let c = cold(js(code)).await;
            let w = warm(&runner, js(code)).await;
            assert_eq!(
                (&w.status, w.exit_code, &w.signal, &w.stdout, &w.stderr),
                (&c.status, c.exit_code, &c.signal, &c.stdout, &c.stderr),
                "{what}: warm and cold differ\nwarm: {w:?}\ncold: {c:?}"
            );
            assert!(
                !c.stdout.is_empty() || !c.stderr.is_empty(),
                "{what}: the program said nothing, so there was nothing to compare: {c:?}"
            );
        }
    })
    .await;
}

/// The slot's node really was started before the run (so a run does not pay node's start-up):
/// its uptime when main.js starts covers the time the slot waited. A cold node's is its
/// start-up alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slot_node_was_started_before_the_run() {
    with_warm_runner(|runner| async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let code = "console.log(process.uptime());\n";
        let w = warm(&runner, js(code)).await;
        let c = cold(js(code)).await;
        let up = |o: &RunOutcome| -> f64 {
            o.stdout
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("an uptime: {o:?}"))
        };
        assert!(up(&w) >= 2.0, "the warm node started with the run: {w:?}");
        assert!(up(&c) < 2.0, "a cold node took 2 s to start: {c:?}");
    })
    .await;
}

/// The slot socket the preload waited on is closed before main.js runs: a program that looks
/// for a socket among its fds (writing a forged "exited 0" report into any it finds) and exits
/// 7 is reported as exiting 7, and finds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_cannot_reach_the_slot_socket() {
    with_warm_runner(|runner| async move {
        let code = "const fs = require('fs');\n\
                    const sockets = [];\n\
                    for (let fd = 3; fd < 4096; fd++) {\n\
                      try { if (!fs.fstatSync(fd).isSocket()) continue; } catch (e) { continue; }\n\
                      sockets.push(fd);\n\
                      try { fs.writeSync(fd, '{\"kind\":\"exited\",\"code\":0}'); } catch (e) {}\n\
                    }\n\
                    console.log('sockets', JSON.stringify(sockets));\n\
                    process.exit(7);\n";
        let w = warm(&runner, js(code)).await;
        assert_eq!(w.status, RunStatus::Exited, "{w:?}");
        assert_eq!(w.exit_code, Some(7), "a forged report was believed: {w:?}");
        assert_eq!(w.stdout, "sockets []\n", "{w:?}");
    })
    .await;
}

/// A run whose profile needs another heap flag is not handed a node started with the wrong
/// one: it gets `--max-old-space-size` from its own memory limit, warm or cold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_slot_serves_only_runs_of_its_own_flags() {
    with_warm_runner(|runner| async move {
        let code = "console.log(JSON.stringify(process.execArgv));\n";
        let mut small = js(code);
        small.limits.memory = safety_net::bytes(small.limits.memory.0 / 2);
        let c = cold(small.clone()).await;
        let w = runner.run(small).await.expect("a run");
        assert_eq!(w.stdout, c.stdout, "warm {w:?}\ncold {c:?}");
        assert!(c.stdout.contains("--max-old-space-size="), "{c:?}");
        let default = cold(js(code)).await;
        assert_ne!(
            default.stdout, c.stdout,
            "the memory limit did not change the flag"
        );
    })
    .await;
}
