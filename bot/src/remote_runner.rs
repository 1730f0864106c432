//! A `Runner` that sends runs to a pool of `coderunner serve` nodes over HTTP: round-robin among
//! healthy nodes, failover when a node is down or busy, a timeout per node.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine as _;
use coderunner_config::Config;
use coderunner_runner::{RunOutcome, RunRequest, Runner, RunnerError};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

/// How long a node that failed is skipped before it gets traffic again.
const DOWN_FOR: Duration = Duration::from_secs(10);
/// How long connecting to a node may take; a live node on a LAN answers in milliseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

struct Node {
    /// Base URL without a trailing slash, e.g. `http://runner-1:8080`.
    url: String,
    key: String,
    timeout: Duration,
    down_until: Mutex<Option<Instant>>,
}

impl Node {
    fn is_down(&self, now: Instant) -> bool {
        self.down_until
            .lock()
            .map(|d| d.is_some_and(|until| until > now))
            .unwrap_or(false)
    }

    fn mark(&self, down: bool) {
        if let Ok(mut d) = self.down_until.lock() {
            *d = down.then(|| Instant::now() + DOWN_FOR);
        }
    }
}

/// The remote pool.
pub struct RemoteRunner {
    nodes: Vec<Node>,
    next: AtomicUsize,
    client: reqwest::Client,
}

impl std::fmt::Debug for RemoteRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        f.debug_struct("RemoteRunner")
            .field(
                "nodes",
                &self
                    .nodes
                    .iter()
                    .map(|n| n.url.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What went wrong with one node, and whether another node may do better.
enum Attempt {
    /// The node is unreachable, died mid-request, is busy or failed: try the next one.
    Failover(String),
    /// The node refused the request itself; every node would.
    Final(RunnerError),
}

impl RemoteRunner {
    /// The nodes of `config.runner.remote`, each with its key read from its `key_env` variable.
    pub fn new(config: &Config) -> anyhow::Result<RemoteRunner> {
        anyhow::ensure!(
            !config.runner.remote.is_empty(),
            "runner.remote is empty; list the `coderunner serve` nodes to send runs to"
        );
        let mut nodes = Vec::with_capacity(config.runner.remote.len());
        for node in &config.runner.remote {
            let url = node.url.trim_end_matches('/').to_string();
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "runner.remote url {:?} must start with http:// or https://",
                node.url
            );
            if coderunner_config::cleartext_off_host(&url) {
                anyhow::ensure!(
                    node.insecure,
                    "runner.remote url {url} is plain http to another machine: the node's key and every program would cross the network unencrypted; use https://, or set `insecure: true` on this node if the network is trusted"
                );
                tracing::warn!(node = %url, "runner.remote node over plain http (insecure: true): keys and code travel unencrypted");
            }
            let key = std::env::var(&node.key_env)
                .ok()
                .filter(|k| !k.is_empty())
                .with_context(|| {
                    format!(
                        "runner.remote {url}: environment variable {} (the node's API key) is not set",
                        node.key_env
                    )
                })?;
            nodes.push(Node {
                url,
                key,
                timeout: node.timeout.as_duration(),
                down_until: Mutex::new(None),
            });
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("coderunner/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client for remote runners")?;
        Ok(RemoteRunner {
            nodes,
            next: AtomicUsize::new(0),
            client,
        })
    }

    /// Node indexes in the order to try them: healthy ones round-robin first, then the ones marked
    /// down (a last resort beats failing while a node may have come back).
    fn order(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let now = Instant::now();
        let rotated = (0..n).map(|i| (start + i) % n);
        let (up, down): (Vec<usize>, Vec<usize>) =
            rotated.partition(|&i| !self.nodes[i].is_down(now));
        up.into_iter().chain(down).collect()
    }

    async fn attempt(&self, node: &Node, body: &Value, cap: usize) -> Result<RunOutcome, Attempt> {
        let url = format!("{}/v1/runs?files=inline", node.url);
        let response = self
            .client
            .post(&url)
            .bearer_auth(&node.key)
            .timeout(node.timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| transport_error(node, e))?;
        let status = response.status();
        let cap = if status == StatusCode::OK {
            cap
        } else {
            ERROR_BODY_CAP
        };
        let text = read_capped(node, response, cap).await?;
        if status == StatusCode::OK {
            return decode_outcome(&text)
                .map_err(|e| Attempt::Failover(format!("{}: unreadable answer: {e}", node.url)));
        }
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| text.chars().take(300).collect());
        let what = format!("{} answered {}: {message}", node.url, status.as_u16());
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(Attempt::Failover(what))
        } else if status == StatusCode::BAD_REQUEST {
            Err(Attempt::Final(RunnerError::InvalidRequest(what)))
        } else {
            Err(Attempt::Final(RunnerError::Remote(what)))
        }
    }
}

/// Most bytes of a node's error answer that are read.
const ERROR_BODY_CAP: usize = 64 << 10;

/// The body of `response`, refusing it as soon as it passes `cap` bytes: a broken or hostile
/// node cannot make the bot buffer without bound.
async fn read_capped(
    node: &Node,
    response: reqwest::Response,
    cap: usize,
) -> Result<String, Attempt> {
    use futures_util::StreamExt;
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        node.mark(true);
        return Err(too_big(node, cap));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport_error(node, e))?;
        if body.len() + chunk.len() > cap {
            node.mark(true);
            return Err(too_big(node, cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn too_big(node: &Node, cap: usize) -> Attempt {
    Attempt::Final(RunnerError::Remote(format!(
        "{} answered with more than {cap} bytes, more than a run with these limits can produce; not read",
        node.url
    )))
}

/// The largest answer a run with `limits` can honestly produce: its output (three times, as
/// stdout, stderr and the interleaved output, JSON-escaped up to 6 bytes a byte), its files in
/// base64, the compile stage's output, and room for the rest.
fn response_cap(limits: &coderunner_config::Profile) -> usize {
    let output = limits.output.bytes().saturating_mul(3 * 6);
    let compile = limits.compile.output.bytes().saturating_mul(2 * 6);
    let files = limits.output_files_bytes.bytes().saturating_mul(4) / 3
        + u64::from(limits.output_files) * 1024;
    let total = output
        .saturating_add(compile)
        .saturating_add(files)
        .saturating_add(1 << 20);
    usize::try_from(total).unwrap_or(usize::MAX)
}

fn transport_error(node: &Node, e: reqwest::Error) -> Attempt {
    if e.is_timeout() && !e.is_connect() {
        // The run may still be going there; sending it elsewhere would run it twice for nothing.
        return Attempt::Final(RunnerError::Remote(format!(
            "{} did not answer within {:?}; raise runner.remote timeout for long runs",
            node.url, node.timeout
        )));
    }
    node.mark(true);
    Attempt::Failover(format!("{} unreachable: {e}", node.url))
}

#[derive(Deserialize)]
struct InlineFiles {
    #[serde(default)]
    files: Vec<InlineFile>,
}

#[derive(Deserialize)]
struct InlineFile {
    #[serde(default)]
    content_base64: Option<String>,
}

/// The node's RunOutcome JSON, with the output files' bytes from `content_base64`.
fn decode_outcome(text: &str) -> Result<RunOutcome, String> {
    let mut outcome: RunOutcome = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let inline: InlineFiles = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (file, raw) in outcome.files.iter_mut().zip(inline.files) {
        if let Some(b64) = raw.content_base64 {
            file.content = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("{}: bad content_base64: {e}", file.path))?;
        }
    }
    Ok(outcome)
}

/// The `POST /v1/runs` body for a request. The whole profile is sent; the node applies the lower
/// of each limit and its key's tier ceiling. A network profile asks for a privileged run.
fn request_body(request: &RunRequest) -> Result<Value, RunnerError> {
    let stdin = String::from_utf8(request.stdin.clone()).map_err(|_| {
        RunnerError::InvalidRequest(
            "standard input is not UTF-8 text, which remote runners do not accept".into(),
        )
    })?;
    let files: Vec<Value> = request
        .files
        .iter()
        .map(|f| {
            json!({
                "name": f.path,
                "content": base64::engine::general_purpose::STANDARD.encode(&f.content),
                "encoding": "base64",
            })
        })
        .collect();
    let main = request.main.clone().or_else(|| {
        request
            .files
            .iter()
            .any(|f| f.path == request.spec.file)
            .then(|| request.spec.file.clone())
    });
    let mut body = json!({
        "language": request.language,
        "files": files,
        "stdin": stdin,
        "args": request.args,
        "profile": request.limits,
        "env": request.env.iter().cloned().collect::<std::collections::BTreeMap<String, String>>(),
        "privileged": request.limits.network,
        // The set this side chose (or `none`), so the node does not apply a default of its own.
        "environment": request.packages.as_ref().map_or(coderunner_config::NO_SET, |m| m.name.as_str()),
    });
    if let (Some(main), Some(obj)) = (main, body.as_object_mut()) {
        obj.insert("main".into(), Value::String(main));
    }
    Ok(body)
}

#[async_trait::async_trait]
impl Runner for RemoteRunner {
    async fn run(&self, request: RunRequest) -> Result<RunOutcome, RunnerError> {
        let body = request_body(&request)?;
        let cap = response_cap(&request.limits);
        let mut failures = Vec::new();
        for i in self.order() {
            let node = &self.nodes[i];
            match self.attempt(node, &body, cap).await {
                Ok(outcome) => {
                    node.mark(false);
                    tracing::debug!(node = %node.url, status = outcome.status.as_str(), "remote run done");
                    return Ok(outcome);
                }
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Failover(why)) => {
                    tracing::warn!("remote runner: {why}; trying the next node");
                    failures.push(why);
                }
            }
        }
        Err(RunnerError::Remote(format!(
            "no runner node could take the run: {}",
            failures.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coderunner_runner::InputFile;

    fn config(urls: &[&str]) -> Config {
        let mut c = Config::embedded_default().expect("default config");
        c.runner.remote = urls
            .iter()
            .map(|u| coderunner_config::RemoteNode {
                url: (*u).into(),
                key_env: "CODERUNNER_TEST_REMOTE_KEY".into(),
                timeout: coderunner_config::HumanDuration::from_secs(5),
                insecure: false,
            })
            .collect();
        c
    }

    fn request(config: &Config) -> RunRequest {
        let (name, spec) = config.find_language("python").expect("python");
        RunRequest {
            language: name.into(),
            spec: spec.clone(),
            files: vec![InputFile {
                path: "main.py".into(),
                content: b"print(1)\n\xff".to_vec(),
            }],
            main: None,
            stdin: b"in".to_vec(),
            args: vec!["a".into()],
            env: vec![("GREETING".into(), "hi".into())],
            limits: config.profile("default").expect("default profile").clone(),
            packages: None,
        }
    }

    #[test]
    fn body_is_base64_with_the_profile_limits() {
        let c = config(&["http://x"]);
        let body = request_body(&request(&c)).expect("body");
        assert_eq!(body["files"][0]["encoding"], "base64");
        assert_eq!(body["files"][0]["content"], "cHJpbnQoMSkK/w==");
        assert_eq!(body["main"], "main.py");
        // Every limit travels, in the config's own shape, so the node can parse it back.
        let sent: coderunner_config::Profile =
            serde_json::from_value(body["profile"].clone()).expect("a whole profile");
        assert_eq!(&sent, c.profile("default").expect("default"));
        assert!(body.get("limits").is_none(), "{body}");
        assert_eq!(body["privileged"], false);
        // The set this side chose travels by name; none is said explicitly, so the node does
        // not apply a default of its own.
        assert_eq!(body["environment"], "none");
        let mut with_set = request(&c);
        with_set.packages = Some(coderunner_runner::PackageMount {
            name: "ml".into(),
            kind: coderunner_config::PackageKind::Python,
            dir: "/data/environments/ml/python".into(),
        });
        assert_eq!(request_body(&with_set).expect("body")["environment"], "ml");
    }

    #[test]
    fn decodes_inline_files() {
        let text = r#"{"status":"exited","exit_code":0,"signal":null,"stdout":"","stderr":"","output":"",
            "truncated":false,"wall_ms":1,"cpu_ms":1,"peak_memory_bytes":null,"compile":null,"error":null,
            "files":[{"path":"o.bin","size":3,"mime":"application/octet-stream","content_base64":"AQID"}]}"#;
        let o = decode_outcome(text).expect("decodes");
        assert_eq!(o.files[0].content, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn all_nodes_down_is_an_error_naming_each() {
        std::env::set_var("CODERUNNER_TEST_REMOTE_KEY", "k");
        // Port 9 on loopback: nothing listens there, so the connection is refused at once.
        let c = config(&["http://127.0.0.1:9", "http://127.0.0.1:9/"]);
        let runner = RemoteRunner::new(&c).expect("runner");
        let err = runner.run(request(&c)).await.expect_err("no node");
        let text = err.to_string();
        assert!(text.contains("no runner node"), "{text}");
        assert_eq!(text.matches("unreachable").count(), 2, "{text}");
        assert!(runner.nodes.iter().all(|n| n.is_down(Instant::now())));
    }

    #[test]
    fn plain_http_off_the_host_needs_insecure() {
        std::env::set_var("CODERUNNER_TEST_REMOTE_KEY", "k");
        let mut c = config(&["http://10.0.0.5:8080"]);
        let err = RemoteRunner::new(&c).expect_err("refused").to_string();
        assert!(
            err.contains("insecure: true") && err.contains("https://"),
            "{err}"
        );
        c.runner.remote[0].insecure = true;
        assert!(RemoteRunner::new(&c).is_ok());
        for ok in [
            "http://127.0.0.1:1",
            "http://localhost:1",
            "http://[::1]:1",
            "https://x",
        ] {
            assert!(RemoteRunner::new(&config(&[ok])).is_ok(), "{ok}");
        }
    }

    #[test]
    fn the_response_cap_fits_the_largest_honest_answer() {
        let c = config(&["https://a"]);
        let p = c.profile("default").expect("default");
        let cap = response_cap(p) as u64;
        assert!(cap > p.output.bytes() * 3 + p.output_files_bytes.bytes() * 4 / 3);
        assert!(cap < 1 << 30, "{cap}");
    }

    #[test]
    fn round_robin_prefers_healthy_nodes() {
        std::env::set_var("CODERUNNER_TEST_REMOTE_KEY", "k");
        let c = config(&["https://a", "https://b", "https://c"]);
        let runner = RemoteRunner::new(&c).expect("runner");
        let firsts: Vec<usize> = (0..3).map(|_| runner.order()[0]).collect();
        assert_eq!(firsts, vec![0, 1, 2]);
        runner.nodes[1].mark(true);
        let order = runner.order();
        assert_eq!(order, vec![0, 2, 1], "the down node goes last");
    }
}
