//! The warm pool of a long-running LocalRunner: ready slots per kind of run (see [`spec::Shape`]),
//! all forked from one Python zygote and refilled in the background, one run per slot.
//!
//! A run takes a ready slot of its shape if there is one, and otherwise goes cold (and its shape
//! is remembered, so the next one finds a slot). Python runs whose command is the zygote's run
//! in the forked zygote itself (the preloaded modules already imported); other languages
//! (node, bash, ...) execve their command from a slot. Off in rootless mode, without cgroups,
//! or with `runner.warm_pool: 0`.

mod prestart;
mod report;
mod session_slot;
mod slot;
mod spec;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use coderunner_config::{Language, Profile};
use tokio::sync::Notify;

pub(crate) use self::prestart::{BASH_PRELOAD, BASH_PRELOAD_PATH, NODE_PRELOAD, NODE_PRELOAD_PATH};
pub(crate) use self::session_slot::SessionSlot;
use self::slot::Slot;
use self::spec::{eligible, Go, Shape};
use crate::files::{self, Snapshot};
use crate::local::Inner;
use crate::outcome::RunOutcome;
use crate::stage::{finish_run, StageLimits};
use crate::zygote::{memory_of, Zygote};
use crate::{RunRequest, RunnerError};

/// Kinds of run kept warm at once (the most recently used).
const MAX_SHAPES: usize = 4;
/// How long the refill of a kind that still has ready slots waits before it forks.
const UNHURRIED_REFILL: Duration = Duration::from_millis(25);
/// Languages kept warm from the start (with the `default` profile), when configured.
const STARTING_LANGUAGES: &[&str] = &["python", "javascript", "bash"];
/// A shape whose slots fail this many times in a row is dropped (its runs go cold).
const MAX_FAILURES: u32 = 3;

/// The pool's state for `doctor` and logs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolReport {
    /// `ready`, `starting`, `off: <why>` or `cold: <why>`.
    pub state: String,
    /// Slots kept per kind of run.
    pub slots_per_kind: usize,
    /// Ready slots per language (kinds of the same language added up).
    pub ready: Vec<(String, usize)>,
    /// Runs served warm and cold since the start.
    pub warm_runs: u64,
    pub cold_runs: u64,
    pub zygote: Option<ZygoteReport>,
    /// Memory of the zygote and every ready slot together (bytes).
    pub rss_bytes: u64,
    pub pss_bytes: u64,
    /// Memory of one ready slot, averaged over the ready ones (0 when none is ready).
    pub slot_rss_bytes: u64,
    pub slot_pss_bytes: u64,
    /// Memory of one ready slot that only it uses (USS: what each more slot adds, the rest
    /// being pages shared with the zygote).
    pub slot_private_bytes: u64,
    /// Kinds of run the pool keeps slots for from the start (languages; more are learned from
    /// the runs that come).
    pub starting_kinds: Vec<String>,
    /// Memory of one ready slot per language (a javascript slot holds a whole node).
    pub slot_memory: Vec<SlotMemory>,
}

/// What one ready slot of a language costs, averaged over that language's ready slots.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SlotMemory {
    pub language: String,
    pub rss_bytes: u64,
    pub pss_bytes: u64,
    /// What each more slot of the language adds (USS).
    pub private_bytes: u64,
}

/// The zygote's part of [`PoolReport`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZygoteReport {
    /// `languages.python.preload`.
    pub preload: Vec<String>,
    /// Why the preload failed (Python runs then start cold).
    pub preload_error: Option<String>,
    /// Top-level modules loaded in it.
    pub modules: usize,
    pub forks: u64,
    pub age_secs: u64,
    pub rss_bytes: u64,
    pub pss_bytes: u64,
    /// Host pid of the zygote's Python process (from its greeting's credentials).
    pub pid: Option<i32>,
}

#[derive(Debug, Default)]
struct State {
    zygote: Option<Arc<Zygote>>,
    status: String,
    shapes: Vec<Shape>,
    failures: HashMap<String, u32>,
    ready: HashMap<String, Vec<Slot>>,
    warm_runs: u64,
    cold_runs: u64,
}

/// Ready sandboxes and the zygote they come from.
#[derive(Debug)]
pub(crate) struct WarmPool {
    inner: Arc<Inner>,
    /// Slots kept per shape (one in a probe).
    per_shape: usize,
    /// `runner.warm_pool`, for the report.
    configured: usize,
    /// The language named `python` and the profile whose environment the zygote gets.
    python: Option<(Language, Profile)>,
    state: Mutex<State>,
    wake: Notify,
    stopped: AtomicBool,
    /// How long an eligible run waits for a slot of its kind before going cold (zero, but for
    /// tests that must exercise the warm path; see [`LocalRunner::start_warm_pool_waiting`]).
    slot_wait: Duration,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl WarmPool {
    /// Start filling the pool in the background (or record why it stays off).
    /// With `probe` (doctor), it makes the zygote and one Python slot, enough to measure the
    /// cost of each, rather than every slot.
    pub(crate) fn start(inner: Arc<Inner>, slot_wait: Duration, probe: bool) -> Arc<WarmPool> {
        let config = &inner.config;
        let configured = config.runner.warm_pool.slots() as usize;
        let per_shape = if probe { configured.min(1) } else { configured };
        let profile = config
            .profiles
            .get("default")
            .or_else(|| config.profiles.values().next())
            .cloned();
        let python = config.languages.get("python").cloned();
        let off = if per_shape == 0 {
            Some("off: runner.warm_pool is 0".to_string())
        } else if inner.rootless.is_some() {
            Some("off: rootless mode (the zygote confines runs as root)".into())
        } else if inner.cgroups.is_none() || inner.uids.is_none() {
            Some("off: no cgroups (every warm slot has its own)".into())
        } else if python.is_none() || profile.is_none() {
            Some(
                "off: slots are forks of the Python zygote, and no language is named `python`"
                    .into(),
            )
        } else {
            None
        };
        let mut state = State {
            status: off.clone().unwrap_or_else(|| "starting".into()),
            ..State::default()
        };
        if let Some(profile) = &profile {
            // A probe measures a Python slot (a fork of the zygote) and a javascript one (a
            // node of its own), the two kinds whose memory differs.
            let starting = if probe {
                &STARTING_LANGUAGES[..2]
            } else {
                STARTING_LANGUAGES
            };
            for name in starting {
                if let Some(spec) = config.languages.get(*name) {
                    if spec.compile.is_none() {
                        state.shapes.push(Shape::new(name, spec, profile));
                    }
                }
            }
        }
        let pool = Arc::new(WarmPool {
            inner,
            per_shape,
            configured,
            python: python.zip(profile),
            state: Mutex::new(state),
            wake: Notify::new(),
            stopped: AtomicBool::new(off.is_some()),
            slot_wait,
            task: Mutex::new(None),
        });
        match &off {
            Some(why) => tracing::info!("warm pool {why}"),
            None => {
                let task = tokio::spawn(Arc::clone(&pool).refill());
                *pool.lock_task() = Some(task);
            }
        }
        pool
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_task(&self) -> MutexGuard<'_, Option<tokio::task::JoinHandle<()>>> {
        self.task.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `req` in a ready slot; `None` when it must go cold (not eligible, no slot of its
    /// shape ready, or the slot turned out unusable before the program started).
    pub(crate) async fn try_run(
        &self,
        req: &RunRequest,
        main: &str,
        run_argv: &[String],
    ) -> Option<Result<RunOutcome, RunnerError>> {
        let deadline = Instant::now() + self.slot_wait;
        let slot = loop {
            let eligible_now = {
                let mut st = self.lock();
                let zygote = st.zygote.clone();
                let (eligible_now, slot) = match zygote {
                    Some(z)
                        if !self.stopped.load(Ordering::Relaxed)
                            && eligible(req, &z.binds, &self.inner) =>
                    {
                        let shape = Shape::of(req);
                        let ready = st.ready.get_mut(&shape.key);
                        let slot =
                            ready.and_then(|r| r.pop().map(|s| (s, r.len() * 2 <= self.per_shape)));
                        remember(&mut st, shape);
                        (true, slot)
                    }
                    // The zygote is still starting: a run that waits may wait for it too.
                    None if st.status == "starting" && !self.stopped.load(Ordering::Relaxed) => {
                        (true, None)
                    }
                    _ => (false, None),
                };
                if let Some(s) = slot {
                    st.warm_runs += 1;
                    break s;
                }
                if !eligible_now || Instant::now() >= deadline {
                    st.cold_runs += 1;
                    self.wake.notify_one();
                    return None;
                }
                eligible_now
            };
            debug_assert!(eligible_now);
            self.wake.notify_one();
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let (mut slot, running_low) = slot;
        // The refill forks and confines a new slot: on a small host that competes with this
        // run for the CPU, so it waits for the run's end, unless half or fewer of this kind's
        // slots are left (a burst of runs), when it starts at once.
        if running_low {
            self.wake.notify_one();
        }
        let _refill_after = (!running_low).then(|| WakeOnDrop(&self.wake));
        let zygote = Arc::clone(&slot.zygote);
        let in_process = zygote
            .preload_error
            .is_none()
            .then_some(zygote.run_prefix.as_slice());
        let go = match &slot.prestart {
            Some(start) => match prestart::go(start, req, main, run_argv) {
                Some(go) => go,
                None => {
                    tracing::warn!(
                        "a run did not match the program its warm slot started; it goes cold"
                    );
                    return None;
                }
            },
            None => Go::new(req, main, run_argv, in_process),
        };
        let owner = Some((slot.uid, slot.uid));
        if let Err(e) = files::write_inputs(slot.workdir.path(), &req.files, owner) {
            return Some(Err(RunnerError::InvalidRequest(format!(
                "writing the input files: {e} (are they larger than the workdir?)"
            ))));
        }
        let snapshot = Snapshot::of_inputs(slot.workdir.path(), &req.files);
        let limits = StageLimits::run(&req.limits);
        let began = Instant::now();
        let m = match slot.run(&go, &req.stdin, &limits, &req.limits).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("a warm slot was unusable, the run goes cold: {}", e.0);
                return None;
            }
        };
        let outcome = finish_run(req, slot.workdir.path(), snapshot, &limits, m, None).await;
        tracing::debug!(
            mode = go.mode,
            sandboxed_us = began.elapsed().as_micros() as u64,
            "warm run"
        );
        tokio::spawn(slot.retire());
        Some(Ok(outcome))
    }

    /// The background task: keep a zygote, and every remembered shape's slots, ready.
    async fn refill(self: Arc<Self>) {
        let Some((python, profile)) = self.python.clone() else {
            return;
        };
        loop {
            if self.stopped.load(Ordering::Relaxed) {
                return;
            }
            let current = self.lock().zygote.clone();
            let zygote = match current {
                Some(z) if !z.due() => z,
                _ => match Zygote::start(&self.inner, &python, &profile).await {
                    Ok(z) => {
                        let z = Arc::new(z);
                        let retired = {
                            let mut st = self.lock();
                            st.zygote = Some(Arc::clone(&z));
                            st.status = match &z.preload_error {
                                None => "ready".into(),
                                Some(why) => format!("cold for Python: the preload failed: {why}"),
                            };
                            // Slots of the old zygote die with it: drop them now.
                            let mut retired = Vec::new();
                            for slots in st.ready.values_mut() {
                                let (keep, old): (Vec<Slot>, Vec<Slot>) = std::mem::take(slots)
                                    .into_iter()
                                    .partition(|s| Arc::ptr_eq(&s.zygote, &z));
                                *slots = keep;
                                retired.extend(old);
                            }
                            retired
                        };
                        drop(retired);
                        z
                    }
                    Err(why) => {
                        tracing::error!("the warm pool's zygote did not start: {why}");
                        self.lock().status = format!("cold: the zygote did not start: {why}");
                        self.pause(Duration::from_secs(30)).await;
                        continue;
                    }
                },
            };
            let next = {
                let st = self.lock();
                st.shapes
                    .iter()
                    .map(|s| (s, st.ready.get(&s.key).map_or(0, Vec::len)))
                    .find(|(_, ready)| *ready < self.per_shape)
                    .map(|(s, ready)| (s.clone(), ready))
            };
            let Some((shape, ready)) = next else {
                self.pause(Duration::from_secs(5)).await;
                continue;
            };
            // A kind that still has slots is not urgent: the run that just ended (and woke this)
            // answers its caller first, before a fork of the zygote competes for the CPU.
            if ready > 0 {
                tokio::time::sleep(UNHURRIED_REFILL).await;
            }
            match Slot::create(&self.inner, &shape, zygote).await {
                Ok(slot) => {
                    let mut st = self.lock();
                    st.failures.remove(&shape.key);
                    if !self.stopped.load(Ordering::Relaxed)
                        && st.shapes.iter().any(|s| s.key == shape.key)
                    {
                        st.ready.entry(shape.key.clone()).or_default().push(slot);
                    }
                }
                Err(why) => {
                    tracing::warn!(language = %shape.language, "a warm slot failed: {why}");
                    let dropped = {
                        let mut st = self.lock();
                        let n = st.failures.entry(shape.key.clone()).or_insert(0);
                        *n += 1;
                        if *n >= MAX_FAILURES {
                            st.shapes.retain(|s| s.key != shape.key);
                            st.failures.remove(&shape.key);
                            true
                        } else {
                            false
                        }
                    };
                    if dropped {
                        tracing::error!(language = %shape.language, "warm slots keep failing for this kind of run; its runs go cold");
                    }
                    self.pause(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Sleep until woken or `for_at_most` has passed.
    async fn pause(&self, for_at_most: Duration) {
        let _ = tokio::time::timeout(for_at_most, self.wake.notified()).await;
    }

    /// Whether every remembered shape has its slots (or the pool cannot fill).
    fn is_full(&self) -> bool {
        let st = self.lock();
        if st.status != "ready" && st.status != "starting" {
            return true;
        }
        st.zygote.is_some()
            && st
                .shapes
                .iter()
                .all(|s| st.ready.get(&s.key).map_or(0, Vec::len) >= self.per_shape)
    }

    pub(crate) async fn wait_full(&self, within: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.is_full() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.is_full()
    }

    /// Stop refilling and tear down every ready slot and the zygote (runs in flight hold their
    /// own reference to it and finish first).
    /// What the pool holds on the host: the run ids of the zygote's and the ready slots'
    /// workdirs and cgroups, and the slots' uids; `None` while it is still making slots (those
    /// would be missing).
    pub(crate) fn footprint(&self) -> Option<(Vec<String>, Vec<u32>)> {
        if !self.is_full() {
            return None;
        }
        let st = self.lock();
        let name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
        let mut ids: Vec<String> = st.zygote.iter().filter_map(|z| name(z.workdir())).collect();
        let mut uids = Vec::new();
        for slot in st.ready.values().flatten() {
            ids.extend(name(slot.workdir.path()));
            uids.push(slot.uid);
        }
        ids.sort();
        Some((ids, uids))
    }

    pub(crate) async fn shutdown(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        let task = self.lock_task().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        let (slots, zygote) = {
            let mut st = self.lock();
            st.status = "off: shut down".into();
            let slots: Vec<Slot> = st.ready.drain().flat_map(|(_, v)| v).collect();
            (slots, st.zygote.take())
        };
        // Dropping removes cgroups synchronously (with retries): off the async threads.
        let _ = tokio::task::spawn_blocking(move || {
            drop(slots);
            drop(zygote);
        })
        .await;
    }
}

/// Wakes the refill when dropped, i.e. when the run that took a slot has ended, however it
/// ended.
struct WakeOnDrop<'a>(&'a Notify);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// Remember `shape` as the most recently used (forgetting the oldest past [`MAX_SHAPES`]).
fn remember(st: &mut State, shape: Shape) {
    if let Some(i) = st.shapes.iter().position(|s| s.key == shape.key) {
        let s = st.shapes.remove(i);
        st.shapes.insert(0, s);
        return;
    }
    st.shapes.insert(0, shape);
    while st.shapes.len() > MAX_SHAPES {
        if let Some(old) = st.shapes.pop() {
            st.ready.remove(&old.key);
        }
    }
}
