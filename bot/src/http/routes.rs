//! The router: which path and method reach which handler, the auth layer, the body cap, and JSON
//! answers for unknown paths and methods. `ROUTES` is the list the OpenAPI test checks.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{middleware, Json, Router};

use super::error::ApiError;
use super::{ai, auth, languages, runs, sessions, AppState};

/// Every (method, path) the router serves; kept equal to the router and to `openapi.json` by tests.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/v1/languages"),
    ("GET", "/v1/openapi.json"),
    ("POST", "/v1/runs"),
    ("POST", "/v1/sessions"),
    ("POST", "/v1/sessions/{id}/cells"),
    ("GET", "/v1/sessions/{id}"),
    ("DELETE", "/v1/sessions/{id}"),
    ("POST", "/v1/ai/explain"),
    ("POST", "/v1/ai/fix"),
    ("POST", "/v1/ai/ask"),
    ("POST", "/v1/ai/tests"),
];

/// Where `coderunner serve` speaks MCP (streamable HTTP; documented in the README, not OpenAPI).
pub const MCP_PATH: &str = "/mcp";

/// The OpenAPI document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Build the API's router over `state`.
pub fn router(state: AppState) -> Router {
    let max_body = usize::try_from(state.config.http.max_body.bytes()).unwrap_or(usize::MAX);
    let mut with_key = Router::new()
        .route("/v1/runs", post(runs::create))
        .route("/v1/sessions", post(sessions::create))
        .route("/v1/sessions/{id}/cells", post(sessions::run_cell))
        .route(
            "/v1/sessions/{id}",
            get(sessions::get).delete(sessions::delete),
        )
        .route("/v1/ai/{command}", post(ai::handle))
        .route("/v1/languages", get(languages::list))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics));
    if let Some(server) = state.mcp.clone() {
        // MCP (streamable HTTP) behind the same key check; its own gate maps refusals.
        let mcp = Router::new()
            .route_service(MCP_PATH, crate::mcp::http_service(server, &state.config))
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::mcp::gate,
            ));
        with_key = with_key.merge(mcp);
    }
    let with_key = with_key.route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_key,
    ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(with_key)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "there is no endpoint {}; the API serves {} (GET /v1/openapi.json describes them), and MCP at {MCP_PATH}",
            uri.path(),
            ROUTES
                .iter()
                .map(|(m, p)| format!("{m} {p}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

async fn method_not_allowed(uri: Uri) -> ApiError {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, p)| *p == uri.path())
        .map(|(m, _)| *m)
        .collect();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} accepts only {}", uri.path(), allowed.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use coderunner_commands::Progress;
    use coderunner_config::{ApiKey, Config};
    use coderunner_runner::RunOutcome;
    use serde_json::{json, Value};

    use super::*;
    use crate::http::{body, ApiError, Caller, KeyTable, Metrics, RunBackend, ValidRun};

    /// Answers every run with an empty outcome; only routing is under test here.
    struct Echo;

    #[async_trait::async_trait]
    impl RunBackend for Echo {
        async fn run(
            &self,
            _caller: &Caller,
            _run: ValidRun,
            _progress: &dyn Progress,
        ) -> Result<RunOutcome, ApiError> {
            Ok(RunOutcome::sandbox_error("echo"))
        }
    }

    async fn start() -> String {
        let mut config = Config::embedded_default().expect("default config");
        config.http.api_keys = vec![ApiKey {
            name: "t".into(),
            key_env: None,
            // sha256("test")
            key_sha256: Some(
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            ),
            tier: "member".into(),
        }];
        let keys = KeyTable::load(&config, |_| None).expect("keys");
        let state = AppState {
            config: Arc::new(config),
            backend: Arc::new(Echo),
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::default()),
            languages: Arc::new(Vec::new()),
            mcp: None,
            pipeline: None,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        format!("http://{addr}")
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[tokio::test]
    async fn the_router_serves_exactly_the_documented_routes() {
        let table: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(table, documented(), "ROUTES and openapi.json differ");

        let base = start().await;
        let client = reqwest::Client::new();
        for (method, path) in ROUTES {
            // An AI route reaches the backend, and Echo (like any backend without a pipeline)
            // answers it with 503 `ai_off`; without a local pipeline the session routes are
            // served but say there are none (501); a route that was not served would be 404/405.
            let ai = path.starts_with("/v1/ai/");
            let body = if ai {
                json!({"language": "python", "code": "print(1)", "question": "add two numbers"})
            } else {
                json!({"language": "python", "files": [{"name": "a.py", "content": ""}]})
            };
            let url = format!("{base}{}", path.replace("{id}", "x"));
            let req = match *method {
                "GET" => client.get(url),
                "DELETE" => client.delete(url),
                "POST" => client.post(url).json(&body),
                other => panic!("unexpected method {other}"),
            };
            let status = req.bearer_auth("test").send().await.expect("send").status();
            let expected = if ai {
                503
            } else if path.starts_with("/v1/sessions") {
                501
            } else {
                200
            };
            assert_eq!(status, expected, "{method} {path}");
        }
        // And the router serves nothing else: other paths and methods are JSON 404/405.
        let r = client
            .get(format!("{base}/v2/runs"))
            .bearer_auth("test")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 404);
        let r = client
            .delete(format!("{base}/v1/runs"))
            .bearer_auth("test")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 405);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], "method_not_allowed");
    }

    fn schema_props(doc: &Value, name: &str) -> BTreeSet<String> {
        doc["components"]["schemas"][name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("schema {name}"))
            .keys()
            .cloned()
            .collect()
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().expect("object").keys().cloned().collect()
    }

    #[test]
    fn request_schema_fields_match_the_body_types() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        // A body with every optional field set, serialised by the very types the server parses.
        let full: body::RunBody = serde_json::from_value(json!({
            "language": "python", "version": "3", "main": "a.py", "stdin": "", "args": [],
            "privileged": false, "limits": {"wall_time": "1s", "memory": "1MiB"},
            "files": [{"name": "a.py", "content": "", "encoding": "base64"}],
            "env": {"GREETING": "hi"}, "environment": "ml",
            "profile": coderunner_config::Config::embedded_default().expect("default").profile("default"),
        }))
        .expect("a body with every field parses");
        let v = serde_json::to_value(&full).expect("serialise");
        assert_eq!(keys(&v), schema_props(&doc, "RunRequest"));
        assert_eq!(keys(&v["limits"]), schema_props(&doc, "Limits"));
        assert_eq!(keys(&v["files"][0]), schema_props(&doc, "InputFile"));
        // And the RunOutcome schema has the DESIGN §3 fields of the real type.
        let outcome = serde_json::to_value(RunOutcome::sandbox_error("x")).expect("outcome");
        assert_eq!(keys(&outcome), schema_props(&doc, "RunOutcome"));
    }
}
