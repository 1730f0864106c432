//! `coderunner env build [NAME]`: installs the package sets of `config.environments` from the
//! package index into `environments/NAME` under the data directory, outside any sandbox.
//!
//! pip runs with Debian's interpreter (the one the python language runs), `--target` into a
//! fresh directory beside the set, and only wheels (`--only-binary=:all:`), so no package's build
//! code runs on the host. The manifest (requirements, interpreter version, every installed
//! distribution with its version) is written last, then the new directory replaces the old one.
//! A set whose manifest matches the config and the interpreter is left alone.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use coderunner_config::{Config, PackageKind};
use coderunner_runner::packages::{self, Installed, Manifest, PythonPackages, SetState, MANIFEST};

/// Build the sets named (all when `name` is `None`). Exit status 1 when any set failed.
pub fn build(
    config_path: Option<&Path>,
    name: Option<&str>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    let sets = &config.environments.sets;
    if sets.is_empty() {
        println!("no package sets are configured (config.environments); nothing to build");
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<&String> = match name {
        Some(n) => match sets.get_key_value(n) {
            Some((k, _)) => vec![k],
            None => {
                let close = config.suggest_package_sets(n);
                let hint = if close.is_empty() {
                    String::new()
                } else {
                    format!("did you mean {}? ", close.join(" or "))
                };
                let all: Vec<&str> = sets.keys().map(String::as_str).collect();
                bail!(
                    "unknown package set `{n}`; {hint}the configured sets are {}",
                    all.join(", ")
                );
            }
        },
        None => sets.keys().collect(),
    };
    let python = Python::of(&config)?;
    let root = config.environments_dir();
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", root.display()))?;
    let mut failed = 0;
    for name in names {
        match build_one(&config, &python, name, force) {
            Ok(line) => println!("{name}: {line}"),
            Err(e) => {
                failed += 1;
                eprintln!("{name}: FAILED: {e:#}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The interpreter pip installs for: the program of the first language that takes python packages.
struct Python {
    program: PathBuf,
    version: String,
}

impl Python {
    fn of(config: &Config) -> anyhow::Result<Python> {
        let (lang, spec) = config
            .languages
            .iter()
            .find(|(_, l)| l.packages == Some(PackageKind::Python))
            .context("no language takes python packages (`packages: python`)")?;
        let first = spec
            .run
            .first()
            .with_context(|| format!("language {lang} has an empty run command"))?;
        let program = coderunner_runner::host::resolve(first)
            .with_context(|| format!("{first} (language {lang}) is not installed on this host"))?;
        let out = Command::new(&program)
            .args([
                "-I",
                "-c",
                "import sys; print('%d.%d' % sys.version_info[:2])",
            ])
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "{} could not tell its version: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(Python { program, version })
    }
}

/// Build one set unless it is up to date; returns what happened, for the summary line.
fn build_one(config: &Config, python: &Python, name: &str, force: bool) -> anyhow::Result<String> {
    let set = config
        .package_set(name)
        .with_context(|| format!("unknown package set `{name}`"))?;
    if !force {
        if let SetState::Ready(m) = packages::state(config, name) {
            let same_python = m
                .python
                .as_ref()
                .is_some_and(|p| p.python_version == python.version);
            if same_python {
                return Ok(format!(
                    "up to date ({}); --force rebuilds it",
                    coderunner_commands::environments::versions_line(&m)
                ));
            }
        }
    }
    let started = Instant::now();
    let dir = packages::set_dir(config, name);
    let root = config.environments_dir();
    let staging = root.join(format!(".build-{name}-{}", std::process::id()));
    remove_dir(&staging)?;
    let result = install(python, set.python.as_slice(), name, &staging);
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e.context("nothing was changed"));
        }
    };
    // Swap: the new directory takes the set's name; the old one (if any) is removed after.
    let old = root.join(format!(".old-{name}-{}", std::process::id()));
    if dir.exists() {
        std::fs::rename(&dir, &old)
            .with_context(|| format!("moving the old {} aside", dir.display()))?;
    }
    std::fs::rename(&staging, &dir)
        .with_context(|| format!("moving the new set into {}", dir.display()))?;
    remove_dir(&old)?;
    tracing::info!(set = name, "package set built");
    Ok(format!(
        "built in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        coderunner_commands::environments::versions_line(&manifest)
    ))
}

/// pip into `staging/python`, then the manifest.
fn install(
    python: &Python,
    requirements: &[String],
    name: &str,
    staging: &Path,
) -> anyhow::Result<Manifest> {
    let target = packages::kind_dir(staging, PackageKind::Python);
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    // -I: neither the operator's PYTHON* variables nor user site-packages change what pip does.
    let status = Command::new(&python.program)
        .args(["-I", "-m", "pip", "install", "--target"])
        .arg(&target)
        .args([
            "--only-binary=:all:",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-input",
            "--no-warn-script-location",
            "--root-user-action=ignore",
            "--",
        ])
        .args(requirements)
        .stdin(Stdio::null())
        // pip's progress goes to our stderr: stdout stays one line per set.
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .with_context(|| format!("running {} -m pip", python.program.display()))?;
    if !status.success() {
        bail!(
            "pip could not install [{}] ({status}); is pip installed for {} (Debian: apt-get install python3-pip) and the package index reachable? Only wheels are installed: a package that has none for this platform cannot be in a set",
            requirements.join(", "),
            python.program.display()
        );
    }
    make_readable(staging)?;
    let manifest = Manifest {
        name: name.to_string(),
        built_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        python: Some(PythonPackages {
            requirements: requirements.to_vec(),
            interpreter: python.program.display().to_string(),
            python_version: python.version.clone(),
            installed: installed_distributions(&target)?,
        }),
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    let path = staging.join(MANIFEST);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    Ok(manifest)
}

/// Name and version of every `*.dist-info` under `target` (from its METADATA), sorted.
fn installed_distributions(target: &Path) -> anyhow::Result<Vec<Installed>> {
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(target).with_context(|| format!("reading {}", target.display()))?
    {
        let path = entry?.path();
        let is_dist = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".dist-info"));
        if !is_dist {
            continue;
        }
        let meta = std::fs::read_to_string(path.join("METADATA"))
            .with_context(|| format!("reading {}/METADATA", path.display()))?;
        let field = |key: &str| {
            meta.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        };
        if let (Some(name), Some(version)) = (field("Name:"), field("Version:")) {
            out.push(Installed { name, version });
        }
    }
    out.sort();
    Ok(out)
}

/// Whatever the operator's umask, the sandbox's uid must read the set: files get `o+r`,
/// directories `o+rx` (symlinks are left as they are).
fn make_readable(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_symlink() {
            continue;
        }
        let mode = entry.metadata()?.permissions().mode();
        let wanted = if kind.is_dir() {
            mode | 0o555
        } else {
            mode | 0o444
        };
        if wanted != mode {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted))
                .with_context(|| format!("chmod {}", path.display()))?;
        }
        if kind.is_dir() {
            make_readable(&path)?;
        }
    }
    let mode = std::fs::metadata(dir)?.permissions().mode();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o555))?;
    Ok(())
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}
