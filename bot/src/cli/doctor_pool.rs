//! `coderunner doctor`'s warm-pool section: starts the pool the long-running commands would keep
//! (its zygote imports `languages.python.preload`), waits for it to fill, and reports its size,
//! the preloaded modules, what it costs in memory (RSS and PSS), its state, and why it is off or
//! cold when it is; then tears it down.

use std::time::Duration;

use anyhow::Context;
use coderunner_config::Config;
use coderunner_runner::{LocalRunner, PoolReport};

/// How long doctor waits for the pool to fill (a cold page cache makes the preload slow).
const FILL_TIMEOUT: Duration = Duration::from_secs(120);

/// The section's text.
pub fn section(config: &Config) -> String {
    if config.runner.warm_pool.slots() == 0 {
        return "\nwarm pool: off (runner.warm_pool: 0); every run starts cold\n".into();
    }
    match probe(config) {
        Ok(r) => render(&r),
        Err(e) => format!("\nwarm pool: could not be started: {e:#}\n"),
    }
}

fn probe(config: &Config) -> anyhow::Result<PoolReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let runner = LocalRunner::new(config)
            .context("preparing the sandbox")?
            .start_warm_pool();
        runner.warm_pool_ready(FILL_TIMEOUT).await;
        let report = runner.warm_pool_report().await;
        runner.shutdown_warm_pool().await;
        report.context("the warm pool did not start")
    })
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// The report as text.
pub fn render(r: &PoolReport) -> String {
    let mut out = format!("\nwarm pool: {}\n", r.state);
    out += &format!("  slots per kind of run: {}\n", r.slots_per_kind);
    let ready: Vec<String> = r.ready.iter().map(|(l, n)| format!("{l} {n}")).collect();
    out += &format!("  ready slots: {}\n", ready.join(", "));
    match &r.zygote {
        Some(z) => {
            out += &format!(
                "  python zygote: preload [{}]: {}; {} modules loaded; {} forks\n",
                z.preload.join(", "),
                match &z.preload_error {
                    None => "ok".to_string(),
                    Some(why) => format!("FAILED, Python runs start cold: {why}"),
                },
                z.modules,
                z.forks,
            );
            out += &format!(
                "  memory: zygote RSS {} / PSS {}; zygote and ready slots together RSS {} / PSS {}\n",
                mib(z.rss_bytes),
                mib(z.pss_bytes),
                mib(r.rss_bytes),
                mib(r.pss_bytes)
            );
        }
        None => out += "  python zygote: not running\n",
    }
    out
}
