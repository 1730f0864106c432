//! Shared by the http_* suites: start a real `coderunner serve` on loopback with a temp config and
//! env-var keys, and talk to it with reqwest.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coderunner_config::{ApiKey, Config, ConfigFile, HumanDuration, Quota, RemoteNode, Tier};
use coderunner_tests::harness::coderunner_bin;
use serde_json::{json, Value};

/// The keys every test server knows: (name, env var, value, tier).
pub const MEMBER_KEY: &str = "member-key-0123456789abcdef";
pub const ADMIN_KEY: &str = "admin-key-0123456789abcdef";
pub const LIMITED_KEY: &str = "limited-key-0123456789abcdef";
/// A key configured only by its SHA-256 (`printf %s KEY | sha256sum`).
pub const HASHED_KEY: &str = "hashed-key-0123456789abcdef";
const HASHED_KEY_SHA256: &str = "befb5785adc7cb4b9802bc48c01815ec8593f81e424914c0a5010e9a8a90a645";
/// The quota of the `limited` tier: this many runs per hour.
pub const LIMITED_RUNS: u32 = 2;

/// A test config: the embedded default with three keys, a `limited` tier, generous member quotas
/// (so the suites can run many programs) and everything on disk under `dir`.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config::embedded_default().expect("embedded default config");
    c.data_dir = dir.join("data");
    c.runner.scratch_dir = dir.join("scratch");
    // Servers are SIGKILLed when a test ends: cold, they leave nothing (warm_cleanup.rs tests
    // the warm pool's own clean-up).
    c.runner.warm_pool = coderunner_config::WarmPool::Slots(0);
    c.access.tiers.insert(
        0,
        Tier {
            name: "limited".into(),
            roles: vec![],
            profile: "default".into(),
            max_profile: Some("default".into()),
            admin: false,
            privileged_profile: None,
        },
    );
    c.rate_limits.user.insert(
        "limited".into(),
        Quota {
            count: LIMITED_RUNS,
            per: HumanDuration::from_secs(3600),
        },
    );
    for tier in ["member", "admin", "data"] {
        c.rate_limits.user.insert(
            tier.into(),
            Quota {
                count: 10_000,
                per: HumanDuration::from_secs(60),
            },
        );
    }
    c.rate_limits.guild.clear();
    c.rate_limits.concurrent_per_user = 8;
    c.rate_limits.queue_length = 64;
    c.http.api_keys = vec![
        key("member", "CR_TEST_MEMBER_KEY", "member"),
        key("admin", "CR_TEST_ADMIN_KEY", "admin"),
        key("limited", "CR_TEST_LIMITED_KEY", "limited"),
        ApiKey {
            name: "hashed".into(),
            key_env: None,
            key_sha256: Some(HASHED_KEY_SHA256.into()),
            tier: "member".into(),
        },
    ];
    c.http.max_body = coderunner_config::ByteSize::kib(256);
    c
}

fn key(name: &str, env: &str, tier: &str) -> ApiKey {
    ApiKey {
        name: name.into(),
        key_env: Some(env.into()),
        key_sha256: None,
        tier: tier.into(),
    }
}

/// A remote-runner entry for `url` using the admin key (the pool key may ask for any limit).
pub fn remote_node(url: &str) -> RemoteNode {
    RemoteNode {
        url: url.into(),
        key_env: "CR_TEST_ADMIN_KEY".into(),
        timeout: HumanDuration::from_secs(60),
        insecure: false,
    }
}

/// Write `config` (as JSON, which is YAML) to `dir/config.yaml`.
pub fn write_config(config: Config, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("config.yaml");
    std::fs::create_dir_all(&config.data_dir).expect("data dir");
    let text = serde_json::to_string_pretty(&ConfigFile { config }).expect("config json");
    std::fs::write(&path, text).expect("write config");
    path
}

/// A running `coderunner serve`, killed when dropped.
pub struct Server {
    pub base: String,
    child: Child,
    log: Arc<Mutex<String>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Start a server on a free loopback port with the default test config.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = test_config(dir.path());
        Server::start_with(config, dir)
    }

    /// Start a server with `config` (written as JSON, which is YAML) inside `dir`.
    pub fn start_with(config: Config, dir: tempfile::TempDir) -> Server {
        let path = write_config(config, dir.path());
        let mut child = Command::new(coderunner_bin())
            .arg("--config")
            .arg(&path)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CR_TEST_MEMBER_KEY", MEMBER_KEY)
            .env("CR_TEST_ADMIN_KEY", ADMIN_KEY)
            .env("CR_TEST_LIMITED_KEY", LIMITED_KEY)
            .env("RUST_LOG", "info")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start coderunner serve");
        let stderr = child.stderr.take().expect("stderr pipe");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "coderunner serve did not start; its stderr:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        Server {
            base,
            child,
            log,
            _dir: Some(dir),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL the server (a node dying), and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a graceful exit; the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client with a generous timeout (the sandbox compiles C++ in a few seconds).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client")
}

/// POST /v1/runs as `key` with `body`; (status, Retry-After, JSON).
pub async fn post_run(
    server: &Server,
    key: Option<&str>,
    query: &str,
    body: &Value,
) -> (u16, Option<String>, Value) {
    let mut req = client()
        .post(server.url(&format!("/v1/runs{query}")))
        .json(body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.expect("POST /v1/runs");
    split(resp).await
}

/// POST a raw body (for malformed JSON and oversize tests).
pub async fn post_raw(server: &Server, key: &str, raw: Vec<u8>) -> (u16, Option<String>, Value) {
    let resp = client()
        .post(server.url("/v1/runs"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .expect("POST /v1/runs");
    split(resp).await
}

pub async fn get(server: &Server, key: Option<&str>, path: &str) -> (u16, String) {
    let mut req = client().get(server.url(path));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

async fn split(resp: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text}));
    (status, retry, json)
}

/// A one-file run body.
pub fn program(language: &str, name: &str, code: &str) -> Value {
    json!({"language": language, "files": [{"name": name, "content": code}]})
}

/// An error body must be `{error, message}` with a non-trivial message.
pub fn assert_error(json: &Value, code: &str) {
    assert_eq!(json["error"], code, "unexpected error body: {json}");
    let message = json["message"].as_str().unwrap_or_default();
    assert!(message.len() > 20, "error message too thin: {json}");
}
