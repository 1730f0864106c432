//! The `run_code` arguments: their JSON Schema (what the agent sees in `tools/list`) and the checks
//! that turn them into a pipeline `DirectRun`. File names, base64 and argument checks are the HTTP
//! API's (`http::validate_run_body`); what is MCP's own is worded for `run_code`'s arguments.

use std::str::FromStr;
use std::time::Duration;

use coderunner_commands::{DirectRun, RequestedLimits};
use coderunner_config::{ByteSize, Config, HumanDuration};
use schemars::JsonSchema;
use serde::Deserialize;

use super::caller::Resolved;
use crate::http::{validate_run_body, Encoding, FileBody, LimitsBody, RunBody};

/// Arguments of `run_code`. Unknown fields are a malformed call (a JSON-RPC error).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCodeArgs {
    /// Language name or alias, e.g. "python", "javascript", "c", "cpp", "bash", "rust". Call
    /// list_languages for the full list with versions.
    pub language: String,
    /// The complete program source. It is saved under the language's usual file name (main.py,
    /// main.js, main.c...) and run; compiled languages are compiled first.
    pub code: String,
    /// Extra files placed in the working directory before the run: data to read, modules to
    /// import, headers to include. Relative paths such as "data.csv" or "lib/util.py".
    #[serde(default)]
    pub files: Vec<FileArg>,
    /// Text given to the program on standard input.
    #[serde(default)]
    #[schemars(with = "String")]
    pub stdin: Option<String>,
    /// Command-line arguments passed to the program.
    #[serde(default)]
    pub args: Vec<String>,
    /// Wall-clock time limit in seconds. Omit it for the default; more than the caller's tier
    /// allows is refused with the maximum.
    #[serde(default)]
    #[schemars(with = "f64", range(min = 0.001))]
    pub timeout: Option<f64>,
    /// Memory limit with a unit, e.g. "128MiB" or "1GiB". Omit it for the default; more than
    /// the caller's tier allows is refused with the maximum.
    #[serde(default)]
    #[schemars(with = "String")]
    pub memory: Option<String>,
    /// A package set of extra libraries the server's operator installed, e.g. "ml" (the
    /// operator's `coderunner languages` lists the sets). Omit it for the server's default;
    /// "none" for none. An unknown set is refused with the close matches.
    #[serde(default)]
    #[schemars(with = "String")]
    pub environment: Option<String>,
}

/// One input file: give `text` for UTF-8 content or `base64` for binary content.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileArg {
    /// Relative path in the working directory, e.g. "sales.csv" or "data/input.txt".
    pub name: String,
    /// The file's content as UTF-8 text.
    #[serde(default)]
    #[schemars(with = "String")]
    pub text: Option<String>,
    /// The file's content as standard base64 (for binary files such as images or spreadsheets).
    #[serde(default)]
    #[schemars(with = "String")]
    pub base64: Option<String>,
}

/// A `run_code` call the pipeline can take, or the sentence telling the agent what to fix.
pub fn to_direct_run(
    args: RunCodeArgs,
    who: Resolved,
    config: &Config,
) -> Result<DirectRun, String> {
    let Some((language, lang)) = config.find_language(&args.language) else {
        return Err(unknown_language(&args.language, config));
    };
    let main = lang.file.clone();
    let mut files = Vec::with_capacity(args.files.len() + 1);
    files.push(FileBody {
        name: main.clone(),
        content: args.code,
        encoding: Encoding::Utf8,
    });
    for (i, f) in args.files.into_iter().enumerate() {
        if f.name == main {
            return Err(format!(
                "files[{i}] is named {main:?}, which is where `code` is saved for {language}; give the file another name"
            ));
        }
        let (content, encoding) = match (f.text, f.base64) {
            (Some(text), None) => (text, Encoding::Utf8),
            (None, Some(b64)) => (b64, Encoding::Base64),
            _ => {
                return Err(format!(
                    "files[{i}] ({}) needs exactly one of `text` (UTF-8 content) or `base64` (binary content)",
                    f.name
                ))
            }
        };
        files.push(FileBody {
            name: f.name,
            content,
            encoding,
        });
    }
    let limits = LimitsBody {
        wall_time: args.timeout.map(timeout).transpose()?,
        memory: args.memory.as_deref().map(memory).transpose()?,
    };
    let body = RunBody {
        language: language.to_string(),
        version: None,
        // The code is the first file; the HTTP API's `files[0]` is `code` here, so its messages
        // about files[i] are shifted by one: renumber them for the agent.
        files,
        main: Some(main),
        stdin: args.stdin,
        args: Some(args.args),
        limits: Some(limits),
        privileged: None,
        env: None,
        environment: args.environment,
        profile: None,
    };
    let run = validate_run_body(body, config).map_err(|e| renumber_files(&e.message))?;
    Ok(DirectRun {
        who: who.identity,
        tier: who.tier,
        language: run.language,
        files: run.files,
        main: Some(run.main),
        stdin: run.stdin,
        args: run.args,
        limits: RequestedLimits {
            wall_time: run.limits.wall_time.map(|d| d.as_duration()),
            memory: run.limits.memory.map(|m| m.bytes()),
        },
        privileged: false,
        env: run.env,
        environment: run.environment,
        profile: None,
    })
}

fn timeout(secs: f64) -> Result<HumanDuration, String> {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(HumanDuration(d)),
        _ => Err(format!(
            "timeout {secs} is not a time limit; give a number of seconds greater than 0, e.g. 5"
        )),
    }
}

fn memory(text: &str) -> Result<ByteSize, String> {
    match ByteSize::from_str(text.trim()) {
        Ok(m) if m.bytes() > 0 => Ok(m),
        _ => Err(format!(
            "memory {text:?} is not a memory size; give a number with a unit, e.g. \"128MiB\" or \"1GiB\""
        )),
    }
}

/// "files[1] ..." of the HTTP checks means the agent's `files[0]` (the code took index 0).
fn renumber_files(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("files[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "files[".len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(0) if after[digits..].starts_with(']') => {
                out.push_str("code");
                rest = &after[digits + 1..];
            }
            Ok(n) if after[digits..].starts_with(']') => {
                out.push_str(&format!("files[{}]", n - 1));
                rest = &after[digits + 1..];
            }
            _ => {
                out.push_str("files[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// "unknown language "pyhton"; did you mean python? ..." listing every language, like the chat.
pub fn unknown_language(wanted: &str, config: &Config) -> String {
    let close = config.suggest_languages(wanted);
    let known: Vec<&str> = config.languages.keys().map(String::as_str).collect();
    let hint = match close.as_slice() {
        [] => String::new(),
        some => format!("did you mean {}? ", some.join(" or ")),
    };
    format!(
        "unknown language {wanted:?}; {hint}the languages are: {} (list_languages gives versions and aliases)",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use coderunner_commands::{Identity, Platform};

    fn who() -> Resolved {
        Resolved {
            identity: Identity {
                platform: Platform::Mcp,
                user_id: "t".into(),
                display: "t".into(),
                roles: vec![],
            },
            tier: "member".into(),
        }
    }

    fn args(json: serde_json::Value) -> RunCodeArgs {
        serde_json::from_value(json).expect("args parse")
    }

    fn cfg() -> Config {
        Config::embedded_default().expect("default config")
    }

    #[test]
    fn code_becomes_the_main_file_with_extra_files_and_limits() {
        let run = to_direct_run(
            args(serde_json::json!({
                "language": "py", "code": "print(1)", "stdin": "x", "args": ["a"],
                "files": [{"name": "d.csv", "text": "a,b"}, {"name": "b.bin", "base64": "AAE="}],
                "timeout": 2.5, "memory": "64MiB"
            })),
            who(),
            &cfg(),
        )
        .expect("valid");
        assert_eq!(run.language, "python");
        assert_eq!(run.main.as_deref(), Some("main.py"));
        assert_eq!(run.files[0].content, b"print(1)");
        assert_eq!(run.files[2].content, vec![0, 1]);
        assert_eq!(run.limits.wall_time, Some(Duration::from_millis(2500)));
        assert_eq!(run.limits.memory, Some(64 << 20));
        assert_eq!(run.stdin, b"x");
        assert!(!run.privileged);
    }

    #[test]
    fn bad_arguments_say_what_to_fix() {
        let cases = [
            (
                serde_json::json!({"language": "pyhton", "code": ""}),
                "did you mean python",
            ),
            (
                serde_json::json!({"language": "python", "code": "", "files": [{"name": "main.py", "text": ""}]}),
                "give the file another name",
            ),
            (
                serde_json::json!({"language": "python", "code": "", "files": [{"name": "a"}]}),
                "exactly one of `text`",
            ),
            (
                serde_json::json!({"language": "python", "code": "", "files": [{"name": "../x", "text": ""}]}),
                "files[0].name is refused",
            ),
            (
                serde_json::json!({"language": "python", "code": "", "files": [{"name": "a", "base64": "!!"}]}),
                "files[0] (a): content is not valid base64",
            ),
            (
                serde_json::json!({"language": "python", "code": "", "timeout": -1.0}),
                "greater than 0",
            ),
            (
                serde_json::json!({"language": "python", "code": "", "memory": "lots"}),
                "\"128MiB\"",
            ),
        ];
        for (json, want) in cases {
            let err = to_direct_run(args(json.clone()), who(), &cfg()).expect_err("refused");
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn unknown_fields_do_not_parse() {
        let r: Result<RunCodeArgs, _> = serde_json::from_value(
            serde_json::json!({"language": "python", "code": "", "lang": 1}),
        );
        assert!(r.is_err());
    }

    #[test]
    fn renumbering_shifts_file_indexes_past_the_code() {
        assert_eq!(renumber_files("files[2].name x"), "files[1].name x");
        assert_eq!(renumber_files("files[0] is bad"), "code is bad");
        assert_eq!(renumber_files("files: dup"), "files: dup");
    }
}
