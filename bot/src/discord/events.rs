//! Gateway events beyond commands (🔁 reactions, deletions, READY) and the framework's error
//! handler. Nothing here may take the bot down: every failure is logged and answered if possible.

use poise::serenity_prelude as serenity;
use tracing::{debug, error, info, warn};

use super::commands::{message_incoming, offer_rerun};
use super::feedback::{drive, Delivered};
use super::reply::Outgoing;
use super::rerun::is_rerun;
use super::state::{Data, Error};
use super::surface::ChannelSurface;

type FrameworkContext<'a> = poise::FrameworkContext<'a, Data, Error>;

/// poise's event hook.
pub(crate) fn handle_event<'a>(
    fw: FrameworkContext<'a>,
    event: &'a serenity::FullEvent,
) -> poise::BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        match event {
            serenity::FullEvent::Ready { data_about_bot } => info!(
                user = %data_about_bot.user.name,
                guilds = data_about_bot.guilds.len(),
                "connected to the Discord gateway"
            ),
            serenity::FullEvent::ReactionAdd { add_reaction } => rerun(fw, add_reaction).await,
            serenity::FullEvent::MessageDelete {
                deleted_message_id, ..
            } => fw.user_data.reruns.forget(*deleted_message_id),
            _ => {}
        }
        Ok(())
    })
}

/// The author reacted 🔁 on their command or its reply: run it again as a new reply.
async fn rerun(fw: FrameworkContext<'_>, reaction: &serenity::Reaction) {
    if !is_rerun(&reaction.emoji) {
        return;
    }
    let Some(user) = reaction.user_id else {
        return;
    };
    if user == fw.bot_id() {
        return;
    }
    let data = fw.user_data;
    let Some(entry) = data.reruns.find(reaction.message_id) else {
        return;
    };
    if entry.author != user {
        debug!(
            user = user.get(),
            "🔁 from someone other than the author ignored"
        );
        return;
    }
    let Some(_in_flight) = data.lifecycle.admit() else {
        return;
    };
    let ctx = fw.serenity_context;
    let mut incoming = entry.incoming.clone();
    // Roles may have changed since the first run: use the member as they are now.
    if let Some(member) = &reaction.member {
        incoming.who.roles = data
            .directory
            .roles(ctx, reaction.guild_id, &member.roles)
            .await;
    }
    info!(user = user.get(), "re-running on 🔁");
    let reply_to = entry.origin.or(Some(entry.reply));
    let mut surface = ChannelSurface::new(ctx.http.clone(), entry.channel, reply_to);
    let progress_after = data.config.discord.progress_after.as_duration();
    let delivered = drive(
        data.chat.as_ref(),
        incoming.clone(),
        &mut surface,
        &data.limits,
        progress_after,
    )
    .await;
    if let Delivered::Posted(Some(reply)) = delivered {
        data.reruns
            .record(entry.origin, reply, entry.channel, entry.author, incoming);
        offer_rerun(ctx, entry.channel, reply).await;
    }
}

/// A prefixed message that is none of the registered commands: the pipeline still answers it
/// ("unknown command, did you mean…"), or ignores it.
async fn unknown_command(fw: FrameworkContext<'_>, msg: &serenity::Message) {
    let data = fw.user_data;
    let Some(_in_flight) = data.lifecycle.admit() else {
        return;
    };
    let ctx = fw.serenity_context;
    let incoming = message_incoming(ctx, data, msg).await;
    let mut surface = ChannelSurface::new(ctx.http.clone(), msg.channel_id, Some(msg.id));
    drive(
        data.chat.as_ref(),
        incoming,
        &mut surface,
        &data.limits,
        data.config.discord.progress_after.as_duration(),
    )
    .await;
}

/// poise's error hook: log, tell the user where it makes sense, never panic.
pub(crate) fn on_error(err: poise::FrameworkError<'_, Data, Error>) -> poise::BoxFuture<'_, ()> {
    Box::pin(async move {
        match err {
            poise::FrameworkError::UnknownCommand {
                msg,
                framework,
                trigger,
                ..
            } => {
                // Edits of a non-command message would otherwise answer once per edit.
                if matches!(trigger, poise::MessageDispatchTrigger::MessageCreate) {
                    unknown_command(framework, msg).await;
                }
            }
            poise::FrameworkError::Command { error, ctx, .. } => {
                error!(command = %ctx.command().name, error = %error, "command failed");
                apologise(ctx).await;
            }
            poise::FrameworkError::CommandPanic { payload, ctx, .. } => {
                error!(command = %ctx.command().name, panic = ?payload, "command panicked");
                apologise(ctx).await;
            }
            poise::FrameworkError::ArgumentParse { error, ctx, .. } => {
                warn!(command = %ctx.command().name, error = %error, "bad command arguments");
                let text = format!(
                    "That did not parse: {error}. See `{}help`.",
                    ctx.data().prefix()
                );
                let _ = ctx
                    .send(Outgoing::text(text, &ctx.data().limits).to_poise())
                    .await;
            }
            other => warn!(error = %other, "framework error"),
        }
    })
}

async fn apologise(ctx: poise::Context<'_, Data, Error>) {
    let text =
        "⚠️ Something went wrong while handling that; it has been logged. Try again in a moment.";
    if let Err(err) = ctx
        .send(Outgoing::text(text, &ctx.data().limits).to_poise())
        .await
    {
        warn!(error = %err, "could not report the failure either");
    }
}
