//! `coderunner doctor`'s warm-pool section: starts the zygote the long-running commands would
//! keep (it imports `languages.python.preload`), one Python slot and one javascript slot (a
//! node started ahead of its run), not the whole pool, and reports the configured size, the
//! preloaded modules, what the zygote and one slot of each cost in memory (RSS and PSS) with the
//! full pool's estimate, its state, and why it is off or cold when it is; then tears it down.

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
            .start_warm_pool_probe();
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
    out += &format!("  ready slots in this probe: {}\n", ready.join(", "));
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
            let slots = r.slots_per_kind * r.starting_kinds.len();
            // Slots share the zygote's pages: measured together, each more slot adds its
            // private memory (USS), not its PSS (which counts a share of the zygote's). A
            // javascript slot is a node started ahead of its run: it costs that node's memory.
            // Kinds not measured here (bash) are counted like a Python slot.
            let python = r.slot_memory.iter().find(|m| m.language == "python");
            let mut full = z.pss_bytes;
            for kind in &r.starting_kinds {
                let m = r
                    .slot_memory
                    .iter()
                    .find(|m| m.language == *kind)
                    .or(python);
                if let Some(m) = m {
                    full +=
                        m.pss_bytes + r.slots_per_kind.saturating_sub(1) as u64 * m.private_bytes;
                }
            }
            out += &format!(
                "  memory (measured on the zygote and one slot per language): zygote RSS {} / PSS {}\n",
                mib(z.rss_bytes),
                mib(z.pss_bytes),
            );
            for m in &r.slot_memory {
                let what = if m.language == "javascript" {
                    " (a node started ahead of its run)"
                } else {
                    ""
                };
                out += &format!(
                    "  one {} slot{what}: RSS {} / PSS {} / private {}\n",
                    m.language,
                    mib(m.rss_bytes),
                    mib(m.pss_bytes),
                    mib(m.private_bytes),
                );
            }
            out += &format!(
                "  a full pool ({} slots: {} per kind for {}): about PSS {}\n",
                slots,
                r.slots_per_kind,
                r.starting_kinds.join(", "),
                mib(full)
            );
        }
        None => out += "  python zygote: not running\n",
    }
    out
}
