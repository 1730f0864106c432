//! Network attacks against the real sandbox: TCP and UDP to listeners the test opens on
//! 127.0.0.1, DNS, raw sockets and abstract UNIX sockets (the host's and another run's) all fail,
//! and the listeners see nothing; every run has a network namespace of its own (no netlink
//! channel, no view of another run's sockets); socket families beyond UNIX and IP (netlink,
//! packet, vsock...) are refused in every profile, privileged included.

use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::time::Duration;

use coderunner_runner::RunStatus;
use coderunner_tests::safety_net::{self, run, run_request};

#[tokio::test]
async fn no_network_reaches_the_host() {
    let _g = safety_net::shared().await;
    let tcp = TcpListener::bind("127.0.0.1:0").expect("tcp listener");
    tcp.set_nonblocking(true).expect("nonblocking");
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    udp.set_nonblocking(true).expect("nonblocking");
    let abstract_name = format!("coderunner-test-{}", std::process::id());
    let unix = UnixListener::bind_addr(
        &SocketAddr::from_abstract_name(abstract_name.as_bytes()).expect("addr"),
    )
    .expect("abstract listener");
    unix.set_nonblocking(true).expect("nonblocking");
    let code = format!(
        "import socket\n\
         def attempt(name, f):\n\
         \x20   try:\n\
         \x20       f()\n\
         \x20       print('OK', name)\n\
         \x20   except OSError as e:\n\
         \x20       print('blocked', name, e.__class__.__name__)\n\
         attempt('tcp', lambda: socket.create_connection(('127.0.0.1', {tcp}), timeout=2))\n\
         def udp():\n\
         \x20   s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         \x20   s.sendto(b'hello', ('127.0.0.1', {udp}))\n\
         attempt('udp', udp)\n\
         attempt('dns', lambda: socket.getaddrinfo('example.com', 80))\n\
         attempt('outside', lambda: socket.create_connection(('1.1.1.1', 53), timeout=2))\n\
         attempt('raw', lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))\n\
         attempt('packet', lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))\n\
         def unix():\n\
         \x20   s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
         \x20   s.connect('\\0{abstract_name}')\n\
         attempt('abstract', unix)\n",
        tcp = tcp.local_addr().expect("addr").port(),
        udp = udp.local_addr().expect("addr").port(),
    );
    let o = run("python", &code).await;
    for name in ["tcp", "udp", "dns", "outside", "raw", "packet", "abstract"] {
        assert!(
            o.stdout.contains(&format!("blocked {name} ")),
            "{name} was not blocked: {o:?}"
        );
    }
    assert!(!o.stdout.contains("OK "), "{o:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(tcp.accept().is_err(), "the TCP listener saw a connection");
    let mut buf = [0u8; 64];
    assert!(
        udp.recv_from(&mut buf).is_err(),
        "the UDP socket received a datagram"
    );
    assert!(
        unix.accept().is_err(),
        "the abstract socket saw a connection"
    );
}

#[tokio::test]
async fn concurrent_runs_cannot_talk_over_abstract_sockets_or_loopback() {
    let _g = safety_net::shared().await;
    // Each run has its own empty network namespace (loopback down), and Landlock scopes abstract
    // sockets per run too, so neither is a channel between them.
    let server = tokio::spawn(run(
        "python",
        "import socket, select\n\
         a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
         a.bind('\\0coderunner-shared-netns-probe')\n\
         a.listen(1)\n\
         t = socket.socket()\n\
         t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         t.bind(('127.0.0.1', 45678))\n\
         t.listen(1)\n\
         print('listening', flush=True)\n\
         ready, _, _ = select.select([a, t], [], [], 3)\n\
         print('ACCEPTED' if ready else 'nobody')\n",
    ));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let client = run(
        "python",
        "import socket\n\
         s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
         try:\n\
         \x20   s.connect('\\0coderunner-shared-netns-probe')\n\
         \x20   print('CONNECTED abstract')\n\
         except OSError as e:\n\
         \x20   print('refused abstract', e.__class__.__name__)\n\
         try:\n\
         \x20   socket.create_connection(('127.0.0.1', 45678), timeout=2)\n\
         \x20   print('CONNECTED tcp')\n\
         except OSError as e:\n\
         \x20   print('refused tcp', e.__class__.__name__)\n",
    )
    .await;
    let server = server.await.expect("join");
    assert_eq!(server.stdout, "listening\nnobody\n", "{server:?}");
    assert!(
        client.stdout.contains("refused abstract") && client.stdout.contains("refused tcp"),
        "{client:?}"
    );
}

/// Prints, for each family, `name OK` or `name <errno>`; socketpair too.
const FAMILIES: &str = r#"
import socket, errno, ctypes
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, family, kind, proto=0):
    ctypes.set_errno(0)
    fd = libc.socket(family, kind, proto)
    e = ctypes.get_errno()
    print(name, 'OK' if fd >= 0 else errno.errorcode.get(e, e))
attempt('netlink_usersock', 16, socket.SOCK_RAW, 2)
attempt('netlink_route', 16, socket.SOCK_RAW, 0)
attempt('packet', 17, socket.SOCK_RAW, 0)
attempt('vsock', 40, socket.SOCK_STREAM, 0)
attempt('bluetooth', 31, socket.SOCK_STREAM, 0)
attempt('alg', 38, socket.SOCK_SEQPACKET, 0)
attempt('unix', 1, socket.SOCK_STREAM, 0)
attempt('inet', 2, socket.SOCK_STREAM, 0)
attempt('inet6', 10, socket.SOCK_DGRAM, 0)
sv = (ctypes.c_int * 2)()
for name, family in [('pair_vsock', 40), ('pair_netlink', 16), ('pair_unix', 1)]:
    ctypes.set_errno(0)
    r = libc.socketpair(family, socket.SOCK_STREAM, 0, sv)
    e = ctypes.get_errno()
    print(name, 'OK' if r == 0 else errno.errorcode.get(e, e))
"#;

fn check_families(o: &coderunner_runner::RunOutcome, profile: &str) {
    assert_eq!(o.status, RunStatus::Exited, "{profile}: {o:?}");
    let results: Vec<(&str, &str)> = o.stdout.lines().filter_map(|l| l.split_once(' ')).collect();
    assert_eq!(results.len(), 12, "{profile}: {o:?}");
    for (name, result) in results {
        let allowed = matches!(name, "unix" | "inet" | "inet6" | "pair_unix");
        let want = if allowed { "OK" } else { "EAFNOSUPPORT" };
        assert_eq!(result, want, "{profile}: socket family {name}: {o:?}");
    }
}

#[tokio::test]
async fn only_unix_and_ip_socket_families_exist_even_for_privileged_runs() {
    let _g = safety_net::shared().await;
    check_families(&run("python", FAMILIES).await, "default");
    // vsock is not network-namespaced: a privileged run (host network) must not get it either.
    let mut req = safety_net::request("python", FAMILIES);
    req.limits.network = true;
    check_families(&run_request(req).await, "privileged");
}

/// Wait until a run has written `name` in its workdir (seen from the host), up to 20 s.
async fn wait_for_workdir_file(name: &str) {
    let runs = std::path::Path::new(safety_net::SCRATCH).join("runs");
    let start = std::time::Instant::now();
    loop {
        let found = std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join(name).exists());
        if found {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the first run never got ready"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn concurrent_runs_have_separate_network_namespaces() {
    let _g = safety_net::shared().await;
    let tag = format!("netns{}", std::process::id());
    // Run A binds sockets that would show in a shared namespace's /proc/net, says it is ready
    // through a file in its workdir (which the test sees on the host), and stays a while.
    let first = tokio::spawn(run_request(safety_net::request(
        "python",
        &format!(
            "import socket, os, time\n\
             u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
             u.bind('\\0{tag}-abstract')\n\
             u.listen(1)\n\
             t = socket.socket()\n\
             t.bind(('0.0.0.0', 47391))\n\
             t.listen(1)\n\
             print('ns', os.readlink('/proc/self/ns/net'))\n\
             open('{tag}-ready', 'w').close()\n\
             time.sleep(3)\n"
        ),
    )));
    wait_for_workdir_file(&format!("{tag}-ready")).await;
    let second = run(
        "python",
        &format!(
            "import socket, os\n\
             print('ns', os.readlink('/proc/self/ns/net'))\n\
             unix = open('/proc/net/unix').read()\n\
             tcp = open('/proc/net/tcp').read()\n\
             print('sees_abstract', '{tag}' in unix)\n\
             print('sees_tcp', ':B91F' in tcp)\n\
             s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
             try:\n\
             \x20   s.connect('\\0{tag}-abstract')\n\
             \x20   print('connect OK')\n\
             except OSError as e:\n\
             \x20   print('connect', e.__class__.__name__)\n"
        ),
    )
    .await;
    let first = first.await.expect("join");
    let ns = |o: &coderunner_runner::RunOutcome| {
        o.stdout
            .lines()
            .find_map(|l| l.strip_prefix("ns "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no namespace in {o:?}"))
    };
    assert_ne!(
        ns(&first),
        ns(&second),
        "two concurrent runs share a network namespace"
    );
    assert!(
        second.stdout.contains("sees_abstract False\n")
            && second.stdout.contains("sees_tcp False\n"),
        "a run sees another run's sockets in /proc/net: {second:?}"
    );
    assert!(
        !second.stdout.contains("connect OK"),
        "a run reached another run's socket: {second:?}"
    );
    // The host's sockets are not visible either (the test's own listener).
    let host = std::net::TcpListener::bind("0.0.0.0:0").expect("listener");
    let port = format!(":{:04X}", host.local_addr().expect("addr").port());
    let o = run("python", "print(open('/proc/net/tcp').read())").await;
    assert!(
        !o.stdout.contains(&port),
        "the host's socket is visible: {o:?}"
    );
}

#[tokio::test]
async fn concurrent_runs_cannot_talk_over_netlink_usersock() {
    let _g = safety_net::shared().await;
    // NETLINK_USERSOCK unicast reaches any socket bound in the same network namespace by port
    // id; with a namespace per run and netlink refused by seccomp, neither the bind nor the send
    // is possible, and the listener receives nothing.
    let tag = format!("nl{}", std::process::id());
    let code = |role: &str| {
        format!(
            "import socket, os, time\n\
             role = '{role}'\n\
             try:\n\
             \x20   s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 2)\n\
             \x20   s.bind((4242 if role == 'listen' else 4243, 0))\n\
             \x20   print(role, 'socket OK')\n\
             except OSError as e:\n\
             \x20   print(role, 'socket', e.errno)\n\
             \x20   s = None\n\
             if role == 'listen':\n\
             \x20   open('{tag}-ready', 'w').close()\n\
             \x20   if s:\n\
             \x20       s.settimeout(3)\n\
             \x20       try:\n\
             \x20           print('RECEIVED', s.recv(100))\n\
             \x20       except OSError:\n\
             \x20           print('nothing')\n\
             \x20   else:\n\
             \x20       time.sleep(2)\n\
             elif s:\n\
             \x20   s.sendto(b'hello from another run', (4242, 0))\n\
             \x20   print('sent')\n"
        )
    };
    let listener = tokio::spawn(run_request(safety_net::request("python", &code("listen"))));
    wait_for_workdir_file(&format!("{tag}-ready")).await;
    let sender = run("python", &code("send")).await;
    let listener = listener.await.expect("join");
    for o in [&listener, &sender] {
        assert!(
            o.stdout.contains("socket 97"),
            "a netlink socket was created: {o:?}"
        );
        assert!(!o.stdout.contains("RECEIVED"), "{o:?}");
    }
}
