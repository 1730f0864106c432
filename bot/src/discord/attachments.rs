//! Downloads Discord attachments with reqwest: the declared size is checked before the download
//! starts and the stream is cut off as soon as it passes the limit.

use std::time::Duration;

use coderunner_commands::{AttachmentRef, AttachmentSource, FetchError};
use futures_util::StreamExt;

/// Fetches attachment URLs (Discord's CDN, or a fake Discord's URLs in tests).
#[derive(Debug, Clone)]
pub(crate) struct HttpAttachments {
    client: reqwest::Client,
}

impl HttpAttachments {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            // The CDN answers directly; a long redirect chain is not something to follow.
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(Self { client })
    }
}

fn failed(attachment: &AttachmentRef, reason: impl std::fmt::Display) -> FetchError {
    FetchError::Failed {
        name: attachment.name.clone(),
        reason: reason.to_string(),
    }
}

fn too_large(attachment: &AttachmentRef, size: u64, limit: u64) -> FetchError {
    FetchError::TooLarge {
        name: attachment.name.clone(),
        size,
        limit,
    }
}

#[async_trait::async_trait]
impl AttachmentSource for HttpAttachments {
    async fn fetch(&self, attachment: &AttachmentRef, limit: u64) -> Result<Vec<u8>, FetchError> {
        // Refuse before spending any bandwidth when Discord already says it is too big.
        if attachment.size > limit {
            return Err(too_large(attachment, attachment.size, limit));
        }
        let url = reqwest::Url::parse(&attachment.locator).map_err(|e| failed(attachment, e))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(failed(attachment, "not an http(s) URL"));
        }
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| failed(attachment, e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(attachment, format!("the server answered {status}")));
        }
        if let Some(len) = response.content_length() {
            if len > limit {
                return Err(too_large(attachment, len, limit));
            }
        }
        let capacity = usize::try_from(attachment.size.min(limit)).unwrap_or(0);
        let mut body = Vec::with_capacity(capacity);
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| failed(attachment, e.without_url()))?;
            let total = body.len() as u64 + chunk.len() as u64;
            if total > limit {
                // The declared size lied (or changed): stop reading here.
                return Err(too_large(attachment, total, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A one-shot HTTP server that sends `body` without a Content-Length (read to close).
    async fn serve_once(body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = s.write_all(&body).await;
            }
        });
        format!("http://{addr}/file.csv")
    }

    fn attachment(url: String, declared: u64) -> AttachmentRef {
        let source = Arc::new(HttpAttachments::new().expect("client"));
        AttachmentRef {
            name: "file.csv".into(),
            size: declared,
            locator: url,
            source,
        }
    }

    #[tokio::test]
    async fn declared_size_over_limit_is_refused_without_downloading() {
        // Nothing listens on this port: a download attempt would fail with `Failed`, not `TooLarge`.
        let a = attachment("http://127.0.0.1:9/never".into(), 2_000);
        let err = a.source.fetch(&a, 1_000).await.expect_err("over the limit");
        assert!(
            matches!(err, FetchError::TooLarge { size: 2_000, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_stream_longer_than_declared_is_cut_at_the_limit() {
        let url = serve_once(vec![b'x'; 50_000]).await;
        let a = attachment(url, 10);
        let err = a
            .source
            .fetch(&a, 1_000)
            .await
            .expect_err("stream over the limit");
        assert!(
            matches!(err, FetchError::TooLarge { limit: 1_000, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_small_file_arrives_whole() {
        let url = serve_once(b"a,b\n1,2\n".to_vec()).await;
        let a = attachment(url, 8);
        let bytes = a.source.fetch(&a, 1_000).await.expect("downloaded");
        assert_eq!(bytes, b"a,b\n1,2\n");
    }
}
