//! Privilege attacks against the real sandbox: the program holds no capabilities, has
//! no_new_privs and a seccomp filter, and every escalation or escape syscall is refused.

use coderunner_runner::RunStatus;
use coderunner_tests::safety_net::{self, run};

#[tokio::test]
async fn no_capabilities_no_new_privs_seccomp_on() {
    let _g = safety_net::shared().await;
    let o = run("python", "import os\nprint(os.getuid(), os.geteuid(), os.getgid())\nprint(open('/proc/self/status').read())").await;
    let field = |k: &str| {
        o.stdout
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{k} missing in {o:?}"))
    };
    assert_eq!(field("CapEff:"), "0000000000000000");
    assert_eq!(field("CapPrm:"), "0000000000000000");
    // Nothing can be regained either: bounding, ambient and inheritable sets are empty.
    assert_eq!(field("CapBnd:"), "0000000000000000");
    assert_eq!(field("CapAmb:"), "0000000000000000");
    assert_eq!(field("CapInh:"), "0000000000000000");
    assert_eq!(field("NoNewPrivs:"), "1");
    assert_eq!(field("Seccomp:"), "2");
    let ids: Vec<u32> = o
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter()
            .all(|id| (safety_net::UIDS[0]..=safety_net::UIDS[1]).contains(id)),
        "{ids:?}"
    );
}

#[tokio::test]
async fn escape_and_escalation_syscalls_are_refused() {
    let _g = safety_net::shared().await;
    // Raw syscalls through ctypes, so no library can hide a failure.
    let code = r#"
import ctypes, os, errno
libc = ctypes.CDLL(None, use_errno=True)
def sys(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    e = ctypes.get_errno()
    print(name, 'OK' if r >= 0 else errno.errorcode.get(e, e))
buf = ctypes.create_string_buffer(b'/tmp')
tmpfs = ctypes.create_string_buffer(b'tmpfs')
sys('mount', 165, ctypes.addressof(tmpfs), ctypes.addressof(buf), ctypes.addressof(tmpfs), 0, 0)
sys('umount2', 166, ctypes.addressof(buf), 2)
sys('unshare_user', 272, 0x10000000)
sys('unshare_ns', 272, 0x00020000)
sys('setns', 308, 0, 0)
sys('clone_newuser', 56, 0x10000000 | 17, 0, 0, 0, 0)
sys('ptrace_traceme', 101, 0, 0, 0, 0)
sys('ptrace_attach', 101, 16, 1, 0, 0)
sys('keyctl', 250, 0, -3, 0)
sys('add_key', 248, 0, 0, 0, 0, 0)
sys('bpf', 321, 0, 0, 0)
sys('io_uring_setup', 425, 8, 0)
sys('perf_event_open', 298, 0, 0, -1, -1, 0)
sys('userfaultfd', 323, 0)
sys('chroot', 161, ctypes.addressof(buf))
sys('pivot_root', 155, ctypes.addressof(buf), ctypes.addressof(buf))
sys('setuid0', 105, 0)
sys('setgid0', 106, 0)
sys('personality', 135, 0x0400000)
sys('init_module', 175, 0, 0, 0)
sys('reboot', 169, 0xfee1dead, 672274793, 0x1234567, 0)
sys('x32_getpid', 0x40000000 | 39)
sys('open_by_handle_at', 304, 0, 0, 0)
sys('modify_ldt', 154, 0, 0, 0)
sys('mbind', 237, 0, 4096, 0, 0, 0, 0)
sys('set_mempolicy', 238, 0, 0, 0)
sys('migrate_pages', 256, 0, 8, 0, 0)
sys('move_pages', 279, 0, 0, 0, 0, 0, 0)
sys('process_madvise', 440, 0, 0, 0, 0, 0)
"#;
    let o = run("python", code).await;
    assert_eq!(o.status, RunStatus::Exited, "{o:?}");
    let results: Vec<(&str, &str)> = o.stdout.lines().filter_map(|l| l.split_once(' ')).collect();
    assert_eq!(results.len(), 29, "{o:?}");
    for (name, result) in &results {
        let expected: &[&str] = match *name {
            // clone3-style fallbacks and foreign ABIs report "no such call" rather than EPERM.
            "x32_getpid" => &["ENOSYS"],
            _ => &["EPERM", "EACCES"],
        };
        assert!(expected.contains(result), "{name} returned {result}: {o:?}");
    }
    // clone3 answers ENOSYS, so threads and subprocesses still work through clone(2).
    let o = run(
        "python",
        "import ctypes, threading, subprocess\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         print('clone3', libc.syscall(435, 0, 0), ctypes.get_errno())\n\
         t = threading.Thread(target=lambda: print('thread ran')); t.start(); t.join()\n\
         print(subprocess.run(['echo', 'subprocess ran'], capture_output=True, text=True).stdout.strip())",
    )
    .await;
    assert_eq!(
        o.stdout, "clone3 -1 38\nthread ran\nsubprocess ran\n",
        "{o:?}"
    );
}

#[tokio::test]
async fn pid_1_and_mountinfo_show_no_host_pid_or_path() {
    let _g = safety_net::shared().await;
    let o = run(
        "python",
        "import os\n\
         print(repr(open('/proc/1/cmdline', 'rb').read()))\n\
         print(open('/proc/self/mountinfo').read())\n\
         print('cwd', os.getcwd())\n",
    )
    .await;
    assert_eq!(o.status, RunStatus::Exited, "{o:?}");
    // The reaper's argv carries no pid (the helper learns its parent from the control socket).
    // In the warm pass PID 1 is the slot's reaper, a fork of the zygote, with the zygote's
    // command line (sandbox paths only).
    let cmdline = o.stdout.lines().next().unwrap_or_default();
    let expected = match safety_net::warm_mode() {
        false => "b'coderunner-sandbox\\x00run\\x00'",
        true => "b'/usr/bin/python3\\x00-s\\x00-B\\x00-u\\x00/work/.coderunner-zygote.py\\x00'",
    };
    assert_eq!(cmdline, expected, "{o:?}");
    let bot_pid = std::process::id().to_string();
    assert!(
        !cmdline.contains(&bot_pid),
        "the host pid {bot_pid} is visible: {cmdline}"
    );
    // Neither the scratch directory (where the root and workdirs live) nor the workdir's host path
    // appears in any mount's root, mount point or source.
    assert!(o.stdout.contains(" /work "), "no /work mount? {o:?}");
    for host_path in [safety_net::SCRATCH, "/runs/", "/root"] {
        assert!(
            !o.stdout.contains(host_path),
            "mountinfo shows the host path {host_path}: {}",
            o.stdout
        );
    }
}
