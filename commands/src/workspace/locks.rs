//! One async mutex per workspace key, so runs in one thread queue up while other threads run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The per-key mutexes; idle ones are dropped by [`KeyLocks::prune`].
#[derive(Debug, Default)]
pub(crate) struct KeyLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyLocks {
    pub(crate) fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(key.to_string()).or_default())
    }

    /// Whether someone holds or waits for the key's mutex right now.
    pub(crate) fn busy(&self, key: &str) -> bool {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key)
            .is_some_and(|m| Arc::strong_count(m) > 1 || m.try_lock().is_err())
    }

    /// Forget mutexes nobody holds, so the map stays as small as the set of active threads.
    pub(crate) fn prune(&self) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, m| Arc::strong_count(m) > 1);
    }
}
