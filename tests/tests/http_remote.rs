//! The remote runner against real `coderunner serve` nodes on loopback: a gateway `serve` whose
//! config lists two nodes round-robins between them, fails over when one is killed, and reports
//! (rather than hides) the loss of both.

mod http_support;

use http_support::*;

fn runs_on(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("coderunner_runs_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn node_runs(node: &Server) -> f64 {
    let (status, text) = get(node, Some(ADMIN_KEY), "/metrics").await;
    assert_eq!(status, 200, "{text}");
    runs_on(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_and_failover_when_a_node_dies() {
    let mut node_a = Server::start();
    let node_b = Server::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    config.runner.remote = vec![remote_node(&node_a.base), remote_node(&node_b.base)];
    let gateway = Server::start_with(config, dir);

    let run = program("python", "main.py", "print(6 * 7)");
    for i in 0..4 {
        let (status, _, json) = post_run(&gateway, Some(MEMBER_KEY), "", &run).await;
        assert_eq!(status, 200, "run {i}: {json}\n{}", gateway.log());
        assert_eq!(json["stdout"], "42\n", "run {i}: {json}");
    }
    // Round-robin: both nodes did work, and the gateway ran nothing itself beyond forwarding.
    let (a, b) = (node_runs(&node_a).await, node_runs(&node_b).await);
    assert_eq!(a + b, 4.0, "a={a} b={b}");
    assert!(a >= 1.0 && b >= 1.0, "not round-robin: a={a} b={b}");

    // Output files travel back from the node.
    let files = program(
        "python",
        "main.py",
        "open('result.txt', 'w').write('from a node')\nprint('wrote')",
    );
    let (status, _, json) = post_run(&gateway, Some(MEMBER_KEY), "?files=inline", &files).await;
    assert_eq!(status, 200, "{json}");
    let file = json["files"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["path"] == "result.txt"))
        .unwrap_or_else(|| panic!("no result.txt: {json}"));
    assert_eq!(file["content_base64"], "ZnJvbSBhIG5vZGU=", "{json}");

    // Node A dies: every run still succeeds, on B.
    node_a.kill();
    let b_before = node_runs(&node_b).await;
    for i in 0..4 {
        let (status, _, json) = post_run(&gateway, Some(MEMBER_KEY), "", &run).await;
        assert_eq!(
            status,
            200,
            "after the kill, run {i}: {json}\n{}",
            gateway.log()
        );
        assert_eq!(json["stdout"], "42\n", "after the kill, run {i}: {json}");
    }
    assert_eq!(node_runs(&node_b).await - b_before, 4.0);
    assert!(
        gateway.log().contains("trying the next node"),
        "the failover was not logged:\n{}",
        gateway.log()
    );

    // Both dead: the run fails visibly, naming the nodes; it is never reported as a success.
    drop(node_b);
    let (status, _, json) = post_run(&gateway, Some(MEMBER_KEY), "", &run).await;
    let text = json.to_string();
    assert!(
        status != 200 || json["status"] == "sandbox_error",
        "a run with no live node looked fine: {status} {json}"
    );
    assert!(
        text.contains("127.0.0.1"),
        "the error does not name the nodes: {text}"
    );
}

/// A gateway (`serve` sending its runs to `node`) whose `default` profile is edited by `edit`.
fn gateway_to(node: &Server, edit: impl FnOnce(&mut coderunner_config::Profile)) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    edit(config.profiles.get_mut("default").expect("default profile"));
    config.runner.remote = vec![remote_node(&node.base)];
    Server::start_with(config, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_profile_travels_and_the_node_caps_each_limit() {
    // The node's key is an admin key: profile `default`, ceiling `data` (2 MiB of output).
    let node = Server::start();

    // Lower limits than the node's own: they hold there, not just wall time and memory.
    let tight = gateway_to(&node, |p| {
        p.output = coderunner_config::ByteSize::kib(2);
        p.file_size = coderunner_config::ByteSize::kib(4);
    });
    let code = "import sys\ntry:\n    open('big.bin', 'wb').write(b'y' * 8192)\n    print('wrote 8 KiB')\nexcept OSError as e:\n    print('file_size held:', e.errno)\nsys.stdout.flush()\nprint('x' * 10000)";
    let (status, _, json) = post_run(
        &tight,
        Some(MEMBER_KEY),
        "",
        &program("python", "main.py", code),
    )
    .await;
    assert_eq!(status, 200, "{json}\n{}", tight.log());
    let stdout = json["stdout"].as_str().unwrap_or_default();
    // RLIMIT_FSIZE: the write stops at 4 KiB (a short write, or EFBIG when nothing fits).
    let big = json["files"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["path"] == "big.bin"))
        .and_then(|f| f["size"].as_u64());
    assert!(
        stdout.contains("file_size held: 27") || big.is_some_and(|size| size <= 4096),
        "the 4 KiB file limit held on the node (big.bin: {big:?}, status {})",
        json["status"]
    );
    assert_eq!(
        json["truncated"], true,
        "the 2 KiB output cap held on the node (status {})",
        json["status"]
    );
    assert!(stdout.len() <= 2048, "{} bytes of stdout", stdout.len());

    // Higher limits than the node's tier allows: each is cut to the ceiling, not refused.
    let greedy = gateway_to(&node, |p| {
        p.output = coderunner_config::ByteSize::mib(64);
    });
    let code = "import sys\nsys.stdout.write('z' * (3 << 20))";
    let (status, _, json) = post_run(
        &greedy,
        Some(MEMBER_KEY),
        "",
        &program("python", "main.py", code),
    )
    .await;
    assert_eq!(status, 200, "{json}\n{}", greedy.log());
    let got = json["stdout"].as_str().unwrap_or_default().len();
    assert_eq!(json["truncated"], true, "more than the ceiling is cut");
    assert!(
        got > (1 << 20) && got <= (2 << 20),
        "the node's ceiling (2 MiB) applies, not its default (1 MiB) nor the 64 MiB asked: {got}"
    );
}

/// A "node" that answers every request with 200 and then an endless body.
async fn endless_node() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"stdout\": \"";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 1 << 20];
                // 1 GiB at most, so a broken test cannot run forever.
                for _ in 0..1024 {
                    if sock.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_answering_without_end_is_cut_off() {
    let node = endless_node().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    config.runner.remote = vec![remote_node(&node)];
    let gateway = Server::start_with(config, dir);
    let started = std::time::Instant::now();
    let (status, _, json) = post_run(
        &gateway,
        Some(MEMBER_KEY),
        "",
        &program("python", "main.py", "print(1)"),
    )
    .await;
    let text = json.to_string();
    assert!(
        status != 200 || json["status"] == "sandbox_error",
        "an endless answer looked fine: {status} {text}"
    );
    // The outcome's error names the cap (the gateway's log line may be written after the reply).
    assert!(
        text.contains("more than") && text.contains("bytes"),
        "the cap is what stopped it: {text}\n{}",
        gateway.log()
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn plain_http_to_another_machine_is_refused_unless_insecure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    config.runner.remote = vec![remote_node("http://192.0.2.10:8080")];
    let path = write_config(config.clone(), dir.path());
    let check = |path: &std::path::Path| {
        std::process::Command::new(coderunner_tests::harness::coderunner_bin())
            .arg("check-config")
            .arg(path)
            .output()
            .expect("check-config runs")
    };
    let out = check(&path);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("config.runner.remote[0].url")
            && said.contains("insecure: true")
            && said.contains("https://"),
        "{said}"
    );
    // `serve` refuses to start with it too, rather than sending keys in clear text.
    let mut serve = std::process::Command::new(coderunner_tests::harness::coderunner_bin())
        .arg("--config")
        .arg(&path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CR_TEST_ADMIN_KEY", ADMIN_KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve runs");
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let exited = loop {
        if let Ok(Some(status)) = serve.try_wait() {
            break Some(status);
        }
        if std::time::Instant::now() > end {
            let _ = serve.kill();
            let _ = serve.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        exited.is_some_and(|s| !s.success()),
        "serve started with a plain-http node: {exited:?}"
    );

    config.runner.remote[0].insecure = true;
    let path = write_config(config, dir.path());
    let out = check(&path);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
