//! Audit rows written just after the answer rather than before it: an HTTP run of a few
//! milliseconds would otherwise wait for its SQLite insert, and on a small host the insert
//! competes with sending the answer. Every reader of this `Audit` (and every later write) writes
//! the deferred rows first, so nothing reads past them; dropping the `Audit` writes them too.

use std::sync::PoisonError;

use rusqlite::Connection;

use super::{now_ms, Audit, AuditError, AuditRecord};

impl Audit {
    /// Accept `r` (timed now) to be written by [`Audit::write_deferred_now`], or by the next
    /// use of the database, whichever comes first. Returns whether it is the first row waiting, i.e. whether
    /// the caller should schedule that write.
    pub fn defer(&self, r: AuditRecord) -> bool {
        let mut rows = self.deferred.lock().unwrap_or_else(PoisonError::into_inner);
        rows.push((now_ms(), r));
        rows.len() == 1
    }

    /// Write every deferred row now.
    pub fn write_deferred_now(&self) -> Result<(), AuditError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        self.write_deferred(&conn)
    }

    /// Write the deferred rows in one transaction on `conn` (held locked by the caller). On
    /// failure they stay deferred, ahead of any newer ones, for the next attempt.
    pub(super) fn write_deferred(&self, conn: &Connection) -> Result<(), AuditError> {
        let rows =
            std::mem::take(&mut *self.deferred.lock().unwrap_or_else(PoisonError::into_inner));
        if rows.is_empty() {
            return Ok(());
        }
        let written = conn
            .execute_batch("BEGIN")
            .map_err(|e| self.sql_err(e))
            .and_then(|()| {
                rows.iter()
                    .try_for_each(|(at_ms, r)| self.insert(conn, r, *at_ms))
            })
            .and_then(|()| conn.execute_batch("COMMIT").map_err(|e| self.sql_err(e)));
        if written.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            let mut kept = self.deferred.lock().unwrap_or_else(PoisonError::into_inner);
            let newer = std::mem::replace(&mut *kept, rows);
            kept.extend(newer);
        }
        written
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        if let Err(e) = self.write_deferred_now() {
            tracing::error!(error = %e, "writing the last audit rows failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn open(path: &std::path::Path) -> Audit {
        Audit::open(path, 1 << 16, Duration::from_secs(3600)).expect("audit opens")
    }

    fn row(user: &str) -> AuditRecord {
        AuditRecord {
            platform: "http".into(),
            user_id: user.into(),
            status: "exited".into(),
            ..AuditRecord::default()
        }
    }

    #[test]
    fn deferred_rows_wait_yet_every_reader_and_writer_sees_them_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.sqlite");
        let audit = open(&path);
        assert!(
            audit.defer(row("first")),
            "the first row schedules the write"
        );
        assert!(
            !audit.defer(row("second")),
            "one scheduled write serves both"
        );
        // Another connection (another process) does not see them yet...
        let other = open(&path);
        assert_eq!(other.count().expect("count"), 0);
        // ...this Audit's readers do, and a row written now lands after them.
        audit.record(&row("third")).expect("written");
        let users: Vec<String> = audit
            .recent(10)
            .expect("rows")
            .into_iter()
            .rev()
            .map(|r| r.record.user_id)
            .collect();
        assert_eq!(users, ["first", "second", "third"]);
        assert_eq!(other.count().expect("count"), 3);
    }

    #[test]
    fn deferred_rows_keep_their_time_and_are_written_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.sqlite");
        let audit = open(&path);
        let before = now_ms();
        audit.defer(row("late"));
        std::thread::sleep(Duration::from_millis(30));
        drop(audit);
        let rows = open(&path).recent(10).expect("rows");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(
            rows[0].at_ms < before + 30,
            "timed when written ({}), not when deferred ({before})",
            rows[0].at_ms
        );
    }
}
