//! `POST /v1/ai/explain|fix|ask|tests` end to end: the real `coderunner serve`, the real sandbox
//! and the fake OpenAI-compatible model on loopback. Each answer is checked against the OpenAPI
//! document the server serves (every key documented, every required key present, types right);
//! fix succeeds on its second attempt; no API key is 401; model failures and AI being off give
//! the documented status and error.

mod http_support;

use coderunner_config::{HumanDuration, Quota};
use coderunner_tests::fake_ai::{FakeAi, Recorded, Scripted};
use http_support::*;
use serde_json::{json, Value};

const FAILING: &str = "name = 'world'\nprint('hello', nmae)\n";

/// A server whose AI assist talks to `fake`, with room for many AI calls per member.
fn server_with(fake: &FakeAi) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    config.ai.base_url = Some(fake.base_url());
    config.ai.model = "fake-coder".into();
    config.ai.attempts = 3;
    config.rate_limits.ai.insert(
        "member".into(),
        Quota {
            count: 100,
            per: HumanDuration::from_secs(600),
        },
    );
    Server::start_with(config, dir)
}

/// POST /v1/ai/{command} as `key`; (status, Retry-After, JSON).
async fn post_ai(
    server: &Server,
    key: Option<&str>,
    command: &str,
    body: &Value,
) -> (u16, Option<String>, Value) {
    let mut req = client()
        .post(server.url(&format!("/v1/ai/{command}")))
        .json(body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.expect("POST /v1/ai");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
    (status, retry, json)
}

fn py(words: &str, code: &str) -> Scripted {
    Scripted::Answer(format!("{words}\n```python\n{code}```\n"))
}

/// The schema `$ref` points at in `doc`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"))
        }
        None => schema,
    }
}

/// Where `value` departs from `schema` (OpenAPI 3.0 subset: $ref, allOf, nullable, object,
/// array, string, integer, boolean, enum).
fn departures(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut out = Vec::new();
    if value.is_null() {
        if schema["nullable"] != json!(true) {
            out.push(format!("{at}: null, but the schema does not allow null"));
        }
        return out;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            out.extend(departures(doc, s, value, at));
        }
        return out;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            out.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    match schema["type"].as_str() {
        Some("object") => {
            let Some(obj) = value.as_object() else {
                out.push(format!("{at}: expected an object, got {value}"));
                return out;
            };
            for req in schema["required"].as_array().into_iter().flatten() {
                let key = req.as_str().unwrap_or_default();
                if !obj.contains_key(key) {
                    out.push(format!("{at}.{key}: required, but missing"));
                }
            }
            let props = schema["properties"].as_object();
            for (key, v) in obj {
                match props.and_then(|p| p.get(key)) {
                    Some(s) => out.extend(departures(doc, s, v, &format!("{at}.{key}"))),
                    None => out.push(format!("{at}.{key}: returned, but not documented")),
                }
            }
        }
        Some("array") => match value.as_array() {
            Some(items) => {
                for (i, v) in items.iter().enumerate() {
                    out.extend(departures(doc, &schema["items"], v, &format!("{at}[{i}]")));
                }
            }
            None => out.push(format!("{at}: expected an array, got {value}")),
        },
        Some("string") if !value.is_string() => out.push(format!("{at}: expected a string")),
        Some("integer") if !value.is_i64() && !value.is_u64() => {
            out.push(format!("{at}: expected an integer, got {value}"))
        }
        Some("boolean") if !value.is_boolean() => out.push(format!("{at}: expected a boolean")),
        _ => {}
    }
    out
}

/// The 200 schema of `POST /v1/ai/{command}` in the served document.
fn assert_documented(doc: &Value, command: &str, answer: &Value) {
    let schema = &doc["paths"][format!("/v1/ai/{command}")]["post"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    assert!(!schema.is_null(), "no 200 schema for {command}");
    let problems = departures(doc, schema, answer, command);
    assert!(
        problems.is_empty(),
        "{command}'s answer departs from openapi.json:\n{}\n{answer:#}",
        problems.join("\n")
    );
}

/// The response `status` of `POST /v1/ai/{command}` as documented (following `$ref`).
fn documented_response<'a>(doc: &'a Value, command: &str, status: u16) -> &'a Value {
    let r = &doc["paths"][format!("/v1/ai/{command}")]["post"]["responses"][status.to_string()];
    assert!(!r.is_null(), "{command} does not document {status}");
    resolve(doc, r)
}

fn prompts(reqs: &[Recorded]) -> Vec<String> {
    reqs.iter().map(Recorded::prompt).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_fix_ask_and_tests_answer_the_documented_json() {
    let fake = FakeAi::start(vec![
        Scripted::Answer("`nmae` is a typo for `name` on line 2.".into()),
        py("Renamed it.", "name = 'world'\nprint('hello', nme)\n"),
        py("Use the defined name.", "name = 'world'\nprint('hello', name)\n"),
        py("Adds them.", "print(sum(range(1, 11)))\n"),
        Scripted::Answer(
            "```json\n[{\"name\": \"doubles 3\", \"stdin\": \"3\\n\", \"expected_stdout\": \"6\"},\n {\"name\": \"wrong on purpose\", \"stdin\": \"5\\n\", \"expected_stdout\": \"11\"}]\n```".into(),
        ),
    ]);
    let server = server_with(&fake);
    let (status, text) = get(&server, Some(MEMBER_KEY), "/v1/openapi.json").await;
    assert_eq!(status, 200, "{text}");
    let doc: Value = serde_json::from_str(&text).expect("openapi.json");

    // explain: the program runs first, the model sees its code and error.
    let body = json!({"language": "python", "code": FAILING});
    let (status, _, explain) = post_ai(&server, Some(MEMBER_KEY), "explain", &body).await;
    assert_eq!(status, 200, "{explain}\n{}", server.log());
    assert_documented(&doc, "explain", &explain);
    assert_eq!(explain["command"], "explain");
    assert_eq!(explain["model"], "fake-coder");
    assert_eq!(explain["language"], "python");
    assert_eq!(
        explain["explanation"],
        "`nmae` is a typo for `name` on line 2."
    );
    assert_eq!(explain["code"], FAILING, "the program explained");
    assert_eq!(explain["run"]["status"], "exited");
    assert_eq!(explain["run"]["exit_code"], 1);
    let p = prompts(&fake.requests());
    assert!(p[0].contains("print('hello', nmae)"), "{}", p[0]);
    assert!(
        p[0].contains("NameError: name 'nmae' is not defined"),
        "{}",
        p[0]
    );

    // fix: the first correction still fails, the second works.
    let (status, _, fix) = post_ai(&server, Some(MEMBER_KEY), "fix", &body).await;
    assert_eq!(status, 200, "{fix}\n{}", server.log());
    assert_documented(&doc, "fix", &fix);
    assert_eq!(fix["attempts"], 2, "{fix}");
    assert_eq!(fix["fixed"], true, "{fix}");
    assert_eq!(fix["code"], "name = 'world'\nprint('hello', name)\n");
    let diff = fix["diff"].as_str().unwrap_or_default();
    assert!(
        diff.contains("-print('hello', nmae)\n+print('hello', name)"),
        "{diff}"
    );
    assert_eq!(fix["run"]["stdout"], "hello world\n", "{fix}");
    assert_eq!(fix["run"]["exit_code"], 0);
    let p = prompts(&fake.requests());
    assert_eq!(p.len(), 3, "explain once, fix twice");
    assert!(p[2].contains("name 'nme' is not defined"), "{}", p[2]);

    // ask: the model writes the program, the sandbox runs it.
    let question = json!({"question": "add the numbers from 1 to 10"});
    let (status, _, ask) = post_ai(&server, Some(MEMBER_KEY), "ask", &question).await;
    assert_eq!(status, 200, "{ask}\n{}", server.log());
    assert_documented(&doc, "ask", &ask);
    assert_eq!(ask["language"], "python", "ask writes Python by default");
    assert_eq!(ask["code"], "print(sum(range(1, 11)))\n");
    assert_eq!(ask["run"]["stdout"], "55\n", "{ask}");
    assert!(fake.requests()[3]
        .prompt()
        .contains("add the numbers from 1 to 10"));

    // tests: one result per case, pass and fail.
    let doubler = json!({"language": "py", "code": "print(int(input()) * 2)\n", "stdin": "4\n"});
    let (status, _, tests) = post_ai(&server, Some(MEMBER_KEY), "tests", &doubler).await;
    assert_eq!(status, 200, "{tests}\n{}", server.log());
    assert_documented(&doc, "tests", &tests);
    assert_eq!(tests["language"], "python");
    let cases = tests["tests"].as_array().expect("tests array");
    assert_eq!(cases.len(), 2, "{tests}");
    assert_eq!(cases[0]["name"], "doubles 3");
    assert_eq!(cases[0]["passed"], true, "{tests}");
    assert_eq!(cases[0]["actual"], "6\n");
    assert_eq!(cases[1]["passed"], false, "{tests}");
    assert_eq!(cases[1]["expected"], "11");
    assert_eq!(cases[1]["actual"], "10\n");
    assert_eq!(fake.left(), 0, "every scripted answer was used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_have_the_documented_status_and_error() {
    let fake = FakeAi::start(vec![
        Scripted::Status(401, vec![], "{\"error\": \"bad key\"}".into()),
        Scripted::Status(429, vec![("retry-after", "7".into())], "slow down".into()),
    ]);
    let server = server_with(&fake);
    let (_, text) = get(&server, Some(MEMBER_KEY), "/v1/openapi.json").await;
    let doc: Value = serde_json::from_str(&text).expect("openapi.json");
    let question = json!({"question": "print hello"});

    // No API key: 401 before anything reaches the model.
    let (status, _, json) = post_ai(&server, None, "ask", &question).await;
    assert_eq!(status, 401, "{json}");
    assert_error(&json, "missing_api_key");
    let (status, _, json) = post_ai(&server, Some("not-a-key-0123456789"), "fix", &question).await;
    assert_eq!(status, 401, "{json}");
    assert_error(&json, "invalid_api_key");
    assert!(
        fake.requests().is_empty(),
        "unauthenticated calls never reach the model"
    );
    documented_response(&doc, "ask", 401);

    // The model endpoint refuses our key: 502 ai_failed, saying so.
    let (status, _, json) = post_ai(&server, Some(MEMBER_KEY), "ask", &question).await;
    assert_eq!(status, 502, "{json}");
    assert_error(&json, "ai_failed");
    assert!(
        json["message"]
            .as_str()
            .is_some_and(|m| m.contains("refused the API key (401 Unauthorized)")),
        "{json}"
    );
    documented_response(&doc, "ask", 502);

    // The model endpoint rate-limits us: 429 with its retry time.
    let (status, retry, json) = post_ai(&server, Some(MEMBER_KEY), "ask", &question).await;
    assert_eq!(status, 429, "{json}");
    assert_error(&json, "rate_limited");
    assert_eq!(retry.as_deref(), Some("7"), "{json}");
    let documented = documented_response(&doc, "ask", 429);
    assert!(
        !documented["headers"]["Retry-After"].is_null(),
        "{documented}"
    );

    // Missing fields: 400 naming what is needed, nothing sent to the model.
    let (status, _, json) = post_ai(&server, Some(MEMBER_KEY), "fix", &question).await;
    assert_eq!(status, 400, "{json}");
    assert_error(&json, "missing_code");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_off_answers_503_with_the_configuration_hint() {
    let server = Server::start();
    let (_, text) = get(&server, Some(MEMBER_KEY), "/v1/openapi.json").await;
    let doc: Value = serde_json::from_str(&text).expect("openapi.json");
    let hint = "AI assist is off: set ai.base_url to an OpenAI-compatible endpoint (Ollama http://127.0.0.1:11434/v1, llama.cpp server http://127.0.0.1:8080/v1, vLLM, or a hosted one)";
    for (command, body) in [
        ("explain", json!({"language": "python", "code": FAILING})),
        ("fix", json!({"language": "python", "code": FAILING})),
        ("ask", json!({"question": "print hello"})),
        ("tests", json!({"language": "python", "code": "print(1)"})),
    ] {
        let (status, _, json) = post_ai(&server, Some(MEMBER_KEY), command, &body).await;
        assert_eq!(status, 503, "{command}: {json}");
        assert_error(&json, "ai_off");
        assert_eq!(json["message"], hint, "{command}");
        let documented = documented_response(&doc, command, 503);
        assert!(
            documented["description"]
                .as_str()
                .is_some_and(|d| d.contains("ai_off")),
            "{documented}"
        );
    }
}
