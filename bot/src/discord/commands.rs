//! The prefix and slash commands. Every one of them becomes chat text for `Pipeline::handle`,
//! which parses the whole grammar; this file only gathers who, where, what and the attachments.

use std::time::Duration;

use coderunner_commands::{AttachmentRef, Incoming};
use poise::serenity_prelude as serenity;
use tracing::warn;

use super::feedback::{drive, Delivered};
use super::identity::identity;
use super::reply::Outgoing;
use super::rerun::RERUN_EMOJI;
use super::state::{AppCtx, Ctx, Data, Error};
use super::surface::PoiseSurface;
use super::text::{language_choices, run_text, RunRequest};

/// What a refused command hears while the bot shuts down.
pub(crate) const STOPPING: &str =
    "⏸️ coderunner is restarting and takes no new commands; try again in a minute.";
/// How long a modal waits for the user.
pub(crate) const MODAL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A Discord attachment as the pipeline sees it (downloaded later, only if used).
pub(crate) fn attachment_ref(data: &Data, a: &serenity::Attachment) -> AttachmentRef {
    AttachmentRef {
        name: a.filename.clone(),
        size: u64::from(a.size),
        locator: a.url.clone(),
        source: data.attachments.clone(),
    }
}

/// The `Incoming` for a user's message (prefix commands, 🔁 re-runs, unknown commands).
pub(crate) async fn message_incoming(
    ctx: &serenity::Context,
    data: &Data,
    msg: &serenity::Message,
) -> Incoming {
    let (roles, nick) = match &msg.member {
        Some(m) => (m.roles.clone(), m.nick.clone()),
        None => (Vec::new(), None),
    };
    let roles = data.directory.roles(ctx, msg.guild_id, &roles).await;
    Incoming {
        who: identity(&msg.author, nick.as_deref(), roles),
        place: data
            .directory
            .place(ctx, msg.guild_id, msg.channel_id, None)
            .await,
        text: msg.content.clone(),
        attachments: msg
            .attachments
            .iter()
            .map(|a| attachment_ref(data, a))
            .collect(),
        message: Some(msg.id.get()),
        // A reply (`!explain` answering a run's reply) names the message it answers.
        reply_to: msg
            .message_reference
            .as_ref()
            .and_then(|r| r.message_id)
            .map(|m| m.get()),
    }
}

/// The `Incoming` for an interaction with synthesised `text`.
pub(crate) async fn interaction_incoming(
    ctx: AppCtx<'_>,
    text: String,
    attachments: Vec<AttachmentRef>,
) -> Incoming {
    let interaction = ctx.interaction;
    let data = ctx.data();
    let sctx = ctx.serenity_context();
    let (roles, nick) = match &interaction.member {
        Some(m) => (m.roles.clone(), m.nick.clone()),
        None => (Vec::new(), None),
    };
    let roles = data
        .directory
        .roles(sctx, interaction.guild_id, &roles)
        .await;
    Incoming {
        who: identity(&interaction.user, nick.as_deref(), roles),
        place: data
            .directory
            .place(
                sctx,
                interaction.guild_id,
                interaction.channel_id,
                interaction.channel.as_ref(),
            )
            .await,
        text,
        attachments,
        // The interaction stands for the message: the frontend learns its reply's id later.
        message: Some(interaction.id.get()),
        reply_to: None,
    }
}

/// Run `incoming` and answer in `ctx`; runs also get a 🔁 reaction and a re-run record.
pub(crate) async fn execute(
    ctx: Ctx<'_>,
    incoming: Incoming,
    origin: Option<serenity::MessageId>,
    is_run: bool,
) -> Result<(), Error> {
    let data = ctx.data();
    let Some(_in_flight) = data.lifecycle.admit() else {
        ctx.send(Outgoing::text(STOPPING, &data.limits).to_poise())
            .await?;
        return Ok(());
    };
    let is_prefix = matches!(ctx, poise::Context::Prefix(_));
    let mut surface = PoiseSurface::new(ctx, is_prefix);
    let progress_after = data.config.discord.progress_after.as_duration();
    let delivered = drive(
        data.chat.as_ref(),
        incoming.clone(),
        &mut surface,
        &data.limits,
        progress_after,
    )
    .await;
    if let (true, Delivered::Posted(Some(reply))) = (is_run, delivered) {
        let fresh = data.reruns.find(reply).is_none();
        data.reruns
            .record(origin, reply, ctx.channel_id(), ctx.author().id, incoming);
        if fresh {
            offer_rerun(ctx.serenity_context(), ctx.channel_id(), reply).await;
        }
    }
    Ok(())
}

/// Put 🔁 under a reply so its author can click it to run again.
pub(crate) async fn offer_rerun(
    ctx: &serenity::Context,
    channel: serenity::ChannelId,
    reply: serenity::MessageId,
) {
    let emoji = serenity::ReactionType::Unicode(RERUN_EMOJI.to_string());
    if let Err(err) = ctx.http.create_reaction(channel, reply, &emoji).await {
        warn!(error = %err, "could not add the 🔁 reaction");
    }
}

/// A prefix command: the message text goes to the pipeline as written.
async fn forward_prefix(ctx: Ctx<'_>, is_run: bool) -> Result<(), Error> {
    let poise::Context::Prefix(p) = ctx else {
        return Ok(());
    };
    let incoming = message_incoming(ctx.serenity_context(), ctx.data(), p.msg).await;
    execute(ctx, incoming, Some(p.msg.id), is_run).await
}

/// A slash command other than /run: `{prefix}{command}` goes to the pipeline.
async fn forward_slash(ctx: AppCtx<'_>, command: String) -> Result<(), Error> {
    poise::Context::Application(ctx).defer().await?;
    let text = format!("{}{command}", ctx.data().prefix());
    let incoming = interaction_incoming(ctx, text, Vec::new()).await;
    execute(poise::Context::Application(ctx), incoming, None, false).await
}

/// Run code: `!run [LANG] [ARGS]` followed by a code block, and/or attached files.
#[poise::command(prefix_command, track_edits, rename = "run")]
pub(crate) async fn run_prefix(ctx: Ctx<'_>, #[rest] _args: Option<String>) -> Result<(), Error> {
    forward_prefix(ctx, true).await
}

/// The languages this bot runs.
#[poise::command(prefix_command, rename = "langs", aliases("languages"))]
pub(crate) async fn langs_prefix(ctx: Ctx<'_>, #[rest] _args: Option<String>) -> Result<(), Error> {
    forward_prefix(ctx, false).await
}

/// How to use the bot.
#[poise::command(prefix_command, rename = "help")]
pub(crate) async fn help_prefix(ctx: Ctx<'_>, #[rest] _args: Option<String>) -> Result<(), Error> {
    forward_prefix(ctx, false).await
}

/// Recent runs (admins).
#[poise::command(prefix_command, rename = "runs")]
pub(crate) async fn runs_prefix(ctx: Ctx<'_>, #[rest] _args: Option<String>) -> Result<(), Error> {
    forward_prefix(ctx, false).await
}

/// Files kept in this thread's workspace.
#[poise::command(prefix_command, rename = "files")]
pub(crate) async fn files_prefix(ctx: Ctx<'_>, #[rest] _args: Option<String>) -> Result<(), Error> {
    forward_prefix(ctx, false).await
}

/// Empty this thread's workspace.
#[poise::command(prefix_command, rename = "reset")]
pub(crate) async fn reset_prefix(ctx: Ctx<'_>, #[rest] _args: Option<String>) -> Result<(), Error> {
    forward_prefix(ctx, false).await
}

async fn autocomplete_language(
    ctx: Ctx<'_>,
    partial: &str,
) -> serenity::CreateAutocompleteResponse {
    let choices = language_choices(&ctx.data().config, partial)
        .into_iter()
        .map(serenity::AutocompleteChoice::from)
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// The /run modal: code and stdin (and the language, prefilled when given).
#[derive(Debug, poise::Modal)]
#[name = "Run code"]
pub(crate) struct CodeModal {
    #[name = "Language"]
    #[placeholder = "python, js, bash, c, cpp, rust…"]
    #[max_length = 32]
    pub language: Option<String>,
    #[name = "Code"]
    #[paragraph]
    #[max_length = 4000]
    pub code: String,
    #[name = "Standard input (optional)"]
    #[paragraph]
    #[max_length = 4000]
    pub stdin: Option<String>,
}

/// Run code in the sandbox. Without code or a file, a form opens for the code.
#[poise::command(slash_command, rename = "run")]
pub(crate) async fn run_slash(
    ctx: AppCtx<'_>,
    #[description = "Language (default: the file's extension)"]
    #[autocomplete = "autocomplete_language"]
    language: Option<String>,
    #[description = "The code (leave empty to type it in a form)"] code: Option<String>,
    #[description = "A program file, or a data file for the code"] file: Option<
        serenity::Attachment,
    >,
    #[description = "Standard input for the program"] stdin: Option<String>,
) -> Result<(), Error> {
    let mut request = RunRequest {
        language,
        code,
        stdin,
    };
    let has_code = request
        .code
        .as_deref()
        .is_some_and(|c| !c.trim().is_empty());
    if !has_code && file.is_none() {
        let defaults = CodeModal {
            language: request.language.clone(),
            code: String::new(),
            stdin: request.stdin.clone(),
        };
        let Some(form) = poise::execute_modal(ctx, Some(defaults), Some(MODAL_TIMEOUT)).await?
        else {
            return Ok(());
        };
        request = RunRequest {
            language: form.language,
            code: Some(form.code),
            stdin: form.stdin,
        };
    } else {
        poise::Context::Application(ctx).defer().await?;
    }
    let data = ctx.data();
    let text = run_text(data.prefix(), &request);
    let attachments = file.iter().map(|a| attachment_ref(data, a)).collect();
    let incoming = interaction_incoming(ctx, text, attachments).await;
    execute(poise::Context::Application(ctx), incoming, None, true).await
}

/// The languages this bot runs.
#[poise::command(slash_command, rename = "langs")]
pub(crate) async fn langs_slash(ctx: AppCtx<'_>) -> Result<(), Error> {
    forward_slash(ctx, "langs".into()).await
}

/// How to use the bot.
#[poise::command(slash_command, rename = "help")]
pub(crate) async fn help_slash(
    ctx: AppCtx<'_>,
    #[description = "A command, e.g. run"] command: Option<String>,
) -> Result<(), Error> {
    let word = command
        .as_deref()
        .and_then(|c| c.split_whitespace().next())
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    forward_slash(ctx, format!("help{word}")).await
}

/// Recent runs (admins).
#[poise::command(slash_command, rename = "runs")]
pub(crate) async fn runs_slash(
    ctx: AppCtx<'_>,
    #[description = "How many"]
    #[min = 1]
    #[max = 50]
    count: Option<u32>,
) -> Result<(), Error> {
    let n = count.map(|n| format!(" {n}")).unwrap_or_default();
    forward_slash(ctx, format!("runs{n}")).await
}

/// Files kept in this thread's workspace.
#[poise::command(slash_command, rename = "files")]
pub(crate) async fn files_slash(ctx: AppCtx<'_>) -> Result<(), Error> {
    forward_slash(ctx, "files".into()).await
}

/// Empty this thread's workspace.
#[poise::command(slash_command, rename = "reset")]
pub(crate) async fn reset_slash(ctx: AppCtx<'_>) -> Result<(), Error> {
    forward_slash(ctx, "reset".into()).await
}

/// Every command, prefix ones first: poise matches prefix commands by name in list order.
pub(crate) fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        run_prefix(),
        langs_prefix(),
        help_prefix(),
        runs_prefix(),
        files_prefix(),
        reset_prefix(),
        run_slash(),
        langs_slash(),
        help_slash(),
        runs_slash(),
        files_slash(),
        reset_slash(),
        super::context_menu::run_code(),
    ]
}
