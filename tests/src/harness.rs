//! Locates (and if needed builds) the `coderunner` and `coderunner-sandbox` binaries the suites drive.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The target directory the test executable was built into (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("test executable lives in target/<profile>/deps")
}

/// Build the workspace binaries once per test process, so `cargo test -p coderunner-tests` works alone.
fn ensure_built() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = profile_dir();
        let release = dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        // The same command scripts/test.sh runs before `cargo test`, so this is a no-op there
        // (another package selection would unify features differently and rebuild everything).
        cmd.args(["build", "--workspace", "--bins"]);
        if release {
            cmd.arg("--release");
        }
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
        let status = cmd
            .status()
            .expect("run cargo build for the binaries under test");
        assert!(status.success(), "building the coderunner binaries failed");
        dir
    })
}

/// Path of the `coderunner` binary.
pub fn coderunner_bin() -> PathBuf {
    ensure_built().join("coderunner")
}

/// Path of the `coderunner-sandbox` helper binary.
pub fn sandbox_bin() -> PathBuf {
    ensure_built().join("coderunner-sandbox")
}

/// The workspace root (for fixtures and scripts).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .expect("tests/ sits in the workspace root")
}
