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
