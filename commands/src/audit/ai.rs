//! Audit of AI assist calls: one `ai_calls` row per call to the model, and the `runs.ai_call`
//! column linking each run of model-written code to the call that wrote it. Databases from
//! before AI assist are migrated in place when opened.

use rusqlite::{params, Connection};

use super::{now_ms, opt_u64, stored_u64, Audit, AuditError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ai_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    tier TEXT NOT NULL,
    command TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt_bytes INTEGER NOT NULL,
    answer_bytes INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ai_calls_at ON ai_calls(at_ms);
";

/// One call to the model. `status` is `ok` or the failure's kind (`timeout`, `unauthorized`...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AiCallRecord {
    pub platform: String,
    pub user_id: String,
    pub user_name: String,
    pub tier: String,
    pub command: String,
    pub model: String,
    pub status: String,
    pub prompt_bytes: u64,
    pub answer_bytes: Option<u64>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub latency_ms: u64,
}

/// A stored call, with the runs it caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiCallRow {
    pub id: i64,
    pub at_ms: i64,
    pub record: AiCallRecord,
    /// Runs of code this call wrote.
    pub runs: u64,
}

/// Create the AI table and add `runs.ai_call` to a database that predates it.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let has_column = conn
        .prepare("SELECT 1 FROM pragma_table_info('runs') WHERE name = 'ai_call'")?
        .exists([])?;
    if !has_column {
        conn.execute_batch("ALTER TABLE runs ADD COLUMN ai_call INTEGER;")?;
    }
    Ok(())
}

impl Audit {
    /// Write one AI call; returns its id, which the runs it causes carry.
    pub fn record_ai(&self, r: &AiCallRecord) -> Result<i64, AuditError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO ai_calls (at_ms, platform, user_id, user_name, tier, command, model,
                status, prompt_bytes, answer_bytes, prompt_tokens, completion_tokens, latency_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                now_ms(),
                r.platform,
                r.user_id,
                r.user_name,
                r.tier,
                r.command,
                r.model,
                r.status,
                opt_u64(Some(r.prompt_bytes)),
                opt_u64(r.answer_bytes),
                opt_u64(r.prompt_tokens),
                opt_u64(r.completion_tokens),
                opt_u64(Some(r.latency_ms)),
            ],
        )
        .map_err(|e| self.sql_err(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// The newest `n` AI calls, newest first, each with how many runs it caused.
    pub fn recent_ai(&self, n: usize) -> Result<Vec<AiCallRow>, AuditError> {
        let u = stored_u64;
        self.newest(
            "SELECT c.id, c.at_ms, c.platform, c.user_id, c.user_name, c.tier, c.command,
                c.model, c.status, c.prompt_bytes, c.answer_bytes, c.prompt_tokens,
                c.completion_tokens, c.latency_ms,
                (SELECT COUNT(*) FROM runs r WHERE r.ai_call = c.id)
             FROM ai_calls c ORDER BY c.id DESC LIMIT ?1",
            n,
            |row| {
                Ok(AiCallRow {
                    id: row.get(0)?,
                    at_ms: row.get(1)?,
                    record: AiCallRecord {
                        platform: row.get(2)?,
                        user_id: row.get(3)?,
                        user_name: row.get(4)?,
                        tier: row.get(5)?,
                        command: row.get(6)?,
                        model: row.get(7)?,
                        status: row.get(8)?,
                        prompt_bytes: u(row.get(9)?).unwrap_or(0),
                        answer_bytes: u(row.get(10)?),
                        prompt_tokens: u(row.get(11)?),
                        completion_tokens: u(row.get(12)?),
                        latency_ms: u(row.get(13)?).unwrap_or(0),
                    },
                    runs: u(row.get(14)?).unwrap_or(0),
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::audit::AuditRecord;

    #[test]
    fn old_database_is_migrated_and_calls_count_their_runs() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("audit.sqlite");
        // A database from before AI assist: the runs table without ai_call.
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
                 platform TEXT NOT NULL, user_id TEXT NOT NULL, user_name TEXT NOT NULL, guild TEXT,
                 channel TEXT, thread TEXT, tier TEXT, privileged INTEGER NOT NULL, language TEXT,
                 code_sha256 TEXT, code TEXT, code_bytes INTEGER, status TEXT NOT NULL,
                 exit_code INTEGER, signal TEXT, queue_ms INTEGER, wall_ms INTEGER, cpu_ms INTEGER,
                 peak_memory_bytes INTEGER, output_bytes INTEGER, truncated INTEGER NOT NULL,
                 refusal_kind TEXT, refusal_reason TEXT);
                 INSERT INTO runs (at_ms, platform, user_id, user_name, privileged, status, truncated)
                 VALUES (1, 'console', 'u', 'u', 0, 'exited', 0);",
            )
            .expect("old schema");
        }
        let audit =
            Audit::open(&path, 1024, Duration::from_secs(365 * 86_400 * 100)).expect("migrated");
        let id = audit
            .record_ai(&AiCallRecord {
                command: "fix".into(),
                model: "m".into(),
                status: "ok".into(),
                prompt_tokens: Some(7),
                ..AiCallRecord::default()
            })
            .expect("ai row");
        for _ in 0..2 {
            audit
                .record(&AuditRecord {
                    status: "exited".into(),
                    ai_call: Some(id),
                    ..AuditRecord::default()
                })
                .expect("run row");
        }
        let calls = audit.recent_ai(5).expect("calls");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].runs, 2);
        assert_eq!(calls[0].record.prompt_tokens, Some(7));
        // The pre-existing row survived the migration.
        assert_eq!(audit.count().expect("count"), 3);
        assert_eq!(audit.recent(1).expect("recent")[0].record.ai_call, Some(id));
    }
}
