//! The framed protocol with the kernel: an 8-byte little-endian length and a JSON object each
//! way. Replies are untrusted (the kernel is the user's interpreter): each is bounded, and one that
//! does not parse ends the session.

use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::protocol::encode_frame;

/// Largest reply the kernel may send (a cell's displays: PNG figures in base64, tables).
pub(crate) const MAX_REPLY: u64 = 64 << 20;

/// Read replies until the socket closes or a reply is over [`MAX_REPLY`]; the channel then closes.
pub(crate) fn spawn_reader(mut from: OwnedReadHalf) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let mut len = [0u8; 8];
            if from.read_exact(&mut len).await.is_err() {
                return;
            }
            let len = u64::from_le_bytes(len);
            if len > MAX_REPLY {
                tracing::warn!(len, "a session kernel sent an oversized reply");
                return;
            }
            let mut buf = vec![0u8; len as usize];
            if from.read_exact(&mut buf).await.is_err() || tx.send(buf).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// Send one request.
pub(crate) async fn send(to: &mut OwnedWriteHalf, request: &serde_json::Value) -> bool {
    let Ok(json) = serde_json::to_vec(request) else {
        return false;
    };
    let mut frame = Vec::with_capacity(json.len() + 8);
    encode_frame(&mut frame, &json);
    to.write_all(&frame).await.is_ok()
}

/// Decode one reply, or `None` when it is not what the kernel sends.
pub(crate) fn decode<T: DeserializeOwned>(frame: &[u8]) -> Option<T> {
    serde_json::from_slice(frame).ok()
}
