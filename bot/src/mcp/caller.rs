//! Who a tool call runs as: the stdio process's configured tier, or the API key that
//! authenticated the HTTP request carrying the call. A call whose caller cannot be found is
//! refused, never run as someone else.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::StatusCode;
use coderunner_commands::{Identity, Platform};
use rmcp::model::Extensions;

use crate::http::Caller;

/// The identity the stdio server's runs carry in the audit trail and the rate limiter.
pub const STDIO_USER: &str = "stdio";

/// How the server was reached, which decides who its callers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// `coderunner mcp`: the one local agent that started the process, as `mcp.tier`.
    Stdio { tier: String },
    /// `/mcp`: each request's API key (put in the request by the auth layer).
    Http,
}

/// A resolved caller: the pipeline identity and the tier to run as.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub identity: Identity,
    pub tier: String,
}

impl Who {
    /// The caller of the request whose MCP extensions are `ext`.
    pub fn resolve(&self, ext: &Extensions) -> Option<Resolved> {
        match self {
            Who::Stdio { tier } => Some(Resolved {
                identity: Identity {
                    platform: Platform::Mcp,
                    user_id: STDIO_USER.to_string(),
                    display: format!("mcp stdio (pid {})", std::process::id()),
                    roles: Vec::new(),
                },
                tier: tier.clone(),
            }),
            Who::Http => {
                let caller = ext.get::<Parts>()?.extensions.get::<Caller>()?;
                Some(Resolved {
                    identity: Identity {
                        platform: Platform::Mcp,
                        user_id: caller.name.clone(),
                        display: caller.name.clone(),
                        roles: Vec::new(),
                    },
                    tier: caller.tier.clone(),
                })
            }
        }
    }
}

/// Lets a tool call set the HTTP status of the response that carries its result: a rate-limited
/// or queue-full call answers 429 or 503 with `Retry-After`, like `/v1/runs`, while the body still
/// holds the JSON-RPC result (with `isError`) for the agent.
#[derive(Debug, Clone, Default)]
pub struct StatusSlot(Arc<Mutex<Option<(StatusCode, Duration)>>>);

impl StatusSlot {
    pub fn set(&self, status: StatusCode, retry_after: Duration) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((status, retry_after));
    }

    pub fn take(&self) -> Option<(StatusCode, Duration)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// The slot of the HTTP request whose MCP extensions are `ext` (none on stdio).
    pub fn of(ext: &Extensions) -> Option<StatusSlot> {
        ext.get::<Parts>()?.extensions.get::<StatusSlot>().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_caller_comes_from_the_request_or_not_at_all() {
        let mut ext = Extensions::new();
        assert!(Who::Http.resolve(&ext).is_none(), "no request, no caller");
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        ext.insert(parts.clone());
        assert!(Who::Http.resolve(&ext).is_none(), "no key, no caller");
        parts.extensions.insert(Caller {
            name: "ci".into(),
            tier: "data".into(),
        });
        ext.insert(parts);
        let r = Who::Http.resolve(&ext).expect("caller");
        assert_eq!(
            (r.identity.user_id.as_str(), r.tier.as_str()),
            ("ci", "data")
        );
        assert_eq!(r.identity.platform, Platform::Mcp);
        let stdio = Who::Stdio {
            tier: "member".into(),
        }
        .resolve(&Extensions::new())
        .expect("stdio caller");
        assert_eq!(stdio.identity.user_id, STDIO_USER);
        assert_eq!(stdio.tier, "member");
    }
}
