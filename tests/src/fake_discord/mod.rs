//! A fake Discord for end-to-end tests: REST over http://127.0.0.1 and the gateway over
//! ws://127.0.0.1, enough of the real protocol for serenity 0.12 + poise 0.7. Tests inject
//! gateway events (messages, edits, deletes, interactions, reactions), host attachment bytes,
//! read every REST call the bot made (multipart bodies parsed), and can make replies fail.

mod bot;
mod gateway;
mod multipart;
mod payloads;
mod rest;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

pub use bot::{launch, test_config, BotProcess, TEST_TOKEN, WAIT};
pub use multipart::UploadedFile;
pub use payloads::User;

/// The fake guild and its channels, roles and application (fixed, realistic-looking snowflakes).
pub const GUILD: u64 = 1_180_000_000_000_000_001;
pub const CHANNEL: u64 = 1_180_000_000_000_000_011;
pub const THREAD: u64 = 1_180_000_000_000_000_012;
pub const OTHER_CHANNEL: u64 = 1_180_000_000_000_000_013;
/// A second public thread of `CHANNEL`.
pub const OTHER_THREAD: u64 = 1_180_000_000_000_000_014;
pub const APP_ID: u64 = 1_180_000_000_000_000_021;
pub const BOT_ID: u64 = 1_180_000_000_000_000_022;
pub const ROLE_DATA: u64 = 1_180_000_000_000_000_101;
pub const ROLE_ADMIN: u64 = 1_180_000_000_000_000_102;
/// A second server the bot is in, which the test configs do not list (someone else's server).
pub const OTHER_GUILD: u64 = 1_180_000_000_000_000_201;
/// A text channel of `OTHER_GUILD`.
pub const OTHER_GUILD_CHANNEL: u64 = 1_180_000_000_000_000_211;
/// A role of `OTHER_GUILD` that its owner NAMED `admin` (a different id from `ROLE_ADMIN`).
pub const OTHER_GUILD_ADMIN_NAMED: u64 = 1_180_000_000_000_000_202;

/// One REST call the bot made.
#[derive(Debug, Clone, Default)]
pub struct Call {
    pub method: String,
    /// Path including `/api/v10`.
    pub path: String,
    pub content_type: String,
    /// The body, when it was JSON.
    pub json: Option<Value>,
    /// The `payload_json` part, when the body was multipart.
    pub payload_json: Option<Value>,
    /// Uploaded files, when the body was multipart.
    pub files: Vec<UploadedFile>,
    /// The status the fake answered with.
    pub status: u16,
}

impl Call {
    /// The message body: `payload_json` of a multipart body, or the JSON body.
    pub fn body(&self) -> Value {
        self.payload_json
            .clone()
            .or_else(|| self.json.clone())
            .unwrap_or(Value::Null)
    }

    /// The `content` the bot sent, if any.
    pub fn content(&self) -> Option<String> {
        self.body()["content"].as_str().map(str::to_string)
    }

    pub fn file_names(&self) -> Vec<String> {
        self.files.iter().map(|f| f.filename.clone()).collect()
    }

    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|f| f.filename == name)
    }

    /// Whether this posts a message (channel message or interaction followup).
    pub fn is_message_post(&self) -> bool {
        self.method == "POST"
            && ((self.path.starts_with("/api/v10/channels/") && self.path.ends_with("/messages"))
                || (self.path.starts_with("/api/v10/webhooks/")
                    && self.path.matches('/').count() == 5))
    }

    /// Whether this edits a message (channel message or interaction response/followup).
    pub fn is_message_edit(&self) -> bool {
        self.method == "PATCH" && self.path.contains("/messages/")
    }

    /// One line for logs and reports: method, path, status, payload and file names.
    pub fn summary(&self) -> String {
        let body = self.body();
        let files = if self.files.is_empty() {
            String::new()
        } else {
            format!(" files={:?}", self.file_names())
        };
        let kind = if self.payload_json.is_some() || !self.files.is_empty() {
            " multipart payload_json="
        } else {
            " "
        };
        format!(
            "{} {} -> {}{}{}{}",
            self.method, self.path, self.status, kind, body, files
        )
    }
}

/// What the gateway sends next.
#[derive(Debug, Clone)]
enum Outbound {
    Dispatch(String, Value),
    Raw(String),
}

/// Shared by the REST server, the gateway sessions and the test.
struct State {
    guild: u64,
    channel: u64,
    app: u64,
    bot: u64,
    ids: payloads::Snowflakes,
    base: OnceLock<String>,
    gateway: OnceLock<String>,
    calls: Mutex<Vec<Call>>,
    failures: AtomicU32,
    reject_token: AtomicBool,
    messages: Mutex<HashMap<u64, Value>>,
    webhooks: Mutex<HashMap<(String, String), Value>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
    roles: Vec<(u64, String)>,
    other_roles: Vec<(u64, String)>,
    /// Downloads of hosted attachments (the CDN), counted to check when the bot fetches.
    fetches: AtomicU32,
    events: broadcast::Sender<Outbound>,
    ready: watch::Sender<u32>,
    identify: Mutex<Option<Value>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test thread that panicked while holding the lock must not hide the real failure.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    fn base(&self) -> String {
        self.base.get().cloned().unwrap_or_default()
    }
    fn gateway_url(&self) -> String {
        self.gateway.get().cloned().unwrap_or_default()
    }
    fn record(&self, call: Call) {
        lock(&self.calls).push(call);
    }
    fn take_failure(&self) -> bool {
        self.failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
    fn token_rejected(&self) -> bool {
        self.reject_token.load(Ordering::SeqCst)
    }
    fn store_message(&self, id: u64, msg: Value) {
        lock(&self.messages).insert(id, msg);
    }
    fn message(&self, id: u64) -> Option<Value> {
        lock(&self.messages).get(&id).cloned()
    }
    fn remove_message(&self, id: u64) {
        lock(&self.messages).remove(&id);
    }
    fn link_webhook(&self, token: &str, which: &str, msg: &Value) {
        let mut hooks = lock(&self.webhooks);
        hooks.insert((token.to_string(), which.to_string()), msg.clone());
        // A deferred response's first followup takes the place of the "thinking…" message.
        hooks
            .entry((token.to_string(), "@original".to_string()))
            .or_insert_with(|| msg.clone());
    }
    fn webhook_message(&self, token: &str, which: &str) -> Option<Value> {
        lock(&self.webhooks)
            .get(&(token.to_string(), which.to_string()))
            .cloned()
    }
    fn hosted(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.files).get(key).cloned()
    }
    fn roles_json(&self, guild: u64) -> Vec<Value> {
        let roles = if guild == OTHER_GUILD {
            &self.other_roles
        } else {
            &self.roles
        };
        roles
            .iter()
            .enumerate()
            .map(|(i, (id, name))| payloads::role(*id, name, i as u16))
            .collect()
    }
    fn channel_json(&self, id: u64) -> Option<Value> {
        match id {
            CHANNEL | OTHER_CHANNEL => Some(payloads::channel(id, self.guild, None)),
            OTHER_GUILD_CHANNEL => Some(payloads::channel(id, OTHER_GUILD, None)),
            THREAD | OTHER_THREAD => Some(payloads::channel(id, self.guild, Some(CHANNEL))),
            _ => None,
        }
    }
    fn set_identify(&self, d: Value) {
        *lock(&self.identify) = Some(d);
    }
}

/// A running fake Discord. Dropping it stops its servers.
pub struct FakeDiscord {
    state: Arc<State>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeDiscord {
    /// Start the REST server and the gateway on ephemeral loopback ports.
    pub async fn start() -> std::io::Result<FakeDiscord> {
        let rest = TcpListener::bind("127.0.0.1:0").await?;
        let gw = TcpListener::bind("127.0.0.1:0").await?;
        let (events, _) = broadcast::channel(256);
        let (ready, _) = watch::channel(0);
        let state = Arc::new(State {
            guild: GUILD,
            channel: CHANNEL,
            app: APP_ID,
            bot: BOT_ID,
            ids: payloads::Snowflakes::default(),
            base: OnceLock::new(),
            gateway: OnceLock::new(),
            calls: Mutex::new(Vec::new()),
            failures: AtomicU32::new(0),
            reject_token: AtomicBool::new(false),
            messages: Mutex::new(HashMap::new()),
            webhooks: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
            roles: vec![
                (GUILD, "@everyone".into()),
                (ROLE_DATA, "data".into()),
                (ROLE_ADMIN, "admin".into()),
            ],
            other_roles: vec![
                (OTHER_GUILD, "@everyone".into()),
                (OTHER_GUILD_ADMIN_NAMED, "admin".into()),
            ],
            fetches: AtomicU32::new(0),
            events,
            ready,
            identify: Mutex::new(None),
        });
        let _ = state.base.set(format!("http://{}", rest.local_addr()?));
        let _ = state.gateway.set(format!("ws://{}", gw.local_addr()?));
        let app = axum::Router::new()
            .fallback(rest::handle)
            .with_state(state.clone());
        let rest_task = tokio::spawn(async move {
            let _ = axum::serve(rest, app).await;
        });
        let gw_task = tokio::spawn(gateway::accept_loop(gw, state.clone()));
        Ok(FakeDiscord {
            state,
            tasks: vec![rest_task, gw_task],
        })
    }

    /// What to put in `discord.api_base`.
    pub fn api_base(&self) -> String {
        self.state.base()
    }

    /// A fresh, current snowflake.
    pub fn snowflake(&self) -> u64 {
        self.state.ids.next()
    }

    /// A new (non-bot) user holding `roles` in the fake guild.
    pub fn user(&self, name: &str, roles: &[u64]) -> User {
        User::new(self.snowflake(), name, roles)
    }

    /// Make `GET /users/@me` answer 401, as Discord does for a bad token.
    pub fn reject_token(&self, reject: bool) {
        self.state.reject_token.store(reject, Ordering::SeqCst);
    }

    /// Make the next `n` message posts (channel messages and followups) fail with a 500.
    pub fn fail_next_replies(&self, n: u32) {
        self.state.failures.store(n, Ordering::SeqCst);
    }

    /// The last Identify payload the bot sent (token, intents...).
    pub fn identify(&self) -> Option<Value> {
        lock(&self.state.identify).clone()
    }

    /// Wait until the bot has identified and its commands were registered (poise's setup ran).
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.wait_ready_after(0, 0, timeout).await
    }

    /// How many times a bot became ready so far (to wait for the next one after a restart).
    pub fn ready_count(&self) -> u32 {
        *self.state.ready.borrow()
    }

    /// Wait until a bot became ready more than `count` times and registered its commands after
    /// call `mark`: a restarted bot is connected again.
    pub async fn wait_ready_after(&self, count: u32, mark: usize, timeout: Duration) -> bool {
        let mut ready = self.state.ready.subscribe();
        let identified = tokio::time::timeout(timeout, ready.wait_for(|n| *n > count))
            .await
            .is_ok_and(|r| r.is_ok());
        identified
            && self
                .wait_call(mark, timeout, |c| {
                    c.method == "PUT" && c.path.ends_with("/commands")
                })
                .await
                .is_some()
    }

    /// Every REST call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state.calls).clone()
    }

    /// How many calls were recorded so far (a mark for `calls_since`/`wait_call`).
    pub fn mark(&self) -> usize {
        lock(&self.state.calls).len()
    }

    pub fn calls_since(&self, mark: usize) -> Vec<Call> {
        lock(&self.state.calls)
            .get(mark..)
            .map(<[Call]>::to_vec)
            .unwrap_or_default()
    }

    /// The first call at or after `mark` matching `pred`, waiting up to `timeout`.
    pub async fn wait_call(
        &self,
        mark: usize,
        timeout: Duration,
        pred: impl Fn(&Call) -> bool,
    ) -> Option<Call> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(c) = self.calls_since(mark).into_iter().find(|c| pred(c)) {
                return Some(c);
            }
            if Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Serve `bytes` at a URL of this fake and describe it as a Discord attachment.
    pub fn host_file(&self, name: &str, bytes: &[u8]) -> Value {
        self.host_file_declaring(name, bytes, bytes.len() as u64)
    }

    /// Like `host_file`, but announcing `declared` bytes (to test size checks).
    pub fn host_file_declaring(&self, name: &str, bytes: &[u8], declared: u64) -> Value {
        let id = self.snowflake();
        let key = format!("{id}/{name}");
        lock(&self.state.files).insert(key.clone(), bytes.to_vec());
        payloads::attachment(
            id,
            name,
            declared,
            &format!("{}/attachments/{key}", self.api_base()),
        )
    }

    fn dispatch(&self, kind: &str, data: Value) {
        let _ = self
            .state
            .events
            .send(Outbound::Dispatch(kind.to_string(), data));
    }

    /// Send a raw gateway frame (e.g. a malformed event).
    pub fn inject_raw(&self, text: &str) {
        let _ = self.state.events.send(Outbound::Raw(text.to_string()));
    }

    /// `author` posts `content` (with `attachments`) in `channel`; returns the message id.
    pub fn post(&self, author: &User, channel: u64, content: &str, attachments: Vec<Value>) -> u64 {
        let id = self.snowflake();
        let msg = payloads::message(id, channel, Some(GUILD), author, content, attachments);
        self.state.store_message(id, msg.clone());
        self.dispatch("MESSAGE_CREATE", msg);
        id
    }

    /// `author` posts `content` in `channel` as a Discord reply to message `to` (type 19, with
    /// `message_reference` and the `referenced_message` Discord includes); returns its id.
    pub fn post_reply(&self, author: &User, channel: u64, content: &str, to: u64) -> u64 {
        let id = self.snowflake();
        let mut msg = payloads::message(id, channel, Some(GUILD), author, content, vec![]);
        msg["type"] = json!(19);
        msg["message_reference"] = json!({
            "type": 0, "message_id": to.to_string(), "channel_id": channel.to_string(),
            "guild_id": GUILD.to_string(),
        });
        msg["referenced_message"] = self.state.message(to).unwrap_or(Value::Null);
        self.state.store_message(id, msg.clone());
        self.dispatch("MESSAGE_CREATE", msg);
        id
    }

    /// `author` posts `content` in `channel` of another server, `guild`; returns the message id.
    pub fn post_in_guild(&self, guild: u64, author: &User, channel: u64, content: &str) -> u64 {
        let id = self.snowflake();
        let msg = payloads::message(id, channel, Some(guild), author, content, vec![]);
        self.state.store_message(id, msg.clone());
        self.dispatch("MESSAGE_CREATE", msg);
        id
    }

    /// How many times hosted attachments were downloaded so far.
    pub fn attachment_fetches(&self) -> u32 {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// `author` sends a direct message to the bot; returns the message id.
    pub fn post_dm(&self, author: &User, content: &str) -> u64 {
        let id = self.snowflake();
        let channel = 1_180_000_000_000_000_900;
        let msg = payloads::message(id, channel, None, author, content, vec![]);
        self.state.store_message(id, msg.clone());
        self.dispatch("MESSAGE_CREATE", msg);
        id
    }

    /// The author edits message `id` to `content` (MESSAGE_UPDATE with the full message).
    pub fn edit(&self, id: u64, content: &str) {
        let Some(mut msg) = self.state.message(id) else {
            return;
        };
        msg["content"] = json!(content);
        msg["edited_timestamp"] = json!(payloads::now_iso());
        self.state.store_message(id, msg.clone());
        self.dispatch("MESSAGE_UPDATE", msg);
    }

    /// The author deletes message `id`.
    pub fn delete(&self, id: u64) {
        let Some(msg) = self.state.message(id) else {
            return;
        };
        self.state.remove_message(id);
        self.dispatch(
            "MESSAGE_DELETE",
            json!({"id": id.to_string(), "channel_id": msg["channel_id"], "guild_id": GUILD.to_string()}),
        );
    }

    /// `user` reacts with `emoji` on message `message` in `channel`.
    pub fn react(&self, user: &User, channel: u64, message: u64, emoji: &str) {
        self.dispatch(
            "MESSAGE_REACTION_ADD",
            json!({
                "user_id": user.id.to_string(), "channel_id": channel.to_string(),
                "message_id": message.to_string(), "guild_id": GUILD.to_string(),
                "member": user.member(), "emoji": {"id": null, "name": emoji},
                "burst": false, "type": 0,
            }),
        );
    }

    fn interaction(&self, user: &User, channel: u64, kind: u8, data: Value) -> (u64, String) {
        let id = self.snowflake();
        let token = format!("itoken-{id}");
        let channel_json = self
            .state
            .channel_json(channel)
            .unwrap_or_else(|| payloads::channel(channel, GUILD, None));
        let mut i =
            payloads::interaction_base(id, APP_ID, kind, &token, Some(GUILD), &channel_json, user);
        i["data"] = data;
        self.dispatch("INTERACTION_CREATE", i);
        (id, token)
    }

    /// `user` invokes `/name` with `options` (`[{name, type, value}]`) and `resolved` data.
    /// Returns the interaction's id and token.
    pub fn slash(
        &self,
        user: &User,
        channel: u64,
        name: &str,
        options: Vec<Value>,
        resolved: Value,
    ) -> (u64, String) {
        let data = json!({
            "id": self.snowflake().to_string(), "name": name, "type": 1,
            "options": options, "resolved": resolved, "guild_id": GUILD.to_string(),
        });
        self.interaction(user, channel, 2, data)
    }

    /// `user` picks "Run code" on message `target` (which must have been posted on this fake).
    pub fn context_menu(&self, user: &User, channel: u64, target: u64) -> (u64, String) {
        let msg = self.state.message(target).unwrap_or(Value::Null);
        let data = json!({
            "id": self.snowflake().to_string(), "name": "Run code", "type": 3,
            "target_id": target.to_string(),
            "resolved": {"messages": {target.to_string(): msg}},
        });
        self.interaction(user, channel, 2, data)
    }

    /// `user` submits the modal `custom_id` with text `fields` (`(custom_id, value)`).
    pub fn submit_modal(
        &self,
        user: &User,
        channel: u64,
        custom_id: &str,
        fields: &[(&str, &str)],
    ) -> (u64, String) {
        let rows: Vec<Value> = fields
            .iter()
            .map(|(id, value)| {
                json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": value}]})
            })
            .collect();
        let data = json!({"custom_id": custom_id, "components": rows});
        self.interaction(user, channel, 5, data)
    }
}
