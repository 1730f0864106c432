//! Capabilities: the program starts with none, and can never regain any (empty bounding,
//! ambient and inheritable sets), the way bubblewrap and nsjail leave their children.

use super::SetupError;

/// Highest capability number the loop tries; the kernel answers EINVAL past its last one.
const MAX_CAP: libc::c_ulong = 63;

/// Empty the bounding set and the ambient set. Needs CAP_SETPCAP, so it runs before the uid
/// drop (root mode) or right after entering the nested user namespace (rootless).
pub(crate) fn drop_bounding_and_ambient() -> Result<(), SetupError> {
    bound_to_and_clear_ambient(&[])
}

/// Keep only `keep` (capability numbers) in the bounding, effective and permitted sets, with
/// empty ambient and inheritable sets: the warm pool's zygote (see exec.rs). Root's execve then
/// grants it exactly `keep` again, the bounding set capping what a uid-0 exec receives.
pub(crate) fn keep_only(keep: &[u32]) -> Result<(), SetupError> {
    bound_to_and_clear_ambient(keep)?;
    capset(keep.iter().fold(0u64, |m, k| m | 1u64 << k))
}

/// Drop every capability but `keep` from the bounding set, and empty the ambient set.
fn bound_to_and_clear_ambient(keep: &[u32]) -> Result<(), SetupError> {
    for cap in 0..=MAX_CAP {
        if keep.iter().any(|k| libc::c_ulong::from(*k) == cap) {
            continue;
        }
        // SAFETY: prctl with documented integer arguments.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINVAL) {
                break; // past the kernel's last capability
            }
            return Err(SetupError(format!(
                "dropping capability {cap} from the bounding set: {e}"
            )));
        }
    }
    // SAFETY: as above.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(SetupError(format!(
            "clearing the ambient capabilities: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Empty the effective, permitted and inheritable sets (leaving uid 0 clears the first two but
/// not the inheritable one; rootless, the nested user namespace's creator holds them all).
pub(crate) fn clear() -> Result<(), SetupError> {
    capset(0)
}

/// Set the effective and permitted sets to `mask` and empty the inheritable set.
fn capset(mask: u64) -> Result<(), SetupError> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        Data {
            effective: mask as u32,
            permitted: mask as u32,
            inheritable: 0,
        },
        Data {
            effective: (mask >> 32) as u32,
            permitted: (mask >> 32) as u32,
            inheritable: 0,
        },
    ];
    // SAFETY: capset with a valid v3 header and two data structs.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        return Err(SetupError(format!(
            "capset: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}
