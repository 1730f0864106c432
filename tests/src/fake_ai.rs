//! A fake OpenAI-compatible endpoint on loopback: real HTTP and JSON, answers played from a
//! script, every request recorded. `POST /v1/chat/completions` and `GET /v1/models`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// One scripted answer to a chat completion.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// A normal completion whose message content is this text (with a usage block).
    Answer(String),
    /// An HTTP error status with headers (e.g. Retry-After) and a body.
    Status(u16, Vec<(&'static str, String)>, String),
    /// A 200 whose body is this text verbatim (e.g. not JSON).
    Raw(String),
    /// Wait this long, then answer.
    Slow(Duration, String),
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

impl Recorded {
    /// Every message's content, joined: what the model was told.
    pub fn prompt(&self) -> String {
        self.body["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|x| x["content"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Scripted>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The running fake; dropped, it stops. It has its own runtime, so sync tests and async tests
/// (the fake Discord suites) can both use it.
pub struct FakeAi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for FakeAi {
    fn drop(&mut self) {
        // Not a blocking drop: that would panic when the test itself runs on a runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl FakeAi {
    /// Start on 127.0.0.1 with answers played in order (an empty script answers 500).
    pub fn start(script: Vec<Scripted>) -> FakeAi {
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            requests: Mutex::new(Vec::new()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("fake AI runtime");
        // Bound here with std (no block_on, which a test already on a runtime may not do).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake AI");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("fake AI address");
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/models", get(models))
            .with_state(Arc::clone(&shared));
        runtime.spawn(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(listener, app).await;
            }
        });
        FakeAi {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// The base URL to put in `ai.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Chat requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("requests").clone()
    }

    /// Add an answer to the end of the script.
    pub fn push(&self, answer: Scripted) {
        self.shared.script.lock().expect("script").push_back(answer);
    }

    /// Scripted answers not yet played.
    pub fn left(&self) -> usize {
        self.shared.script.lock().expect("script").len()
    }
}

fn record(shared: &Shared, path: &str, headers: &HeaderMap, body: Value) {
    shared.requests.lock().expect("requests").push(Recorded {
        path: path.to_string(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body,
    });
}

fn completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake-coder",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 48, "total_tokens": 168}
    })
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    record(&shared, "/v1/chat/completions", &headers, parsed);
    let next = shared.script.lock().expect("script").pop_front();
    match next {
        Some(Scripted::Answer(text)) => axum::Json(completion(&text)).into_response(),
        Some(Scripted::Slow(wait, text)) => {
            tokio::time::sleep(wait).await;
            axum::Json(completion(&text)).into_response()
        }
        Some(Scripted::Raw(text)) => (StatusCode::OK, text).into_response(),
        Some(Scripted::Status(code, extra, body)) => {
            let mut resp = (
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body,
            )
                .into_response();
            for (k, v) in extra {
                if let Ok(v) = v.parse() {
                    resp.headers_mut().insert(k, v);
                }
            }
            resp
        }
        None => (StatusCode::INTERNAL_SERVER_ERROR, "script exhausted").into_response(),
    }
}

async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    record(&shared, "/v1/models", &headers, Value::Null);
    axum::Json(json!({"object": "list", "data": [
        {"id": "fake-coder", "object": "model"},
        {"id": "fake-small", "object": "model"}
    ]}))
    .into_response()
}
