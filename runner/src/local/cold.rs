//! A cold run: lease a uid, make the workdir and write the inputs, then each stage (the compile
//! stage when the language has one, then the run) in a fresh sandbox with its own cgroup; the
//! workdir and the uid go back when the run ends. Runs the warm pool cannot serve come here.

use std::time::Instant;

use coderunner_config::MemoryStrategy;

use super::checks::Commands;
use super::{Inner, HELPER_PIDS, STACK_BYTES};
use crate::cgroup::{CgroupLimits, RunCgroup};
use crate::files::{self, Snapshot};
use crate::outcome::{CompileOutcome, RunOutcome, RunStatus};
use crate::output::into_text;
use crate::owner::next_run_id;
use crate::plan;
use crate::protocol::Rlimits;
use crate::spawn::run_stage;
use crate::stage::{finish_run, Measured, StageLimits};
use crate::workdir::Workdir;
use crate::{RunRequest, RunnerError};

impl Inner {
    /// Run `req` cold with the `commands` its checks planned.
    pub(super) async fn run_cold(
        &self,
        req: &RunRequest,
        commands: Commands,
    ) -> Result<RunOutcome, RunnerError> {
        let (lease, (uid, gid)) = self.sandbox_ids()?;
        let run_id = next_run_id(&self.owner_tag);
        let mut workdir = self
            .sandbox_workdir(
                &run_id,
                req.limits.workdir_size.0,
                lease.as_ref().map(|_| (uid, gid)),
            )
            .await?;
        let result = self
            .run_in(req, &run_id, &workdir, uid, gid, commands)
            .await;
        workdir.remove();
        drop(lease);
        result
    }

    /// Write the inputs into `workdir`, then run the compile stage (if any) and the run stage.
    async fn run_in(
        &self,
        req: &RunRequest,
        run_id: &str,
        workdir: &Workdir,
        uid: u32,
        gid: u32,
        commands: Commands,
    ) -> Result<RunOutcome, RunnerError> {
        let Commands {
            values,
            compile: compile_argv,
            run: run_argv,
        } = commands;
        let owner = self.rootless.is_none().then_some((uid, gid));
        files::write_inputs(workdir.path(), &req.files, owner).map_err(|e| {
            RunnerError::InvalidRequest(format!(
                "writing the input files: {e} (are they larger than the workdir?)"
            ))
        })?;
        let mut env = plan::environment(&req.spec, &req.limits, &values);
        if let Some(m) = &req.packages {
            let (name, value) = m.path_variable();
            env.retain(|(existing, _)| *existing != name);
            env.push((name, value));
        }
        for (k, v) in &req.env {
            env.retain(|(existing, _)| existing != k);
            env.push((k.clone(), v.clone()));
        }

        let mut compile = None;
        if let Some(argv) = compile_argv {
            let limits = StageLimits::compile(&req.limits);
            let m = self
                .stage(
                    req,
                    &format!("{run_id}c"),
                    workdir,
                    uid,
                    gid,
                    argv,
                    env.clone(),
                    &[],
                    &limits,
                )
                .await?;
            let v = limits.verdict(&m);
            let ok = v.status == RunStatus::Exited && v.exit_code == Some(0);
            let cpu_ms = m.cpu_ms();
            let peak_memory = m.peak_memory();
            let captured = m.result.captured;
            let outcome = CompileOutcome {
                status: v.status,
                exit_code: v.exit_code,
                stdout: into_text(captured.stdout),
                stderr: into_text(captured.stderr),
                wall_ms: m.result.wall.as_millis() as u64,
            };
            if !ok {
                if v.status == RunStatus::SandboxError {
                    let mut o = RunOutcome::sandbox_error(v.error.unwrap_or_default());
                    o.compile = Some(outcome);
                    return Ok(o);
                }
                let mut o = RunOutcome::sandbox_error(String::new());
                o.status = RunStatus::CompileError;
                o.error = v.error.map(|e| format!("compile stage: {e}"));
                o.stdout = outcome.stdout.clone();
                o.stderr = outcome.stderr.clone();
                o.output = into_text(captured.output);
                o.truncated = captured.truncated;
                o.wall_ms = outcome.wall_ms;
                o.cpu_ms = cpu_ms;
                o.peak_memory_bytes = peak_memory;
                o.compile = Some(outcome);
                return Ok(o);
            }
            compile = Some(outcome);
        }

        let snapshot = Snapshot::of_inputs(workdir.path(), &req.files);
        let limits = StageLimits::run(&req.limits);
        let m = self
            .stage(
                req, run_id, workdir, uid, gid, run_argv, env, &req.stdin, &limits,
            )
            .await?;
        Ok(finish_run(req, workdir.path(), snapshot, &limits, m, compile).await)
    }

    /// One sandboxed process with its own cgroup.
    #[allow(clippy::too_many_arguments)]
    async fn stage(
        &self,
        req: &RunRequest,
        cgroup_id: &str,
        workdir: &Workdir,
        uid: u32,
        gid: u32,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        stdin: &[u8],
        limits: &StageLimits,
    ) -> Result<Measured, RunnerError> {
        let p = &req.limits;
        let began = Instant::now();
        let cgroup: Option<RunCgroup> = match &self.cgroups {
            Some(c) => Some(
                c.create(
                    cgroup_id,
                    CgroupLimits {
                        memory: limits.memory,
                        pids: limits.pids + HELPER_PIDS,
                        cpus: p.cpus,
                    },
                )
                .map_err(|e| RunnerError::Sandbox(format!("creating the run's cgroup: {e}")))?,
            ),
            None => None,
        };
        // With a cgroup, it is the memory limit (and reports memory_limit); without one, languages
        // that tolerate it get RLIMIT_AS.
        let address_space = (cgroup.is_none() && req.spec.memory == MemoryStrategy::RlimitAs)
            .then_some(limits.memory);
        let rlimits = Rlimits {
            cpu_secs: limits.cpu_secs,
            file_size: p.file_size.0,
            open_files: u64::from(p.open_files),
            processes: limits.pids,
            stack: STACK_BYTES,
            address_space,
        };
        let mut spec =
            self.helper_spec(&req.spec, p, workdir.path(), (uid, gid), argv, env, rlimits);
        (spec.workdir_host, spec.workdir_handle) = workdir.helper_source();
        spec.ro_binds_at = req
            .packages
            .iter()
            .map(|m| (m.dir.clone(), m.inside()))
            .collect();
        let spawned = Instant::now();
        let result = run_stage(
            &self.helper,
            &spec,
            stdin,
            cgroup.as_ref(),
            limits.wall,
            limits.output,
        )
        .await;
        let ended = Instant::now();
        let stats = cgroup.as_ref().map(RunCgroup::stats).unwrap_or_default();
        let cgroup_gone = match cgroup {
            Some(cg) => cg.remove().await,
            None => true,
        };
        // Where a stage's time goes, for `RUST_LOG=coderunner_runner=debug` and the benchmarks.
        tracing::debug!(
            stage = cgroup_id,
            setup_us = (spawned - began).as_micros() as u64,
            sandboxed_us = (ended - spawned).as_micros() as u64,
            teardown_us = ended.elapsed().as_micros() as u64,
            "stage timings"
        );
        let result = result?;
        Ok(Measured {
            all_gone: result.all_gone && cgroup_gone,
            result,
            stats,
        })
    }
}
