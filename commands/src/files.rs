//! `!files` and `!reset`: the workspace of a thread, channel or console session.

use crate::access;
use crate::pipeline::Pipeline;
use crate::Incoming;

impl Pipeline {
    /// `!files`: the workspace of the message's thread, channel or session.
    pub(crate) fn list_workspace(&self, msg: &Incoming) -> String {
        let ws = &self.inner.workspaces;
        ws.list(ws.key_for(&msg.who, &msg.place).as_deref())
    }

    /// `!reset`, under the workspace's lock so it never lands in the middle of a run.
    pub(crate) async fn reset_workspace(&self, msg: &Incoming) -> String {
        let ws = &self.inner.workspaces;
        let admin =
            access::tier_for(&self.inner.config, &msg.who, &msg.place).is_ok_and(|t| t.admin);
        match ws.key_for(&msg.who, &msg.place) {
            Some(key) => {
                let lock = ws.lock(&key);
                let _held = lock.lock().await;
                ws.reset(Some(&key), &msg.who, admin)
            }
            None => ws.reset(None, &msg.who, admin),
        }
    }
}
