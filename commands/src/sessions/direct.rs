//! Sessions for programs (HTTP `/v1/sessions`, MCP's session tools): ids minted here and bound to
//! the caller, so another caller's id is simply not found. Each cell goes through the same
//! access, rate limit, queue and audit as a run.

use std::sync::Arc;

use coderunner_config::Profile;

use super::{CellReply, SessionInfo};
use crate::admission::{Asker, Wanted};
use crate::direct::RequestedLimits;
use crate::pipeline::{audit_base, fill_outcome};
use crate::refusal::Refusal;
use crate::workspace::sanitise_key;
use crate::{Identity, Pipeline, Place, Progress};

/// The manager's key of a caller's session id: the caller is part of it.
fn key(who: &Identity, id: &str) -> String {
    format!("{}:{}:{id}", who.platform.as_str(), who.user_id)
}

fn workspace(who: &Identity, id: &str) -> String {
    sanitise_key(&format!(
        "session-{}-{}-{id}",
        who.platform.as_str(),
        who.user_id
    ))
}

/// A new session id: 128 random bits, hex.
fn mint() -> String {
    let mut b = [0u8; 16];
    if getrandom(&mut b).is_err() {
        // Uniqueness is all that matters here (ownership is checked separately).
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = t.to_le_bytes();
    }
    hex::encode(b)
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

fn disabled() -> Refusal {
    Refusal::bad_request(
        "sessions are not available on this server (it has no local sandbox to keep them in)",
    )
}

impl Pipeline {
    /// Start a session for `who` (lazily: its sandbox starts with the first cell); returns its id.
    pub fn session_create(&self, who: &Identity, tier: &str) -> Result<String, Refusal> {
        let sessions = self.sessions().ok_or_else(disabled)?;
        self.check_open()?;
        let config = self.config();
        config
            .tier(tier)
            .ok_or_else(|| Refusal::not_allowed(format!("the tier `{tier}` is not configured")))?;
        let id = mint();
        sessions.register(&key(who, &id), &workspace(who, &id), who);
        Ok(id)
    }

    /// Run a cell in `who`'s session `id`; `Ok(None)` when `who` has no such session.
    #[allow(clippy::too_many_arguments)]
    pub async fn session_cell(
        &self,
        who: &Identity,
        tier: &str,
        id: &str,
        code: String,
        stdin: String,
        requested: RequestedLimits,
        progress: &dyn Progress,
    ) -> Result<Option<CellReply>, Refusal> {
        let Some(sessions) = self.sessions().cloned() else {
            return Err(disabled());
        };
        let key = key(who, id);
        if !sessions.exists(&key) {
            // Parked before a restart: its workspace (named after the caller too) is on disk.
            let ws = workspace(who, id);
            if !sessions.has_workspace(&ws) {
                return Ok(None);
            }
            sessions.register(&key, &ws, who);
        }
        let _flight = self.track();
        let mut record = audit_base(who, &Place::default());
        record.tier = Some(tier.to_string());
        record.language = Some("python".into());
        record.code = Some(code.clone());
        let result = self
            .session_cell_in(
                &sessions,
                who,
                tier,
                &key,
                id,
                code,
                stdin,
                requested,
                progress,
                &mut record,
            )
            .await;
        match result {
            Ok(reply) => Ok(Some(reply)),
            Err(refusal) => {
                self.refused(record, &refusal).await;
                Err(refusal)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn session_cell_in(
        &self,
        sessions: &Arc<super::SessionManager>,
        who: &Identity,
        tier: &str,
        key: &str,
        id: &str,
        code: String,
        stdin: String,
        requested: RequestedLimits,
        progress: &dyn Progress,
        record: &mut crate::AuditRecord,
    ) -> Result<CellReply, Refusal> {
        let place = Place::default();
        let grant = self.admit_asker(
            &Asker {
                who,
                place: &place,
                tier: Some(tier),
            },
            Wanted::Limits {
                privileged: false,
                limits: requested,
            },
            record,
        )?;
        let user_slot = self.take_turn(&grant, who, None)?;
        let mut turn = sessions.turn(key, &workspace(who, id), who).await;
        let (permit, queue_ms) = self.admit(progress).await?;
        let limits: Profile = grant.limits.clone();
        let reply = sessions.run_cell(&mut turn, code, stdin, &limits).await;
        drop(permit);
        drop(turn);
        drop(user_slot);
        let reply = reply?;
        fill_outcome(record, &reply.cell.outcome, queue_ms);
        self.write_audit(record.clone()).await;
        Ok(reply)
    }

    /// The state of `who`'s session `id`, or `None`.
    pub async fn session_info(&self, who: &Identity, id: &str) -> Option<SessionInfo> {
        self.sessions()?.info(&key(who, id)).await
    }

    /// End `who`'s session `id`; false when there is none.
    pub async fn session_close(&self, who: &Identity, id: &str) -> bool {
        match self.sessions() {
            Some(s) => s.close(&key(who, id)).await,
            None => false,
        }
    }
}
