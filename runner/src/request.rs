//! What a caller asks the runner to do: one program, its files, its input and its limits.

use coderunner_config::{Language, Profile};

use crate::packages::PackageMount;

/// A file placed in the working directory before the run. `path` is relative ("data/sales.csv").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: String,
    pub content: Vec<u8>,
}

/// One run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The language's configured name, e.g. `python`.
    pub language: String,
    /// The language's configuration (commands, env, mounts, memory strategy).
    pub spec: Language,
    /// Files for the working directory; the program is one of them.
    pub files: Vec<InputFile>,
    /// Which file is the program; `None` means the language's default `file` name.
    pub main: Option<String>,
    pub stdin: Vec<u8>,
    pub args: Vec<String>,
    /// Variables the author asked for (checked by [`crate::user_env::check`]); they come after the
    /// sandbox's and the language's own.
    pub env: Vec<(String, String)>,
    /// The limits of this run (already adjusted for the tier and the user's flags).
    pub limits: Profile,
    /// A package set to mount read-only and put on the language's path (`--env=NAME`).
    pub packages: Option<PackageMount>,
}
