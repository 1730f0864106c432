//! One stage's limits and measurements, and how a finished run stage becomes a RunOutcome (the
//! same for a cold stage and a warm-pool slot): verdict, Landlock check, output files.

use std::path::Path;
use std::time::Duration;

use coderunner_config::Profile;

use crate::cgroup::CgroupStats;
use crate::files::{self, CollectLimits, Snapshot};
use crate::outcome::{CompileOutcome, RunOutcome, RunStatus};
use crate::output::into_text;
use crate::spawn::StageResult;
use crate::status::{self, classify};
use crate::RunRequest;

/// Output-file scan caps beyond the profile's count and bytes.
const SCAN_MAX_DEPTH: usize = 16;
const SCAN_MAX_ENTRIES: usize = 20_000;
const SCAN_MAX_TIME: Duration = Duration::from_secs(2);

/// Limits of one stage.
pub(crate) struct StageLimits {
    pub wall: Duration,
    pub cpu_secs: u64,
    pub memory: u64,
    pub pids: u64,
    pub output: usize,
}

impl StageLimits {
    pub(crate) fn run(p: &Profile) -> Self {
        StageLimits {
            wall: p.wall_time.as_duration(),
            cpu_secs: p.cpu_time.as_duration().as_secs_f64().ceil() as u64,
            memory: p.memory.0,
            pids: u64::from(p.pids),
            output: p.output.0 as usize,
        }
    }

    pub(crate) fn compile(p: &Profile) -> Self {
        let c = &p.compile;
        StageLimits {
            wall: c.wall_time.as_duration(),
            cpu_secs: c.cpu_time.as_duration().as_secs_f64().ceil() as u64,
            memory: c.memory.0,
            pids: u64::from(c.pids),
            output: c.output.0 as usize,
        }
    }
}

impl StageLimits {
    /// How the stage ended, judged against these limits.
    pub(crate) fn verdict(&self, m: &Measured) -> status::Verdict {
        classify(
            &m.result.end,
            m.result.killed,
            &m.stats,
            self.wall.as_millis() as u64,
            self.cpu_secs,
            self.memory,
        )
    }
}

/// What one stage measured, ready for the outcome.
pub(crate) struct Measured {
    pub result: StageResult,
    pub stats: CgroupStats,
    /// No process of the stage is left (see [`StageResult::all_gone`]) and its cgroup is removed.
    pub all_gone: bool,
}

impl Measured {
    pub(crate) fn cpu_ms(&self) -> u64 {
        self.stats
            .cpu_ns
            .map(|ns| ns / 1_000_000)
            .or(self.result.usage.map(|(_, us)| us / 1000))
            .unwrap_or(0)
    }

    pub(crate) fn peak_memory(&self) -> Option<u64> {
        self.stats
            .peak_memory
            .or(self.result.usage.map(|(kib, _)| kib * 1024))
    }
}

/// The outcome of a finished run stage: `compile` is the compile stage's, if any.
pub(crate) async fn finish_run(
    req: &RunRequest,
    workdir: &Path,
    snapshot: Snapshot,
    limits: &StageLimits,
    m: Measured,
    compile: Option<CompileOutcome>,
) -> RunOutcome {
    let v = limits.verdict(&m);
    if let Some(status) = &m.result.landlock {
        if status != "fully_enforced" {
            tracing::warn!(landlock = %status, "Landlock was not fully enforced for a run");
        }
    }
    let scan = CollectLimits {
        max_files: req.limits.output_files as usize,
        max_total_bytes: req.limits.output_files_bytes.0,
        max_depth: SCAN_MAX_DEPTH,
        max_entries: SCAN_MAX_ENTRIES,
        max_time: SCAN_MAX_TIME,
    };
    let dir = workdir.to_path_buf();
    // Collect only once nothing of the run can still change the workdir (the cgroup could be
    // removed, so it was empty, and the reaper is gone).
    let files = if v.status == RunStatus::SandboxError || !m.all_gone || snapshot.untouched(&dir) {
        Vec::new()
    } else {
        tokio::task::spawn_blocking(move || files::collect_outputs(&dir, &snapshot, scan))
            .await
            .unwrap_or_default()
    };
    let (cpu_ms, peak_memory_bytes) = (m.cpu_ms(), m.peak_memory());
    let captured = m.result.captured;
    RunOutcome {
        status: v.status,
        exit_code: v.exit_code,
        signal: v.signal,
        stdout: into_text(captured.stdout),
        stderr: into_text(captured.stderr),
        output: into_text(captured.output),
        truncated: captured.truncated,
        wall_ms: m.result.wall.as_millis() as u64,
        cpu_ms,
        peak_memory_bytes,
        files,
        compile,
        error: v.error,
    }
}
