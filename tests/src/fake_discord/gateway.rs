//! The fake's gateway over ws://127.0.0.1: Hello, Identify → READY, heartbeats, Resume, and
//! the events the tests inject.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite::Message;

use super::{Outbound, State};

/// How often the bot is asked to heartbeat (Discord's usual value).
const HEARTBEAT_MS: u64 = 41_250;

pub(super) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(session(stream, state.clone()));
    }
}

fn ready(state: &State) -> Value {
    json!({
        "v": 10, "session_id": "fake-session", "resume_gateway_url": state.gateway_url(),
        "user": {"id": state.bot.to_string(), "username": "coderunner", "discriminator": "0",
            "bot": true, "avatar": null, "verified": true, "mfa_enabled": false, "flags": 0},
        "guilds": [{"id": state.guild.to_string(), "unavailable": true}],
        "application": {"id": state.app.to_string(), "flags": 0},
    })
}

async fn session(stream: TcpStream, state: Arc<State>) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
    let mut events = state.events.subscribe();
    let hello = json!({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}});
    if tx.send(Message::Text(hello.to_string())).await.is_err() {
        return;
    }
    let mut seq: u64 = 0;
    loop {
        tokio::select! {
            incoming = rx.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                let answer = match frame["op"].as_u64() {
                    Some(1) => Some(json!({"op": 11})),
                    Some(2) => {
                        state.set_identify(frame["d"].clone());
                        seq += 1;
                        Some(json!({"op": 0, "s": seq, "t": "READY", "d": ready(&state)}))
                    }
                    Some(6) => {
                        seq += 1;
                        Some(json!({"op": 0, "s": seq, "t": "RESUMED", "d": {}}))
                    }
                    _ => None,
                };
                if let Some(answer) = answer {
                    let is_ready = answer["t"] == "READY";
                    if tx.send(Message::Text(answer.to_string())).await.is_err() {
                        break;
                    }
                    if is_ready {
                        state.ready.send_modify(|n| *n += 1);
                    }
                }
            }
            event = events.recv() => {
                let text = match event {
                    Ok(Outbound::Dispatch(kind, data)) => {
                        seq += 1;
                        json!({"op": 0, "s": seq, "t": kind, "d": data}).to_string()
                    }
                    Ok(Outbound::Raw(text)) => text,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                };
                if tx.send(Message::Text(text)).await.is_err() {
                    break;
                }
            }
        }
    }
}
