//! API keys: loaded as SHA-256 digests (from the config or hashed from an environment variable,
//! never plaintext in the file), checked in constant time, each mapped to a tier.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use coderunner_config::Config;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;

/// Why the configured keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("http.api_keys is empty; add a key, e.g. `- {{name: ci, key_env: CODERUNNER_API_KEY, tier: member}}`, or the API refuses every request")]
    NoKeys,
    #[error("http.api_keys `{name}`: give exactly one of key_env (an environment variable holding the key) or key_sha256 (the key's SHA-256 in hex)")]
    Source { name: String },
    #[error("http.api_keys `{name}`: environment variable {var} is not set or empty; export it before starting, or remove the key")]
    EnvMissing { name: String, var: String },
    #[error("http.api_keys `{name}`: key_sha256 must be 64 hex digits (compute it with `printf %s \"$KEY\" | sha256sum`)")]
    BadDigest { name: String },
    #[error("http.api_keys `{name}`: tier `{tier}` is not one of access.tiers ({known})")]
    UnknownTier {
        name: String,
        tier: String,
        known: String,
    },
    #[error("http.api_keys: the name `{0}` is used twice; key names are the rate-limit and audit identity, so they must be unique")]
    DuplicateName(String),
}

/// Who a request is, once its key matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's name: the user id for rate limits and the audit trail.
    pub name: String,
    pub tier: String,
}

#[derive(Debug, Clone)]
struct KeyEntry {
    digest: [u8; 32],
    caller: Caller,
}

/// The configured keys, as digests.
#[derive(Debug, Clone)]
pub struct KeyTable {
    keys: Vec<KeyEntry>,
}

impl KeyTable {
    /// Load `http.api_keys`, reading `key_env` variables through `env` (the process environment
    /// in production).
    pub fn load(
        config: &Config,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<KeyTable, KeyError> {
        if config.http.api_keys.is_empty() {
            return Err(KeyError::NoKeys);
        }
        let mut keys: Vec<KeyEntry> = Vec::new();
        for key in &config.http.api_keys {
            if keys.iter().any(|k| k.caller.name == key.name) {
                return Err(KeyError::DuplicateName(key.name.clone()));
            }
            if config.tier(&key.tier).is_none() {
                let known: Vec<&str> = config
                    .access
                    .tiers
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect();
                return Err(KeyError::UnknownTier {
                    name: key.name.clone(),
                    tier: key.tier.clone(),
                    known: known.join(", "),
                });
            }
            let digest = match (&key.key_env, &key.key_sha256) {
                (Some(var), None) => match env(var) {
                    Some(value) if !value.is_empty() => sha256(value.as_bytes()),
                    _ => {
                        return Err(KeyError::EnvMissing {
                            name: key.name.clone(),
                            var: var.clone(),
                        })
                    }
                },
                (None, Some(hex_digest)) => {
                    parse_digest(hex_digest).ok_or_else(|| KeyError::BadDigest {
                        name: key.name.clone(),
                    })?
                }
                _ => {
                    return Err(KeyError::Source {
                        name: key.name.clone(),
                    })
                }
            };
            keys.push(KeyEntry {
                digest,
                caller: Caller {
                    name: key.name.clone(),
                    tier: key.tier.clone(),
                },
            });
        }
        Ok(KeyTable { keys })
    }

    /// The caller whose key is `presented`. Every configured digest is compared, in constant time,
    /// so neither timing nor position reveals how close a guess was.
    pub fn check(&self, presented: &str) -> Option<&Caller> {
        let digest = sha256(presented.as_bytes());
        let mut found = None;
        for entry in &self.keys {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(&entry.caller);
            }
        }
        found
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// Middleware: the bearer key must match; the caller is stored for the handlers.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header_value = request.headers().get(header::AUTHORIZATION);
    let Some(value) = header_value else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "this endpoint needs an API key: send `Authorization: Bearer <key>` (keys are configured under http.api_keys)",
        ));
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|k| !k.is_empty());
    let Some(presented) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_authorization",
            "the Authorization header must be `Bearer <key>`",
        ));
    };
    let Some(caller) = state.keys.check(presented).cloned() else {
        tracing::warn!("http: request with an unknown API key refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "the API key is not valid; check the key you send in `Authorization: Bearer <key>` against http.api_keys",
        ));
    };
    state.metrics.request_seen();
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coderunner_config::ApiKey;

    fn config_with(keys: Vec<ApiKey>) -> Config {
        let mut c = Config::embedded_default().expect("default config");
        c.http.api_keys = keys;
        c
    }

    fn key(name: &str, env: Option<&str>, digest: Option<&str>, tier: &str) -> ApiKey {
        ApiKey {
            name: name.into(),
            key_env: env.map(Into::into),
            key_sha256: digest.map(Into::into),
            tier: tier.into(),
        }
    }

    #[test]
    fn env_and_digest_keys_match_only_their_key() {
        // sha256("test")
        let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let c = config_with(vec![
            key("ci", Some("K1"), None, "member"),
            key("nb", None, Some(digest), "data"),
        ]);
        let table =
            KeyTable::load(&c, |v| (v == "K1").then(|| "s3cret".to_string())).expect("keys load");
        assert_eq!(table.check("s3cret").map(|c| c.name.as_str()), Some("ci"));
        assert_eq!(table.check("test").map(|c| c.tier.as_str()), Some("data"));
        assert!(table.check("s3cre").is_none());
        assert!(table.check("").is_none());
        assert!(
            table.check(digest).is_none(),
            "the digest itself is not a key"
        );
    }

    #[test]
    fn refuses_missing_env_bad_digest_unknown_tier_and_ambiguous_source() {
        let none = |_: &str| None;
        assert!(matches!(
            KeyTable::load(&config_with(vec![]), none),
            Err(KeyError::NoKeys)
        ));
        assert!(matches!(
            KeyTable::load(
                &config_with(vec![key("a", Some("NOPE"), None, "member")]),
                none
            ),
            Err(KeyError::EnvMissing { .. })
        ));
        assert!(matches!(
            KeyTable::load(
                &config_with(vec![key("a", None, Some("abc"), "member")]),
                none
            ),
            Err(KeyError::BadDigest { .. })
        ));
        assert!(matches!(
            KeyTable::load(&config_with(vec![key("a", None, None, "member")]), none),
            Err(KeyError::Source { .. })
        ));
        let err = KeyTable::load(
            &config_with(vec![key("a", None, Some(&"0".repeat(64)), "gold")]),
            none,
        )
        .expect_err("unknown tier");
        assert!(err.to_string().contains("member"), "{err}");
    }
}
