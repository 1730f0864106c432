//! Measurement driver for scripts/bench.sh (not a criterion bench): times external commands, the
//! runner library in-process, throughput at concurrency 2, teardown after a deadline, and the
//! chat pipeline's own overhead. Needs root and the built `coderunner-sandbox`, so a plain
//! `cargo bench` only prints how to use it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coderunner_commands::{Identity, Incoming, NoProgress, Pipeline, Place, Platform};
use coderunner_config::{Config, HumanDuration};
use coderunner_runner::{InputFile, LocalRunner, RunOutcome, RunRequest, Runner, RunnerError};

#[path = "driver/session.rs"]
mod session;

type Res<T> = Result<T, String>;

const WARMUP: usize = 3;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "--bench") {
        println!("driver: run by scripts/bench.sh (needs root and coderunner-sandbox); skipped");
        return;
    }
    if let Err(e) = dispatch(&args) {
        eprintln!("driver: {e}");
        std::process::exit(1);
    }
}

fn dispatch(args: &[String]) -> Res<()> {
    let arg = |i: usize| args.get(i).cloned().ok_or_else(usage);
    let num = |i: usize| -> Res<usize> { arg(i)?.parse().map_err(|e| format!("{e}: {}", usage())) };
    match arg(0)?.as_str() {
        // exec LABEL N -- CMD...: time N spawns of an external command.
        "exec" => {
            let cmd: Vec<String> = args.iter().skip(4).cloned().collect();
            if cmd.is_empty() || args.get(3).map(String::as_str) != Some("--") {
                return Err(usage());
            }
            exec(&arg(1)?, num(2)?, &cmd)
        }
        "inproc" => with_runtime(inproc(PathBuf::from(arg(1)?), num(2)?)),
        // spaced HELPER N cold|warm [python|javascript|bash]: print 1 in-process, runs 100 ms
        // apart.
        "spaced" => with_runtime(spaced(
            PathBuf::from(arg(1)?),
            num(2)?,
            arg(3)? == "warm",
            args.get(4).map_or("python", String::as_str),
        )),
        "throughput" => with_runtime(throughput(PathBuf::from(arg(1)?), num(2)?, num(3)?)),
        "teardown" => with_runtime(teardown(PathBuf::from(arg(1)?), num(2)?)),
        "pipeline" => with_runtime(pipeline(PathBuf::from(arg(1)?), num(2)?)),
        "session" => with_runtime(async {
            let config = config(PathBuf::from(arg(1)?))?;
            session::session(&config, num(2)?).await
        }),
        _ => Err(usage()),
    }
}

fn usage() -> String {
    "usage: driver exec LABEL N -- CMD... | inproc HELPER N | spaced HELPER N cold|warm [python|javascript|bash] | throughput HELPER N CONC | teardown HELPER PROCS | pipeline HELPER N | session HELPER N".into()
}

fn with_runtime(f: impl std::future::Future<Output = Res<()>>) -> Res<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(f)
}

/// `label<TAB>median_ms<TAB>p95_ms<TAB>n`, the row format bench.sh reads.
fn report(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let n = ms.len();
    let pick = |q: f64| ms[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    println!("{label}\t{:.2}\t{:.2}\t{n}", pick(0.5), pick(0.95));
}

fn exec(label: &str, n: usize, cmd: &[String]) -> Res<()> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + WARMUP {
        let t = Instant::now();
        let status = Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", cmd[0]))?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if !status.success() {
            return Err(format!("{label}: {} failed: {status}", cmd.join(" ")));
        }
        if i >= WARMUP {
            samples.push(ms);
        }
    }
    report(label, samples);
    Ok(())
}

fn config(helper: PathBuf) -> Res<Config> {
    let mut c = Config::embedded_default().map_err(|e| e.to_string())?;
    c.runner.helper = Some(helper);
    Ok(c)
}

fn request(config: &Config, code: &str) -> Res<RunRequest> {
    request_in(config, "python", code)
}

fn request_in(config: &Config, language: &str, code: &str) -> Res<RunRequest> {
    let (language, spec) = config
        .find_language(language)
        .ok_or_else(|| format!("the default config has no {language}"))?;
    let profile = config
        .profiles
        .values()
        .next()
        .ok_or("the default config has no profiles")?;
    Ok(RunRequest {
        language: language.to_string(),
        files: vec![InputFile {
            path: spec.file.clone(),
            content: code.as_bytes().to_vec(),
        }],
        main: None,
        spec: spec.clone(),
        stdin: Vec::new(),
        args: Vec::new(),
        env: Vec::new(),
        limits: profile.clone(),
        packages: None,
    })
}

fn check(o: &RunOutcome) -> Res<()> {
    if o.exit_code == Some(0) && o.stdout == "1\n" {
        Ok(())
    } else {
        Err(format!("the program did not print 1: {o:?}"))
    }
}

async fn inproc(helper: PathBuf, n: usize) -> Res<()> {
    let config = config(helper)?;
    let t = Instant::now();
    let runner = LocalRunner::new(&config).map_err(|e| e.to_string())?;
    println!(
        "# LocalRunner::new {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let req = request(&config, "print(1)\n")?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + WARMUP {
        let t = Instant::now();
        let o = runner.run(req.clone()).await.map_err(|e| e.to_string())?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        check(&o)?;
        if i >= WARMUP {
            samples.push(ms);
        }
    }
    report("inproc", samples);
    Ok(())
}

async fn spaced(helper: PathBuf, n: usize, warm: bool, language: &str) -> Res<()> {
    let mut config = config(helper)?;
    if !warm {
        config.runner.warm_pool = coderunner_config::WarmPool::Slots(0);
    }
    let mut runner = LocalRunner::new(&config).map_err(|e| e.to_string())?;
    if warm {
        runner = runner.start_warm_pool();
        runner.warm_pool_ready(Duration::from_secs(120)).await;
    }
    let (code, tag) = match language {
        "python" => ("print(1)\n", ""),
        "javascript" => ("console.log(1)\n", " node"),
        "bash" => ("echo 1\n", " bash"),
        other => return Err(format!("no print-1 program for {other}: {}", usage())),
    };
    let req = request_in(&config, language, code)?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + WARMUP {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = Instant::now();
        let o = runner.run(req.clone()).await.map_err(|e| e.to_string())?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        check(&o)?;
        if i >= WARMUP {
            samples.push(ms);
        }
    }
    if let Some(r) = runner.warm_pool_report().await {
        // A run that found no ready slot went cold: say how many, or the median misleads.
        println!(
            "# {language}: {} warm runs, {} cold",
            r.warm_runs, r.cold_runs
        );
    }
    runner.shutdown_warm_pool().await;
    let mode = if warm { "warm" } else { "cold" };
    report(&format!("lib {mode}{tag}"), samples);
    Ok(())
}

async fn throughput(helper: PathBuf, n: usize, conc: usize) -> Res<()> {
    let config = config(helper)?;
    let runner = LocalRunner::new(&config).map_err(|e| e.to_string())?;
    let req = request(&config, "print(1)\n")?;
    let gate = Arc::new(tokio::sync::Semaphore::new(conc));
    let t = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (runner, req, gate) = (runner.clone(), req.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            let o = runner.run(req).await.map_err(|e| e.to_string())?;
            check(&o)
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let s = t.elapsed().as_secs_f64();
    println!("throughput\t{:.1}\t{:.3}\t{n}", n as f64 / s, s);
    Ok(())
}

/// Everything of the run that could outlive it: processes whose cgroup names coderunner, per-run
/// cgroup directories, and mounts under the scratch directory (in our namespace).
fn leftovers(cgroup_parent: &str, scratch: &str) -> (usize, usize, usize) {
    let me = std::process::id().to_string();
    let mut procs = 0;
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
                continue;
            }
            if let Ok(cg) = std::fs::read_to_string(e.path().join("cgroup")) {
                if cg
                    .lines()
                    .any(|l| l.contains(&format!("/{cgroup_parent}/")))
                {
                    procs += 1;
                }
            }
        }
    }
    let mut cgroups = 0;
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for ctl in rd.flatten() {
            if let Ok(children) = std::fs::read_dir(ctl.path().join(cgroup_parent)) {
                cgroups += children.flatten().filter(|c| c.path().is_dir()).count();
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| {
            m.lines()
                .filter(|l| l.contains(&format!("{scratch}/runs/")))
                .count()
        })
        .unwrap_or(0);
    (procs, cgroups, mounts)
}

async fn teardown(helper: PathBuf, nprocs: usize) -> Res<()> {
    let config = config(helper)?;
    let runner = LocalRunner::new(&config).map_err(|e| e.to_string())?;
    let code = format!(
        "import os, sys, time\nfor _ in range({nprocs}):\n    if os.fork() == 0:\n        time.sleep(600)\n        os._exit(0)\nprint('forked', flush=True)\ntime.sleep(600)\n"
    );
    let mut req = request(&config, &code)?;
    let wall = Duration::from_secs(2);
    req.limits.wall_time = HumanDuration(wall);
    req.limits.pids = nprocs as u32 + 16;
    let parent = config.runner.cgroup_parent.clone();
    let scratch = config.runner.scratch_dir.display().to_string();
    let (p0, c0, m0) = leftovers(&parent, &scratch);
    if p0 + c0 + m0 > 0 {
        return Err(format!(
            "leftovers before the run: {p0} procs, {c0} cgroups, {m0} mounts"
        ));
    }
    // A watcher thread polls every 200 µs from the deadline on, and notes the peak it saw and
    // when the last leftover vanished.
    let start = Instant::now();
    let deadline = start + wall;
    let peak = Arc::new(AtomicU64::new(0));
    let gone_at = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (peak, gone_at, stop, parent, scratch) = (
            peak.clone(),
            gone_at.clone(),
            stop.clone(),
            parent.clone(),
            scratch.clone(),
        );
        std::thread::spawn(move || {
            let mut seen_after_deadline = false;
            while !stop.load(Ordering::Relaxed) {
                let (p, c, m) = leftovers(&parent, &scratch);
                let now = Instant::now();
                if now < deadline {
                    peak.fetch_max(p as u64, Ordering::Relaxed);
                } else if p + c + m > 0 {
                    seen_after_deadline = true;
                } else if seen_after_deadline || now >= deadline {
                    gone_at.store(
                        now.duration_since(start).as_micros() as u64,
                        Ordering::Relaxed,
                    );
                    return;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let o = runner.run(req).await.map_err(|e| e.to_string())?;
    let returned = start.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let gone = gone_at.load(Ordering::Relaxed);
    if gone == 0 {
        let (p, c, m) = leftovers(&parent, &scratch);
        return Err(format!(
            "still there 300 ms after the run returned: {p} procs, {c} cgroups, {m} mounts"
        ));
    }
    let ms_after = |us: u64| us as f64 / 1e3 - wall.as_secs_f64() * 1e3;
    println!(
        "teardown\t{:.1}\t{:.1}\t{}\t{}",
        ms_after(gone),
        returned.as_secs_f64() * 1e3 - wall.as_secs_f64() * 1e3,
        peak.load(Ordering::Relaxed),
        o.status.as_str()
    );
    Ok(())
}

/// Wraps the real runner and adds up the time spent inside it, so the pipeline's own share of a
/// round trip is the total minus this.
struct Timed {
    inner: LocalRunner,
    nanos: AtomicU64,
}

#[async_trait::async_trait]
impl Runner for Timed {
    async fn run(&self, request: RunRequest) -> Result<RunOutcome, RunnerError> {
        let t = Instant::now();
        let r = self.inner.run(request).await;
        self.nanos
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }
}

async fn pipeline(helper: PathBuf, n: usize) -> Res<()> {
    let mut config = config(helper)?;
    let data = std::env::temp_dir().join(format!("coderunner-bench-data-{}", std::process::id()));
    config.data_dir = data.clone();
    // Rate limits would refuse a burst of runs from one user; they are not what is measured.
    config.rate_limits = Default::default();
    let runner = Arc::new(Timed {
        inner: LocalRunner::new(&config).map_err(|e| e.to_string())?,
        nanos: AtomicU64::new(0),
    });
    let pipe = Pipeline::new(Arc::new(config), runner.clone()).map_err(|e| e.to_string())?;
    let msg = Incoming {
        who: Identity {
            platform: Platform::Console,
            user_id: "bench".into(),
            display: "bench".into(),
            roles: Vec::new(),
        },
        place: Place {
            session: Some("bench".into()),
            ..Place::default()
        },
        text: "!run python\n```py\nprint(1)\n```".into(),
        attachments: Vec::new(),
        message: None,
        reply_to: None,
    };
    let (mut total, mut own) = (Vec::new(), Vec::new());
    for i in 0..n + WARMUP {
        runner.nanos.store(0, Ordering::Relaxed);
        let t = Instant::now();
        let reply = pipe.handle(msg.clone(), &NoProgress).await;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let run_ms = runner.nanos.load(Ordering::Relaxed) as f64 / 1e6;
        let ok = reply.as_ref().is_some_and(|r| r.content.contains('1'));
        if !ok || run_ms == 0.0 {
            return Err(format!("the pipeline did not run print(1): {reply:?}"));
        }
        if i >= WARMUP {
            total.push(ms);
            own.push(ms - run_ms);
        }
    }
    report("pipeline_total", total);
    report("pipeline_overhead", own);
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
