//! AI outcomes as chat replies: at most 2,000 characters, longer parts attached as files.

use coderunner_config::Config;

use super::{AiKind, AiOutcome};
use crate::render::{self, cut_chars, neutralize, RunView, MAX_REPLY_CHARS};
use crate::{Reply, ReplyFile};

/// An explanation is shown up to this many characters; a longer one is attached.
const EXPLAIN_CHARS: usize = 1_500;
/// Code or a diff shown inline at most; the whole is attached when longer.
const CODE_CHARS: usize = 700;

fn text_file(name: &str, content: &str) -> ReplyFile {
    ReplyFile {
        name: name.to_string(),
        mime: "text/plain".to_string(),
        content: content.as_bytes().to_vec(),
    }
}

/// A code block that cannot be broken out of, cut to `max` characters.
fn block(tag: &str, body: &str, max: usize) -> (String, bool) {
    let cut = cut_chars(body.trim_end(), max);
    let shown = cut.replace("```", "`\u{200b}``");
    let more = cut.len() < body.trim_end().len();
    (
        format!("```{tag}\n{shown}{}\n```", if more { "\n…" } else { "" }),
        more,
    )
}

/// The chat reply for an AI outcome.
pub fn render(config: &Config, out: &AiOutcome) -> Reply {
    let mut files = Vec::new();
    let lang = config.languages.get(&out.language);
    let highlight = lang
        .and_then(|l| l.highlight.clone())
        .unwrap_or_else(|| out.language.clone());
    let file_name = lang.map_or("main.txt", |l| l.file.as_str()).to_string();
    let model = neutralize(cut_chars(&out.model, 60));
    let mut head = match out.command {
        AiKind::Explain => {
            let text = out.explanation.as_deref().unwrap_or("");
            let mut s = format!(
                "🤖 **explain** · {model}\n{}",
                neutralize(cut_chars(text, EXPLAIN_CHARS))
            );
            if text.chars().count() > EXPLAIN_CHARS {
                s.push_str("\n… (the whole answer is attached)");
                files.push(text_file("explanation.md", text));
            }
            return Reply { content: s, files };
        }
        AiKind::Fix => {
            let verdict = match out.fixed {
                Some(true) => format!(
                    "✅ fixed on attempt {} of {}",
                    out.attempts,
                    config.ai.attempts.max(1)
                ),
                _ => format!(
                    "❌ still failing after {}",
                    crate::fmt::plural(out.attempts as usize, "attempt", "attempts")
                ),
            };
            let diff = out.diff.as_deref().unwrap_or("");
            let (shown, cut) = block("diff", diff, CODE_CHARS);
            if cut {
                files.push(text_file("fix.diff", diff));
            }
            if let Some(code) = &out.code {
                files.push(text_file(&file_name, code));
            }
            format!("🛠️ **fix** · {model} · {verdict}\n{shown}\n")
        }
        AiKind::Ask => {
            let code = out.code.as_deref().unwrap_or("");
            let (shown, cut) = block(&highlight, code, CODE_CHARS);
            if cut {
                files.push(text_file(&file_name, code));
            }
            format!("🤖 **ask** · {model} · {}\n{shown}\n", out.language)
        }
        AiKind::Tests => {
            let passed = out.tests.iter().filter(|t| t.passed).count();
            let mut s = format!(
                "🧪 **tests** · {model} · {passed} of {} passed",
                out.tests.len()
            );
            for t in &out.tests {
                let line = if t.passed {
                    format!("\n✅ {}", neutralize(cut_chars(&t.name, 80)))
                } else {
                    format!(
                        "\n❌ {} — expected `{}`, got `{}`{}",
                        neutralize(cut_chars(&t.name, 80)),
                        neutralize(cut_chars(t.expected.trim(), 80)).replace('`', "'"),
                        neutralize(cut_chars(t.actual.trim(), 80)).replace('`', "'"),
                        if t.status == "exited" {
                            String::new()
                        } else {
                            format!(" ({})", t.status)
                        }
                    )
                };
                if s.chars().count() + line.chars().count() > MAX_REPLY_CHARS - 10 {
                    s.push_str("\n…");
                    break;
                }
                s.push_str(&line);
            }
            return Reply { content: s, files };
        }
    };
    if let Some(run) = &out.run {
        // Leave the run's part room for the header above it.
        let room = MAX_REPLY_CHARS.saturating_sub(head.chars().count() + 10);
        let mut output = config.output.clone();
        output.inline_chars = output
            .inline_chars
            .min(room.saturating_sub(300) as u32)
            .max(100);
        output.inline_lines = output.inline_lines.min(15);
        let rendered = render::render_run(
            &RunView {
                language: &out.language,
                version: None,
                highlight: &highlight,
                limits: &out.limits,
                outcome: run,
                expected: None,
            },
            &output,
            config.discord.upload_limit.bytes(),
        );
        head.push_str(&rendered.reply.content);
        files.extend(rendered.reply.files);
    }
    Reply {
        content: cut_chars(&head, MAX_REPLY_CHARS).to_string(),
        files,
    }
}
