//! The OpenAPI document served by the real `coderunner serve` parses, every path and method in it
//! is served, and the server serves nothing it leaves out; its RunRequest schema matches what
//! the server accepts.

mod http_support;

use http_support::*;
use serde_json::{json, Value};

/// Every route the server offers (its router table, `coderunner::http::ROUTES`, mirrored here
/// because the tests crate drives the binary, not the library).
const SERVED: &[(&str, &str)] = &[
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_parses_and_lists_every_route() {
    let server = Server::start();
    let (status, text) = get(&server, Some(MEMBER_KEY), "/v1/openapi.json").await;
    assert_eq!(status, 200, "{text}");
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );

    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut served: Vec<(String, String)> = SERVED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    served.sort();
    assert_eq!(documented, served);

    // Each documented route really answers (not 404/405), and an undocumented one does not.
    // A session path with an unknown id answers 404 with `session_not_found`, never the router's.
    for (method, path) in &documented {
        let templated = path.contains("{id}");
        let url = server.url(&path.replace("{id}", "no-such-session"));
        let req = match method.as_str() {
            "GET" => client().get(url),
            "POST" if templated => client().post(url).json(&json!({"code": "1"})),
            "POST" => client().post(url).json(&json!({})),
            "DELETE" => client().delete(url),
            other => panic!("unexpected method {other}"),
        };
        let resp = req.bearer_auth(MEMBER_KEY).send().await.expect("request");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let routed = if templated && status == 404 {
            body["error"] == "session_not_found"
        } else {
            status != 404 && status != 405
        };
        assert!(
            routed,
            "{method} {path} is documented but answers {status} {body}"
        );
    }
    let (status, _) = get(&server, Some(MEMBER_KEY), "/v1/run").await;
    assert_eq!(status, 404);

    // The RunRequest properties are exactly what the server accepts: each documented field is
    // accepted, and a field outside the schema is refused.
    let schema = &doc["components"]["schemas"]["RunRequest"];
    let props: Vec<&String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    let mut expected = vec![
        "args",
        "env",
        "environment",
        "files",
        "language",
        "limits",
        "main",
        "privileged",
        "profile",
        "stdin",
        "version",
    ];
    expected.sort_unstable();
    let mut got: Vec<&str> = props.iter().map(|s| s.as_str()).collect();
    got.sort_unstable();
    assert_eq!(got, expected);
    let full = json!({
        "language": "python", "version": "3", "main": "main.py", "stdin": "s", "args": ["a"],
        "env": {"GREETING": "hi"}, "environment": "none",
        "limits": {"wall_time": "5s", "memory": "128MiB"}, "privileged": false,
        "files": [{"name": "main.py", "content": "print(input())", "encoding": "utf8"}],
    });
    for key in full.as_object().expect("object").keys() {
        assert!(props.contains(&key), "{key} is accepted but not documented");
    }
    let limits: Vec<&String> = doc["components"]["schemas"]["Limits"]["properties"]
        .as_object()
        .expect("limits")
        .keys()
        .collect();
    assert_eq!(limits.len(), 2, "{limits:?}");
    let file_props: Vec<&String> = doc["components"]["schemas"]["InputFile"]["properties"]
        .as_object()
        .expect("InputFile")
        .keys()
        .collect();
    assert_eq!(file_props.len(), 3, "{file_props:?}");
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &full).await;
    assert_eq!(status, 200, "every documented field at once: {json}");
    assert_eq!(json["stdout"], "s\n", "{json}");
}
