//! Builds the chat text the pipeline parses from slash-command options and context-menu targets,
//! so every entry point goes through the same grammar (`!run LANG` + fenced blocks).

use coderunner_config::Config;

/// A fence longer than any backtick run in `body`, so the body can never close it early.
fn fence_for(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// `body` as a fenced block tagged `tag`.
pub(crate) fn fenced(tag: &str, body: &str) -> String {
    let fence = fence_for(body);
    format!("{fence}{tag}\n{body}\n{fence}")
}

/// What a `/run` invocation (or its modal) asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RunRequest {
    pub language: Option<String>,
    pub code: Option<String>,
    pub stdin: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The `!run` text for a slash command: `!run LANG`, the code block, then the stdin block.
pub(crate) fn run_text(prefix: &str, req: &RunRequest) -> String {
    let mut text = format!("{prefix}run");
    if let Some(lang) = non_empty(&req.language) {
        // Only the first word: a language option cannot smuggle in flags like --privileged.
        if let Some(word) = lang.split_whitespace().next() {
            text.push(' ');
            text.push_str(word);
        }
    }
    if let Some(code) = req.code.as_deref().filter(|c| !c.trim().is_empty()) {
        text.push('\n');
        text.push_str(&fenced("", code));
    }
    if let Some(stdin) = req.stdin.as_deref().filter(|s| !s.is_empty()) {
        text.push('\n');
        text.push_str(&fenced("stdin", stdin));
    }
    text
}

/// How a context-menu target message can be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The message already is a `!run` command: run it as written.
    Command(String),
    /// Code whose language is known from a block tag or an attachment's extension.
    Clear(String),
    /// Code whose language must be asked for; the text still lacks it.
    Unclear { code_text: String },
    /// Nothing to run.
    Empty,
}

/// The tag of the first fenced block in `content`, if any.
fn first_fence_tag(content: &str) -> Option<Option<String>> {
    let start = content.find("```")?;
    let after = content[start..].trim_start_matches('`');
    let line = after.lines().next().unwrap_or("").trim();
    if line.is_empty() || line.contains(char::is_whitespace) {
        Some(None)
    } else {
        Some(Some(line.to_string()))
    }
}

/// Decide how to run a message picked with "Run code".
pub(crate) fn analyse_target(
    config: &Config,
    prefix: &str,
    content: &str,
    attachment_names: &[String],
) -> Target {
    let trimmed = content.trim();
    let run_cmd = format!("{prefix}run");
    if trimmed
        .get(..run_cmd.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(&run_cmd))
    {
        return Target::Command(trimmed.to_string());
    }
    let attachment_language = attachment_names
        .iter()
        .any(|name| config.language_for_extension(name).is_some());
    let code = match first_fence_tag(trimmed) {
        Some(tag) => {
            let known = tag.is_some_and(|t| config.find_language(&t).is_some());
            let text = format!("{run_cmd}\n{trimmed}");
            return if known || attachment_language {
                Target::Clear(text)
            } else {
                Target::Unclear {
                    code_text: trimmed.to_string(),
                }
            };
        }
        None if trimmed.is_empty() => None,
        // Plain text with no fence: the whole message is the code.
        None => Some(fenced("", trimmed)),
    };
    match code {
        Some(code_text) => Target::Unclear { code_text },
        None if attachment_language => Target::Clear(run_cmd),
        None if !attachment_names.is_empty() => Target::Unclear {
            code_text: String::new(),
        },
        None => Target::Empty,
    }
}

/// The text for an unclear target once the user named the language (and maybe stdin).
pub(crate) fn with_language(
    prefix: &str,
    language: &str,
    code_text: &str,
    stdin: Option<&str>,
) -> String {
    let word = language.split_whitespace().next().unwrap_or("");
    let mut text = format!("{prefix}run {word}");
    if !code_text.is_empty() {
        text.push('\n');
        text.push_str(code_text);
    }
    if let Some(stdin) = stdin.filter(|s| !s.is_empty()) {
        text.push('\n');
        text.push_str(&fenced("stdin", stdin));
    }
    text
}

/// Language names and aliases starting with `partial`, names first, at most 25 (Discord's cap).
pub(crate) fn language_choices(config: &Config, partial: &str) -> Vec<String> {
    let partial = partial.trim().to_ascii_lowercase();
    let names = config.languages.keys().cloned();
    let aliases = config
        .languages
        .values()
        .flat_map(|l| l.aliases.iter().cloned());
    names
        .chain(aliases)
        .filter(|n| n.to_ascii_lowercase().starts_with(&partial))
        .take(25)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::embedded_default().expect("default config")
    }

    #[test]
    fn a_fence_in_the_code_cannot_close_the_block_early() {
        let body = "print('```')\n````";
        let block = fenced("", body);
        let fence = block.lines().next().expect("first line");
        assert_eq!(fence, "`````");
        assert!(block.ends_with("\n`````"));
    }

    #[test]
    fn slash_text_has_language_code_and_stdin() {
        let text = run_text(
            "!",
            &RunRequest {
                language: Some("python --privileged".into()),
                code: Some("print(input())".into()),
                stdin: Some("hi".into()),
            },
        );
        assert_eq!(
            text,
            "!run python\n```\nprint(input())\n```\n```stdin\nhi\n```"
        );
    }

    #[test]
    fn context_menu_targets_are_classified() {
        let c = config();
        let clear = analyse_target(&c, "!", "look:\n```py\nprint(1)\n```", &[]);
        assert_eq!(
            clear,
            Target::Clear("!run\nlook:\n```py\nprint(1)\n```".into())
        );
        assert!(matches!(
            analyse_target(&c, "!", "```\nprint(1)\n```", &[]),
            Target::Unclear { .. }
        ));
        assert!(matches!(
            analyse_target(&c, "!", "```klingon\nx\n```", &[]),
            Target::Unclear { .. }
        ));
        assert_eq!(
            analyse_target(&c, "!", "", &["a.py".into()]),
            Target::Clear("!run".into())
        );
        assert!(matches!(
            analyse_target(&c, "!", "", &["data.bin".into()]),
            Target::Unclear { .. }
        ));
        assert_eq!(analyse_target(&c, "!", "  ", &[]), Target::Empty);
        assert_eq!(
            analyse_target(&c, "!", "!run py\n```\n1\n```", &[]),
            Target::Command("!run py\n```\n1\n```".into())
        );
    }

    #[test]
    fn autocomplete_offers_names_and_aliases() {
        let c = config();
        let py = language_choices(&c, "py");
        assert!(py.contains(&"python".to_string()) && py.contains(&"py3".to_string()));
        assert!(language_choices(&c, "").len() <= 25);
    }
}
