//! Notebook-session figures for scripts/bench.sh: a cell's overhead above its own run time, the
//! first pandas cell of a new session (warm, forked from the warm pool's zygote, and cold), and
//! parking and restoring a 50 MB DataFrame, through the runner library and the real sandbox.

use std::time::{Duration, Instant};

use coderunner_config::Config;
use coderunner_runner::session::{self, Cell, CellOutcome, Session, SessionSpec, STATE_FILE};
use coderunner_runner::{InputFile, LocalRunner, RunStatus};

use super::{report, Res, WARMUP};

/// A DataFrame of 655,360 rows × 10 float64 columns: 50 MiB of data.
const BIG_FRAME: &str = "import numpy as np, pandas as pd\nbig = pd.DataFrame(np.random.default_rng(1).random((655360, 10)))\nbig.memory_usage().sum() >> 20";

fn spec(config: &Config, files: Vec<InputFile>) -> Res<SessionSpec> {
    let (_, python) = config
        .find_language("python")
        .ok_or("the default config has no python")?;
    // The data tier's profile (1 GiB, 64 MiB files, 128 MiB workdir): what a data thread gets.
    let mut limits = config
        .profiles
        .get("data")
        .ok_or("the default config has no data profile")?
        .clone();
    limits.wall_time = Duration::from_secs(60).into();
    limits.cpu_time = Duration::from_secs(60).into();
    Ok(SessionSpec {
        language: python.clone(),
        files,
        limits,
        env: Vec::new(),
    })
}

async fn cell(s: &mut Session, spec: &SessionSpec, code: &str) -> Res<(CellOutcome, f64)> {
    let t = Instant::now();
    let o = s
        .run_cell(Cell {
            code: code.into(),
            stdin: String::new(),
            limits: spec.limits.clone(),
        })
        .await;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if o.outcome.status != RunStatus::Exited || o.outcome.exit_code != Some(0) {
        return Err(format!(
            "cell {code:?} failed: {:?} {}",
            o.outcome.status, o.outcome.stderr
        ));
    }
    Ok((o, ms))
}

/// The first cell of a new session, end to end: start, then a pandas DataFrame shown.
async fn first_cell(runner: &LocalRunner, spec: &SessionSpec, warm: bool) -> Res<f64> {
    let t = Instant::now();
    let mut s = session::start(runner, spec.clone())
        .await
        .map_err(|e| e.to_string())?;
    cell(
        &mut s,
        spec,
        "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})",
    )
    .await?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let was_warm = s.is_warm();
    s.close().await;
    if was_warm != warm {
        return Err(format!(
            "a session meant to start {} started {}",
            if warm { "warm" } else { "cold" },
            if was_warm { "warm" } else { "cold" }
        ));
    }
    Ok(ms)
}

/// `session HELPER N`: rows `cell pass`, `cell sleep50`, `first pandas cell` (warm: forked from
/// the warm pool's zygote), `first pandas cell cold`, `park 50MiB`, `restore 50MiB`.
pub async fn session(config: &Config, n: usize) -> Res<()> {
    let cold = LocalRunner::new(config).map_err(|e| e.to_string())?;
    let runner = LocalRunner::new(config)
        .map_err(|e| e.to_string())?
        .start_warm_pool();
    let filled = runner.warm_pool_ready(Duration::from_secs(180)).await;
    let pool = runner.warm_pool_report().await.ok_or("no warm pool")?;
    if !filled || pool.state != "ready" {
        return Err(format!("the warm pool did not get ready: {pool:?}"));
    }
    let result = measure(&cold, &runner, config, n).await;
    runner.shutdown_warm_pool().await;
    result
}

async fn measure(cold: &LocalRunner, runner: &LocalRunner, config: &Config, n: usize) -> Res<()> {
    let spec = spec(config, Vec::new())?;
    let mut s = session::start(runner, spec.clone())
        .await
        .map_err(|e| e.to_string())?;
    // The cell's own run time is ~0 for `pass`; a 50 ms sleep shows the same overhead on top.
    let mut pass = Vec::new();
    let mut sleep = Vec::new();
    for i in 0..n + WARMUP {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, ms) = cell(&mut s, &spec, "pass").await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, slept) = cell(&mut s, &spec, "import time\ntime.sleep(0.05)").await?;
        if i >= WARMUP {
            pass.push(ms);
            sleep.push(slept - 50.0);
        }
    }
    s.close().await;
    report("cell pass", pass);
    report("cell sleep50 minus 50", sleep);

    // New sessions 100 ms apart, like real traffic (the cgroup attach is slower after a pause).
    let mut first = Vec::new();
    let mut first_cold = Vec::new();
    for i in 0..n.clamp(1, 20) + WARMUP {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ms = first_cell(runner, &spec, true).await?;
        if i >= WARMUP {
            first.push(ms);
        }
    }
    for _ in 0..n.clamp(1, 5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        first_cold.push(first_cell(cold, &spec, false).await?);
    }

    let rounds = n.clamp(1, 5);
    let mut park = Vec::new();
    let mut restore = Vec::new();
    for _ in 0..rounds {
        let mut s = session::start(runner, spec.clone())
            .await
            .map_err(|e| e.to_string())?;
        cell(&mut s, &spec, BIG_FRAME).await?;
        let t = Instant::now();
        let parked = s
            .park(Duration::from_secs(60))
            .await
            .map_err(|e| format!("park: {e}"))?;
        park.push(t.elapsed().as_secs_f64() * 1e3);
        s.close().await;
        let state = parked.state.ok_or("parking saved no state")?;
        println!("# parked state {} MiB", state.len() >> 20);

        let files = vec![InputFile {
            path: STATE_FILE.into(),
            content: state,
        }];
        let restore_spec = self::spec(config, files)?;
        let mut s = session::start(runner, restore_spec.clone())
            .await
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        let r = s.restore(Duration::from_secs(60)).await;
        restore.push(t.elapsed().as_secs_f64() * 1e3);
        if !r.restored.iter().any(|v| v == "big") {
            return Err(format!("the frame was not restored: {:?}", r.note()));
        }
        s.close().await;
    }
    report("first pandas cell", first);
    report("first pandas cell cold", first_cold);
    report("park 50MiB", park);
    report("restore 50MiB", restore);
    Ok(())
}
