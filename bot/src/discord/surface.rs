//! Where a command's status and result are shown: a poise context (prefix reply or interaction
//! response) or a plain channel (🔁 re-runs, unknown prefix commands).

use std::sync::Arc;

use poise::serenity_prelude as serenity;
use tracing::warn;

use super::reply::Outgoing;
use super::state::Ctx;

/// Something that can show a status message and then the result in its place.
#[async_trait::async_trait]
pub(crate) trait Surface: Send {
    /// Show or stop the typing indicator (where the surface has one).
    fn typing(&mut self, on: bool);
    /// Post or update the status message.
    async fn status(&mut self, out: &Outgoing) -> Result<(), serenity::Error>;
    /// Post the result, replacing the status message if there is one. Returns its id if known.
    async fn finish(
        &mut self,
        out: &Outgoing,
    ) -> Result<Option<serenity::MessageId>, serenity::Error>;
    /// Remove the status message (the pipeline had nothing to say after all).
    async fn withdraw(&mut self);
}

/// A poise command invocation: prefix replies are edit-tracked; interactions answer in place.
pub(crate) struct PoiseSurface<'a> {
    ctx: Ctx<'a>,
    handle: Option<poise::ReplyHandle<'a>>,
    typing: Option<serenity::Typing>,
    show_typing: bool,
}

impl<'a> PoiseSurface<'a> {
    /// `show_typing`: interactions have Discord's own "thinking…" state, prefix commands do not.
    pub fn new(ctx: Ctx<'a>, show_typing: bool) -> Self {
        Self {
            ctx,
            handle: None,
            typing: None,
            show_typing,
        }
    }
}

#[async_trait::async_trait]
impl Surface for PoiseSurface<'_> {
    fn typing(&mut self, on: bool) {
        if on && self.show_typing && self.typing.is_none() {
            let http = &self.ctx.serenity_context().http;
            self.typing = Some(self.ctx.channel_id().start_typing(http));
        } else if !on {
            if let Some(t) = self.typing.take() {
                t.stop();
            }
        }
    }

    async fn status(&mut self, out: &Outgoing) -> Result<(), serenity::Error> {
        match &self.handle {
            Some(handle) => handle.edit(self.ctx, out.to_poise()).await,
            None => {
                self.handle = Some(self.ctx.send(out.to_poise()).await?);
                Ok(())
            }
        }
    }

    async fn finish(
        &mut self,
        out: &Outgoing,
    ) -> Result<Option<serenity::MessageId>, serenity::Error> {
        if self.handle.is_none() {
            self.handle = Some(self.ctx.send(out.to_poise()).await?);
        } else if let Some(handle) = &self.handle {
            handle.edit(self.ctx, out.to_poise()).await?;
        }
        let Some(handle) = &self.handle else {
            return Ok(None);
        };
        match handle.message().await {
            Ok(msg) => Ok(Some(msg.id)),
            Err(err) => {
                warn!(error = %err, "posted, but could not learn the reply's id");
                Ok(None)
            }
        }
    }

    async fn withdraw(&mut self) {
        if let Some(handle) = self.handle.take() {
            if let Err(err) = handle.delete(self.ctx).await {
                warn!(error = %err, "could not delete the status message");
            }
        }
    }
}

/// A channel, replying to a given message.
pub(crate) struct ChannelSurface {
    http: Arc<serenity::Http>,
    channel: serenity::ChannelId,
    reference: Option<serenity::MessageReference>,
    message: Option<serenity::Message>,
    typing: Option<serenity::Typing>,
}

impl ChannelSurface {
    pub fn new(
        http: Arc<serenity::Http>,
        channel: serenity::ChannelId,
        reply_to: Option<serenity::MessageId>,
    ) -> Self {
        Self {
            http,
            channel,
            reference: reply_to.map(|m| serenity::MessageReference::from((channel, m))),
            message: None,
            typing: None,
        }
    }

    async fn post(&mut self, out: &Outgoing) -> Result<serenity::MessageId, serenity::Error> {
        match &mut self.message {
            Some(msg) => {
                msg.edit(&self.http, out.to_edit()).await?;
                Ok(msg.id)
            }
            None => {
                let msg = self
                    .channel
                    .send_message(&self.http, out.to_message(self.reference.clone()))
                    .await?;
                let id = msg.id;
                self.message = Some(msg);
                Ok(id)
            }
        }
    }
}

#[async_trait::async_trait]
impl Surface for ChannelSurface {
    fn typing(&mut self, on: bool) {
        if on && self.typing.is_none() {
            self.typing = Some(self.channel.start_typing(&self.http));
        } else if !on {
            if let Some(t) = self.typing.take() {
                t.stop();
            }
        }
    }

    async fn status(&mut self, out: &Outgoing) -> Result<(), serenity::Error> {
        self.post(out).await.map(|_| ())
    }

    async fn finish(
        &mut self,
        out: &Outgoing,
    ) -> Result<Option<serenity::MessageId>, serenity::Error> {
        self.post(out).await.map(Some)
    }

    async fn withdraw(&mut self) {
        if let Some(msg) = self.message.take() {
            if let Err(err) = msg.delete(&self.http).await {
                warn!(error = %err, "could not delete the status message");
            }
        }
    }
}
