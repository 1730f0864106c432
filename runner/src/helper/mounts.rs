//! The sandbox's filesystem: a small tmpfs root holding read-only binds of only what the language
//! needs, a minimal /dev, size-capped tmpfs /tmp and /dev/shm, the workdir, then pivot_root.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, pivot_root};

use super::{package_overlay, workdir_tmpfs, Context, SetupError};
use crate::protocol::HelperSpec;

const NONE: Option<&str> = None;

/// Device nodes the program may use, bound from the host's /dev.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom"];

/// Build the new root and make it `/`. The caller must be PID 1 of the run's pid namespace,
/// in a new mount namespace. `workdir` is the rootless workdir's handle (see
/// [`HelperSpec::workdir_handle`]).
pub(crate) fn build_root(
    spec: &HelperSpec,
    workdir: Option<std::os::fd::OwnedFd>,
) -> Result<(), SetupError> {
    // Nothing we do from here may propagate back to the host.
    mount(NONE, "/", NONE, MsFlags::MS_REC | MsFlags::MS_PRIVATE, NONE)
        .ctx(|| "making / private".into())?;
    let root = spec.root_mountpoint.as_path();
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("size=1m,nr_inodes=1024,mode=0755"),
    )
    .ctx(|| format!("mounting the root tmpfs on {}", root.display()))?;

    for host in &spec.ro_binds {
        bind(host, &inside(root, host), true)?;
    }
    for (host, at) in &spec.ro_binds_at {
        package_overlay::mount_read_only(host, &inside(root, Path::new(at)), root)?;
    }
    for (path, target) in &spec.symlinks {
        let at = inside(root, Path::new(path));
        make_parent(&at)?;
        symlink(target, &at).ctx(|| format!("symlink {path} -> {target}"))?;
    }
    for (path, content) in &spec.files {
        let at = inside(root, Path::new(path));
        make_parent(&at)?;
        fs::write(&at, content).ctx(|| format!("writing {path}"))?;
    }
    build_dev(root, spec)?;

    let tmp = root.join("tmp");
    tmpfs(&tmp, spec.tmp_size, spec.tmpfs_inodes)?;
    let work = inside(root, Path::new(&spec.workdir));
    match workdir {
        Some(handle) => {
            mkdir(&work)?;
            workdir_tmpfs::attach(&handle, &work)?;
        }
        None if spec.workdir_handle => {
            return Err(SetupError("the workdir handle is missing".into()))
        }
        None => bind(&spec.workdir_host, &work, false)?,
    }
    mount_proc(&root.join("proc"))?;

    chdir(root).ctx(|| "chdir to the new root".into())?;
    // pivot_root(".", ".") stacks the old root under the new one; unmounting "." then drops it
    // (documented in pivot_root(2)), so no host path stays reachable.
    pivot_root(".", ".").ctx(|| "pivot_root".into())?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detaching the old root".into())?;
    chdir("/").ctx(|| "chdir /".into())?;
    mount(
        NONE,
        "/",
        NONE,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
        NONE,
    )
    .ctx(|| "remounting / read-only".into())
}

/// Mount a fresh procfs for the new pid namespace at `at` (by its PID 1, before pivot_root).
fn mount_proc(at: &Path) -> Result<(), SetupError> {
    mkdir(at)?;
    mount(
        Some("proc"),
        at,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        NONE,
    )
    .ctx(|| "mounting /proc".into())
}

fn build_dev(root: &Path, spec: &HelperSpec) -> Result<(), SetupError> {
    let dev = root.join("dev");
    mkdir(&dev)?;
    for name in DEVICES {
        bind(&Path::new("/dev").join(name), &dev.join(name), false)?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, dev.join(name)).ctx(|| format!("symlink /dev/{name}"))?;
    }
    tmpfs(&dev.join("shm"), spec.shm_size, spec.tmpfs_inodes)
}

/// Where host path `host` appears under the new root.
fn inside(root: &Path, host: &Path) -> PathBuf {
    root.join(host.strip_prefix("/").unwrap_or(host))
}

fn mkdir(path: &Path) -> Result<(), SetupError> {
    fs::create_dir_all(path).ctx(|| format!("creating {}", path.display()))
}

fn make_parent(path: &Path) -> Result<(), SetupError> {
    match path.parent() {
        Some(p) => mkdir(p),
        None => Ok(()),
    }
}

fn tmpfs(at: &Path, size: u64, inodes: u64) -> Result<(), SetupError> {
    mkdir(at)?;
    mount(
        Some("tmpfs"),
        at,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("size={size},nr_inodes={inodes},mode=1777").as_str()),
    )
    .ctx(|| format!("mounting a tmpfs on {}", at.display()))?;
    // The mode option is applied before the umask; make sure it is sticky and world-writable.
    fs::set_permissions(at, fs::Permissions::from_mode(0o1777))
        .ctx(|| format!("chmod {}", at.display()))
}

/// Bind `src` on `dst` (creating a file or directory to mount on), read-only when asked.
fn bind(src: &Path, dst: &Path, read_only: bool) -> Result<(), SetupError> {
    let meta = fs::metadata(src).ctx(|| format!("bind source {}", src.display()))?;
    if meta.is_dir() {
        mkdir(dst)?;
    } else {
        make_parent(dst)?;
        fs::File::create(dst).ctx(|| format!("creating mount point {}", dst.display()))?;
    }
    mount(
        Some(src),
        dst,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .ctx(|| format!("binding {}", src.display()))?;
    if !read_only {
        // Writable binds (devices, the workdir) keep their source's flags: the workdir tmpfs is
        // already nosuid,nodev, and clearing a flag would fail inside a user namespace.
        return Ok(());
    }
    read_only_recursive(dst).ctx(|| format!("remounting {} read-only", src.display()))
}

/// Make the bind at `dst` and every mount below it read-only, nosuid and nodev. A bind remount
/// only changes the one mount it names, so a host mount nested under a bound directory would stay
/// writable; mount_setattr(AT_RECURSIVE) (Linux 5.12) changes the whole tree at once, and older
/// kernels get the same by remounting each submount listed in mountinfo.
fn read_only_recursive(dst: &Path) -> nix::Result<()> {
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const MOUNT_ATTR_NOSUID: u64 = 0x2;
    const MOUNT_ATTR_NODEV: u64 = 0x4;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let path = std::ffi::CString::new(dst.as_os_str().as_encoded_bytes())
        .map_err(|_| nix::errno::Errno::EINVAL)?;
    // SAFETY: mount_setattr with a valid path and a mount_attr of the size we pass.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = nix::errno::Errno::last();
    if e != nix::errno::Errno::ENOSYS {
        return Err(e);
    }
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV;
    mount(NONE, dst, NONE, flags, NONE)?;
    for sub in submounts(dst) {
        mount(NONE, &sub, NONE, flags, NONE)?;
    }
    Ok(())
}

/// Mount points strictly below `dir`, from this mount namespace's mountinfo (field 5; octal
/// escapes such as `\040` for a space decoded).
fn submounts(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p != dir && p.starts_with(dir))
        .collect()
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
