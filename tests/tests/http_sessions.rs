//! Notebook sessions over HTTP (`/v1/sessions`) through a real `coderunner serve`: state across
//! cells, displays, order of concurrent cells, timeouts, another key's 404, parking on
//! `max_live` and across a restart; and the same with the server's warm pool on (its sessions
//! fork from the Python zygote).

mod http_support;

use http_support::*;
use serde_json::{json, Value};

async fn create(server: &Server, key: &str) -> String {
    let resp = client()
        .post(server.url("/v1/sessions"))
        .bearer_auth(key)
        .json(&json!({"language": "python"}))
        .send()
        .await
        .expect("POST /v1/sessions");
    assert_eq!(resp.status().as_u16(), 201);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["language"], "python");
    v["id"].as_str().expect("id").to_string()
}

async fn cell(server: &Server, key: &str, id: &str, body: Value) -> (u16, Value) {
    let resp = client()
        .post(server.url(&format!("/v1/sessions/{id}/cells")))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("POST cells");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn plain(v: &Value) -> Vec<String> {
    v["display"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|d| d["mime"] == "text/plain")
                .filter_map(|d| d["data"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_state_shows_results_and_belongs_to_its_key() {
    let server = Server::start();
    let id = create(&server, MEMBER_KEY).await;
    let (s, v) = cell(
        &server,
        MEMBER_KEY,
        &id,
        json!({"code": "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})\nx = 41"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "exited", "{v}");
    let (_, v) = cell(&server, MEMBER_KEY, &id, json!({"code": "x + 1"})).await;
    assert_eq!(plain(&v), ["42"], "{v}");
    let (_, v) = cell(&server, MEMBER_KEY, &id, json!({"code": "df"})).await;
    let mimes: Vec<&str> = v["display"]
        .as_array()
        .expect("display")
        .iter()
        .filter_map(|d| d["mime"].as_str())
        .collect();
    assert_eq!(mimes, ["text/plain", "text/html"], "{v}");
    let (_, v) = cell(&server, MEMBER_KEY, &id, json!({"code": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nprint(input())", "stdin": "typed\n"})).await;
    assert_eq!(v["stdout"], "typed\n");
    assert!(
        v["display"]
            .as_array()
            .expect("display")
            .iter()
            .any(|d| d["mime"] == "image/png"),
        "{v}"
    );

    // Another key sees nothing of it.
    let (s, v) = cell(&server, ADMIN_KEY, &id, json!({"code": "x"})).await;
    assert_eq!(s, 404, "{v}");
    let resp = client()
        .get(server.url(&format!("/v1/sessions/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 404);
    let resp = client()
        .delete(server.url(&format!("/v1/sessions/{id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(resp.status().as_u16(), 404);

    let resp = client()
        .get(server.url(&format!("/v1/sessions/{id}")))
        .bearer_auth(MEMBER_KEY)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 200);
    let state: Value = resp.json().await.expect("json");
    assert_eq!(state["live"], true);
    let names: Vec<&str> = state["variables"]
        .as_array()
        .expect("vars")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(names.contains(&"df") && names.contains(&"x"), "{state}");

    // Two cells sent at once run in the order sent.
    let a = cell(
        &server,
        MEMBER_KEY,
        &id,
        json!({"code": "import time\ntime.sleep(0.5)\norder = ['first']"}),
    );
    let b = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        cell(
            &server,
            MEMBER_KEY,
            &id,
            json!({"code": "order.append('second')\norder"}),
        )
        .await
    };
    let ((_, _), (_, vb)) = tokio::join!(a, b);
    assert_eq!(plain(&vb), ["['first', 'second']"], "{vb}");

    // A timeout interrupts the cell and keeps the variables.
    let (_, v) = cell(
        &server,
        MEMBER_KEY,
        &id,
        json!({"code": "import time\ntime.sleep(30)", "limits": {"wall_time": "1s"}}),
    )
    .await;
    assert_eq!(v["status"], "timeout", "{v}");
    assert!(v["session_ended"].is_null(), "{v}");
    let (_, v) = cell(&server, MEMBER_KEY, &id, json!({"code": "x"})).await;
    assert_eq!(plain(&v), ["41"], "{v}");

    let resp = client()
        .delete(server.url(&format!("/v1/sessions/{id}")))
        .bearer_auth(MEMBER_KEY)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(resp.status().as_u16(), 204);
    let (s, _) = cell(&server, MEMBER_KEY, &id, json!({"code": "x"})).await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_park_past_max_live_and_across_a_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let mut config = test_config(data.path());
    config.sessions.max_live = 1;
    let server = Server::start_with(config.clone(), tempfile::tempdir().expect("dir"));
    let a = create(&server, MEMBER_KEY).await;
    let b = create(&server, MEMBER_KEY).await;
    let (_, v) = cell(
        &server,
        MEMBER_KEY,
        &a,
        json!({"code": "xs = [1, 2, 3]\ngen = (i for i in xs)"}),
    )
    .await;
    assert_eq!(v["status"], "exited", "{v}");
    let (_, v) = cell(&server, MEMBER_KEY, &b, json!({"code": "y = 'b'"})).await;
    assert_eq!(v["status"], "exited", "{v}");
    // b's start parked a (max_live 1); a's next cell restores it first and says so.
    let (_, v) = cell(&server, MEMBER_KEY, &a, json!({"code": "sum(xs)"})).await;
    assert_eq!(plain(&v), ["6"], "{v}");
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("restored 1 variable (xs); not saved: gen (generator)"),
        "{notes}"
    );

    // A restart parks every session; the next server restores them.
    let mut server = server;
    assert!(server.terminate().success(), "{}", server.log());
    drop(server);
    let server = Server::start_with(config, tempfile::tempdir().expect("dir"));
    let (s, v) = cell(&server, MEMBER_KEY, &a, json!({"code": "xs"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(plain(&v), ["[1, 2, 3]"], "{v}");
    assert!(v["notes"].to_string().contains("restored"), "{v}");
    let (s, _) = cell(&server, ADMIN_KEY, &a, json!({"code": "xs"})).await;
    assert_eq!(s, 404, "a parked session is still its key's only");
    // A graceful stop parks the live session and removes its sandbox (a SIGKILL would leave its
    // workdir mount behind).
    let mut server = server;
    assert!(server.terminate().success(), "{}", server.log());
}

/// A session of `server` forked from its warm pool's zygote: sessions go cold until the pool's
/// zygote is ready, so start (and end) sessions until one has pandas imported before its
/// first cell imported anything, which only a fork of the zygote has.
async fn warm_session(server: &Server) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let id = create(server, MEMBER_KEY).await;
        let (_, v) = cell(
            server,
            MEMBER_KEY,
            &id,
            json!({"code": "import sys\n'pandas' in sys.modules"}),
        )
        .await;
        if plain(&v) == ["True"] {
            return id;
        }
        assert_eq!(plain(&v), ["False"], "{v}");
        let resp = client()
            .delete(server.url(&format!("/v1/sessions/{id}")))
            .bearer_auth(MEMBER_KEY)
            .send()
            .await
            .expect("DELETE");
        assert_eq!(resp.status().as_u16(), 204);
        assert!(
            std::time::Instant::now() < deadline,
            "no session started warm within 180 s: {}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The same through a `coderunner serve` with a warm pool: its sessions fork from the zygote,
/// keep state, show tables and figures, survive a timeout, end alone on a memory bomb, park on
/// `max_live` and across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_sessions_work_like_cold_ones() {
    let data = tempfile::tempdir().expect("data dir");
    let mut config = test_config(data.path());
    config.runner.warm_pool = coderunner_config::WarmPool::Slots(1);
    config.sessions.max_live = 1;
    let mut server = Server::start_with(config.clone(), tempfile::tempdir().expect("dir"));
    let a = warm_session(&server).await;
    let (_, v) = cell(
        &server,
        MEMBER_KEY,
        &a,
        json!({"code": "import pandas as pd, matplotlib.pyplot as plt\ndf = pd.DataFrame({'a': [1, 2, 3]})\nplt.plot([1, 2])\ndf"}),
    )
    .await;
    assert_eq!(v["status"], "exited", "{v}");
    let mimes: Vec<&str> = v["display"]
        .as_array()
        .expect("display")
        .iter()
        .filter_map(|d| d["mime"].as_str())
        .collect();
    assert_eq!(mimes, ["text/plain", "text/html", "image/png"], "{v}");
    let (_, v) = cell(
        &server,
        MEMBER_KEY,
        &a,
        json!({"code": "import time\ntime.sleep(30)", "limits": {"wall_time": "1s"}}),
    )
    .await;
    assert_eq!(v["status"], "timeout", "{v}");
    let (_, v) = cell(
        &server,
        MEMBER_KEY,
        &a,
        json!({"code": "int(df['a'].sum())"}),
    )
    .await;
    assert_eq!(plain(&v), ["6"], "the timeout kept the variables: {v}");

    // b's start parks a (max_live 1); a memory bomb in b ends b alone, and a comes back.
    let b = create(&server, MEMBER_KEY).await;
    let (_, v) = cell(
        &server,
        MEMBER_KEY,
        &b,
        json!({"code": "x = []\nwhile True:\n    x.append(bytearray(1 << 20))"}),
    )
    .await;
    assert_eq!(v["status"], "memory_limit", "{v}");
    let (_, v) = cell(
        &server,
        MEMBER_KEY,
        &a,
        json!({"code": "int(df['a'].sum())"}),
    )
    .await;
    assert_eq!(plain(&v), ["6"], "{v}");
    assert!(v["notes"].to_string().contains("restored"), "{v}");

    // A restart parks every session; the next server restores them.
    assert!(server.terminate().success(), "{}", server.log());
    drop(server);
    let mut server = Server::start_with(config, tempfile::tempdir().expect("dir"));
    let (s, v) = cell(&server, MEMBER_KEY, &a, json!({"code": "df['a'].tolist()"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(plain(&v), ["[1, 2, 3]"], "{v}");
    // A graceful stop also tears the warm pool down (a SIGKILL would leave its slots' mounts
    // for the next start to sweep).
    assert!(server.terminate().success(), "{}", server.log());
}
