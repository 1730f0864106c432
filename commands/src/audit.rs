//! The audit log: one SQLite row per run and per refusal, with retention.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

mod ai;
mod deferred;

pub use ai::{AiCallRecord, AiCallRow};

/// Why the audit log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot create the audit directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the audit database {path} with mode 0600: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// One row: a run, or a refusal (then `status` is `refused` and `refusal_*` say why).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRecord {
    pub platform: String,
    pub user_id: String,
    pub user_name: String,
    pub guild: Option<u64>,
    pub channel: Option<u64>,
    pub thread: Option<u64>,
    pub tier: Option<String>,
    pub privileged: bool,
    pub language: Option<String>,
    /// The program's source; stored capped, hashed whole.
    pub code: Option<String>,
    pub status: String,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub queue_ms: Option<u64>,
    pub wall_ms: Option<u64>,
    pub cpu_ms: Option<u64>,
    pub peak_memory_bytes: Option<u64>,
    pub output_bytes: Option<u64>,
    pub truncated: bool,
    pub refusal_kind: Option<String>,
    pub refusal_reason: Option<String>,
    /// The AI call whose code this run ran (`ai_calls.id`), if the model wrote it.
    pub ai_call: Option<i64>,
}

/// A row as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    /// Unix time in milliseconds.
    pub at_ms: i64,
    pub record: AuditRecord,
    pub code_sha256: Option<String>,
    pub code_bytes: Option<u64>,
}

/// The audit database.
pub struct Audit {
    conn: Mutex<Connection>,
    /// Rows accepted by [`Audit::defer`] and not yet written, oldest first, with their time.
    deferred: Mutex<Vec<(i64, AuditRecord)>>,
    path: PathBuf,
    code_cap: usize,
    retention: Duration,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    guild TEXT,
    channel TEXT,
    thread TEXT,
    tier TEXT,
    privileged INTEGER NOT NULL,
    language TEXT,
    code_sha256 TEXT,
    code TEXT,
    code_bytes INTEGER,
    status TEXT NOT NULL,
    exit_code INTEGER,
    signal TEXT,
    queue_ms INTEGER,
    wall_ms INTEGER,
    cpu_ms INTEGER,
    peak_memory_bytes INTEGER,
    output_bytes INTEGER,
    truncated INTEGER NOT NULL,
    refusal_kind TEXT,
    refusal_reason TEXT
);
CREATE INDEX IF NOT EXISTS runs_at ON runs(at_ms);
";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn opt_u64(v: Option<u64>) -> Option<i64> {
    v.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// A stored count read back (SQLite integers are signed; a negative one, never written, is 0).
fn stored_u64(v: Option<i64>) -> Option<u64> {
    v.map(|n| u64::try_from(n).unwrap_or(0))
}

impl Audit {
    /// Open (creating) the database at `path`, then apply retention.
    pub fn open(path: &Path, code_cap: usize, retention: Duration) -> Result<Audit, AuditError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_fs::create_dir_all(dir).map_err(|source| AuditError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // Everyone's code is in here: 0600 before SQLite opens it (its -wal and -shm files
        // take the database's mode), and an older, wider file is narrowed.
        crate::private_fs::ensure_private_file(path).map_err(|source| AuditError::File {
            path: path.to_path_buf(),
            source,
        })?;
        let sql = |source| AuditError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        // WAL keeps readers (`!runs`) from blocking writers; NORMAL sync is durable enough for an audit trail.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        ai::migrate(&conn).map_err(sql)?;
        let audit = Audit {
            conn: Mutex::new(conn),
            deferred: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
            code_cap,
            retention,
        };
        audit.apply_retention()?;
        Ok(audit)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, with every deferred row written first: whoever reads (or writes) sees
    /// the rows of everything answered before, in order.
    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = self.write_deferred(&conn) {
            tracing::error!(error = %e, "writing deferred audit rows failed; they are kept for the next attempt");
        }
        conn
    }

    fn sql_err(&self, source: rusqlite::Error) -> AuditError {
        AuditError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The rows of `sql`, whose one parameter is the row limit `n`, each read by `read`.
    fn newest<T>(
        &self,
        sql: &str,
        n: usize,
        read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, AuditError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(sql).map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map(params![i64::try_from(n).unwrap_or(i64::MAX)], read)
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e))
    }

    /// Write one row now.
    pub fn record(&self, r: &AuditRecord) -> Result<(), AuditError> {
        let conn = self.lock();
        self.insert(&conn, r, now_ms())
    }

    /// Insert `r` as of `at_ms`.
    fn insert(&self, conn: &Connection, r: &AuditRecord, at_ms: i64) -> Result<(), AuditError> {
        let (hash, code, code_bytes) = match &r.code {
            Some(code) => {
                let hash = hex::encode(Sha256::digest(code.as_bytes()));
                let mut cap = self.code_cap.min(code.len());
                while !code.is_char_boundary(cap) {
                    cap -= 1;
                }
                (Some(hash), code.get(..cap), Some(code.len() as u64))
            }
            None => (None, None, None),
        };
        conn.prepare_cached(
            "INSERT INTO runs (at_ms, platform, user_id, user_name, guild, channel, thread, tier,
                privileged, language, code_sha256, code, code_bytes, status, exit_code, signal,
                queue_ms, wall_ms, cpu_ms, peak_memory_bytes, output_bytes, truncated,
                refusal_kind, refusal_reason, ai_call)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                at_ms,
                r.platform,
                r.user_id,
                r.user_name,
                r.guild.map(|g| g.to_string()),
                r.channel.map(|c| c.to_string()),
                r.thread.map(|t| t.to_string()),
                r.tier,
                r.privileged,
                r.language,
                hash,
                code,
                opt_u64(code_bytes),
                r.status,
                r.exit_code,
                r.signal,
                opt_u64(r.queue_ms),
                opt_u64(r.wall_ms),
                opt_u64(r.cpu_ms),
                opt_u64(r.peak_memory_bytes),
                opt_u64(r.output_bytes),
                r.truncated,
                r.refusal_kind,
                r.refusal_reason,
                r.ai_call,
            ])
        })
        .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    /// Delete rows older than the retention period; returns how many went.
    pub fn apply_retention(&self) -> Result<usize, AuditError> {
        let cutoff = now_ms() - i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        let conn = self.lock();
        conn.execute("DELETE FROM ai_calls WHERE at_ms < ?1", params![cutoff])
            .map_err(|e| self.sql_err(e))?;
        conn.execute("DELETE FROM runs WHERE at_ms < ?1", params![cutoff])
            .map_err(|e| self.sql_err(e))
    }

    /// The newest `n` rows, newest first.
    pub fn recent(&self, n: usize) -> Result<Vec<AuditRow>, AuditError> {
        let id = |s: Option<String>| s.and_then(|v| v.parse::<u64>().ok());
        let u = stored_u64;
        self.newest(
            "SELECT id, at_ms, platform, user_id, user_name, guild, channel, thread, tier,
                privileged, language, code, status, exit_code, signal, queue_ms, wall_ms,
                cpu_ms, peak_memory_bytes, output_bytes, truncated, refusal_kind,
                refusal_reason, code_sha256, code_bytes, ai_call
             FROM runs ORDER BY id DESC LIMIT ?1",
            n,
            |row| {
                Ok(AuditRow {
                    id: row.get(0)?,
                    at_ms: row.get(1)?,
                    record: AuditRecord {
                        platform: row.get(2)?,
                        user_id: row.get(3)?,
                        user_name: row.get(4)?,
                        guild: id(row.get(5)?),
                        channel: id(row.get(6)?),
                        thread: id(row.get(7)?),
                        tier: row.get(8)?,
                        privileged: row.get(9)?,
                        language: row.get(10)?,
                        code: row.get(11)?,
                        status: row.get(12)?,
                        exit_code: row.get(13)?,
                        signal: row.get(14)?,
                        queue_ms: u(row.get(15)?),
                        wall_ms: u(row.get(16)?),
                        cpu_ms: u(row.get(17)?),
                        peak_memory_bytes: u(row.get(18)?),
                        output_bytes: u(row.get(19)?),
                        truncated: row.get(20)?,
                        refusal_kind: row.get(21)?,
                        refusal_reason: row.get(22)?,
                        ai_call: row.get(25)?,
                    },
                    code_sha256: row.get(23)?,
                    code_bytes: u(row.get(24)?),
                })
            },
        )
    }

    /// Rows in the table.
    pub fn count(&self) -> Result<u64, AuditError> {
        let conn = self.lock();
        let n: Option<i64> = conn
            .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql_err(e))?;
        Ok(n.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    /// Back-date every row by `by` (tests of retention).
    #[doc(hidden)]
    pub fn age_all_rows(&self, by: Duration) -> Result<(), AuditError> {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let conn = self.lock();
        conn.execute("UPDATE runs SET at_ms = at_ms - ?1", params![ms])
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    /// Make sure everything written is in the main database file.
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        let conn = self.lock();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.sql_err(e))
    }
}
