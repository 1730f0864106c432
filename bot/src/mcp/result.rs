//! A run's outcome as an MCP tool result: a text block (status line, then the output cut to fit a
//! model's context, saying how much was cut), an `image/png` block per PNG the program wrote, and
//! the RunOutcome JSON as `structuredContent`. Anything but a clean exit is `isError`, so the
//! agent sees it must fix something.

use base64::Engine as _;
use coderunner_commands::render::{plain, status_line};
use coderunner_commands::{Refusal, RefusalKind};
use coderunner_config::Profile;
use coderunner_runner::{RunOutcome, RunStatus};
use rmcp::model::{CallToolResult, ContentBlock};

use super::trim::cut_middle;

/// PNG files start with these bytes; only real PNGs become image blocks.
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Most image bytes one result carries (base64 adds a third); larger sets are listed, not sent.
const MAX_IMAGE_BYTES: usize = 8 << 20;

/// Everything the text of a run's result depends on.
pub struct RunText<'a> {
    pub language: &'a str,
    pub version: Option<&'a str>,
    /// The limits the run had (for "timed out after 10 s").
    pub limits: &'a Profile,
    pub max_chars: usize,
}

/// The tool result of a run that was carried out (whatever the program did).
pub fn outcome(view: &RunText<'_>, outcome: &RunOutcome) -> CallToolResult {
    let failed = !(outcome.status == RunStatus::Exited && outcome.exit_code == Some(0));
    let mut text = match outcome.status {
        RunStatus::SandboxError => format!(
            "{} · the sandbox could not run this: {}. That is a problem on the server's side, not in the code.",
            view.language,
            outcome.error.as_deref().unwrap_or("unknown error")
        ),
        _ => status_line(view.language, view.version, outcome, view.limits).replace("**", ""),
    };
    let mut body = String::new();
    if let Some(compile) = &outcome.compile {
        if outcome.status == RunStatus::CompileError {
            body.push_str(&compile.stdout);
            body.push_str(&compile.stderr);
        }
    }
    body.push_str(&outcome.output);
    let body = plain(&body);
    if body.trim().is_empty() {
        if outcome.status != RunStatus::SandboxError {
            text.push_str("\n(no output)");
        }
    } else {
        let (shown, _) = cut_middle(&body, view.max_chars);
        text.push_str("\n\n");
        text.push_str(&shown);
        if !shown.ends_with('\n') {
            text.push('\n');
        }
    }
    let mut blocks = Vec::new();
    let mut listed = Vec::new();
    let mut image_bytes = 0usize;
    for file in &outcome.files {
        let png = file.content.starts_with(PNG_MAGIC);
        if png && image_bytes + file.content.len() <= MAX_IMAGE_BYTES {
            image_bytes += file.content.len();
            blocks.push(ContentBlock::image(
                base64::engine::general_purpose::STANDARD.encode(&file.content),
                "image/png",
            ));
            listed.push(format!(
                "{} ({}, {} bytes, shown below)",
                file.path, file.mime, file.size
            ));
        } else if png {
            listed.push(format!(
                "{} ({}, {} bytes, not shown: over the {} MiB of images one result carries)",
                file.path,
                file.mime,
                file.size,
                MAX_IMAGE_BYTES >> 20
            ));
        } else {
            listed.push(format!(
                "{} ({}, {} bytes)",
                file.path, file.mime, file.size
            ));
        }
    }
    if !listed.is_empty() {
        text.push_str("\nFiles written: ");
        text.push_str(&listed.join("; "));
    }
    let mut content = vec![ContentBlock::text(text.trim_end().to_string())];
    content.extend(blocks);
    let mut result = if failed {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    result.structured_content = serde_json::to_value(outcome).ok();
    result
}

/// The tool result of a call the pipeline refused (rate limit, queue, limits over the tier's
/// maximum, unknown language): `isError` with the reason, worded for `run_code`'s arguments.
pub fn refusal(refusal: &Refusal) -> CallToolResult {
    let mut text = mcp_wording(&refusal.message);
    if let Some(wait) = refusal.retry_after {
        if matches!(refusal.kind, RefusalKind::RateLimited | RefusalKind::Busy)
            && !text.contains("retry")
        {
            text.push_str(&format!(
                " (retry in {} s)",
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            ));
        }
    }
    CallToolResult::error(vec![ContentBlock::text(format!(
        "refused ({}): {text}",
        refusal.kind.as_str()
    ))])
}

/// A problem with the arguments that the agent can fix.
pub fn bad_arguments(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// The pipeline words refusals for chat (`--timeout=30`, `!langs`); an agent sets arguments.
fn mcp_wording(message: &str) -> String {
    let mut out = message.replace("**", "");
    for (flag, arg, quote) in [
        ("`--timeout=", "timeout", ""),
        ("`--memory=", "memory", "\""),
    ] {
        while let Some(start) = out.find(flag) {
            let value_start = start + flag.len();
            let Some(len) = out[value_start..].find('`') else {
                break;
            };
            let value = out[value_start..value_start + len].to_string();
            out.replace_range(
                start..value_start + len + 1,
                &format!("`{arg}: {quote}{value}{quote}`"),
            );
        }
    }
    out.replace("`--memory`", "`memory`")
        .replace("`--timeout`", "`timeout`")
        .replace("`!langs` lists them all", "list_languages lists them all")
        .replace(
            "`!langs` lists the languages I run",
            "list_languages lists them",
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use coderunner_config::Config;
    use coderunner_runner::OutputFile;

    fn limits() -> Profile {
        Config::embedded_default()
            .expect("default config")
            .profile("default")
            .expect("default profile")
            .clone()
    }

    fn view(limits: &Profile) -> RunText<'_> {
        RunText {
            language: "python",
            version: Some("3.11.2"),
            limits,
            max_chars: 200,
        }
    }

    fn exited(code: i32, output: &str) -> RunOutcome {
        let mut o = RunOutcome::sandbox_error("");
        o.status = RunStatus::Exited;
        o.exit_code = Some(code);
        o.error = None;
        o.output = output.to_string();
        o.stdout = output.to_string();
        o
    }

    fn text_of(r: &CallToolResult) -> String {
        r.content[0].as_text().expect("text block").text.clone()
    }

    #[test]
    fn clean_exit_is_success_with_status_output_and_structured_outcome() {
        let l = limits();
        let r = outcome(&view(&l), &exited(0, "hi\n"));
        assert_eq!(r.is_error, Some(false));
        let text = text_of(&r);
        assert!(text.starts_with("✅ python 3.11.2 · exit code 0"), "{text}");
        assert!(text.ends_with("\n\nhi"), "{text}");
        assert_eq!(
            r.structured_content.as_ref().expect("structured")["stdout"],
            "hi\n"
        );
    }

    #[test]
    fn failures_are_errors_and_long_output_keeps_its_end() {
        let l = limits();
        let long: String = (0..500).map(|i| format!("frame {i}\n")).collect::<String>()
            + "ZeroDivisionError: division by zero\n";
        let r = outcome(&view(&l), &exited(1, &long));
        assert_eq!(r.is_error, Some(true));
        let text = text_of(&r);
        assert!(text.contains("exit code 1"), "{text}");
        assert!(
            text.ends_with("ZeroDivisionError: division by zero"),
            "{text}"
        );
        assert!(text.contains("characters cut from the middle"), "{text}");
        let mut t = exited(0, "");
        t.status = RunStatus::Timeout;
        t.exit_code = None;
        let r = outcome(&view(&l), &t);
        assert_eq!(r.is_error, Some(true));
        assert!(
            text_of(&r).contains("timed out after 10 s"),
            "{}",
            text_of(&r)
        );
    }

    #[test]
    fn only_real_pngs_become_image_blocks() {
        let l = limits();
        let mut o = exited(0, "");
        let png = [PNG_MAGIC, b"rest"].concat();
        o.files = vec![
            OutputFile {
                path: "plot.png".into(),
                size: png.len() as u64,
                mime: "image/png".into(),
                content: png.clone(),
            },
            OutputFile {
                path: "fake.png".into(),
                size: 3,
                mime: "image/png".into(),
                content: b"abc".to_vec(),
            },
        ];
        let r = outcome(&view(&l), &o);
        assert_eq!(r.content.len(), 2, "text + one image");
        let image = r.content[1].as_image().expect("image block");
        assert_eq!(image.mime_type, "image/png");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&image.data)
                .expect("base64"),
            png
        );
        let text = text_of(&r);
        assert!(
            text.contains("plot.png (image/png, 12 bytes, shown below)"),
            "{text}"
        );
        assert!(text.contains("fake.png (image/png, 3 bytes)"), "{text}");
    }

    #[test]
    fn refusals_are_worded_for_arguments() {
        let r = refusal(&Refusal::not_allowed(
            "`--timeout=30` is more than the `member` tier allows (at most 10 s); use `--timeout=10` or less",
        ));
        assert_eq!(r.is_error, Some(true));
        assert_eq!(
            text_of(&r),
            "refused (not_allowed): `timeout: 30` is more than the `member` tier allows (at most 10 s); use `timeout: 10` or less"
        );
        let r = refusal(&Refusal::not_allowed(
            "`--memory=1GiB` is more than the `member` tier allows (at most 256 MiB); use `--memory=256MiB` or less",
        ));
        assert!(
            text_of(&r).contains("`memory: \"1GiB\"`"),
            "{}",
            text_of(&r)
        );
        let mut limited = Refusal::new(RefusalKind::RateLimited, "slow down");
        limited.retry_after = Some(std::time::Duration::from_millis(1500));
        assert!(text_of(&refusal(&limited)).ends_with("(retry in 2 s)"));
    }
}
