//! `coderunner serve` stops gracefully on SIGTERM: a run in flight finishes and is answered, then
//! the process exits successfully and stops accepting connections.

mod http_support;

use std::time::Duration;

use http_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_run_in_flight_finish() {
    let mut server = Server::start();
    let base = server.base.clone();
    let slow = program("sh", "main.sh", "sleep 2; echo finished");
    let client = client();
    let in_flight = tokio::spawn({
        let url = format!("{base}/v1/runs");
        let client = client.clone();
        async move {
            let resp = client
                .post(url)
                .bearer_auth(MEMBER_KEY)
                .json(&slow)
                .send()
                .await
                .expect("the in-flight run gets an answer");
            let status = resp.status().as_u16();
            (
                status,
                resp.json::<serde_json::Value>().await.expect("json"),
            )
        }
    });
    // Let the run start, then ask the server to stop.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    })
    .await
    .expect("terminate");
    let (exit, server) = status;
    let (code, json) = in_flight.await.expect("join");
    assert_eq!(code, 200, "{json}");
    assert_eq!(json["stdout"], "finished\n", "{json}");
    assert!(
        exit.success(),
        "serve exited with {exit:?}\n{}",
        server.log()
    );
    assert!(server.log().contains("SIGTERM"), "{}", server.log());
    let after = client.get(format!("{base}/healthz")).send().await;
    assert!(after.is_err(), "the server still answers after exiting");
}
