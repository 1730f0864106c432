//! Which runs a warm slot can serve, and what a slot is made of: its shape (language and the
//! limits fixed when the slot is made), the slot spec the zygote's child confines itself by (the
//! same uid, rlimits, mounts, Landlock rules and seccomp filters a cold run gets), and the "go"
//! message that starts the program.

use std::path::PathBuf;

use coderunner_config::{Language, Profile};
use serde::Serialize;

use super::prestart::{self, PrestartExec};
use crate::helper::{landlock, rlimits};
use crate::local::{Inner, HELPER_PIDS, STACK_BYTES, TMPFS_INODES};
use crate::plan;
use crate::protocol::Rlimits;
use crate::seccomp;
use crate::stage::StageLimits;
use crate::RunRequest;

/// A kind of run a slot is made for: everything fixed when the slot is made. Wall time, output
/// cap, memory and CPU share are applied when the run starts, so they are not part of it.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub key: String,
    pub language: String,
    pub spec: Language,
    pub profile: Profile,
}

impl Shape {
    /// The shape of `req`'s run.
    pub(crate) fn of(req: &RunRequest) -> Shape {
        Shape::new(&req.language, &req.spec, &req.limits)
    }

    pub(crate) fn new(language: &str, spec: &Language, profile: &Profile) -> Shape {
        let mut fixed = serde_json::to_value(profile).unwrap_or_default();
        // A program started ahead of its run already has its flags and environment (node's
        // heap flag, the thread variables), which come from the memory and CPU share: for it
        // those are fixed when the slot is made.
        let started_ahead = prestart::serves(spec).is_some();
        if let Some(map) = fixed.as_object_mut() {
            for applied_at_start in [
                "wall_time",
                "output",
                "memory",
                "cpus",
                "output_files",
                "output_files_bytes",
            ] {
                if !(started_ahead && matches!(applied_at_start, "memory" | "cpus")) {
                    map.remove(applied_at_start);
                }
            }
        }
        let key = serde_json::json!([language, spec, fixed]).to_string();
        Shape {
            key,
            language: language.to_string(),
            spec: spec.clone(),
            profile: profile.clone(),
        }
    }

    /// The rlimits of a run of this shape, as the cold path sets them (with a cgroup, so no
    /// RLIMIT_AS).
    pub(crate) fn rlimits(&self) -> Rlimits {
        let limits = StageLimits::run(&self.profile);
        Rlimits {
            cpu_secs: limits.cpu_secs,
            file_size: self.profile.file_size.0,
            open_files: u64::from(self.profile.open_files),
            processes: limits.pids,
            stack: STACK_BYTES,
            address_space: None,
        }
    }

    /// The cgroup pids limit: what leaves the program the same number of processes as a cold
    /// run's (whose cgroup also holds the helper and the reaper; a slot's holds only its reaper).
    pub(crate) fn cgroup_pids(profile: &Profile) -> u64 {
        u64::from(profile.pids) + HELPER_PIDS - 1
    }
}

/// Whether a warm slot may serve `req` at all: no compile stage, no network, no extra
/// environment, no package set, a language whose read-only binds the zygote's sandbox has, and
/// for a pre-started node, the language's own main file (the one it was started with).
pub(crate) fn eligible(req: &RunRequest, zygote_binds: &[PathBuf], inner: &Inner) -> bool {
    let main_is_default = req.main.as_ref().is_none_or(|m| *m == req.spec.file);
    (main_is_default || prestart::serves(&req.spec).is_none())
        && req.spec.compile.is_none()
        && !req.limits.network
        && req.env.is_empty()
        && req.packages.is_none()
        && inner
            .layout
            .binds_for(&req.spec, false)
            .iter()
            .all(|b| zygote_binds.contains(b))
}

/// What the zygote's child needs to confine itself to one run (see zygote.py).
#[derive(Debug, Serialize)]
pub(crate) struct SlotSpec {
    pub uid: u32,
    pub gid: u32,
    pub rlimits: Vec<(String, u64, u64)>,
    pub tmp_size: u64,
    pub shm_size: u64,
    pub inodes: u64,
    pub etc: Vec<(String, String)>,
    pub unmount: Vec<String>,
    pub landlock: Option<LandlockRules>,
    pub seccomp: Vec<Vec<u64>>,
    /// The node or bash a slot starts before its run (see [`prestart`]).
    pub prestart: Option<PrestartExec>,
}

#[derive(Debug, Serialize)]
pub(crate) struct LandlockRules {
    pub read: Vec<String>,
    pub write_files: Vec<String>,
    pub write_dirs: Vec<String>,
}

impl SlotSpec {
    /// The spec of a slot of `shape` running as `uid`, in a zygote whose sandbox binds
    /// `zygote_binds`. Built from the same pieces as the cold path's helper spec.
    pub(crate) fn new(
        inner: &Inner,
        shape: &Shape,
        uid: u32,
        zygote_binds: &[PathBuf],
        prestart: Option<(PrestartExec, &'static str)>,
    ) -> Self {
        let helper = inner.helper_spec(
            &shape.spec,
            &shape.profile,
            std::path::Path::new(plan::WORKDIR),
            (uid, uid),
            Vec::new(),
            Vec::new(),
            shape.rlimits(),
        );
        let mut rules = landlock::rule_paths(&helper);
        if let Some((_, preload)) = &prestart {
            rules.read_exec.push((*preload).into());
        }
        let unmount = zygote_binds
            .iter()
            .filter(|b| !helper.ro_binds.contains(b))
            .map(|b| b.to_string_lossy().into_owned())
            .collect();
        let etc = helper
            .files
            .iter()
            .filter(|(path, _)| path == "/etc/passwd" || path == "/etc/group")
            .cloned()
            .collect();
        SlotSpec {
            uid,
            gid: uid,
            rlimits: rlimits::list(&helper.rlimits)
                .into_iter()
                .map(|(r, soft, hard)| (format!("{r:?}"), soft, hard))
                .collect(),
            tmp_size: helper.tmp_size,
            shm_size: helper.shm_size,
            inodes: TMPFS_INODES,
            etc,
            unmount,
            landlock: inner.landlock.then_some(LandlockRules {
                read: rules.read_exec,
                write_files: rules.writable_devices,
                write_dirs: rules.writable_dirs,
            }),
            // The zygote applied the others to itself, and the slot inherits them.
            seccomp: helper
                .seccomp
                .get(seccomp::ZYGOTE_FILTERS..)
                .unwrap_or_default()
                .to_vec(),
            prestart: prestart.map(|(exec, _)| exec),
        }
    }
}

/// The message that starts the program of a slot.
#[derive(Debug, Serialize)]
pub(crate) struct Go {
    /// `python`: run the file in the (forked) zygote; `exec`: execve `argv`; `prestarted`: the
    /// node or bash the slot started runs its main file with `args`.
    pub mode: &'static str,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Python mode: the main file's path in the sandbox, and `sys.argv`; node mode: the run's
    /// own arguments.
    pub path: String,
    pub args: Vec<String>,
}

impl Go {
    /// Start `run_argv` (already resolved) for `req`: in-process when the zygote stands in for
    /// this very command (its interpreter and flags, then the main file), else by execve.
    pub(crate) fn new(
        req: &RunRequest,
        main: &str,
        run_argv: &[String],
        in_process_prefix: Option<&[String]>,
    ) -> Go {
        let values = plan::Placeholders::new(main, req.limits.memory.0);
        let env = plan::environment(&req.spec, &req.limits, &values);
        if let Some(prefix) = in_process_prefix {
            if run_argv.len() > prefix.len()
                && run_argv[..prefix.len()] == *prefix
                && run_argv[prefix.len()] == main
            {
                return Go {
                    mode: "python",
                    argv: Vec::new(),
                    env,
                    path: format!("{}/{main}", plan::WORKDIR),
                    args: run_argv[prefix.len()..].to_vec(),
                };
            }
        }
        Go {
            mode: "exec",
            argv: run_argv.to_vec(),
            env,
            path: String::new(),
            args: Vec::new(),
        }
    }

    /// Start a pre-started program's run: `args` after its main file.
    pub(crate) fn prestarted(args: Vec<String>) -> Go {
        Go {
            mode: "prestarted",
            argv: Vec::new(),
            env: Vec::new(),
            path: String::new(),
            args,
        }
    }
}
