//! Start-up and shutdown: the token, REST (optionally through a fake Discord for tests), intents,
//! command registration, the gateway client, and graceful stop on SIGTERM/Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use coderunner_config::Config;
use poise::serenity_prelude as serenity;
use tracing::{error, info, warn};

use super::attachments::HttpAttachments;
use super::events::{handle_event, on_error};
use super::identity::Directory;
use super::lifecycle::Lifecycle;
use super::reply::{no_mentions, ReplyLimits, MAX_CHARS, MAX_FILES};
use super::rerun::RerunBook;
use super::state::Data;
use super::ChatHandler;

/// Why the bot could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "the environment variable {0} is not set or empty: put the bot token there \
         (Developer Portal → your application → Bot → Reset Token), or change discord.token_env"
    )]
    MissingToken(String),
    #[error(
        "Discord rejected the token in {0} (401 Unauthorized): it is wrong or was reset; \
         copy a fresh one from Developer Portal → your application → Bot → Reset Token"
    )]
    RejectedToken(String),
    #[error("could not reach Discord at {base}: {reason}")]
    Unreachable { base: String, reason: String },
    #[error(
        "Discord refused the gateway intents: enable \"Message Content Intent\" in Developer Portal \
         → your application → Bot → Privileged Gateway Intents, or set discord.message_content: false"
    )]
    DisallowedIntents,
    #[error("discord.api_base must be an http:// or https:// URL, got {0:?}")]
    BadApiBase(String),
    #[error("the Discord client stopped: {0}")]
    Client(String),
    #[error("could not set up the attachment downloader: {0}")]
    Downloader(String),
}

/// Fail early, before the sandbox is prepared, when the token variable is empty.
pub fn require_token(config: &Config) -> Result<(), StartError> {
    token(config).map(|_| ())
}

/// The token from the configured variable, without whitespace or a pasted "Bot " prefix.
fn token(config: &Config) -> Result<String, StartError> {
    let var = &config.discord.token_env;
    let raw = std::env::var(var).unwrap_or_default();
    let token = raw.trim().trim_start_matches("Bot ").trim().to_string();
    if token.is_empty() {
        return Err(StartError::MissingToken(var.clone()));
    }
    Ok(token)
}

/// REST client: the real Discord with its rate limiter, or (tests) a fake at `api_base`.
fn http_client(config: &Config, token: &str) -> Result<(serenity::Http, String), StartError> {
    match config.discord.api_base.as_deref() {
        Some(base) => {
            let base = base.trim_end_matches('/');
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(StartError::BadApiBase(base.to_string()));
            }
            warn!(
                api_base = base,
                "discord.api_base is set: talking to a FAKE Discord (tests only)"
            );
            // serenity only honours the proxy with its rate limiter off.
            let http = serenity::HttpBuilder::new(token)
                .proxy(base)
                .ratelimiter_disabled(true)
                .build();
            Ok((http, base.to_string()))
        }
        None => Ok((
            serenity::HttpBuilder::new(token).build(),
            "https://discord.com".to_string(),
        )),
    }
}

/// The intents this configuration needs, logging which are privileged.
fn intents(config: &Config) -> serenity::GatewayIntents {
    use serenity::GatewayIntents as I;
    // GUILDS fills the cache with role names and threads' parents.
    let mut intents = I::GUILDS | I::GUILD_MESSAGES | I::GUILD_MESSAGE_REACTIONS;
    if config.access.dms {
        intents |= I::DIRECT_MESSAGES | I::DIRECT_MESSAGE_REACTIONS;
    }
    if config.discord.message_content {
        intents |= I::MESSAGE_CONTENT;
        info!(
            "privileged intent MESSAGE_CONTENT requested: enable \"Message Content Intent\" in the \
             Developer Portal (your application → Bot → Privileged Gateway Intents)"
        );
    } else {
        warn!(
            "discord.message_content is false: no privileged intents; `{}run` text commands only \
             work in DMs and when the bot is mentioned — use /run and the \"Run code\" menu",
            config.discord.prefix
        );
    }
    intents
}

/// Check the token before connecting, so a bad one is a clear error rather than a gateway loop.
async fn check_token(
    http: &serenity::Http,
    base: &str,
    var: &str,
) -> Result<serenity::CurrentUser, StartError> {
    match http.get_current_user().await {
        Ok(user) => Ok(user),
        Err(serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(resp)))
            if resp.status_code.as_u16() == 401 =>
        {
            Err(StartError::RejectedToken(var.to_string()))
        }
        Err(err) => Err(StartError::Unreachable {
            base: base.to_string(),
            reason: err.to_string(),
        }),
    }
}

/// Register the application commands where the config says.
async fn register(
    ctx: &serenity::Context,
    commands: &[poise::Command<Data, super::state::Error>],
    guilds: &[u64],
) {
    if guilds.is_empty() {
        match poise::builtins::register_globally(ctx, commands).await {
            Ok(()) => info!("slash and context-menu commands registered globally (Discord may take a while to show them)"),
            Err(err) => error!(error = %err, "registering global commands failed; was the bot invited with the applications.commands scope?"),
        }
        return;
    }
    for &guild in guilds {
        let Some(id) = std::num::NonZeroU64::new(guild).map(|g| serenity::GuildId::new(g.get()))
        else {
            continue;
        };
        match poise::builtins::register_in_guild(ctx, commands, id).await {
            Ok(()) => info!(guild, "slash and context-menu commands registered in guild"),
            Err(err) => {
                error!(guild, error = %err, "registering guild commands failed; is the bot in that guild with the applications.commands scope?")
            }
        }
    }
}

/// How long a graceful stop waits for running commands before ending them.
fn shutdown_deadline(config: &Config) -> Duration {
    let longest = config
        .profiles
        .values()
        .map(|p| p.wall_time.as_duration() + p.compile.wall_time.as_duration())
        .max()
        .unwrap_or(Duration::from_secs(30));
    longest + Duration::from_secs(5)
}

fn map_client_error(err: serenity::Error, var: &str) -> StartError {
    match err {
        serenity::Error::Gateway(serenity::GatewayError::InvalidAuthentication) => {
            StartError::RejectedToken(var.to_string())
        }
        serenity::Error::Gateway(
            serenity::GatewayError::DisallowedGatewayIntents
            | serenity::GatewayError::InvalidGatewayIntents,
        ) => StartError::DisallowedIntents,
        other => StartError::Client(other.to_string()),
    }
}

/// Wait for SIGTERM or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(err) => {
                    warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops gracefully");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => info!("Ctrl-C received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Connect and serve until stopped.
pub(super) async fn serve(config: Arc<Config>, chat: Arc<dyn ChatHandler>) -> anyhow::Result<()> {
    let var = config.discord.token_env.clone();
    let token = token(&config)?;
    let (http, base) = http_client(&config, &token)?;
    let me = check_token(&http, &base, &var).await?;
    info!(bot = %me.name, id = me.id.get(), "token accepted");
    let intents = intents(&config);

    let lifecycle = Arc::new(Lifecycle::default());
    let edit_window = config.discord.edit_window.as_duration();
    let data = Data {
        config: config.clone(),
        chat: chat.clone(),
        lifecycle: lifecycle.clone(),
        reruns: RerunBook::new(2_000, edit_window.max(Duration::from_secs(600))),
        attachments: Arc::new(
            HttpAttachments::new().map_err(|e| StartError::Downloader(e.to_string()))?,
        ),
        directory: Directory::default(),
        limits: ReplyLimits {
            max_chars: MAX_CHARS,
            max_files: MAX_FILES.min(config.output.max_files as usize).max(1),
            upload_limit: config.discord.upload_limit.0,
        },
    };

    let guilds = config.discord.guilds.clone();
    let options = poise::FrameworkOptions {
        commands: super::commands::all(),
        prefix_options: poise::PrefixFrameworkOptions {
            prefix: Some(config.discord.prefix.clone().into()),
            edit_tracker: Some(Arc::new(poise::EditTracker::for_timespan(edit_window))),
            tracking_initiation_window: Some(edit_window),
            // `@bot run` would reach the pipeline without its prefix and be ignored.
            mention_as_prefix: false,
            ..Default::default()
        },
        on_error,
        event_handler: handle_event,
        allowed_mentions: Some(no_mentions()),
        ..Default::default()
    };
    let framework = poise::Framework::builder()
        .options(options)
        // Owners are not used; skip the extra request at start-up.
        .initialize_owners(false)
        .setup(move |ctx, _ready, framework| {
            Box::pin(async move {
                register(ctx, &framework.options().commands, &guilds).await;
                Ok(data)
            })
        })
        .build();

    let mut client = serenity::ClientBuilder::new_with_http(http, intents)
        .framework(framework)
        .await
        .map_err(|e| StartError::Client(e.to_string()))?;

    let shards = client.shard_manager.clone();
    let chat_at_exit = chat.clone();
    let deadline = shutdown_deadline(&config);
    let stopper = tokio::spawn(async move {
        stop_signal().await;
        lifecycle.stop();
        info!(
            running = lifecycle.in_flight(),
            deadline_s = deadline.as_secs(),
            "shutting down: refusing new commands, letting running ones finish"
        );
        if !lifecycle.wait_idle(deadline).await {
            warn!(
                running = lifecycle.in_flight(),
                "deadline passed; ending the remaining runs"
            );
        }
        chat.shutdown().await;
        // Replies of runs ended by the pipeline's shutdown still get a moment to be posted.
        lifecycle.wait_idle(Duration::from_secs(5)).await;
        shards.shutdown_all().await;
    });

    let result = client.start().await;
    stopper.abort();
    match result {
        Ok(()) => {
            info!("disconnected from Discord; bye");
            Ok(())
        }
        Err(err) => {
            // The gateway gave up (bad token, refused intents): still end runs and flush the audit.
            chat_at_exit.shutdown().await;
            Err(map_client_error(err, &var).into())
        }
    }
}
