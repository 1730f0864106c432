//! The `POST /v1/runs` request body: its JSON shape (unknown fields refused) and the checks that
//! turn it into a run the pipeline can take, each failure a 400 with a precise message.

use base64::Engine as _;
use coderunner_config::{ByteSize, Config, HumanDuration, Profile};
use coderunner_runner::{validate_input_path, validate_input_set, FileNameError, InputFile};
use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Most files one request may carry (the body cap bounds their total size).
pub const MAX_FILES: usize = 64;
/// Most program arguments.
pub const MAX_ARGS: usize = 256;

/// `POST /v1/runs` body. Field names are documented in `openapi.json` (a test keeps them equal).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// A configured language name or alias, e.g. `python` or `py`.
    pub language: String,
    /// When given, the host's version of the language must start with it, e.g. `3.11`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub files: Vec<FileBody>,
    /// Which file is the program; default: the first file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment variables for the program, e.g. `{"GREETING": "hi"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<std::collections::BTreeMap<String, String>>,
    /// A package set (`config.environments`), e.g. `ml`; `none` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// A whole profile (every limit), as a bot sending runs to this node forwards its own:
    /// each limit becomes the lower of this and the key's tier ceiling. Not with `limits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileBody {
    /// Relative path in the working directory, e.g. `main.py` or `data/sales.csv`.
    pub name: String,
    pub content: String,
    #[serde(default)]
    pub encoding: Encoding,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Utf8,
    Base64,
}

/// Requested limits; each may lower the tier's default or raise it up to the tier's maximum.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    /// `"5s"`, `"500ms"` or a number of seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time: Option<HumanDuration>,
    /// `"128MiB"` or a number of bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
}

/// A request that passed every check: what the pipeline gets.
#[derive(Debug, Clone)]
pub struct ValidRun {
    /// The canonical language name.
    pub language: String,
    pub version: Option<String>,
    pub files: Vec<InputFile>,
    pub main: String,
    pub stdin: Vec<u8>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub environment: Option<String>,
    pub limits: LimitsBody,
    pub privileged: bool,
    pub profile: Option<Profile>,
}

/// Parse the raw body; serde's messages name the field, line and column.
pub fn parse(bytes: &[u8]) -> Result<RunBody, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        let (code, what) = match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ("malformed_json", "the request body is not valid JSON")
            }
            Category::Data if e.to_string().starts_with("unknown field") => (
                "unknown_field",
                "the request body has a field this API does not know",
            ),
            Category::Data => (
                "invalid_field",
                "a field of the request body has the wrong type or value",
            ),
        };
        ApiError::bad_request(
            code,
            format!("{what}: {e}. See GET /v1/openapi.json for the RunRequest schema."),
        )
    })
}

/// Check the body against the config: known language, safe unique file names, decodable content.
pub fn validate(body: RunBody, config: &Config) -> Result<ValidRun, ApiError> {
    let Some((language, _)) = config.find_language(&body.language) else {
        return Err(unknown_language(&body.language, config));
    };
    let language = language.to_string();
    if body.files.is_empty() {
        return Err(ApiError::bad_request(
            "no_files",
            "files is empty; send at least the program, e.g. \"files\": [{\"name\": \"main.py\", \"content\": \"print(1)\"}]",
        ));
    }
    if body.files.len() > MAX_FILES {
        return Err(ApiError::bad_request(
            "too_many_files",
            format!(
                "{} files were sent; at most {MAX_FILES} are accepted per run",
                body.files.len()
            ),
        ));
    }
    let mut files: Vec<InputFile> = Vec::with_capacity(body.files.len());
    for (i, file) in body.files.into_iter().enumerate() {
        validate_input_path(&file.name).map_err(|why| {
            ApiError::bad_request(
                "unsafe_file_name",
                format!("files[{i}].name is refused: {why}"),
            )
        })?;
        let content = match file.encoding {
            Encoding::Utf8 => file.content.into_bytes(),
            Encoding::Base64 => decode_base64(&file.content).map_err(|e| {
                ApiError::bad_request(
                    "bad_base64",
                    format!(
                        "files[{i}] ({}): content is not valid base64 ({e}); send standard base64 (RFC 4648 alphabet, `=` padding) or use \"encoding\": \"utf8\"",
                        file.name
                    ),
                )
            })?,
        };
        files.push(InputFile {
            path: file.name,
            content,
        });
    }
    validate_input_set(files.iter().map(|f| f.path.as_str())).map_err(|why| {
        let code = match why {
            FileNameError::Duplicate(_) => "duplicate_file_name",
            _ => "unsafe_file_name",
        };
        ApiError::bad_request(code, format!("files: {why}"))
    })?;
    let main = match body.main {
        Some(main) => {
            if !files.iter().any(|f| f.path == main) {
                let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
                return Err(ApiError::bad_request(
                    "unknown_main",
                    format!(
                        "main {main:?} is not one of the files sent ({}); set main to one of them or leave it out to run the first file",
                        names.join(", ")
                    ),
                ));
            }
            main
        }
        None => files[0].path.clone(),
    };
    let args = body.args.unwrap_or_default();
    if args.len() > MAX_ARGS {
        return Err(ApiError::bad_request(
            "too_many_args",
            format!(
                "{} args were sent; at most {MAX_ARGS} are accepted",
                args.len()
            ),
        ));
    }
    if let Some(i) = args.iter().position(|a| a.contains('\0')) {
        return Err(ApiError::bad_request(
            "invalid_arg",
            format!("args[{i}] contains a NUL character, which a program argument cannot hold"),
        ));
    }
    if body.limits.is_some() && body.profile.is_some() {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "send either limits (to adjust the tier's defaults) or profile (every limit, capped by the tier), not both",
        ));
    }
    let limits = body.limits.unwrap_or_default();
    if limits.wall_time.is_some_and(HumanDuration::is_zero) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limits.wall_time must be more than 0, e.g. \"5s\"",
        ));
    }
    if limits.memory.is_some_and(|m| m.bytes() == 0) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limits.memory must be more than 0, e.g. \"128MiB\"",
        ));
    }
    let env: Vec<(String, String)> = body.env.unwrap_or_default().into_iter().collect();
    coderunner_runner::user_env::check(&env)
        .map_err(|e| ApiError::bad_request("invalid_env", format!("env: {e}")))?;
    if let Some(set) = &body.environment {
        let word = !set.is_empty()
            && set.len() <= 64
            && set
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !word {
            return Err(ApiError::bad_request(
                "invalid_environment",
                "environment must be the name of a package set, e.g. \"ml\" (GET /v1/languages lists them), or \"none\"",
            ));
        }
    }
    Ok(ValidRun {
        language,
        version: body.version,
        files,
        main,
        stdin: body.stdin.unwrap_or_default().into_bytes(),
        args,
        env,
        environment: body.environment.map(|s| s.to_ascii_lowercase()),
        limits,
        privileged: body.privileged.unwrap_or(false),
        profile: body.profile,
    })
}

/// 400 for a language this server does not have, with close matches and the full list.
pub fn unknown_language(wanted: &str, config: &Config) -> ApiError {
    let close = config.suggest_languages(wanted);
    let known: Vec<&str> = config.languages.keys().map(String::as_str).collect();
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!("did you mean {}? ", close.join(" or "))
    };
    ApiError::bad_request(
        "unknown_language",
        format!(
            "unknown language {wanted:?}; {hint}known languages: {} (GET /v1/languages lists them with aliases)",
            known.join(", ")
        ),
    )
}

fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    // Line-wrapped base64 (`base64` without -w0) is common; whitespace carries no data.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::embedded_default().expect("default config")
    }

    fn run(json: &str) -> Result<ValidRun, ApiError> {
        validate(parse(json.as_bytes())?, &cfg())
    }

    #[test]
    fn accepts_a_full_body_and_defaults_main_to_the_first_file() {
        let v = run(
            r#"{"language":"py","files":[{"name":"prog.py","content":"print(1)"},
            {"name":"data/x.bin","content":"AAEC\n/w==","encoding":"base64"}],
            "stdin":"in","args":["a"],"env":{"GREETING":"hi"},"limits":{"wall_time":"2s","memory":"64MiB"}}"#,
        )
        .expect("valid");
        assert_eq!(v.env, vec![("GREETING".to_string(), "hi".to_string())]);
        assert_eq!(v.language, "python");
        assert_eq!(v.main, "prog.py");
        assert_eq!(v.files[1].content, vec![0, 1, 2, 255]);
        assert_eq!(v.limits.memory, Some(ByteSize::mib(64)));
        assert!(!v.privileged);
    }

    #[test]
    fn each_bad_input_has_its_code() {
        let cases = [
            (r#"{"language":"python","files":[}"#, "malformed_json"),
            (
                r#"{"language":"python","files":[],"colour":1}"#,
                "unknown_field",
            ),
            (r#"{"language":"python","files":"x"}"#, "invalid_field"),
            (
                r#"{"language":"pyhton","files":[{"name":"a","content":""}]}"#,
                "unknown_language",
            ),
            (r#"{"language":"python","files":[]}"#, "no_files"),
            (
                r#"{"language":"python","files":[{"name":"a","content":""}],"env":{"LD_PRELOAD":"x"}}"#,
                "invalid_env",
            ),
            (
                r#"{"language":"python","files":[{"name":"a","content":""}],"env":{"A-B":"x"}}"#,
                "invalid_env",
            ),
            (
                r#"{"language":"python","files":[{"name":"a","content":""}],"environment":"../etc"}"#,
                "invalid_environment",
            ),
            (
                r#"{"language":"python","files":[{"name":"../x","content":""}]}"#,
                "unsafe_file_name",
            ),
            (
                r#"{"language":"python","files":[{"name":"/etc/x","content":""}]}"#,
                "unsafe_file_name",
            ),
            (
                r#"{"language":"python","files":[{"name":"a","content":"!!","encoding":"base64"}]}"#,
                "bad_base64",
            ),
            (
                r#"{"language":"python","files":[{"name":"a","content":"","encoding":"hex"}]}"#,
                "invalid_field",
            ),
            (
                r#"{"language":"python","files":[{"name":"a","content":""},{"name":"a","content":""}]}"#,
                "duplicate_file_name",
            ),
            (
                r#"{"language":"python","files":[{"name":"a","content":""}],"main":"b"}"#,
                "unknown_main",
            ),
            (
                r#"{"language":"python","files":[{"name":"a","content":""}],"limits":{"wall_time":"0s"}}"#,
                "invalid_limit",
            ),
            (
                r#"{"language":"python","files":[{"name":"a","content":""}],"limits":{"wall_time":"soon"}}"#,
                "invalid_field",
            ),
        ];
        for (json, code) in cases {
            let err = run(json).expect_err(json);
            assert_eq!(err.code, code, "{json}: {}", err.message);
            assert_eq!(err.status.as_u16(), 400);
        }
    }

    #[test]
    fn unknown_language_names_close_matches() {
        let err = run(r#"{"language":"pyhton","files":[{"name":"a","content":""}]}"#)
            .expect_err("unknown");
        assert!(
            err.message.contains("did you mean python"),
            "{}",
            err.message
        );
    }
}
