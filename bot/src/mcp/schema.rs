//! Output schemas of the tools (JSON Schema, as MCP clients validate `structuredContent`): the
//! RunOutcome of DESIGN §3 and the language list. Tests keep them equal to the real JSON.

use std::sync::{Arc, OnceLock};

use rmcp::model::JsonObject;
use serde_json::{json, Value};

fn object(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

/// `kind` or null, as `anyOf` branches with one `type` each (portable to single-type dialects).
fn nullable(kind: &str, description: &str) -> Value {
    let mut v = json!({"anyOf": [{"type": kind}, {"type": "null"}]});
    if !description.is_empty() {
        v["description"] = json!(description);
    }
    v
}

/// `structuredContent` of `run_code`: the RunOutcome JSON.
pub fn run_outcome() -> Arc<JsonObject> {
    static SCHEMA: OnceLock<Arc<JsonObject>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let status = json!({
                "type": "string",
                "enum": ["exited", "signaled", "timeout", "memory_limit", "output_limit", "compile_error", "sandbox_error"]
            });
            let compile = json!({
                "type": "object",
                "required": ["status", "exit_code", "stdout", "stderr", "wall_ms"],
                "properties": {
                    "status": {"type": "string"},
                    "exit_code": nullable("integer", ""),
                    "stdout": {"type": "string"},
                    "stderr": {"type": "string"},
                    "wall_ms": {"type": "integer"}
                }
            });
            object(json!({
                "type": "object",
                "description": "What the run produced (coderunner's RunOutcome).",
                "required": ["status", "exit_code", "signal", "stdout", "stderr", "output", "truncated",
                             "wall_ms", "cpu_ms", "peak_memory_bytes", "files", "compile", "error"],
                "properties": {
                    "status": status,
                    "exit_code": nullable("integer", ""),
                    "signal": nullable("string", "e.g. SIGSEGV"),
                    "stdout": {"type": "string"},
                    "stderr": {"type": "string"},
                    "output": {"type": "string", "description": "stdout and stderr interleaved in arrival order"},
                    "truncated": {"type": "boolean", "description": "true when the output limit cut the output"},
                    "wall_ms": {"type": "integer"},
                    "cpu_ms": {"type": "integer"},
                    "peak_memory_bytes": nullable("integer", ""),
                    "files": {
                        "type": "array",
                        "description": "files the program created or changed in its working directory",
                        "items": {
                            "type": "object",
                            "required": ["path", "size", "mime"],
                            "properties": {
                                "path": {"type": "string"},
                                "size": {"type": "integer"},
                                "mime": {"type": "string"}
                            }
                        }
                    },
                    "compile": {
                        "description": "the compile stage of compiled languages",
                        "anyOf": [compile, {"type": "null"}]
                    },
                    "error": nullable("string", "why the sandbox could not run it (sandbox_error only)")
                }
            }))
        })
        .clone()
}

/// `structuredContent` of `list_languages`.
pub fn languages() -> Arc<JsonObject> {
    static SCHEMA: OnceLock<Arc<JsonObject>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            object(json!({
                "type": "object",
                "required": ["languages"],
                "properties": {
                    "languages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "aliases", "extensions", "version", "compiled", "available"],
                            "properties": {
                                "name": {"type": "string", "description": "the name run_code takes"},
                                "aliases": {"type": "array", "items": {"type": "string"}},
                                "extensions": {"type": "array", "items": {"type": "string"}},
                                "version": nullable("string", "e.g. 3.11.2; null when unknown"),
                                "compiled": {"type": "boolean"},
                                "available": {"type": "boolean", "description": "whether this host has the interpreter or compiler"}
                            }
                        }
                    }
                }
            }))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use coderunner_runner::{CompileOutcome, OutputFile, RunOutcome, RunStatus};

    use super::*;
    use crate::http::LanguageInfo;

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().expect("object").keys().cloned().collect()
    }

    fn props(schema: &JsonObject) -> BTreeSet<String> {
        keys(&schema["properties"])
    }

    fn required(schema: &Value) -> BTreeSet<String> {
        schema["required"]
            .as_array()
            .expect("required")
            .iter()
            .map(|v| v.as_str().expect("name").to_string())
            .collect()
    }

    #[test]
    fn run_outcome_schema_has_exactly_the_outcome_fields() {
        let mut o = RunOutcome::sandbox_error("x");
        o.status = RunStatus::CompileError;
        o.files.push(OutputFile {
            path: "a".into(),
            size: 1,
            mime: "text/plain".into(),
            content: vec![1],
        });
        o.compile = Some(CompileOutcome {
            status: RunStatus::Exited,
            exit_code: Some(1),
            stdout: String::new(),
            stderr: "e".into(),
            wall_ms: 3,
        });
        let v = serde_json::to_value(&o).expect("json");
        let schema = run_outcome();
        assert_eq!(keys(&v), props(&schema));
        assert_eq!(keys(&v), required(&Value::Object((*schema).clone())));
        let p = &schema["properties"];
        assert_eq!(
            keys(&v["files"][0]),
            keys(&p["files"]["items"]["properties"])
        );
        let compile = &p["compile"]["anyOf"][0];
        assert_eq!(keys(&v["compile"]), keys(&compile["properties"]));
        assert_eq!(keys(&v["compile"]), required(compile));
        let statuses = p["status"]["enum"].as_array().expect("enum");
        for s in [
            RunStatus::Exited,
            RunStatus::Signaled,
            RunStatus::Timeout,
            RunStatus::MemoryLimit,
            RunStatus::OutputLimit,
            RunStatus::CompileError,
            RunStatus::SandboxError,
        ] {
            assert!(statuses.contains(&json!(s.as_str())), "{}", s.as_str());
        }
    }

    #[test]
    fn languages_schema_has_exactly_the_info_fields() {
        let info = LanguageInfo {
            name: "python".into(),
            aliases: vec![],
            extensions: vec![],
            version: None,
            compiled: false,
            available: true,
        };
        let v = serde_json::to_value(&info).expect("json");
        let schema = languages();
        let item = &schema["properties"]["languages"]["items"];
        assert_eq!(keys(&v), keys(&item["properties"]));
        assert_eq!(keys(&v), required(item));
    }
}
