//! The one client for an OpenAI-compatible endpoint: `POST {base_url}/chat/completions` and
//! `GET {base_url}/models`, each failure turned into a sentence a chat user can act on.

use std::time::{Duration, Instant};

use coderunner_config::AiConfig;
use serde::{Deserialize, Serialize};

/// Largest answer body read from the endpoint; a model cannot make the bot buffer more.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why a call to the model gave no usable answer. The `Display` text is the chat reply.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("the AI endpoint {url} is unreachable ({reason}); is the model server running?")]
    Unreachable { url: String, reason: String },
    #[error("the AI endpoint refused the API key (401 Unauthorized); check the variable named by ai.api_key_env")]
    Unauthorized,
    #[error("the AI endpoint is rate limiting us (429){}", retry_words(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    #[error("the model did not answer within {}; try again, or raise ai.timeout", crate::fmt::duration(*.0))]
    Timeout(Duration),
    #[error("the AI endpoint answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the AI endpoint's answer is not the JSON of a chat completion ({0})")]
    NotJson(String),
    #[error("the model's answer has no code block, so there is nothing to run; ask again with more detail")]
    NoCode,
    #[error("the API key variable `{0}` (ai.api_key_env) is not set in the bot's environment")]
    MissingKey(String),
}

impl AiError {
    /// When the endpoint asked us to come back (429 with `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AiError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// A short word for the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            AiError::Unreachable { .. } => "unreachable",
            AiError::Unauthorized => "unauthorized",
            AiError::RateLimited { .. } => "rate_limited",
            AiError::Timeout(_) => "timeout",
            AiError::Status { .. } => "http_status",
            AiError::NotJson(_) => "not_json",
            AiError::NoCode => "no_code",
            AiError::MissingKey(_) => "missing_key",
        }
    }
}

fn retry_words(after: Option<Duration>) -> String {
    match after {
        Some(d) => format!("; retry in {} s", crate::refusal::retry_secs(d)),
        None => "; try again in a minute".to_string(),
    }
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "system".into(),
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "user".into(),
            content: content.into(),
        }
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    temperature: f32,
    max_tokens: u32,
    stream: bool,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
}

#[derive(Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: Option<String>,
}

/// Token counts, where the endpoint reports them.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
}

/// The model's answer to one call.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub usage: Option<Usage>,
    pub latency: Duration,
    pub prompt_bytes: usize,
}

#[derive(Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

/// A client for one configured endpoint.
#[derive(Clone)]
pub struct AiClient {
    http: reqwest::Client,
    base: String,
    model: String,
    key_env: Option<String>,
    timeout: Duration,
    max_tokens: u32,
}

impl AiClient {
    /// `None` when AI assist is off (no `ai.base_url`).
    pub fn from_config(ai: &AiConfig) -> Option<AiClient> {
        let base = ai.endpoint()?.to_string();
        let http = reqwest::Client::builder()
            // Redirects could carry the key to another host; an API endpoint has no reason to redirect.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(ai.timeout.as_duration().min(Duration::from_secs(10)))
            .build()
            .ok()?;
        Some(AiClient {
            http,
            base,
            model: ai.model.clone(),
            key_env: ai.api_key_env.clone(),
            timeout: ai.timeout.as_duration(),
            max_tokens: ai.max_tokens,
        })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, AiError> {
        match &self.key_env {
            None => Ok(req),
            Some(var) => match std::env::var(var) {
                Ok(key) if !key.is_empty() => Ok(req.bearer_auth(key)),
                _ => Err(AiError::MissingKey(var.clone())),
            },
        }
    }

    /// One chat completion. Only `messages` leave the machine (plus the model name and limits).
    pub async fn chat(&self, messages: &[ChatMessage]) -> Result<Answer, AiError> {
        let url = format!("{}/chat/completions", self.base);
        let body = ChatRequest {
            model: &self.model,
            messages,
            temperature: 0.2,
            max_tokens: self.max_tokens,
            stream: false,
        };
        let prompt_bytes = messages.iter().map(|m| m.content.len()).sum();
        let started = Instant::now();
        let req = self.authorize(self.http.post(&url).json(&body))?;
        let bytes = self.send(req, &url).await?;
        let latency = started.elapsed();
        let parsed: ChatResponse =
            serde_json::from_slice(&bytes).map_err(|e| AiError::NotJson(short(&e.to_string())))?;
        let text = parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| AiError::NotJson("no choices[0].message.content".into()))?;
        tracing::debug!(
            latency_ms = latency.as_millis() as u64,
            answer = text.len(),
            "model answered"
        );
        Ok(Answer {
            text,
            usage: parsed.usage,
            latency,
            prompt_bytes,
        })
    }

    /// The model ids the endpoint offers (`GET /models`), for `coderunner doctor`.
    pub async fn models(&self) -> Result<Vec<String>, AiError> {
        let url = format!("{}/models", self.base);
        let req = self.authorize(self.http.get(&url))?;
        let bytes = self.send(req, &url).await?;
        let list: ModelList =
            serde_json::from_slice(&bytes).map_err(|e| AiError::NotJson(short(&e.to_string())))?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }

    /// Send with the overall timeout; map HTTP failures; read at most `MAX_ANSWER_BYTES`.
    async fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Result<Vec<u8>, AiError> {
        let timeout = self.timeout;
        let work = async {
            let resp = req.send().await.map_err(|e| {
                if e.is_timeout() {
                    AiError::Timeout(timeout)
                } else {
                    AiError::Unreachable {
                        url: url.to_string(),
                        reason: short(&root_cause(&e)),
                    }
                }
            })?;
            let status = resp.status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                return Err(AiError::Unauthorized);
            }
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
                    .map(Duration::from_secs_f64);
                return Err(AiError::RateLimited { retry_after });
            }
            let mut resp = resp;
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| AiError::Unreachable {
                url: url.to_string(),
                reason: short(&root_cause(&e)),
            })? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(AiError::NotJson(format!(
                        "the answer is over {}",
                        crate::fmt::bytes(MAX_ANSWER_BYTES as u64)
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            if !status.is_success() {
                return Err(AiError::Status {
                    status: status.as_u16(),
                    body: short(&String::from_utf8_lossy(&body)),
                });
            }
            Ok(body)
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(AiError::Timeout(timeout)),
        }
    }
}

/// The innermost error's text ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn short(s: &str) -> String {
    crate::render::neutralize(crate::render::cut_chars(s.trim(), 160)).replace('`', "'")
}
