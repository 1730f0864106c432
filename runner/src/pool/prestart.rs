//! Slots that run a program started ahead of the run: javascript (node) and bash. The slot
//! execs the language's own command (`node <flags> main.js`, `bash main.sh`, its flags and
//! environment resolved for the slot's shape) once confined, with a preload that says "ready",
//! blocks until "go", takes the run's arguments, closes its fds and returns: node's
//! (`zygote/node_bootstrap.js`, named in `NODE_OPTIONS`) before node runs main.js through its own
//! entry point, bash's (`zygote/bash_bootstrap.sh`, named in `BASH_ENV`) before bash opens
//! main.sh. Start-up (and the exec out of the large zygote fork) is then paid before the run.
//!
//! What stays different from a cold run, none of which a program can use against the runner:
//! `process.uptime()` and `performance.now()` count from the slot's start (bash's `SECONDS` is
//! reset); bash's `PIPESTATUS` is `0` rather than empty before the script's first command;
//! `/proc/self/cmdline` lacks the run's arguments and `/proc/self/environ` (the environment the
//! program was started with) names the preload, whose file is readable at its path.

use std::os::fd::{AsRawFd, OwnedFd};

use coderunner_config::{Language, Profile};
use serde::Serialize;

use super::spec::Go;
use crate::plan::{self, Placeholders};
use crate::RunRequest;

/// Node's preload, written into the zygote sandbox's root (every slot sees the file; only node
/// slots get a Landlock rule to read it; worker threads a run starts load it again).
pub(crate) const NODE_PRELOAD_PATH: &str = "/.coderunner-node-preload.js";
pub(crate) const NODE_PRELOAD: &str = include_str!("../zygote/node_bootstrap.js");
/// Bash's, likewise (only bash slots may read it).
pub(crate) const BASH_PRELOAD_PATH: &str = "/.coderunner-bash-preload.sh";
pub(crate) const BASH_PRELOAD: &str = include_str!("../zygote/bash_bootstrap.sh");
/// Variables naming the preload's fds (the preloads remove them).
const NODE_CONTROL_VAR: &str = "CODERUNNER_NODE_CONTROL_FD";
const BASH_CONTROL_VAR: &str = "CODERUNNER_BASH_CONTROL_FD";
const BASH_GO_VAR: &str = "CODERUNNER_BASH_GO_FD";
/// Fds kept free below the preload's (the program's own fds stay where a cold run has them:
/// the preload's sit at the top of the run's RLIMIT_NOFILE).
const MIN_OPEN_FILES: u64 = 16;
/// The largest run arguments handed to a pre-started bash (they go through a pipe written at
/// once; larger ones go cold).
pub(crate) const MAX_BASH_ARGS: usize = 32 << 10;

/// The program a slot starts ahead of its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    Node,
    Bash,
}

/// Which runtime a slot can pre-start for `spec`: its command is `node`/`nodejs` or `bash`,
/// with the main file as its last word, no compile stage, and none of the variables the preload
/// is started with.
pub(crate) fn serves(spec: &Language) -> Option<Runtime> {
    let name = spec
        .run
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))?;
    let runtime = match name {
        "node" | "nodejs" => Runtime::Node,
        "bash" => Runtime::Bash,
        _ => return None,
    };
    let reserved = [
        "NODE_OPTIONS",
        "BASH_ENV",
        NODE_CONTROL_VAR,
        BASH_CONTROL_VAR,
        BASH_GO_VAR,
    ];
    let ok = spec.compile.is_none()
        && spec.run.last().is_some_and(|a| a == "{file}")
        && !spec.run[..spec.run.len() - 1]
            .iter()
            .any(|a| a.contains("{file}"))
        && !reserved.iter().any(|v| spec.env.contains_key(*v));
    ok.then_some(runtime)
}

/// The program a slot starts: the run's argv (without the run's own arguments) and
/// environment, as the cold path would resolve them for the slot's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prestart {
    pub runtime: Runtime,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// What the slot's program (zygote.py) execs.
#[derive(Debug, Serialize)]
pub(crate) struct PrestartExec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Where the slot socket goes, for the preload.
    pub control_fd: u64,
    /// Bash: where the read end of the go pipe goes (bash reads a socket byte by byte, which
    /// a packet socket does not allow).
    pub go_fd: Option<u64>,
}

impl Prestart {
    /// What a slot of `spec` under `profile` starts, or why it cannot.
    pub(crate) fn new(spec: &Language, profile: &Profile) -> Result<Prestart, String> {
        let runtime = serves(spec).ok_or("not a node or bash command ending with {file}")?;
        let values = Placeholders::new(&spec.file, profile.memory.0);
        let argv = plan::command(&spec.run, &values, &[]).map_err(|e| e.0)?;
        let env = plan::environment(spec, profile, &values);
        Ok(Prestart { runtime, argv, env })
    }

    /// The preload's path (for the slot's Landlock rule).
    pub(crate) fn preload_path(&self) -> &'static str {
        match self.runtime {
            Runtime::Node => NODE_PRELOAD_PATH,
            Runtime::Bash => BASH_PRELOAD_PATH,
        }
    }

    /// The exec, its fds at the top of the run's RLIMIT_NOFILE.
    pub(crate) fn exec(&self, open_files: u64) -> Result<PrestartExec, String> {
        if open_files < MIN_OPEN_FILES {
            return Err(format!(
                "open_files {open_files} leaves no room for the slot socket"
            ));
        }
        let control_fd = open_files - 1;
        let mut env = self.env.clone();
        let go_fd = match self.runtime {
            Runtime::Node => {
                env.push((
                    "NODE_OPTIONS".into(),
                    format!("--require {NODE_PRELOAD_PATH}"),
                ));
                env.push((NODE_CONTROL_VAR.into(), control_fd.to_string()));
                None
            }
            Runtime::Bash => {
                let go_fd = control_fd - 1;
                env.push(("BASH_ENV".into(), BASH_PRELOAD_PATH.into()));
                env.push((BASH_CONTROL_VAR.into(), control_fd.to_string()));
                env.push((BASH_GO_VAR.into(), go_fd.to_string()));
                Some(go_fd)
            }
        };
        Ok(PrestartExec {
            argv: self.argv.clone(),
            env,
            control_fd,
            go_fd,
        })
    }

    /// The run's own arguments if this node is the one `run_argv` with `env` would start.
    pub(crate) fn args_of(
        &self,
        run_argv: &[String],
        env: &[(String, String)],
    ) -> Option<Vec<String>> {
        (run_argv.starts_with(&self.argv) && env == self.env.as_slice())
            .then(|| run_argv[self.argv.len()..].to_vec())
    }
}

/// The "go" of `req`'s run in a slot whose node is `start`; `None` when that node is not the
/// one the run needs (its flags or environment differ).
pub(crate) fn go(
    start: &Prestart,
    req: &RunRequest,
    main: &str,
    run_argv: &[String],
) -> Option<Go> {
    let values = Placeholders::new(main, req.limits.memory.0);
    let env = plan::environment(&req.spec, &req.limits, &values);
    start.args_of(run_argv, &env).map(Go::prestarted)
}

/// What a pre-started bash reads from its go pipe: "go" and each argument, NUL-terminated.
pub(crate) fn bash_go(args: &[String]) -> Option<Vec<u8>> {
    let mut bytes = b"go\0".to_vec();
    for a in args {
        bytes.extend_from_slice(a.as_bytes());
        bytes.push(0);
    }
    (bytes.len() <= MAX_BASH_ARGS).then_some(bytes)
}

/// Put the run's stdin into the slot's stdin memfd (the program's fd 0 since it started) and
/// seal it as the cold path's is: the same file, read from offset 0, unwritable.
pub(crate) fn fill_stdin(memfd: &OwnedFd, bytes: &[u8]) -> std::io::Result<()> {
    let fd = memfd.as_raw_fd();
    let mut done = 0usize;
    while done < bytes.len() {
        let rest = &bytes[done..];
        // SAFETY: pwrite from a live slice into an fd we own; the shared offset stays at 0.
        let n = unsafe { libc::pwrite(fd, rest.as_ptr().cast(), rest.len(), done as libc::off_t) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        done += n as usize;
    }
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on an fd we own; fstat fills the struct we pass.
    let (sealed, size) = unsafe {
        let sealed = libc::fcntl(fd, libc::F_ADD_SEALS, seals);
        let mut st: libc::stat = std::mem::zeroed();
        let size = (libc::fstat(fd, &mut st) == 0).then_some(st.st_size);
        (sealed, size)
    };
    if sealed != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // A memfd someone else wrote into first would hand the program the wrong input.
    if size != Some(bytes.len() as libc::off_t) {
        return Err(std::io::Error::other(format!(
            "the slot's stdin holds {size:?} bytes, not {}",
            bytes.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(run: &[&str]) -> Language {
        serde_json::from_value(serde_json::json!({"file": "main.js", "run": run}))
            .expect("a language")
    }

    #[test]
    fn only_node_or_bash_ending_with_the_file_is_pre_started() {
        let node = lang(&["node", "--max-old-space-size={heap_mib}", "{file}"]);
        assert_eq!(serves(&node), Some(Runtime::Node));
        assert_eq!(
            serves(&lang(&["/usr/bin/nodejs", "{file}"])),
            Some(Runtime::Node)
        );
        assert_eq!(serves(&lang(&["bash", "{file}"])), Some(Runtime::Bash));
        assert_eq!(serves(&lang(&["node", "{file}", "--flag"])), None);
        assert_eq!(serves(&lang(&["deno", "run", "{file}"])), None);
        assert_eq!(serves(&lang(&["sh", "{file}"])), None);
        assert_eq!(serves(&lang(&["node", "{file}x", "{file}"])), None);
        for (cmd, var) in [("node", "NODE_OPTIONS"), ("bash", "BASH_ENV")] {
            let mut l = lang(&[cmd, "{file}"]);
            l.env.insert(var.into(), "x".into());
            assert_eq!(serves(&l), None, "{var}");
        }
    }

    #[test]
    fn bash_gets_its_arguments_nul_terminated_after_go() {
        assert_eq!(bash_go(&[]).expect("small"), b"go\0");
        assert_eq!(
            bash_go(&["a b".into(), "".into()]).expect("small"),
            b"go\0a b\0\0"
        );
        assert!(bash_go(&["x".repeat(MAX_BASH_ARGS)]).is_none());
    }

    #[test]
    fn a_run_matches_only_its_own_node() {
        let start = Prestart {
            runtime: Runtime::Node,
            argv: ["/usr/bin/node", "--max-old-space-size=192", "main.js"]
                .map(String::from)
                .to_vec(),
            env: vec![("PATH".into(), "/usr/bin".into())],
        };
        let mut run = start.argv.clone();
        run.extend(["a".to_string(), "--b".to_string()]);
        assert_eq!(
            start.args_of(&run, &start.env),
            Some(vec!["a".to_string(), "--b".to_string()])
        );
        run[1] = "--max-old-space-size=384".into();
        assert_eq!(start.args_of(&run, &start.env), None);
        assert_eq!(start.args_of(&start.argv, &[]), None);
        let exec = start.exec(256).expect("room for the socket");
        assert_eq!(exec.control_fd, 255);
        assert!(exec.env.contains(&(
            "NODE_OPTIONS".into(),
            format!("--require {NODE_PRELOAD_PATH}")
        )));
        assert!(start.exec(4).is_err());
    }

    #[test]
    fn stdin_is_written_at_offset_zero_and_sealed() {
        let fd = crate::helper::exec::stdin_memfd(b"").expect("memfd");
        // An unsealed memfd like the slot's: a fresh one.
        let fresh =
            nix::sys::memfd::memfd_create("stdin", nix::sys::memfd::MFdFlags::MFD_ALLOW_SEALING)
                .expect("memfd");
        fill_stdin(&fresh, b"hello\n").expect("filled");
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut std::fs::File::from(fresh.try_clone().expect("dup")),
            &mut s,
        )
        .expect("read");
        assert_eq!(s, "hello\n");
        assert!(
            fill_stdin(&fresh, b"again").is_err(),
            "the seals did not hold"
        );
        assert!(fill_stdin(&fd, b"x").is_err(), "a sealed memfd was written");
    }
}
