//! The seccomp policy of sandboxed programs, compiled once per LocalRunner and applied by the helper.
//!
//! Five stacked filters (the kernel runs all of them and the strictest answer wins):
//! 1. a deny list returning EPERM: mount family, namespaces, ptrace, bpf, keys, io_uring, perf,
//!    userfaultfd, modules, kexec, reboot, swap, chroot, handle-based opens, NUMA and LDT calls,
//!    `clone` with any `CLONE_NEW*` flag and `personality` with anything but the harmless personas;
//! 2. `clone3` returns ENOSYS, so glibc falls back to `clone(2)`, whose flags filter 1 can see
//!    (seccomp cannot inspect clone3's struct argument);
//! 3. `socket` and `socketpair` with any family but AF_UNIX, AF_INET and AF_INET6 return
//!    EAFNOSUPPORT, in every profile: netlink and packet sockets reach kernel subsystems (and,
//!    for NETLINK_USERSOCK, other processes), and AF_VSOCK is not network-namespaced at all, so on
//!    a VM host it would reach the hypervisor's services even from a run without network;
//! 4. a hand-written filter returning ENOSYS for every x32 syscall number (`nr | 0x40000000`),
//!    which seccompiler's architecture check does not catch and a deny list would miss;
//! 5. EPERM for mount, umount2, move_mount, unshare and setns, kept apart from filter 1 so that
//!    the warm pool's zygote can apply filters 1-4 to itself (filter 1 then still refuses
//!    `unshare` with CLONE_NEWUSER and `setns` into anything but a pid namespace) and its slots,
//!    which mount and unshare, add filter 5 before they run anything of the user's.

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

/// Why the policy could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the seccomp policy failed: {0}")]
pub struct SeccompError(String);

/// Syscalls a sandboxed program never needs and that widen the kernel attack surface or could
/// undo the sandbox. Every one returns EPERM.
const DENIED: &[i64] = &[
    // mount family and root changes
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    // namespaces
    libc::SYS_unshare,
    libc::SYS_setns,
    // tracing and other processes' memory
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    // kernel programmability and keys
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    // handles that bypass path checks
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    // machine administration
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_fanotify_init,
    libc::SYS_lookup_dcookie,
    libc::SYS_uselib,
    // old attack surface (LDT) and other processes' or the machine's memory placement; Docker's
    // default profile refuses them too
    libc::SYS_modify_ldt,
    libc::SYS_mbind,
    libc::SYS_set_mempolicy,
    libc::SYS_migrate_pages,
    libc::SYS_move_pages,
    libc::SYS_process_madvise,
];

/// Socket families a sandboxed program may create; every other one gets EAFNOSUPPORT.
const ALLOWED_SOCKET_FAMILIES: &[u64] = &[
    libc::AF_UNIX as u64,
    libc::AF_INET as u64,
    libc::AF_INET6 as u64,
];

/// `CLONE_NEW*` flags that create namespaces (CLONE_NEWTIME shares its bit with the exit signal
/// in clone(2), and is only reachable through clone3/unshare, both blocked).
const CLONE_NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
];

/// Personas a program may switch to (what Docker's default profile allows): PER_LINUX,
/// PER_LINUX32, UNAME26 variants and the query value. Others (READ_IMPLIES_EXEC,
/// ADDR_NO_RANDOMIZE...) weaken exploit mitigations.
const ALLOWED_PERSONAS: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The x32 ABI bit of x86_64 syscall numbers.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn err(e: impl std::fmt::Display) -> SeccompError {
    SeccompError(e.to_string())
}

/// What the warm pool's zygote needs from [`DENIED`]: the namespaces and mounts each slot it
/// forks builds before confining itself (runner/src/zygote/zygote.py). `unshare` is then refused
/// with `CLONE_NEWUSER` and `setns` for any namespace but a pid namespace, the only ones used.
const ZYGOTE_NEEDS: &[i64] = &[
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_move_mount,
    libc::SYS_unshare,
    libc::SYS_setns,
];

/// The deny list less `allowed` ([`ZYGOTE_NEEDS`], refused by a later filter), which are
/// narrowed instead to what the zygote uses.
fn deny_filter(allowed: &[i64]) -> Result<BpfProgram, SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED
        .iter()
        .filter(|nr| !allowed.contains(nr))
        .map(|nr| (*nr, Vec::new()))
        .collect();
    if allowed.contains(&libc::SYS_unshare) {
        let newuser = libc::CLONE_NEWUSER as u64;
        rules.insert(
            libc::SYS_unshare,
            vec![SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(newuser),
                newuser,
            )
            .map_err(err)?])
            .map_err(err)?],
        );
    }
    if allowed.contains(&libc::SYS_setns) {
        rules.insert(
            libc::SYS_setns,
            vec![SeccompRule::new(vec![SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                libc::CLONE_NEWPID as u64,
            )
            .map_err(err)?])
            .map_err(err)?],
        );
    }
    let clone_rules = CLONE_NAMESPACE_FLAGS
        .iter()
        .map(|flag| {
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(*flag),
                *flag,
            )
            .map_err(err)?])
            .map_err(err)
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    let persona_conditions = ALLOWED_PERSONAS
        .iter()
        .map(|p| SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, *p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    rules.insert(
        libc::SYS_personality,
        vec![SeccompRule::new(persona_conditions).map_err(err)?],
    );
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TargetArch::x86_64,
    )
    .map_err(err)?
    .try_into()
    .map_err(err)
}

fn clone3_filter() -> Result<BpfProgram, SeccompError> {
    SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        TargetArch::x86_64,
    )
    .map_err(err)?
    .try_into()
    .map_err(err)
}

/// A family outside [`ALLOWED_SOCKET_FAMILIES`] (first argument of socket and socketpair) gets
/// EAFNOSUPPORT, the answer of a kernel built without it, which programs handle gracefully.
fn socket_family_filter() -> Result<BpfProgram, SeccompError> {
    let not_allowed = || {
        ALLOWED_SOCKET_FAMILIES
            .iter()
            .map(|f| SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, *f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)
            .and_then(|c| SeccompRule::new(c).map_err(err))
    };
    SeccompFilter::new(
        [
            (libc::SYS_socket, vec![not_allowed()?]),
            (libc::SYS_socketpair, vec![not_allowed()?]),
        ]
        .into_iter()
        .collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EAFNOSUPPORT as u32),
        TargetArch::x86_64,
    )
    .map_err(err)?
    .try_into()
    .map_err(err)
}

/// ld [nr]; jge 0x40000000 ? errno(ENOSYS) : allow. Runs after the arch check of the other
/// filters, which kill any non-x86_64 arch.
fn x32_filter() -> BpfProgram {
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JGE_K: u16 = 0x35;
    const BPF_RET_K: u16 = 0x06;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    vec![
        sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0, // offsetof(struct seccomp_data, nr)
        },
        sock_filter {
            code: BPF_JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ALLOW,
        },
    ]
}

/// Filters of [`compile_policy`] the warm pool's zygote applies to itself: all but the last, which
/// refuses the namespace and mount calls its slots still make before confining themselves. Each
/// slot applies the rest, so a warm run ends up with the very filters of a cold run, in the same
/// order (even `Seccomp_filters` in /proc/self/status is the same).
pub(crate) const ZYGOTE_FILTERS: usize = 4;

/// The whole policy, packed for the helper spec: the deny list less [`ZYGOTE_NEEDS`], clone3,
/// socket families, x32, and last the deny list's [`ZYGOTE_NEEDS`] (see [`ZYGOTE_FILTERS`]).
pub fn compile_policy() -> Result<Vec<Vec<u64>>, SeccompError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SeccompError(
            "the seccomp policy is written for x86_64 only".into(),
        ));
    }
    Ok([
        deny_filter(ZYGOTE_NEEDS)?,
        clone3_filter()?,
        socket_family_filter()?,
        x32_filter(),
        namespace_and_mount_filter()?,
    ]
    .iter()
    .map(|p| pack(p))
    .collect())
}

/// EPERM for every call of [`ZYGOTE_NEEDS`].
fn namespace_and_mount_filter() -> Result<BpfProgram, SeccompError> {
    SeccompFilter::new(
        ZYGOTE_NEEDS.iter().map(|nr| (*nr, Vec::new())).collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TargetArch::x86_64,
    )
    .map_err(err)?
    .try_into()
    .map_err(err)
}

/// Pack instructions as `code | jt << 16 | jf << 24 | k << 32`.
pub fn pack(program: &[sock_filter]) -> Vec<u64> {
    program
        .iter()
        .map(|i| {
            u64::from(i.code) | u64::from(i.jt) << 16 | u64::from(i.jf) << 24 | u64::from(i.k) << 32
        })
        .collect()
}

/// Inverse of [`pack`].
pub fn unpack(packed: &[u64]) -> BpfProgram {
    packed
        .iter()
        .map(|w| sock_filter {
            code: (*w & 0xffff) as u16,
            jt: ((*w >> 16) & 0xff) as u8,
            jf: ((*w >> 24) & 0xff) as u8,
            k: (*w >> 32) as u32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_compiles_and_packs_losslessly() {
        let policy = compile_policy().expect("policy");
        assert_eq!(policy.len(), ZYGOTE_FILTERS + 1);
        for packed in &policy {
            assert!(!packed.is_empty());
            assert_eq!(pack(&unpack(packed)), *packed);
        }
    }
}
