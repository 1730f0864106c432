# The Python zygote of coderunner's warm pool (runner/src/zygote). Started by the sandbox helper
# like a run's program (own namespaces, read-only root, cgroup, empty environment, no network,
# no_new_privs, seccomp) but as uid 0 with four capabilities (CAP_SYS_ADMIN, CAP_SETUID,
# CAP_SETGID, CAP_SETPCAP) and a seccomp policy that allows mount/unshare/setns, which it needs
# only to confine its children (runner/src/helper/exec.rs, zygote_exec). It imports the
# preload list once, freezes its heap, then forks one child per pool slot. It never runs user
# code, and it holds no secret and no file of any run.
#
# Per slot (a request on fd 3, a SOCK_SEQPACKET socket to coderunner, with four fds: the slot's
# socket, the run's stdout and stderr pipes, and the workdir as a detached mount):
#   C = PID 1 of a new pid namespace: says hello (coderunner reads its host pid from the
#       socket's credentials and moves it into the run's cgroup), waits for "attached", unshares
#       mount/net/ipc/uts/cgroup namespaces, mounts /proc, /tmp, /dev/shm, the workdir at /work
#       and the run's /etc/passwd, then forks P and reaps until P ends (its exit kills the rest).
#   P = the program: new session, rlimits, no capabilities, the run's uid, Landlock,
#       no_new_privs, seccomp; says "ready" and waits for "go" (argv, environment, stdin fd).
#       Then it runs main.py exactly as `python3 -E -s -B -u main.py ARGS` would, or execve()s
#       the language's command (node, bash, or Python when the preload failed).
#       A notebook session's "go" carries the kernel's source instead, run as `python3 -c`
#       would run it on the session socket (run_session).
import ctypes
import gc
import json
import os
import resource
import signal
import socket
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
WALL = 0x40000000  # __WALL: wait for children of every kind, clone children too
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_CAPBSET_DROP = 1, 22, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
SECCOMP_MODE_FILTER = 2
SYS_CAPSET, SYS_CLOSE_RANGE, SYS_MOVE_MOUNT = 126, 436, 429
SYS_LANDLOCK_CREATE, SYS_LANDLOCK_ADD, SYS_LANDLOCK_RESTRICT = 444, 445, 446
MOVE_MOUNT_F_EMPTY_PATH = 4
CLOSE_RANGE_CLOEXEC = 4
AT_FDCWD = -100
CONTROL = 3
MAX_MSG = 1 << 20


class SetupError(Exception):
    pass


def check(rc, what):
    if rc < 0:
        e = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(e)}")
    return rc


def b(s):
    return s.encode() if isinstance(s, str) else s


def mount(src, target, fstype, flags, data=None):
    check(libc.mount(b(src), b(target), b(fstype) if fstype else None, flags,
                     b(data) if data else None), f"mount {target}")


def umount(target):
    check(libc.umount2(b(target), MNT_DETACH), f"umount {target}")


def unshare(flags, what):
    check(libc.unshare(flags), what)


def prctl(option, arg2=0, arg3=0, what="prctl"):
    return check(libc.prctl(option, arg2, arg3, 0, 0), what)


def send(sock, obj, fds=()):
    data = json.dumps(obj).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


# ---------------------------------------------------------------- the slot's child C (reaper)

def tmpfs(at, size, inodes, mode="1777"):
    mount("tmpfs", at, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},nr_inodes={inodes},mode={mode}")
    os.chmod(at, int(mode, 8))


def build_run_mounts(spec, tree_fd):
    """C, in its fresh mount namespace: the run's own /etc/passwd and /etc/group, /proc,
    /tmp, /dev/shm and workdir, in place of the zygote's."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # /etc/passwd and /etc/group naming the run's uid: written on a scratch tmpfs, bound
    # read-only over the zygote's, and the scratch tmpfs detached again.
    umount("/tmp")
    tmpfs("/tmp", 1 << 16, 16, "0755")
    for name, content in spec["etc"]:
        scratch = "/tmp/" + os.path.basename(name)
        with open(scratch, "w") as f:
            f.write(content)
        mount(scratch, name, None, MS_BIND)
        mount(None, name, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    umount("/tmp")
    tmpfs("/tmp", spec["tmp_size"], spec["inodes"])
    umount("/dev/shm")
    tmpfs("/dev/shm", spec["shm_size"], spec["inodes"])
    umount("/proc")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    umount("/work")
    check(libc.syscall(SYS_MOVE_MOUNT, tree_fd, b"", AT_FDCWD, b"/work", MOVE_MOUNT_F_EMPTY_PATH),
          "move_mount (workdir)")
    os.close(tree_fd)
    for path in spec["unmount"]:
        umount(path)


def slot_child(spec, sock, out_w, err_w, tree_fd):
    """C: PID 1 of the run's pid namespace. Returns only in P, with its go message."""
    report = {"kind": "setup_error", "message": "the slot ended early"}
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.close(CONTROL)
        send(sock, {"kind": "hello"})
        if sock.recv(64) != b"attached":
            os._exit(0)  # coderunner dropped the slot
        unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP,
                "unshare (run namespaces)")
        build_run_mounts(spec, tree_fd)
        # A rehearsal, before the run: this fork of the zygote copies (copy-on-write) the pages
        # its last words touch now rather than after the program's end, on the run's path.
        last_words({"kind": "exited", "code": 0})
        pid = os.fork()
        if pid == 0:
            return program(spec, sock, out_w, err_w)
        os.close(out_w)
        os.close(err_w)
        while True:
            try:
                got, status = os.waitpid(-1, WALL)
            except ChildProcessError:
                report = {"kind": "setup_error", "message": "the program vanished"}
                break
            except InterruptedError:
                continue
            if got == pid:
                if os.WIFSIGNALED(status):
                    report = {"kind": "signaled", "signal": os.WTERMSIG(status)}
                else:
                    report = {"kind": "exited", "code": os.WEXITSTATUS(status)}
                break
    except SetupError as e:
        report = {"kind": "setup_error", "message": str(e)}
    except BaseException as e:  # noqa: BLE001 - whatever it was, the parent must hear of it
        report = {"kind": "setup_error", "message": f"slot set-up: {e!r}"}
    try:
        alone, packet = last_words(report)
        sock.send(packet)
        if alone:
            # Exit when coderunner lets go of the slot (it closes the socket, or kills this
            # process with the slot's cgroup) once the run is answered: the exit tears down a
            # copy of the zygote's address space and the run's namespaces, milliseconds of CPU
            # the answer must not compete with on a small host. Nothing of the run is left.
            sock.recv(1)
    finally:
        os._exit(0)


def last_words(report):
    """C, once the program ended: how it ended, the usage of everything reaped, and whether
    nothing else of the run is left, one report per line in one packet (each packet wakes
    coderunner, and on a small host every wake-up shows in the run's time)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    end = [report, {"kind": "usage", "max_rss_kib": int(ru.ru_maxrss),
                    "user_us": int(ru.ru_utime * 1e6), "system_us": int(ru.ru_stime * 1e6)}]
    alone = nothing_left()
    if alone:
        end.append({"kind": "alone"})
    return alone, "\n".join(json.dumps(r) for r in end).encode()


def nothing_left():
    """C, after the program ended: whether no other process of the run exists (every child,
    of any kind, reaped; orphans of the run are C's children). Then coderunner need not wait
    for C's own exit, which tears down a copy of the zygote's address space. When something is
    left, C's exit kills it and coderunner waits for that exit, as before."""
    while True:
        try:
            got, _ = os.waitpid(-1, os.WNOHANG | WALL)
        except ChildProcessError:
            return True
        except InterruptedError:
            continue
        if got == 0:
            return False


# ---------------------------------------------------------------- the program P

def drop_capabilities():
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == 22:  # EINVAL: past the kernel's last capability
                break
            raise SetupError(f"dropping capability {cap}: {os.strerror(ctypes.get_errno())}")
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, what="clearing ambient capabilities")


def clear_capabilities():
    header = struct.pack("<Ii", 0x20080522, 0)
    data = bytes(24)
    check(libc.syscall(SYS_CAPSET, ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")


LL_EXECUTE, LL_WRITE_FILE, LL_READ_FILE, LL_READ_DIR = 1, 2, 4, 8
LL_TRUNCATE, LL_IOCTL_DEV = 1 << 14, 1 << 15
LL_FILE = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV
LL_READ = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR


def landlock(rules):
    """The same ruleset as the helper's (runner/src/helper/landlock.rs), best effort by ABI."""
    abi = libc.syscall(SYS_LANDLOCK_CREATE, None, 0, 1)
    if abi < 1:
        return "not_enforced"
    handled = (1 << {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)) - 1
    scoped = 3 if abi >= 6 else 0
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    attr = struct.pack("<QQQ", handled, 0, scoped)[:size]
    rs = check(libc.syscall(SYS_LANDLOCK_CREATE, ctypes.c_char_p(attr), size, 0),
               "landlock_create_ruleset")
    try:
        for paths, access in ((rules["read"], LL_READ),
                              (rules["write_files"], LL_READ | LL_WRITE_FILE),
                              (rules["write_dirs"], handled)):
            for path in paths:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                try:
                    allowed = access & handled
                    if not os.path.isdir(f"/proc/self/fd/{fd}"):
                        allowed &= LL_FILE
                    rule = struct.pack("<Qi", allowed, fd)
                    check(libc.syscall(SYS_LANDLOCK_ADD, rs, 1, ctypes.c_char_p(rule), 0),
                          f"landlock rule for {path}")
                finally:
                    os.close(fd)
        prctl(PR_SET_NO_NEW_PRIVS, 1, what="PR_SET_NO_NEW_PRIVS")
        check(libc.syscall(SYS_LANDLOCK_RESTRICT, rs, 0), "landlock_restrict_self")
    finally:
        os.close(rs)
    return "fully_enforced" if abi >= 6 else "partially_enforced"


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp(programs):
    prctl(PR_SET_NO_NEW_PRIVS, 1, what="PR_SET_NO_NEW_PRIVS")
    for words in programs:
        buf = ctypes.create_string_buffer(struct.pack(f"<{len(words)}Q", *words))
        prog = SockFprog(len(words), ctypes.cast(buf, ctypes.c_void_p))
        check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                         ctypes.cast(ctypes.pointer(prog), ctypes.c_void_p).value, 0, 0),
              "installing seccomp")


def program(spec, sock, out_w, err_w):
    """P: confine, say ready, wait for go, then run. Returns only into the run of main.py."""
    try:
        os.setsid()
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        prestart = spec.get("prestart")
        go_r = None
        if prestart is not None:
            go_r = prestart_fds(sock, prestart)
        for name, soft, hard in spec["rlimits"]:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        drop_capabilities()
        os.setgroups([])
        uid, gid = spec["uid"], spec["gid"]
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        clear_capabilities()
        os.chdir("/work")
        if spec["landlock"] is not None:
            send(sock, {"kind": "landlock", "status": landlock(spec["landlock"])})
        prctl(PR_SET_NO_NEW_PRIVS, 1, what="PR_SET_NO_NEW_PRIVS")
        seccomp(spec["seccomp"])
        if prestart is not None:
            exec_prestart(prestart, sock, go_r)
        send(sock, {"kind": "ready"})
        msg, fds, _, _ = socket.recv_fds(sock, MAX_MSG, 1)
        if not msg:
            os._exit(0)  # the slot was dropped unused
        go = json.loads(msg)
        if fds:
            os.dup2(fds[0], 0)
            os.close(fds[0])
        os.environ.clear()
        os.environ.update(dict(go["env"]))
        if go["mode"] == "exec":
            # Every fd but stdio closes on exec; the slot socket stays open for an error report.
            libc.syscall(SYS_CLOSE_RANGE, 3, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
            try:
                os.execve(go["argv"][0], go["argv"], dict(go["env"]))
            except OSError as e:
                raise SetupError(f"cannot execute {go['argv'][0]}: {e.strerror}")
        sock.close()
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        return go
    except BaseException as e:  # noqa: BLE001
        msg = str(e) if isinstance(e, SetupError) else f"program set-up: {e!r}"
        try:
            send(sock, {"kind": "setup_error", "message": msg})
        finally:
            os._exit(127)


def prestart_fds(sock, prestart):
    """A pre-started program's stdin: the memfd a cold run's helper would make (same name and
    flags), in place on fd 0 before the program starts; and for bash, a pipe to read "go" from.
    coderunner gets the memfd (to fill and seal at go) and the pipe's write end."""
    fd = os.memfd_create("stdin", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    go_r = go_w = None
    if prestart.get("go_fd") is not None:
        go_r, go_w = os.pipe()
    send(sock, {"kind": "stdin"}, [fd] + ([go_w] if go_w is not None else []))
    os.dup2(fd, 0)
    os.close(fd)
    if go_w is not None:
        os.close(go_w)
    return go_r


def exec_prestart(prestart, sock, go_r):
    """A node or bash slot (runner/src/pool/prestart.rs): exec the program now, confined as
    the run will be, with the slot socket on prestart["control_fd"] (and bash's go pipe on
    prestart["go_fd"]) for its preload, which says ready, waits for go and closes them before
    main.js or main.sh runs."""
    libc.syscall(SYS_CLOSE_RANGE, 3, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
    for have, want in ((sock.fileno(), prestart["control_fd"]), (go_r, prestart.get("go_fd"))):
        if want is None:
            continue
        if have == want:
            os.set_inheritable(want, True)
        else:
            os.dup2(have, want, inheritable=True)
        os.set_blocking(want, True)
    try:
        os.execve(prestart["argv"][0], prestart["argv"], dict(prestart["env"]))
    except OSError as e:
        raise SetupError(f"cannot execute {prestart['argv'][0]}: {e.strerror}")


# ---------------------------------------------------------------- the zygote Z

def reap(*_):
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def preload(modules):
    for name in modules:
        try:
            __import__(name)
            if name == "matplotlib":
                import matplotlib
                matplotlib.use("Agg")
                import matplotlib.pyplot  # noqa: F401  (pyplot and its font list: the slow part)
        except BaseException as e:  # noqa: BLE001 - a broken module must not kill the zygote
            return f"importing {name}: {type(e).__name__}: {e}"
    return None


def serve():
    """Z's loop. Returns only in a program P, with its go message."""
    ctl = socket.socket(fileno=CONTROL)
    init = json.loads(ctl.recv(MAX_MSG))
    failed = preload(init["preload"])
    gc.collect()
    gc.freeze()
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, reap)
    send(ctl, {"kind": "zygote", "preload_error": failed,
               "modules": sorted(m for m in sys.modules if "." not in m)})
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, MAX_MSG, 4)
        except InterruptedError:
            continue
        if not msg:
            os._exit(0)  # coderunner closed the channel: retire
        spec = json.loads(msg)
        if len(fds) != 4:
            for fd in fds:
                os.close(fd)
            continue
        slot_fd, out_w, err_w, tree_fd = fds
        sock = socket.socket(fileno=slot_fd)
        try:
            unshare(CLONE_NEWPID, "unshare (pid)")
            pid = os.fork()
        except (SetupError, OSError) as e:
            send(sock, {"kind": "setup_error", "message": f"forking the slot: {e}"})
            pid = -1
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(own_pidns)
            ctl.detach()
            return slot_child(spec, sock, out_w, err_w, tree_fd)
        check(libc.setns(own_pidns, CLONE_NEWPID), "setns (own pid namespace)")
        sock.close()
        for fd in (out_w, err_w, tree_fd):
            os.close(fd)


def run_main(go):
    """Run /work/main.py as `python3 main.py` does: a fresh __main__, its argv, sys.path[0],
    tracebacks that start in main.py, and SystemExit's exit codes."""
    import builtins
    import random
    import types
    from importlib.machinery import SourceFileLoader

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # Everything seeded at import time is reseeded, so no two runs share "random" values.
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    path = go["path"]
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__cached__ = None
    main.__loader__ = SourceFileLoader("__main__", path)
    main.__spec__ = None
    main.__package__ = None
    main.__builtins__ = builtins
    main.__annotations__ = {}
    sys.modules["__main__"] = main
    sys.argv = list(go["args"])
    sys.path[0] = os.path.dirname(path)
    try:
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, main.__dict__)  # noqa: S102 - this is the run
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        try:
            sys.stderr.write(f"{code}\n")
        except Exception:  # noqa: BLE001
            pass
        return 1
    except BaseException as e:  # noqa: BLE001 - what the interpreter does with it
        tb = e.__traceback__
        tb = tb.tb_next if tb is not None else None  # drop this frame
        e.__traceback__ = tb  # what the default excepthook prints from
        try:
            sys.excepthook(type(e), e, tb)
        except Exception:  # noqa: BLE001
            pass
        if isinstance(e, KeyboardInterrupt):
            for s in (sys.stdout, sys.stderr):
                try:
                    s.flush()
                except Exception:  # noqa: BLE001
                    pass
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        return 1
    return 0


def run_session(go):
    """A notebook session's kernel (runner/src/session/kernel.py, sent in `go`) in this fork, as
    `python3 -c KERNEL` runs it in a cold session: argv ['-c'], '' first on the import path,
    the session socket as fd 0. Returns when the host closes the socket."""
    import builtins
    import random

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # Everything seeded at import time is reseeded, so no two sessions share "random" values.
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    sys.argv = ["-c"]
    sys.path[0] = ""
    code = compile(go["code"], "<string>", "exec", dont_inherit=True)
    exec(code, {"__name__": "__main__", "__builtins__": builtins})  # noqa: S102 - the kernel
    return 0


def finish(code):
    """The interpreter's exit, less its module teardown (which, with the preloaded modules,
    costs far more than the run): non-daemon threads are joined, atexit handlers run, the run's
    globals are released (so files it left open are flushed and closed) and stdio is flushed,
    with CPython's status 120 when flushing stdout fails."""
    import atexit
    import threading

    try:
        threading._shutdown()
    except BaseException:  # noqa: BLE001
        pass
    atexit._run_exitfuncs()
    main = sys.modules.get("__main__")
    if main is not None:
        main.__dict__.clear()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # noqa: BLE001
            if stream is sys.stdout and code == 0:
                code = 120
    try:
        code = int(code)
    except (TypeError, OverflowError):
        code = 1
    os._exit(code & 0xFF)


_go = serve()
del serve, slot_child, last_words, program, build_run_mounts, prestart_fds, exec_prestart
finish(run_session(_go) if _go["mode"] == "session" else run_main(_go))
