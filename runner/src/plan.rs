//! Turning a language's configuration and a profile into what the helper runs: the argv with its
//! placeholders filled, the environment, the read-only binds and the /etc the sandbox sees.

use std::path::{Path, PathBuf};

use coderunner_config::{Language, Profile};

use crate::host;

/// Where the workdir appears inside the sandbox.
pub(crate) const WORKDIR: &str = "/work";
/// Where a compiled program is written (hidden, so it is never returned as an output file).
pub(crate) const EXE: &str = "/work/.coderunner-bin";
/// Top-level system directories: bound read-only when real directories, recreated when symlinks.
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];
/// /etc entries every run sees (read-only). Nothing secret: no passwd/shadow of the host.
const ETC_BASE: &[&str] = &["/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"];
/// Extra /etc entries for runs with network access.
const ETC_NETWORK: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/etc/ca-certificates",
];

/// The base filesystem layout, computed once per LocalRunner.
#[derive(Debug, Clone)]
pub(crate) struct BaseLayout {
    pub ro_binds: Vec<PathBuf>,
    pub symlinks: Vec<(String, String)>,
}

impl BaseLayout {
    pub(crate) fn detect() -> BaseLayout {
        let mut ro_binds = Vec::new();
        let mut symlinks = Vec::new();
        for dir in SYSTEM_DIRS {
            let p = Path::new(dir);
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(p) {
                        symlinks.push((dir.to_string(), target.to_string_lossy().into_owned()));
                    }
                }
                Ok(m) if m.is_dir() => ro_binds.push(p.to_path_buf()),
                _ => {}
            }
        }
        ro_binds.extend(ETC_BASE.iter().map(PathBuf::from).filter(|p| p.exists()));
        BaseLayout { ro_binds, symlinks }
    }

    /// Binds for one run: the base, the language's own mounts, and network files when needed.
    pub(crate) fn binds_for(&self, language: &Language, network: bool) -> Vec<PathBuf> {
        let mut v = self.ro_binds.clone();
        // A mount missing on this host (e.g. /etc/matplotlibrc without matplotlib) is left out
        // rather than failing every run of the language.
        v.extend(
            language
                .mounts
                .iter()
                .filter(|p| p.is_absolute() && p.exists())
                .cloned(),
        );
        if network {
            v.extend(ETC_NETWORK.iter().map(PathBuf::from).filter(|p| p.exists()));
        }
        v
    }
}

/// Generated /etc files: a passwd/group naming the run's uid (so `whoami` and getpwuid work) and,
/// without network, a hosts file for localhost.
pub(crate) fn etc_files(uid: u32, gid: u32, network: bool) -> Vec<(String, String)> {
    let mut v = vec![
        (
            "/etc/passwd".to_string(),
            format!("root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nsandbox:x:{uid}:{gid}:sandbox:{WORKDIR}:/bin/sh\n"),
        ),
        ("/etc/group".to_string(), format!("root:x:0:\nsandbox:x:{gid}:\n")),
        ("/etc/hostname".to_string(), "sandbox\n".to_string()),
    ];
    if !network {
        v.push((
            "/etc/hosts".to_string(),
            "127.0.0.1 localhost sandbox\n::1 localhost\n".to_string(),
        ));
    }
    v
}

/// Values of the command placeholders.
#[derive(Debug, Clone)]
pub(crate) struct Placeholders {
    pub file: String,
    pub heap_mib: u64,
    pub memory_mib: u64,
}

impl Placeholders {
    pub(crate) fn new(main_file: &str, memory_bytes: u64) -> Self {
        Placeholders {
            file: main_file.to_string(),
            heap_mib: (memory_bytes / (1 << 20)) * 3 / 4,
            memory_mib: memory_bytes / (1 << 20),
        }
    }

    pub(crate) fn fill(&self, s: &str) -> String {
        s.replace("{file}", &self.file)
            .replace("{exe}", EXE)
            .replace("{heap_mib}", &self.heap_mib.to_string())
            .replace("{memory_mib}", &self.memory_mib.to_string())
            .replace("{workdir}", WORKDIR)
    }
}

/// Why a command cannot run on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotInstalled(pub String);

/// Fill the placeholders and resolve `argv[0]`: bare names are looked up in [`SEARCH_PATH`];
/// host paths must exist (paths in the workdir are produced by the compile stage).
pub(crate) fn command(
    template: &[String],
    values: &Placeholders,
    extra_args: &[String],
) -> Result<Vec<String>, NotInstalled> {
    let mut argv: Vec<String> = template.iter().map(|a| values.fill(a)).collect();
    argv.extend(extra_args.iter().cloned());
    let Some(first) = argv.first().cloned() else {
        return Err(NotInstalled("the language's command is empty".into()));
    };
    if first.starts_with(WORKDIR) {
        return Ok(argv); // produced by the compile stage inside the sandbox
    }
    // The same lookup `doctor` and `languages` use: bare names only in host::SEARCH_DIRS, which
    // the sandbox binds read-only at the same paths.
    let found = host::resolve(&first).ok_or_else(|| {
        NotInstalled(if first.contains('/') {
            format!("`{first}` is not an executable file on this host")
        } else {
            format!(
                "`{first}` is not installed on this host (looked in {})",
                host::SEARCH_DIRS.join(", ")
            )
        })
    })?;
    argv[0] = found.to_string_lossy().into_owned();
    Ok(argv)
}

/// The program's whole environment: a fixed base, thread caps from the profile, then the
/// language's own variables (placeholders filled).
pub(crate) fn environment(
    language: &Language,
    profile: &Profile,
    values: &Placeholders,
) -> Vec<(String, String)> {
    let threads = profile.cpus.ceil().max(1.0).to_string();
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("HOME".into(), WORKDIR.into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("TMPDIR".into(), "/tmp".into()),
        ("USER".into(), "sandbox".into()),
    ];
    for var in [
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    ] {
        env.push((var.into(), threads.clone()));
    }
    for (k, v) in &language.env {
        env.retain(|(existing, _)| existing != k);
        env.push((k.clone(), values.fill(v)));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_lookup() {
        let v = Placeholders::new("main.js", 256 << 20);
        assert_eq!(v.heap_mib, 192);
        assert_eq!(v.fill("R_MAX_VSIZE={memory_mib}Mb"), "R_MAX_VSIZE=256Mb");
        let argv = command(
            &[
                "node".into(),
                "--max-old-space-size={heap_mib}".into(),
                "{file}".into(),
            ],
            &v,
            &["a b".into()],
        )
        .expect("node is installed here");
        assert_eq!(argv[1..], ["--max-old-space-size=192", "main.js", "a b"]);
        assert!(argv[0].starts_with('/') && argv[0].ends_with("/node"));
        assert!(command(&["no-such-compiler-xyz".into()], &v, &[]).is_err());
        assert!(command(&["/nonexistent/bin".into()], &v, &[]).is_err());
        assert_eq!(command(&["{exe}".into()], &v, &[]).expect("exe")[0], EXE);
    }
}
