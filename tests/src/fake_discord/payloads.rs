//! JSON shapes the fake Discord sends: users, members, messages, roles, channels and
//! interactions, with the fields serenity 0.12 requires, and realistic snowflakes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// 2015-01-01T00:00:00Z, the start of Discord's snowflake clock.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Fresh snowflakes whose timestamp is now (poise ignores edits of "old" messages).
#[derive(Debug, Default)]
pub struct Snowflakes(AtomicU64);

impl Snowflakes {
    pub fn next(&self) -> u64 {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(DISCORD_EPOCH_MS);
        let increment = self.0.fetch_add(1, Ordering::SeqCst) & 0xFFF;
        // worker 1, process 0: bits 17..22; increment in the low 12 bits.
        ((ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | increment
    }
}

/// A Discord user as the tests describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: u64,
    pub name: String,
    /// Role ids the user holds in the fake guild.
    pub roles: Vec<u64>,
    pub bot: bool,
}

impl User {
    pub fn new(id: u64, name: &str, roles: &[u64]) -> Self {
        Self {
            id,
            name: name.to_string(),
            roles: roles.to_vec(),
            bot: false,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(), "username": self.name, "discriminator": "0",
            "global_name": self.name, "avatar": null, "bot": self.bot,
        })
    }

    /// The member object of a MESSAGE_CREATE (no `user` inside).
    pub fn partial_member(&self) -> Value {
        json!({
            "roles": self.roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "deaf": false, "mute": false, "flags": 0, "nick": null,
            "joined_at": "2024-01-01T00:00:00+00:00",
        })
    }

    /// The member object of an interaction or reaction (with `user`).
    pub fn member(&self) -> Value {
        let mut m = self.partial_member();
        m["user"] = self.json();
        m
    }
}

pub fn now_iso() -> String {
    // serenity accepts RFC 3339; a fixed date is fine, the snowflake carries the real time.
    "2026-01-01T00:00:00.000000+00:00".to_string()
}

/// A message object.
pub fn message(
    id: u64,
    channel: u64,
    guild: Option<u64>,
    author: &User,
    content: &str,
    attachments: Vec<Value>,
) -> Value {
    let mut m = json!({
        "id": id.to_string(), "channel_id": channel.to_string(),
        "author": author.json(), "content": content, "timestamp": now_iso(),
        "edited_timestamp": null, "tts": false, "mention_everyone": false,
        "mentions": [], "mention_roles": [], "attachments": attachments,
        "embeds": [], "pinned": false, "type": 0, "flags": 0,
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g.to_string());
        if !author.bot {
            m["member"] = author.partial_member();
        }
    }
    m
}

/// An attachment object pointing at `url`.
pub fn attachment(id: u64, filename: &str, size: u64, url: &str) -> Value {
    json!({
        "id": id.to_string(), "filename": filename, "size": size,
        "url": url, "proxy_url": url, "content_type": "application/octet-stream",
    })
}

pub fn role(id: u64, name: &str, position: u16) -> Value {
    json!({
        "id": id.to_string(), "name": name, "color": 0, "colors": {"primary_color": 0},
        "hoist": false, "managed": false, "mentionable": false, "permissions": "0",
        "position": position, "icon": null, "unicode_emoji": null, "flags": 0,
    })
}

/// A text channel (`parent` None) or a public thread of `parent`.
pub fn channel(id: u64, guild: u64, parent: Option<u64>) -> Value {
    match parent {
        None => json!({
            "id": id.to_string(), "type": 0, "guild_id": guild.to_string(),
            "name": format!("channel-{id}"), "position": 0, "permission_overwrites": [],
            "nsfw": false, "flags": 0,
        }),
        Some(p) => json!({
            "id": id.to_string(), "type": 11, "guild_id": guild.to_string(),
            "name": format!("thread-{id}"), "parent_id": p.to_string(), "flags": 0,
            "thread_metadata": {"archived": false, "auto_archive_duration": 1440,
                "archive_timestamp": now_iso(), "locked": false},
        }),
    }
}

/// Fields every interaction carries.
pub fn interaction_base(
    id: u64,
    app: u64,
    kind: u8,
    token: &str,
    guild: Option<u64>,
    channel: &Value,
    user: &User,
) -> Value {
    let mut i = json!({
        "id": id.to_string(), "application_id": app.to_string(), "type": kind,
        "token": token, "version": 1, "channel_id": channel["id"].clone(), "channel": channel,
        "locale": "en-US", "entitlements": [], "attachment_size_limit": 26_214_400u64,
        "app_permissions": "0",
    });
    match guild {
        Some(g) => {
            i["guild_id"] = json!(g.to_string());
            i["member"] = user.member();
        }
        None => i["user"] = user.json(),
    }
    i
}
