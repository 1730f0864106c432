//! One console session: reads messages, keeps the identity and pending attachments, prints replies.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use coderunner_commands::parse::{self, Command};
use coderunner_commands::{
    queue_note, AttachmentRef, Identity, Incoming, Pipeline, Place, Platform, Progress, Reply, Role,
};
use tokio::sync::mpsc;

use super::reader::{scan_fences, starts_fence};

/// How long an interactive `!run` with its code waits for a following ```stdin block.
const FOLLOW_UP_WAIT: Duration = Duration::from_millis(400);

/// Lines of stdin, read on a blocking thread (lossy UTF-8, line endings kept off).
pub fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match std::io::BufRead::read_until(&mut lock, b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    if tx
                        .blocking_send(String::from_utf8_lossy(&buf).into_owned())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Prints "queued: N ahead" while a run waits.
struct ConsoleProgress;

#[async_trait::async_trait]
impl Progress for ConsoleProgress {
    async fn queued(&self, ahead: usize) {
        println!("{}", queue_note(ahead));
    }
    async fn running(&self) {}
}

/// A console chat session.
pub struct Session {
    pipeline: Pipeline,
    out_dir: PathBuf,
    interactive: bool,
    who: Identity,
    pending: Vec<AttachmentRef>,
    replies: usize,
}

/// What the next input line turned out to be while a message waited for a follow-up block.
enum Next {
    Line(String),
    Timeout,
    Eof,
}

impl Session {
    pub fn new(pipeline: Pipeline, out_dir: PathBuf, interactive: bool) -> Session {
        let console = &pipeline.config().access.console;
        let who = identity(&console.user, &console.roles);
        Session {
            pipeline,
            out_dir,
            interactive,
            who,
            pending: Vec::new(),
            replies: 0,
        }
    }

    /// Read messages from `lines` until they end (or `:quit`), answering each in turn.
    pub async fn serve(
        &mut self,
        mut lines: mpsc::Receiver<String>,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        let mut carried: Option<String> = None;
        loop {
            let line = match carried.take() {
                Some(l) => l,
                None => match lines.recv().await {
                    Some(l) => l,
                    None => break,
                },
            };
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            if trimmed.starts_with(':') {
                if !self.directive(trimmed, out)? {
                    break;
                }
                continue;
            }
            let mut message = line;
            let mut fence = scan_fences(&message, None);
            let mut eof = false;
            loop {
                if fence.is_some() {
                    match lines.recv().await {
                        Some(l) => {
                            fence = scan_fences(&l, fence);
                            message.push('\n');
                            message.push_str(&l);
                            continue;
                        }
                        None => {
                            eof = true;
                            break;
                        }
                    }
                }
                let Some(wait) = self.follow_up_wait(&message) else {
                    break;
                };
                match next_line(&mut lines, wait).await {
                    Next::Line(l) if starts_fence(&l) => {
                        fence = scan_fences(&l, None);
                        message.push('\n');
                        message.push_str(&l);
                    }
                    Next::Line(l) => {
                        carried = Some(l);
                        break;
                    }
                    Next::Timeout => break,
                    Next::Eof => {
                        eof = true;
                        break;
                    }
                }
            }
            self.send(message, out).await?;
            if eof {
                break;
            }
        }
        self.pipeline.shutdown().await;
        Ok(())
    }

    /// For a `!run` message, how long to wait for a code block starting on the next line:
    /// `None` (do not wait), `Some(None)` (until the next line), `Some(Some(d))` (at most d).
    fn follow_up_wait(&self, message: &str) -> Option<Option<Duration>> {
        let prefix = &self.pipeline.config().discord.prefix;
        // `!lint LANG` takes its code block on the next lines, like `!run`.
        let (Some(Command::Run(run)) | Some(Command::Lint(run))) = parse::parse(prefix, message)
        else {
            return None;
        };
        let complete = run.code.is_some() || !self.pending.is_empty();
        if complete && self.interactive {
            // A person has typed a whole run: answer soon, unless a pasted block follows at once.
            Some(Some(FOLLOW_UP_WAIT))
        } else {
            Some(None)
        }
    }

    /// Handle a `:directive`; `false` means quit.
    fn directive(&mut self, line: &str, out: &mut impl Write) -> anyhow::Result<bool> {
        let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let note = match name {
            ":attach" if rest.is_empty() => "(console) usage: :attach PATH".to_string(),
            ":attach" => match super::files::attach(Path::new(rest)) {
                Ok(a) => {
                    let note = format!(
                        "(console) {} ({} bytes) will be attached to your next message",
                        a.name, a.size
                    );
                    self.pending.push(a);
                    note
                }
                Err(e) => format!("(console) {e}"),
            },
            ":as" if rest.is_empty() => "(console) usage: :as USER [ROLE,ROLE]".to_string(),
            ":as" => {
                let (user, roles) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let roles: Vec<String> = roles
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect();
                self.who = identity(user, &roles);
                format!(
                    "(console) you are now {user}, roles: {}",
                    if roles.is_empty() {
                        "none".to_string()
                    } else {
                        roles.join(", ")
                    }
                )
            }
            ":quit" | ":q" | ":exit" => return Ok(false),
            _ => "(console) directives: :attach PATH · :as USER [ROLE,ROLE] · :quit — anything else is a chat message, e.g. !help".to_string(),
        };
        writeln!(out, "{note}")?;
        out.flush()?;
        Ok(true)
    }

    async fn send(&mut self, text: String, out: &mut impl Write) -> anyhow::Result<()> {
        let msg = Incoming {
            who: self.who.clone(),
            place: Place {
                session: Some("local".to_string()),
                ..Place::default()
            },
            text,
            attachments: std::mem::take(&mut self.pending),
            message: None,
            reply_to: None,
        };
        let Some(reply) = self.pipeline.handle(msg, &ConsoleProgress).await else {
            return Ok(());
        };
        self.print(reply, out)
    }

    /// The reply as it would be posted, then where its files were saved.
    fn print(&mut self, reply: Reply, out: &mut impl Write) -> anyhow::Result<()> {
        self.replies += 1;
        writeln!(out, "{}", reply.content)?;
        for file in &reply.files {
            let path = self.save(&file.name, &file.content)?;
            writeln!(
                out,
                "📎 {} saved to {} ({} bytes)",
                file.name,
                path.display(),
                file.content.len()
            )?;
        }
        writeln!(out)?;
        out.flush()?;
        Ok(())
    }

    fn save(&self, name: &str, content: &[u8]) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.out_dir)
            .with_context(|| format!("creating {}", self.out_dir.display()))?;
        // Names are already sanitised by the pipeline; the reply number keeps runs apart.
        let path = self.out_dir.join(format!("{}-{name}", self.replies));
        std::fs::write(&path, content).with_context(|| format!("saving {}", path.display()))?;
        Ok(path)
    }
}

async fn next_line(lines: &mut mpsc::Receiver<String>, wait: Option<Duration>) -> Next {
    let got = match wait {
        None => lines.recv().await,
        Some(d) => match tokio::time::timeout(d, lines.recv()).await {
            Ok(l) => l,
            Err(_) => return Next::Timeout,
        },
    };
    match got {
        Some(l) => Next::Line(l),
        None => Next::Eof,
    }
}

fn identity(user: &str, roles: &[String]) -> Identity {
    Identity {
        platform: Platform::Console,
        user_id: user.to_string(),
        display: user.to_string(),
        roles: roles
            .iter()
            .map(|r| Role {
                id: r.parse().ok(),
                name: r.clone(),
            })
            .collect(),
    }
}
