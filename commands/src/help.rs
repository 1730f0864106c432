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
{p}run [--privileged] [--timeout=SECS] [--memory=SIZE] [--env=SET] [LANG] [ARGS...]
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
• `{p}run --env=ml py` runs with the package set `ml` (extra libraries; `{p}langs` lists the sets, `--env=none` runs without the default one).
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
        Some("files" | "reset" | "workspace" | "workspaces") => workspaces(config, &p),
        Some("session" | "sessions" | "restart" | "notebook") => format!(
            "**Notebook sessions** — in a thread (and the console) every `{p}run py` is a cell of one live Python: variables stay, the last expression is shown, DataFrames come back as tables and open matplotlib figures as images (no savefig needed).
• `{p}session` — the session: age, idle time, memory, variables, files
• `{p}restart` — a new Python, the files kept · `{p}reset` — clears variables and files
• `{p}run --fresh py` — one-shot, outside the session; other languages are always one-shot
A cell past its time gets KeyboardInterrupt and the session lives on; still busy 2 s later, the session ends (variables gone, files kept). Idle sessions are parked: what pickles is saved into the workspace and restored by the next cell.
Example: {p}run py `import pandas as pd; df = pd.read_csv('sales.csv')` then {p}run py `df.describe()`"
        ),
        Some("explain" | "fix" | "ask" | "tests" | "ai") => ai(config, &p),
        Some("lint") => format!(
            "**{p}lint [LANG]** — static checks in the sandbox, no AI: pyflakes (Python), `gcc`/`g++ -fsyntax-only -Wall -Wextra` (C, C++), `node --check` (JavaScript), `bash -n`/`sh -n` (shell). Lists findings with line numbers. Put the code in a block, or use it alone after your own `{p}run` to check that run's code. Example: {p}lint py `import os`"
        ),
        Some("help") | None => format!(
            "**coderunner** runs your code in a sandbox and replies with its output.
• `{p}run [LANG]` + a code block — run a program (`{p}help run` for flags, stdin, expected output, attachments)
• `{p}langs` — languages and versions
• `{p}runs [N]` — recent runs (admins)
• `{p}files` / `{p}reset` — files kept between runs in this thread or session (`{p}help files`)
• `{p}session` / `{p}restart` — the thread's live Python (`{p}help session`)
• `{p}lint [LANG]` — static checks with line numbers (`{p}help lint`)
• `{p}explain` · `{p}fix` · `{p}tests` · `{p}ask [LANG] question` — AI assist on your last run (`{p}help ai`)
• `{p}help COMMAND` — details and examples
Example: {p}run python `print(\"hello\")`"
        ),
        Some(other) => format!(
            "❓ there is no `{p}{}` command; the commands are {p}run, {p}langs, {p}runs, {p}files, {p}reset, {p}session, {p}restart, {p}lint, {p}explain, {p}fix, {p}ask, {p}tests and {p}help",
            neutralize(crate::render::cut_chars(other, 40))
        ),
    }
}

/// `!help ai`: the AI commands, whether they are on, and what the model sees.
fn ai(config: &Config, p: &str) -> String {
    let state = match config.ai.endpoint() {
        Some(_) => format!(
            "AI assist is on (model `{}`).",
            neutralize(crate::render::cut_chars(&config.ai.model, 60))
        ),
        None => format!("{}.", crate::ai::OFF_HINT),
    };
    format!(
        "**AI assist** — {state}
• **{p}explain** — after your own `{p}run` here (or as a reply to its reply): what went wrong and how to fix it.
• **{p}fix** — the model corrects the program; the correction runs in the sandbox, up to {} attempts, and the reply shows a diff and the final run.
• **{p}ask [LANG] question** — the model writes a program and the sandbox runs it. In a thread with files, it is told their names, sizes and CSV headers. Example: `{p}ask python plot revenue by month from sales.csv`
• **{p}tests** — the model writes test cases (stdin → expected output); each runs in the sandbox, pass/fail per case.
The model sees your code, its run's status and output, and file names — never other members' code or the bot's settings. Its code runs with your tier's limits, never privileged.",
        config.ai.attempts.max(1)
    )
}

/// `!help files`: what a workspace is, where there is one, its limits and who may reset it.
fn workspaces(config: &Config, p: &str) -> String {
    let ws = &config.workspaces;
    let mut places = Vec::new();
    if ws.threads {
        places.push("each Discord thread");
    }
    if !ws.channels.is_empty() {
        places.push("a few channels chosen by the operator");
    }
    if ws.console {
        places.push("the console session");
    }
    if places.is_empty() {
        return format!("**{p}files** / **{p}reset** — workspaces are switched off on this bot: every run starts in an empty directory. Attach the files a run needs.");
    }
    format!(
        "**Workspaces** — {} keeps a folder of files between runs.
• Files you attach to `{p}run` and files your program writes (e.g. `plot.png`, `clean.csv`) are kept; the next run in the same place finds them in its working directory. Your message's own files win over stored ones with the same name.
• Runs in one workspace take turns; other threads run in parallel. Symlinks and deleted files are not carried over.
• Limit {}: a run whose files would pass it saves nothing and says so. A workspace unused for {} is cleared.
• **{p}files** lists the files with sizes and ages. **{p}reset** empties the workspace — allowed for the member whose run started it, or an admin.
Example: attach `sales.csv` to `{p}run py` with `import pandas as pd; print(pd.read_csv('sales.csv').describe())`, then `{p}run py` `import pandas as pd; pd.read_csv('sales.csv').plot().figure.savefig('plot.png')` in the same thread: no need to attach it again.",
        places.join(", "),
        crate::fmt::bytes(ws.quota.bytes()),
        ttl_words(ws.ttl.as_duration()),
    )
}

fn ttl_words(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3_600 && secs.is_multiple_of(3_600) {
        format!("{} h", secs / 3_600)
    } else {
        crate::fmt::duration(d)
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
    let sets = crate::environments::report(config);
    if !sets.is_empty() {
        lines.push(format!(
            "**Package sets** (extra libraries: `{p}run --env=NAME py`):"
        ));
        for s in &sets {
            let mut line = if s.ready {
                format!("• **{}**: {}", s.name, s.detail)
            } else {
                format!("• **{}** — {} on this host", s.name, s.status)
            };
            let who = crate::environments::defaults_of(config, &s.name);
            if !who.is_empty() {
                line.push_str(&format!(" · default for {}", who.join(", ")));
            }
            lines.push(neutralize(&line));
        }
    }
    lines.push(format!(
        "Example: `{p}run py` followed by a code block. `{p}help run` has more."
    ));
    crate::render::cut_chars(&lines.join("\n"), crate::render::MAX_REPLY_CHARS).to_string()
}
