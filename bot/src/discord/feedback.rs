//! Progress while a run waits or runs: a typing indicator, and after `progress_after` a short
//! "queued / running…" message that the result then replaces. Also posts the result, retrying
//! once when Discord fails.

use std::time::Duration;

use coderunner_commands::{Incoming, Progress};
use poise::serenity_prelude as serenity;
use tokio::sync::watch;
use tracing::{error, warn};

use super::reply::{fit, Outgoing, ReplyLimits};
use super::surface::Surface;
use super::ChatHandler;

/// Where a command is, as reported by the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Parsing, checking access, fetching attachments.
    Preparing,
    Queued(usize),
    Running,
}

impl Stage {
    fn status_line(self) -> Option<String> {
        match self {
            Stage::Preparing => None,
            Stage::Queued(0) => Some("⏳ Queued, starting soon…".into()),
            Stage::Queued(ahead) => Some(format!("⏳ Queued: {ahead} ahead of you…")),
            Stage::Running => Some("⚙️ Running…".into()),
        }
    }
}

/// The pipeline's `Progress`, forwarded to the presenter through a watch channel.
struct Feedback(watch::Sender<Stage>);

#[async_trait::async_trait]
impl Progress for Feedback {
    async fn queued(&self, ahead: usize) {
        let _ = self.0.send(Stage::Queued(ahead));
    }
    async fn running(&self) {
        let _ = self.0.send(Stage::Running);
    }
}

/// How a finished command went, for the caller's bookkeeping (🔁 reactions).
#[derive(Debug)]
pub(crate) enum Delivered {
    /// The pipeline did not consider the text addressed to the bot.
    Ignored,
    /// The reply was posted as this message (when its id is known).
    Posted(Option<serenity::MessageId>),
    /// Discord refused the reply, twice.
    Failed,
}

/// Run `incoming` through the pipeline, showing progress on `surface`, and post the result.
pub(crate) async fn drive(
    chat: &dyn ChatHandler,
    incoming: Incoming,
    surface: &mut dyn Surface,
    limits: &ReplyLimits,
    progress_after: Duration,
) -> Delivered {
    let (tx, mut rx) = watch::channel(Stage::Preparing);
    let feedback = Feedback(tx);
    let asked = incoming.clone();
    let work = chat.handle(incoming, &feedback);
    tokio::pin!(work);
    let patience = tokio::time::sleep(progress_after);
    tokio::pin!(patience);
    let mut waited = false;
    let mut shown: Option<Stage> = None;
    let mut channel_open = true;

    let reply = loop {
        tokio::select! {
            reply = &mut work => break reply,
            changed = rx.changed(), if channel_open => {
                if changed.is_err() {
                    channel_open = false;
                    continue;
                }
                surface.typing(true);
            }
            () = &mut patience, if !waited => {
                waited = true;
            }
        }
        let stage = *rx.borrow();
        if waited && shown != Some(stage) {
            if let Some(line) = stage.status_line() {
                if let Err(err) = surface.status(&Outgoing::text(line, limits)).await {
                    warn!(error = %err, "could not post the progress message");
                }
                shown = Some(stage);
            }
        }
    };
    surface.typing(false);

    let Some(reply) = reply else {
        surface.withdraw().await;
        return Delivered::Ignored;
    };
    let out = fit(reply, limits);
    let delivered = deliver(surface, &out, limits).await;
    if let Delivered::Posted(Some(id)) = &delivered {
        // Before the caller's 🔁 bookkeeping, so a reply to this answer can find its run.
        chat.replied(&asked, id.get());
    }
    delivered
}

/// Post `out`; on a Discord error wait a moment and try again, then tell the user.
pub(crate) async fn deliver(
    surface: &mut dyn Surface,
    out: &Outgoing,
    limits: &ReplyLimits,
) -> Delivered {
    match surface.finish(out).await {
        Ok(id) => return Delivered::Posted(id),
        Err(err) => warn!(error = %err, "posting the reply failed; retrying once"),
    }
    tokio::time::sleep(Duration::from_millis(750)).await;
    match surface.finish(out).await {
        Ok(id) => return Delivered::Posted(id),
        Err(err) => error!(error = %err, "posting the reply failed twice"),
    }
    // The full reply may be what Discord refuses (size, a file): a plain note may still pass.
    let note = Outgoing::text(
        "⚠️ The run finished but Discord refused the reply. Try again in a moment.",
        limits,
    );
    if let Err(err) = surface.finish(&note).await {
        error!(error = %err, "could not report the failed reply either");
    }
    Delivered::Failed
}
