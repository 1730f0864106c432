//! Where notebook sessions live: one per key (a thread, a channel, the console, or an HTTP/MCP
//! session id), started on the first cell, parked when idle or when too many are live (least
//! recently used first), restored by the next cell. Cells of one session take turns in the order
//! they came (a fair mutex); different sessions run in parallel within the pipeline's queue.
//! A session's files are its workspace's: written in at start, synced back after every cell,
//! and its parked state is a workspace file (so it counts against the quota and its TTL).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use coderunner_config::{Language, Profile, SessionsConfig};
use coderunner_runner::session::{
    Cell, CellOutcome, Session, SessionSpec, SessionStarter, Variable, STATE_FILE,
};
use coderunner_runner::{InputFile, RunOutcome};
use tokio::sync::{Mutex as AsyncMutex, Notify, OwnedMutexGuard};

mod direct;

use crate::fmt;
use crate::refusal::Refusal;
use crate::workspace::Workspaces;
use crate::Identity;

/// How long parking or restoring may take (a 50 MB DataFrame takes well under a second).
const PARK_WITHIN: Duration = Duration::from_secs(30);

/// What a cell's reply carries besides the run outcome.
#[derive(Debug, Clone)]
pub struct CellReply {
    pub cell: CellOutcome,
    /// Lines for the reply: restored variables, workspace notes, the session's end.
    pub notes: Vec<String>,
}

/// What `!session` and `GET /v1/sessions/{id}` show.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub live: bool,
    pub age: Option<Duration>,
    pub idle: Duration,
    pub memory_used: Option<u64>,
    pub memory_limit: Option<u64>,
    pub variables: Vec<Variable>,
    pub python: Option<String>,
}

struct Live {
    session: Session,
    limits: Profile,
}

struct Slot {
    /// The workspace key its files and parked state live under.
    workspace: String,
    state: Arc<AsyncMutex<Option<Live>>>,
    waiting: AtomicUsize,
    /// Message ids of chat cells waiting for their turn in send order (see `turn_in_order`).
    tickets: Mutex<BTreeSet<u64>>,
    /// Told whenever a ticket leaves `tickets`.
    ticket_done: Notify,
    last_used: Mutex<Instant>,
    owner: Mutex<Identity>,
}

impl Slot {
    fn touch(&self) {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
    fn idle(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }
    fn first_ticket(&self) -> Option<u64> {
        self.tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first()
            .copied()
    }
    fn owner(&self) -> Identity {
        self.owner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Every session of one bot process.
pub struct SessionManager {
    config: SessionsConfig,
    python: Option<Language>,
    starter: Arc<dyn SessionStarter>,
    workspaces: Arc<dyn Workspaces>,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// A session's turn: held while its cell runs, so the next cell waits.
pub struct Turn {
    /// How many cells of the session were running or in line ahead of this one when it joined.
    pub ahead: usize,
    slot: Arc<Slot>,
    guard: OwnedMutexGuard<Option<Live>>,
    // Dropped after `guard`: the next ticket is told only once the session is free.
    _ticket: Option<Ticket>,
    _in_line: InLine,
}

/// A chat cell's place in its session's send order, from its message id.
struct Ticket(Arc<Slot>, u64);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0
            .tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.1);
        self.0.ticket_done.notify_waiters();
    }
}

/// How long a chat cell waits for messages sent just before it to reach their turn first: a
/// frontend handles each message in a task of its own, so two sent at once may arrive swapped.
const SEND_ORDER_WINDOW: Duration = Duration::from_millis(100);

/// A cell counted in its session's line from the moment it asks for its turn until its turn
/// ends (also when the asking is abandoned), so `ahead` counts the running cell too.
struct InLine(Arc<Slot>);

impl Drop for InLine {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

impl SessionManager {
    pub fn new(
        config: SessionsConfig,
        python: Option<Language>,
        starter: Arc<dyn SessionStarter>,
        workspaces: Arc<dyn Workspaces>,
    ) -> SessionManager {
        SessionManager {
            config,
            python,
            starter,
            workspaces,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &SessionsConfig {
        &self.config
    }

    fn slot(&self, key: &str, workspace: &str, who: &Identity) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = slots.entry(key.to_string()).or_insert_with(|| {
            Arc::new(Slot {
                workspace: workspace.to_string(),
                state: Arc::new(AsyncMutex::new(None)),
                waiting: AtomicUsize::new(0),
                tickets: Mutex::new(BTreeSet::new()),
                ticket_done: Notify::new(),
                last_used: Mutex::new(Instant::now()),
                owner: Mutex::new(who.clone()),
            })
        });
        *slot.owner.lock().unwrap_or_else(PoisonError::into_inner) = who.clone();
        Arc::clone(slot)
    }

    /// Make `key` known (its sandbox starts with the first cell).
    pub fn register(&self, key: &str, workspace: &str, who: &Identity) {
        self.slot(key, workspace, who);
    }

    /// Whether `key` has a session in this process.
    pub fn exists(&self, key: &str) -> bool {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }

    /// Whether the workspace `workspace` holds files (a session parked by an earlier process).
    pub fn has_workspace(&self, workspace: &str) -> bool {
        self.workspaces.file_count(workspace).is_some_and(|n| n > 0)
    }

    /// How many cells of `key` are running or waiting now.
    pub fn ahead(&self, key: &str) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .map_or(0, |s| s.waiting.load(Ordering::Acquire))
    }

    /// Wait for the session's turn (cells of one session run one at a time, in order).
    pub async fn turn(&self, key: &str, workspace: &str, who: &Identity) -> Turn {
        let slot = self.slot(key, workspace, who);
        let ahead = slot.waiting.fetch_add(1, Ordering::AcqRel);
        let in_line = InLine(Arc::clone(&slot));
        let guard = Arc::clone(&slot.state).lock_owned().await;
        Turn {
            ahead,
            slot,
            guard,
            _ticket: None,
            _in_line: in_line,
        }
    }

    /// Like [`SessionManager::turn`] for a chat message with an id that grows with send time
    /// (a Discord snowflake): cells sent at once run in the order they were sent, not in the
    /// order their tasks happened to reach this point.
    pub async fn turn_in_order(
        &self,
        key: &str,
        workspace: &str,
        who: &Identity,
        order: u64,
    ) -> Turn {
        let slot = self.slot(key, workspace, who);
        slot.waiting.fetch_add(1, Ordering::AcqRel);
        let in_line = InLine(Arc::clone(&slot));
        slot.tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(order);
        let ticket = Ticket(Arc::clone(&slot), order);
        tokio::time::sleep(SEND_ORDER_WINDOW).await;
        // After the window every cell sent before this one is in line: those sent after it
        // are behind it, whatever order their tasks arrived in.
        let behind = slot
            .tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .range(order.saturating_add(1)..)
            .count();
        let ahead = slot
            .waiting
            .load(Ordering::Acquire)
            .saturating_sub(1 + behind);
        loop {
            let done = slot.ticket_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if slot.first_ticket() == Some(order) {
                break;
            }
            done.await;
        }
        let guard = Arc::clone(&slot.state).lock_owned().await;
        Turn {
            ahead,
            slot,
            guard,
            _ticket: Some(ticket),
            _in_line: in_line,
        }
    }

    /// Run a cell in its turn: start (and restore) the session first when it is not live.
    pub async fn run_cell(
        &self,
        turn: &mut Turn,
        code: String,
        stdin: String,
        limits: &Profile,
    ) -> Result<CellReply, Refusal> {
        let mut notes = Vec::new();
        let started_now = turn.guard.is_none();
        if started_now {
            self.make_room().await;
            let (live, restored) = self.start(&turn.slot, limits).await?;
            notes.extend(restored);
            *turn.guard = Some(live);
        }
        let Some(live) = turn.guard.as_mut() else {
            return Err(Refusal::bad_request("the session could not start"));
        };
        if !started_now {
            // Files the workspace gained since the session started (attached to a one-shot
            // run, or written by one) join its working directory before this cell.
            let new = self
                .workspaces
                .top_level_files_not_in(&turn.slot.workspace, &|name| live.session.has_entry(name));
            if !new.is_empty() {
                let added = live.session.add_missing_files(&new);
                tracing::debug!(files = ?added, "workspace files added to a live session");
            }
        }
        let cell = live
            .session
            .run_cell(Cell {
                code,
                stdin,
                limits: limits.clone(),
            })
            .await;
        turn.slot.touch();
        let who = turn.slot.owner();
        notes.extend(
            self.workspaces
                .after_run(&turn.slot.workspace, &who, &[], &cell.outcome),
        );
        if cell.ended.is_some() {
            if let Some(live) = turn.guard.take() {
                live.session.close().await;
            }
        }
        Ok(CellReply { cell, notes })
    }

    async fn start(
        &self,
        slot: &Slot,
        limits: &Profile,
    ) -> Result<(Live, Option<String>), Refusal> {
        let Some(python) = self.python.clone() else {
            return Err(Refusal::bad_request(
                "sessions need the `python` language, which this bot's config does not have",
            ));
        };
        let mut files: Vec<InputFile> = Vec::new();
        self.workspaces
            .before_run(&slot.workspace, &mut files, limits.workdir_size.bytes())?;
        let has_state = files.iter().any(|f| f.path == STATE_FILE);
        let mut session = self
            .starter
            .start_session(SessionSpec {
                language: python,
                files,
                limits: limits.clone(),
                env: Vec::new(),
            })
            .await
            .map_err(|e| Refusal::bad_request(format!("the session could not start: {e}")))?;
        let note = if has_state {
            session.restore(PARK_WITHIN).await.note()
        } else {
            None
        };
        slot.touch();
        Ok((
            Live {
                session,
                limits: limits.clone(),
            },
            note,
        ))
    }

    /// Park `live` into its slot's workspace and end it; returns the note of what was saved.
    async fn park_live(&self, slot: &Slot, mut live: Live) -> String {
        let parked = live.session.park(PARK_WITHIN).await;
        live.session.close().await;
        match parked {
            Ok(p) => {
                if let Some(state) = p.state {
                    let kept = [InputFile {
                        path: STATE_FILE.into(),
                        content: state,
                    }];
                    let empty = RunOutcome::sandbox_error(String::new());
                    if let Some(note) =
                        self.workspaces
                            .after_run(&slot.workspace, &slot.owner(), &kept, &empty)
                    {
                        return note;
                    }
                }
                let mut s = format!(
                    "parked: saved {}",
                    fmt::plural(p.saved.len(), "variable", "variables")
                );
                if !p.not_saved.is_empty() {
                    let list: Vec<String> = p
                        .not_saved
                        .iter()
                        .map(|(n, why)| format!("{n} ({why})"))
                        .collect();
                    s.push_str(&format!("; not saved: {}", list.join(", ")));
                }
                tracing::info!(workspace = %slot.workspace, saved = p.saved.len(), "session parked");
                s
            }
            Err(e) => {
                tracing::warn!(workspace = %slot.workspace, error = %e, "a session could not be parked");
                e
            }
        }
    }

    /// Park the least recently used live sessions until one more fits under `max_live`.
    async fn make_room(&self) {
        loop {
            let slots: Vec<Arc<Slot>> = self
                .slots
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .cloned()
                .collect();
            let mut live = Vec::new();
            for s in &slots {
                if let Ok(g) = Arc::clone(&s.state).try_lock_owned() {
                    if g.is_some() {
                        live.push((s.idle(), Arc::clone(s), g));
                    }
                }
            }
            if live.len() < self.config.max_live as usize {
                return;
            }
            live.sort_by_key(|l| std::cmp::Reverse(l.0));
            let (_, slot, mut guard) = live.remove(0);
            drop(live);
            if let Some(l) = guard.take() {
                self.park_live(&slot, l).await;
            }
        }
    }

    /// Park every session idle for longer than `sessions.idle` (the pipeline's housekeeping).
    pub async fn park_idle(&self) {
        let idle = self.config.idle.as_duration();
        self.park_where(|s| s.idle() >= idle).await;
    }

    /// Park every live session (shutdown: sessions survive a restart).
    pub async fn park_all(&self) {
        self.park_where(|_| true).await;
    }

    async fn park_where(&self, pick: impl Fn(&Slot) -> bool) {
        let slots: Vec<Arc<Slot>> = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for s in slots {
            if !pick(&s) {
                continue;
            }
            let mut guard = Arc::clone(&s.state).lock_owned().await;
            if let Some(live) = guard.take() {
                self.park_live(&s, live).await;
            }
        }
    }

    /// `!restart`: a new interpreter next time; the files stay, a parked state is dropped.
    pub async fn restart(&self, key: &str, workspace: &str, who: &Identity) -> bool {
        let mut turn = self.turn(key, workspace, who).await;
        let was_live = match turn.guard.take() {
            Some(live) => {
                live.session.close().await;
                true
            }
            None => false,
        };
        // An empty state file means "nothing to restore" to the kernel.
        let kept = [InputFile {
            path: STATE_FILE.into(),
            content: Vec::new(),
        }];
        let empty = RunOutcome::sandbox_error(String::new());
        self.workspaces
            .after_run(&turn.slot.workspace, who, &kept, &empty);
        was_live
    }

    /// End a session without parking it (HTTP `DELETE`, `!reset`); forgets the key.
    pub async fn close(&self, key: &str) -> bool {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        let Some(slot) = slot else {
            return false;
        };
        let mut guard = Arc::clone(&slot.state).lock_owned().await;
        if let Some(live) = guard.take() {
            live.session.close().await;
        }
        true
    }

    /// The state of a session, or `None` when the key has none in this process.
    pub async fn info(&self, key: &str) -> Option<SessionInfo> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()?;
        let mut guard = Arc::clone(&slot.state).lock_owned().await;
        let idle = slot.idle();
        Some(match guard.as_mut() {
            Some(live) => {
                let (used, limit) = live.session.memory();
                SessionInfo {
                    live: true,
                    age: Some(live.session.started().elapsed()),
                    idle,
                    memory_used: used,
                    memory_limit: Some(limit.min(live.limits.memory.bytes())),
                    variables: live.session.variables().await,
                    python: Some(live.session.python().to_string()),
                }
            }
            None => SessionInfo {
                live: false,
                age: None,
                idle,
                memory_used: None,
                memory_limit: None,
                variables: Vec::new(),
                python: None,
            },
        })
    }
}
