//! What a request must pass before anything is made for it: the host's refusals (an outcome the
//! user sees), the request's own checks (bad input is an error to the caller), and its commands
//! (a language whose program is not installed is refused like the host's refusals).

use coderunner_config::MemoryStrategy;

use super::Inner;
use crate::files;
use crate::plan::{self, Placeholders};
use crate::{PackageMount, RunRequest, RunnerError};

/// The commands of a request that passed the checks.
pub(super) struct Commands {
    /// The placeholders' values (`{file}`, `{heap_mib}`...), for the environment too.
    pub values: Placeholders,
    /// The compile stage's argv, for a compiled language.
    pub compile: Option<Vec<String>>,
    pub run: Vec<String>,
}

impl Inner {
    /// Why this host refuses `req` whatever it holds, in words; `None` when it may run.
    pub(super) fn refusal_for(&self, req: &RunRequest) -> Option<String> {
        if let Some(why) = &self.refusal {
            return Some(why.clone());
        }
        // Whatever runner.isolation says: without a cgroup nothing bounds such a language's
        // memory (no RLIMIT_AS either, it would break the runtime).
        if self.cgroups.is_none() && req.spec.memory == MemoryStrategy::CgroupOnly {
            return Some(format!(
                "{} cannot run on this host: only a memory cgroup bounds its memory (memory: cgroup_only), and this host gives coderunner none; run coderunner as root with writable memory cgroups",
                req.language
            ));
        }
        None
    }
}

/// Refuse a request the sandbox must not take: bad file names, a program file that is not
/// among the files, a bad environment, a package set that does not fit, a NUL in an argument.
/// Returns the program file's name.
pub(super) fn check_request(req: &RunRequest) -> Result<String, RunnerError> {
    files::validate_input_set(req.files.iter().map(|f| f.path.as_str()))
        .map_err(|e| RunnerError::InvalidRequest(e.to_string()))?;
    let main = req.main.clone().unwrap_or_else(|| req.spec.file.clone());
    if !req.files.iter().any(|f| f.path == main) {
        return Err(RunnerError::InvalidRequest(format!(
            "the program file `{main}` is not among the files of the request"
        )));
    }
    crate::user_env::check(&req.env).map_err(|e| RunnerError::InvalidRequest(e.to_string()))?;
    if let Some(m) = &req.packages {
        check_packages(m, req)?;
    }
    for a in &req.args {
        if a.contains('\0') {
            return Err(RunnerError::InvalidRequest(
                "a program argument contains a NUL byte; remove it".into(),
            ));
        }
    }
    Ok(main)
}

/// A package set may only be mounted for a language that takes its kind, from a real directory,
/// under a plain name (it becomes a path inside the sandbox).
fn check_packages(m: &PackageMount, req: &RunRequest) -> Result<(), RunnerError> {
    if req.spec.packages != Some(m.kind) {
        return Err(RunnerError::InvalidRequest(format!(
            "{} does not take {} packages, so package set `{}` cannot be used with it",
            req.language,
            m.kind.as_str(),
            m.name
        )));
    }
    if !coderunner_config::is_set_name(&m.name) {
        return Err(RunnerError::InvalidRequest(format!(
            "`{}` is not a package set name",
            m.name
        )));
    }
    if !m.dir.is_absolute() || !m.dir.is_dir() {
        return Err(RunnerError::InvalidRequest(format!(
            "package set `{}` is not built (its directory {} is missing); build it with `{}`",
            m.name,
            m.dir.display(),
            crate::packages::build_command(&m.name)
        )));
    }
    Ok(())
}

/// `req`'s compile and run commands with program file `main`; `Err` says which command of the
/// language is not installed on this host.
pub(super) fn commands(req: &RunRequest, main: &str) -> Result<Commands, String> {
    let values = Placeholders::new(main, req.limits.memory.0);
    let compile = match &req.spec.compile {
        Some(t) => {
            Some(plan::command(t, &values, &[]).map_err(|e| format!("{}: {}", req.language, e.0))?)
        }
        None => None,
    };
    let run = plan::command(&req.spec.run, &values, &req.args)
        .map_err(|e| format!("{}: {}", req.language, e.0))?;
    Ok(Commands {
        values,
        compile,
        run,
    })
}
