//! Package sets on disk: where `coderunner env build` puts a set (`environments/NAME` under the
//! data directory), the manifest that says what it holds, whether it matches the config, and the
//! read-only mount a run gets.
//!
//! Layout of a built set:
//! ```text
//! environments/NAME/manifest.json   what was asked for and what got installed (versions)
//! environments/NAME/python/         pip --target: the packages, put on PYTHONPATH
//! ```

use std::path::{Path, PathBuf};

use coderunner_config::{Config, PackageKind};
use serde::{Deserialize, Serialize};

/// Where sets appear inside the sandbox: `/opt/env/NAME`.
pub const MOUNT_ROOT: &str = "/opt/env";
/// The manifest's file name in a set's directory; written last, so a set with one is complete.
pub const MANIFEST: &str = "manifest.json";

/// What a built set holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    /// Unix seconds of the build.
    pub built_at: u64,
    #[serde(default)]
    pub python: Option<PythonPackages>,
}

/// The Python part of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonPackages {
    /// The requirements as the config gave them when the set was built.
    pub requirements: Vec<String>,
    /// The interpreter pip installed for, e.g. `/usr/bin/python3`.
    pub interpreter: String,
    /// Its `major.minor`, e.g. `3.11`: compiled packages only load in that version.
    pub python_version: String,
    /// Every distribution installed (dependencies included), sorted by name.
    pub installed: Vec<Installed>,
}

/// One installed distribution.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Installed {
    pub name: String,
    pub version: String,
}

impl Manifest {
    /// The installed distributions of `kind` as `name version, ...`.
    pub fn versions(&self, kind: PackageKind) -> Vec<&Installed> {
        match kind {
            PackageKind::Python => self
                .python
                .as_ref()
                .map(|p| p.installed.iter().collect())
                .unwrap_or_default(),
        }
    }
}

/// A set as a run uses it: its host directory for one kind of packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMount {
    /// The set's name (the directory name under [`MOUNT_ROOT`] inside the sandbox).
    pub name: String,
    pub kind: PackageKind,
    /// The host directory holding the packages (`environments/NAME/python`).
    pub dir: PathBuf,
}

impl PackageMount {
    /// Where the packages appear inside the sandbox.
    pub fn inside(&self) -> String {
        format!("{MOUNT_ROOT}/{}", self.name)
    }

    /// The variable that puts the packages on the language's path, with its value.
    pub fn path_variable(&self) -> (String, String) {
        match self.kind {
            PackageKind::Python => ("PYTHONPATH".into(), self.inside()),
        }
    }
}

/// How a configured set stands on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetState {
    /// Built, and it holds what the config asks for.
    Ready(Manifest),
    /// Never built (no manifest).
    NotBuilt,
    /// Built, but from other requirements than the config's now (the reason says which).
    Stale { manifest: Manifest, why: String },
    /// The manifest cannot be read or parsed.
    Broken(String),
}

/// A set's directory.
pub fn set_dir(config: &Config, name: &str) -> PathBuf {
    config.environments_dir().join(name)
}

/// The directory of `kind`'s packages in a set's directory.
pub fn kind_dir(set_dir: &Path, kind: PackageKind) -> PathBuf {
    set_dir.join(kind.as_str())
}

/// Read a set's manifest: `Ok(None)` when there is none.
pub fn read_manifest(set_dir: &Path) -> Result<Option<Manifest>, String> {
    let path = set_dir.join(MANIFEST);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// How the configured set `name` stands on this host. A name the config does not have is
/// [`SetState::NotBuilt`]: callers check the name first.
pub fn state(config: &Config, name: &str) -> SetState {
    let dir = set_dir(config, name);
    let manifest = match read_manifest(&dir) {
        Ok(Some(m)) => m,
        Ok(None) => return SetState::NotBuilt,
        Err(e) => return SetState::Broken(e),
    };
    let wanted = config
        .package_set(name)
        .map(|s| s.python.clone())
        .unwrap_or_default();
    let built = manifest
        .python
        .as_ref()
        .map(|p| p.requirements.clone())
        .unwrap_or_default();
    if wanted != built {
        let why = format!(
            "it was built from python [{}], the config now asks for [{}]",
            built.join(", "),
            wanted.join(", ")
        );
        return SetState::Stale { manifest, why };
    }
    if !wanted.is_empty() && !kind_dir(&dir, PackageKind::Python).is_dir() {
        return SetState::Broken(format!(
            "{} is missing",
            kind_dir(&dir, PackageKind::Python).display()
        ));
    }
    SetState::Ready(manifest)
}

/// The command an operator runs to build (or rebuild) a set.
pub fn build_command(name: &str) -> String {
    format!("coderunner env build {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_set(dir: &Path) -> Config {
        let mut c = Config::embedded_default().expect("default");
        c.data_dir = dir.to_path_buf();
        c.environments.sets.insert(
            "ml".into(),
            coderunner_config::PackageSet {
                python: vec!["polars".into()],
            },
        );
        c
    }

    fn manifest(requirements: &[&str]) -> Manifest {
        Manifest {
            name: "ml".into(),
            built_at: 1,
            python: Some(PythonPackages {
                requirements: requirements.iter().map(|s| s.to_string()).collect(),
                interpreter: "/usr/bin/python3".into(),
                python_version: "3.11".into(),
                installed: vec![Installed {
                    name: "polars".into(),
                    version: "1.0".into(),
                }],
            }),
        }
    }

    #[test]
    fn states_follow_the_manifest_and_the_config() {
        let tmp = tempfile::tempdir().expect("tmp");
        let c = config_with_set(tmp.path());
        assert_eq!(state(&c, "ml"), SetState::NotBuilt);
        let dir = set_dir(&c, "ml");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(MANIFEST), "{not json").expect("write");
        assert!(matches!(state(&c, "ml"), SetState::Broken(_)));
        std::fs::write(
            dir.join(MANIFEST),
            serde_json::to_vec(&manifest(&["polars"])).expect("json"),
        )
        .expect("write");
        assert!(
            matches!(state(&c, "ml"), SetState::Broken(ref why) if why.contains("python")),
            "no python/ directory"
        );
        std::fs::create_dir_all(kind_dir(&dir, PackageKind::Python)).expect("mkdir");
        assert_eq!(state(&c, "ml"), SetState::Ready(manifest(&["polars"])));
        std::fs::write(
            dir.join(MANIFEST),
            serde_json::to_vec(&manifest(&["polars==0.1"])).expect("json"),
        )
        .expect("write");
        match state(&c, "ml") {
            SetState::Stale { why, .. } => assert!(why.contains("polars==0.1"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mount_names_the_path_variable() {
        let m = PackageMount {
            name: "ml".into(),
            kind: PackageKind::Python,
            dir: PathBuf::from("/data/environments/ml/python"),
        };
        assert_eq!(m.inside(), "/opt/env/ml");
        assert_eq!(
            m.path_variable(),
            ("PYTHONPATH".to_string(), "/opt/env/ml".to_string())
        );
        assert_eq!(build_command("ml"), "coderunner env build ml");
    }
}
