//! `!help [command]` and `!langs`: how to use the bot, with examples.

use coderunner_config::Config;

use crate::render::neutralize;
use crate::versions::{Version, Versions};

/// `!help` or `!help TOPIC`.
pub fn help(config: &Config, topic: Option<&str>) -> String {
    let p = neutralize(&config.discord.prefix);
    match topic {
        Some("run" | "r" | "eval" | "exec") => format!(
            "**{p}run** — run code in a sandbox
```
{p}run [--privileged] [--timeout=SECS] [--memory=SIZE] [LANG] [ARGS...]
```
Put the program in a code block. The language is the word after `{p}run`, else the block's tag, else an attached file's extension.
**Examples**
{p}run python
\\`\\`\\`py
print(input()[::-1])
\\`\\`\\`
\\`\\`\\`stdin
hello
\\`\\`\\`
• `{p}run py --verbose data.csv` passes `--verbose data.csv` to the program.
• `{p}run --timeout=30 py` gives it 30 s (up to your tier's maximum); `--memory=512MiB` likewise.
• A block tagged `expected` gets ✅ or ❌ against the program's output.
• Attach `analysis.py` and `sales.csv` to `{p}run` with no code block: the first source file is the program, the rest go in its working directory.
• `--privileged` (admins only) uses the privileged profile, with network.
• Inline code works too: {p}run py `print(2**100)`"
        ),
        Some("langs" | "languages" | "lang") => format!(
            "**{p}langs** — the languages I run, their versions, aliases and file extensions. Example: `{p}langs`"
        ),
        Some("runs") => format!(
            "**{p}runs [N]** — the last N runs and refusals (default 10, at most 25), from the audit log. Admins only. Example: `{p}runs 5`"
        ),
        Some("files" | "reset") => format!(
            "**{p}files** lists the files kept in this thread's workspace; **{p}reset** empties it. (Workspaces are not enabled yet in this version.)"
        ),
        Some("help") | None => format!(
            "**coderunner** runs your code in a sandbox and replies with its output.
• `{p}run [LANG]` + a code block — run a program (`{p}help run` for flags, stdin, expected output, attachments)
• `{p}langs` — languages and versions
• `{p}runs [N]` — recent runs (admins)
• `{p}files` / `{p}reset` — thread workspace
• `{p}help COMMAND` — details and examples
Example: {p}run python `print(\"hello\")`"
        ),
        Some(other) => format!(
            "❓ there is no `{p}{}` command; the commands are {p}run, {p}langs, {p}runs, {p}files, {p}reset and {p}help",
            neutralize(crate::render::cut_chars(other, 40))
        ),
    }
}

/// `!langs`: every configured language with its version (or why it is missing), aliases and extensions.
pub async fn languages(config: &Config, versions: &Versions) -> String {
    let p = neutralize(&config.discord.prefix);
    let mut lines = vec![
        "**Languages** (use the name or an alias after `run`, or tag the code block):".to_string(),
    ];
    for (name, lang) in &config.languages {
        let version = match versions.get(name, lang).await {
            Version::Known(v) => format!(" {v}"),
            Version::Unknown => String::new(),
            Version::Missing(_) => " — not installed on this host".to_string(),
        };
        let mut line = format!("• **{name}**{version}");
        if !lang.aliases.is_empty() {
            line.push_str(&format!(" · aliases: {}", lang.aliases.join(", ")));
        }
        if !lang.extensions.is_empty() {
            let exts: Vec<String> = lang.extensions.iter().map(|e| format!(".{e}")).collect();
            line.push_str(&format!(" · files: {}", exts.join(" ")));
        }
        lines.push(neutralize(&line));
    }
    lines.push(format!(
        "Example: `{p}run py` followed by a code block. `{p}help run` has more."
    ));
    crate::render::cut_chars(&lines.join("\n"), crate::render::MAX_REPLY_CHARS).to_string()
}
