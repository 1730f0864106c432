//! Javascript slots that run a pre-started node: the slot execs the language's own command
//! (`node <flags> main.js`, its flags and environment resolved for the slot's shape) ahead of the
//! run, with a preload (`zygote/node_bootstrap.js`, named in `NODE_OPTIONS`) that says "ready",
//! blocks until "go", appends the run's arguments to `process.argv`, closes the slot socket and
//! lets node run main.js through its own entry point. Start-up (V8, node's bootstrap, the CJS
//! loader) is then paid before the run instead of in it.
//!
//! What stays different from a cold run, none of which a program can use against the runner:
//! `process.uptime()` and `performance.now()` count from the slot's start; `/proc/self/cmdline`
//! lacks the run's arguments and `/proc/self/environ` (the environment node was started with)
//! names the preload; and the preload file is readable at [`PRELOAD_PATH`].

use std::os::fd::{AsRawFd, OwnedFd};

use coderunner_config::{Language, Profile};
use serde::Serialize;

use super::spec::Go;
use crate::plan::{self, Placeholders};
use crate::RunRequest;

/// The preload, written into the zygote sandbox's root (so every slot can read it, Landlock
/// permitting: only node slots get a rule for it; workers a run starts load it again).
pub(crate) const PRELOAD_PATH: &str = "/.coderunner-node-preload.js";
/// Its source.
pub(crate) const PRELOAD: &str = include_str!("../zygote/node_bootstrap.js");
/// The variable that tells the preload which fd is the slot socket (it removes it).
const CONTROL_VAR: &str = "CODERUNNER_NODE_CONTROL_FD";
/// Fds the slot's node keeps free below the socket's (node's own fds stay where a cold run has
/// them: the socket sits at the top of the run's RLIMIT_NOFILE).
const MIN_OPEN_FILES: u64 = 16;

/// Whether `spec` is a language a slot can serve with a pre-started node: its command is
/// `node` (or `nodejs`), with the main file as its last word and no compile stage.
pub(crate) fn serves(spec: &Language) -> bool {
    let is_node = spec.run.first().is_some_and(|p| {
        let name = p.rsplit('/').next().unwrap_or(p);
        name == "node" || name == "nodejs"
    });
    is_node
        && spec.compile.is_none()
        && spec.run.last().is_some_and(|a| a == "{file}")
        && !spec.run[..spec.run.len() - 1]
            .iter()
            .any(|a| a.contains("{file}"))
        && !spec.env.contains_key("NODE_OPTIONS")
        && !spec.env.contains_key(CONTROL_VAR)
}

/// The node a slot starts: the run's argv (without the run's own arguments) and environment,
/// as the cold path would resolve them for the slot's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeStart {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// What the slot's program (zygote.py) execs.
#[derive(Debug, Serialize)]
pub(crate) struct NodeExec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Where the slot socket goes, for the preload.
    pub control_fd: u64,
}

impl NodeStart {
    /// The node a slot of `spec` under `profile` starts, or why it cannot.
    pub(crate) fn new(spec: &Language, profile: &Profile) -> Result<NodeStart, String> {
        if !serves(spec) {
            return Err("not a node command ending with {file}".into());
        }
        let values = Placeholders::new(&spec.file, profile.memory.0);
        let argv = plan::command(&spec.run, &values, &[]).map_err(|e| e.0)?;
        let env = plan::environment(spec, profile, &values);
        Ok(NodeStart { argv, env })
    }

    /// The exec, its socket at the top of the run's RLIMIT_NOFILE.
    pub(crate) fn exec(&self, open_files: u64) -> Result<NodeExec, String> {
        if open_files < MIN_OPEN_FILES {
            return Err(format!(
                "open_files {open_files} leaves no room for the slot socket"
            ));
        }
        let control_fd = open_files - 1;
        let mut env = self.env.clone();
        env.push(("NODE_OPTIONS".into(), format!("--require {PRELOAD_PATH}")));
        env.push((CONTROL_VAR.into(), control_fd.to_string()));
        Ok(NodeExec {
            argv: self.argv.clone(),
            env,
            control_fd,
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
    start: &NodeStart,
    req: &RunRequest,
    main: &str,
    run_argv: &[String],
) -> Option<Go> {
    let values = Placeholders::new(main, req.limits.memory.0);
    let env = plan::environment(&req.spec, &req.limits, &values);
    start.args_of(run_argv, &env).map(Go::node)
}

/// Put the run's stdin into the slot's stdin memfd (node's fd 0 since before it started) and
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
    fn only_a_node_command_ending_with_the_file_is_pre_started() {
        assert!(serves(&lang(&[
            "node",
            "--max-old-space-size={heap_mib}",
            "{file}"
        ])));
        assert!(serves(&lang(&["/usr/bin/nodejs", "{file}"])));
        assert!(!serves(&lang(&["node", "{file}", "--flag"])));
        assert!(!serves(&lang(&["deno", "run", "{file}"])));
        assert!(!serves(&lang(&["node", "{file}x", "{file}"])));
        let mut with_options = lang(&["node", "{file}"]);
        with_options
            .env
            .insert("NODE_OPTIONS".into(), "--no-warnings".into());
        assert!(!serves(&with_options));
    }

    #[test]
    fn a_run_matches_only_its_own_node() {
        let start = NodeStart {
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
        assert!(exec
            .env
            .contains(&("NODE_OPTIONS".into(), format!("--require {PRELOAD_PATH}"))));
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
