//! Who sent a command and where: Discord members and channels mapped to the pipeline's
//! `Identity` (roles with names) and `Place` (a thread carries its parent channel).

use std::collections::HashMap;
use std::sync::Mutex;

use coderunner_commands::{Identity, Place, Platform, Role};
use poise::serenity_prelude as serenity;
use tracing::warn;

/// Resolves role names and thread parents: serenity's cache first, the REST API on a miss.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    /// thread or channel id -> parent channel id (None: not a thread). Channels never change kind.
    parents: Mutex<HashMap<u64, Option<u64>>>,
}

fn is_thread(kind: serenity::ChannelType) -> bool {
    matches!(
        kind,
        serenity::ChannelType::PublicThread
            | serenity::ChannelType::PrivateThread
            | serenity::ChannelType::NewsThread
    )
}

impl Directory {
    /// Names for `roles` in `guild`. A role whose name cannot be found keeps its id as its name,
    /// so id-based tiers still work and name-based ones fail closed.
    pub async fn roles(
        &self,
        ctx: &serenity::Context,
        guild: Option<serenity::GuildId>,
        roles: &[serenity::RoleId],
    ) -> Vec<Role> {
        let Some(guild) = guild else {
            return Vec::new();
        };
        let mut names: HashMap<serenity::RoleId, String> = HashMap::new();
        if let Some(g) = ctx.cache.guild(guild) {
            for id in roles {
                if let Some(role) = g.roles.get(id) {
                    names.insert(*id, role.name.clone());
                }
            }
        }
        if names.len() < roles.len() {
            match guild.roles(&ctx.http).await {
                Ok(all) => {
                    for id in roles {
                        if let Some(role) = all.get(id) {
                            names.insert(*id, role.name.clone());
                        }
                    }
                }
                Err(err) => warn!(guild = guild.get(), error = %err, "could not fetch role names"),
            }
        }
        roles
            .iter()
            .map(|id| Role {
                id: Some(id.get()),
                name: names.remove(id).unwrap_or_else(|| id.get().to_string()),
            })
            .collect()
    }

    /// The parent of `channel` when it is a thread.
    async fn parent_of(
        &self,
        ctx: &serenity::Context,
        guild: serenity::GuildId,
        channel: serenity::ChannelId,
    ) -> Option<u64> {
        if let Some(known) = self.known_parent(channel.get()) {
            return known;
        }
        let from_cache = ctx.cache.guild(guild).and_then(|g| {
            if let Some(c) = g.channels.get(&channel) {
                return Some(c.parent_id.filter(|_| is_thread(c.kind)).map(|p| p.get()));
            }
            g.threads
                .iter()
                .find(|t| t.id == channel)
                .map(|t| t.parent_id.map(|p| p.get()))
        });
        let parent = match from_cache {
            Some(parent) => parent,
            None => match channel.to_channel(&ctx.http).await {
                Ok(serenity::Channel::Guild(c)) => {
                    c.parent_id.filter(|_| is_thread(c.kind)).map(|p| p.get())
                }
                Ok(_) => None,
                Err(err) => {
                    // Unknown kind: treat it as a channel of its own. An allowlist then sees the
                    // thread id, which it does not list, so this fails closed.
                    warn!(channel = channel.get(), error = %err, "could not look up channel");
                    return None;
                }
            },
        };
        self.remember(channel.get(), parent);
        parent
    }

    fn known_parent(&self, channel: u64) -> Option<Option<u64>> {
        self.parents
            .lock()
            .ok()
            .and_then(|m| m.get(&channel).copied())
    }

    fn remember(&self, channel: u64, parent: Option<u64>) {
        if let Ok(mut m) = self.parents.lock() {
            // Bounded: a busy bot sees many channels, but never this many live ones.
            if m.len() > 50_000 {
                m.clear();
            }
            m.insert(channel, parent);
        }
    }

    /// Where a message or interaction happened. `hint` is the interaction's partial channel.
    pub async fn place(
        &self,
        ctx: &serenity::Context,
        guild: Option<serenity::GuildId>,
        channel: serenity::ChannelId,
        hint: Option<&serenity::PartialChannel>,
    ) -> Place {
        let Some(guild) = guild else {
            return Place {
                guild: None,
                channel: Some(channel.get()),
                thread: None,
                is_dm: true,
                session: None,
            };
        };
        let parent = match hint {
            Some(p) if p.id == channel => {
                let parent = p.parent_id.filter(|_| is_thread(p.kind)).map(|id| id.get());
                self.remember(channel.get(), parent);
                parent
            }
            _ => self.parent_of(ctx, guild, channel).await,
        };
        match parent {
            Some(parent) => Place {
                guild: Some(guild.get()),
                channel: Some(parent),
                thread: Some(channel.get()),
                is_dm: false,
                session: None,
            },
            None => Place {
                guild: Some(guild.get()),
                channel: Some(channel.get()),
                thread: None,
                is_dm: false,
                session: None,
            },
        }
    }
}

/// The name shown for a user: server nickname, then global display name, then username.
pub(crate) fn display_name(user: &serenity::User, nick: Option<&str>) -> String {
    nick.map(str::to_string)
        .or_else(|| user.global_name.clone())
        .unwrap_or_else(|| user.name.clone())
}

/// An `Identity` from a user and their (already resolved) roles.
pub(crate) fn identity(user: &serenity::User, nick: Option<&str>, roles: Vec<Role>) -> Identity {
    Identity {
        platform: Platform::Discord,
        user_id: user.id.get().to_string(),
        display: display_name(user, nick),
        roles,
    }
}
