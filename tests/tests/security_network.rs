//! Network attacks against the real sandbox: TCP and UDP to listeners the test opens on
//! 127.0.0.1, DNS, raw sockets and abstract UNIX sockets (the host's and another run's) all fail,
//! and the listeners see nothing.

use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::time::Duration;

use coderunner_tests::safety_net::{self, run};

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
    // Runs share one pre-made empty network namespace: its loopback is down and Landlock scopes
    // abstract sockets per run, so neither is a channel between them.
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
