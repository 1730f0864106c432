//! The "Run code" message context menu: runs the code block or attachment of any message, and
//! asks for the language in a modal when the message does not make it clear.

use poise::serenity_prelude as serenity;

use super::commands::{attachment_ref, execute, interaction_incoming, MODAL_TIMEOUT};
use super::reply::Outgoing;
use super::state::{AppCtx, Error};
use super::text::{analyse_target, with_language, Target};

/// Asked when the target message does not say which language it is.
#[derive(Debug, poise::Modal)]
#[name = "Which language?"]
pub(crate) struct LanguageModal {
    #[name = "Language"]
    #[placeholder = "python, js, bash, c, cpp, rust…"]
    #[max_length = 32]
    pub language: String,
    #[name = "Standard input (optional)"]
    #[paragraph]
    #[max_length = 4000]
    pub stdin: Option<String>,
}

/// Run the code block or attachment of this message.
#[poise::command(context_menu_command = "Run code")]
pub(crate) async fn run_code(ctx: AppCtx<'_>, message: serenity::Message) -> Result<(), Error> {
    let data = ctx.data();
    let names: Vec<String> = message
        .attachments
        .iter()
        .map(|a| a.filename.clone())
        .collect();
    let text = match analyse_target(&data.config, data.prefix(), &message.content, &names) {
        Target::Command(text) | Target::Clear(text) => {
            poise::Context::Application(ctx).defer().await?;
            text
        }
        Target::Unclear { code_text } => {
            let Some(form) =
                poise::execute_modal::<_, _, LanguageModal>(ctx, None, Some(MODAL_TIMEOUT)).await?
            else {
                return Ok(());
            };
            with_language(
                data.prefix(),
                &form.language,
                &code_text,
                form.stdin.as_deref(),
            )
        }
        Target::Empty => {
            let note = Outgoing::text(
                "That message has no code block or attachment to run.",
                &data.limits,
            );
            poise::Context::Application(ctx)
                .send(note.to_poise().ephemeral(true))
                .await?;
            return Ok(());
        }
    };
    let attachments = message
        .attachments
        .iter()
        .map(|a| attachment_ref(data, a))
        .collect();
    let incoming = interaction_incoming(ctx, text, attachments).await;
    execute(poise::Context::Application(ctx), incoming, None, true).await
}
