//! Shared pieces of the pipeline tests: a fake runner (the sandbox is not their subject), a
//! recording progress, in-memory attachments and a pipeline on a temporary data dir.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use coderunner_commands::{
    AttachmentRef, AttachmentSource, FakeRelativeClock, FetchError, Identity, Incoming,
    LimiterClock, Pipeline, PipelineOptions, Place, Platform, Progress, Reply, Role,
};
use coderunner_config::{Config, RoleRef};
use coderunner_runner::{RunOutcome, RunRequest, RunStatus, Runner, RunnerError};
use tokio::sync::Semaphore;

/// Records requests; answers with the program's stdin echoed (or a fixed outcome). When `gate`
/// is set, each run waits for a permit, so tests can hold runs "in the sandbox".
#[derive(Default)]
pub struct FakeRunner {
    pub requests: Mutex<Vec<RunRequest>>,
    pub gate: Option<Arc<Semaphore>>,
    pub outcome: Mutex<Option<RunOutcome>>,
    pub running: AtomicUsize,
    pub max_running: AtomicUsize,
}

pub fn ok_outcome(output: &str) -> RunOutcome {
    RunOutcome {
        status: RunStatus::Exited,
        exit_code: Some(0),
        signal: None,
        stdout: output.to_string(),
        stderr: String::new(),
        output: output.to_string(),
        truncated: false,
        wall_ms: 12,
        cpu_ms: 10,
        peak_memory_bytes: Some(8 << 20),
        files: Vec::new(),
        compile: None,
        error: None,
    }
}

#[async_trait::async_trait]
impl Runner for FakeRunner {
    async fn run(&self, request: RunRequest) -> Result<RunOutcome, RunnerError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let stdin = String::from_utf8_lossy(&request.stdin).into_owned();
        self.requests.lock().expect("requests").push(request);
        if let Some(gate) = &self.gate {
            let permit = gate.acquire().await.expect("gate open");
            permit.forget();
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        let fixed = self.outcome.lock().expect("outcome").clone();
        Ok(fixed.unwrap_or_else(|| ok_outcome(&format!("ran with stdin: {stdin}"))))
    }
}

/// Remembers every queue position it was told.
#[derive(Default)]
pub struct RecordingProgress {
    pub queued: Mutex<Vec<usize>>,
    pub running: AtomicUsize,
}

#[async_trait::async_trait]
impl Progress for RecordingProgress {
    async fn queued(&self, ahead: usize) {
        self.queued.lock().expect("queued").push(ahead);
    }
    async fn running(&self) {
        self.running.fetch_add(1, Ordering::SeqCst);
    }
}

/// Attachments held in memory; counts downloads so tests can tell none happened.
#[derive(Default)]
pub struct MemFiles {
    pub files: Mutex<Vec<(String, Vec<u8>)>>,
    pub fetches: AtomicUsize,
}

#[async_trait::async_trait]
impl AttachmentSource for MemFiles {
    async fn fetch(&self, a: &AttachmentRef, limit: u64) -> Result<Vec<u8>, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let files = self.files.lock().expect("files");
        let (_, bytes) = files
            .iter()
            .find(|(loc, _)| *loc == a.locator)
            .ok_or_else(|| FetchError::Failed {
                name: a.name.clone(),
                reason: "gone".into(),
            })?;
        // Stream-style cap: stop at the limit whatever the declared size said.
        if bytes.len() as u64 > limit {
            return Err(FetchError::TooLarge {
                name: a.name.clone(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes.clone())
    }
}

impl MemFiles {
    /// An attachment whose declared size is the real one.
    pub fn add(self: &Arc<Self>, name: &str, content: &[u8]) -> AttachmentRef {
        self.add_declared(name, content, content.len() as u64)
    }

    /// An attachment that declares `declared` bytes (which may be a lie).
    pub fn add_declared(
        self: &Arc<Self>,
        name: &str,
        content: &[u8],
        declared: u64,
    ) -> AttachmentRef {
        let locator = format!("mem://{}/{name}", self.files.lock().expect("files").len());
        self.files
            .lock()
            .expect("files")
            .push((locator.clone(), content.to_vec()));
        AttachmentRef {
            name: name.to_string(),
            size: declared,
            locator,
            source: Arc::clone(self) as Arc<dyn AttachmentSource>,
        }
    }
}

pub struct Rig {
    pub pipeline: Pipeline,
    pub runner: Arc<FakeRunner>,
    pub clock: FakeRelativeClock,
    pub _dir: tempfile::TempDir,
}

/// Role ids of the test guild's `data` and `admin` roles (tiers are given by role id).
pub const DATA_ROLE: u64 = 1_180_000_000_000_000_101;
pub const ADMIN_ROLE: u64 = 1_180_000_000_000_000_102;

/// The default config, with the `data` and `admin` tiers given to the test roles' ids.
pub fn config() -> Config {
    let mut config = Config::embedded_default().expect("default config");
    for tier in &mut config.access.tiers {
        match tier.name.as_str() {
            "data" => tier.roles = vec![RoleRef::Id(DATA_ROLE)],
            "admin" => tier.roles = vec![RoleRef::Id(ADMIN_ROLE)],
            _ => {}
        }
    }
    config
}

pub fn rig_with(mut config: Config, runner: FakeRunner) -> Rig {
    let dir = tempfile::tempdir().expect("temp dir");
    config.data_dir = dir.path().to_path_buf();
    let clock = FakeRelativeClock::default();
    let runner = Arc::new(runner);
    let pipeline = Pipeline::with_options(
        Arc::new(config),
        Arc::clone(&runner) as Arc<dyn Runner>,
        PipelineOptions {
            clock: LimiterClock::Fake(clock.clone()),
            ..PipelineOptions::default()
        },
    )
    .expect("pipeline");
    Rig {
        pipeline,
        runner,
        clock,
        _dir: dir,
    }
}

pub fn rig() -> Rig {
    rig_with(config(), FakeRunner::default())
}

pub fn member(id: &str) -> Identity {
    Identity {
        platform: Platform::Discord,
        user_id: id.to_string(),
        display: format!("user-{id}"),
        roles: Vec::new(),
    }
}

/// A member holding the role `role` (with its test id when it is `data` or `admin`).
pub fn with_role(id: &str, role: &str) -> Identity {
    let mut who = member(id);
    who.roles.push(Role {
        id: match role.to_ascii_lowercase().as_str() {
            "data" => Some(DATA_ROLE),
            "admin" => Some(ADMIN_ROLE),
            _ => None,
        },
        name: role.to_string(),
    });
    who
}

pub fn guild_place() -> Place {
    Place {
        guild: Some(1),
        channel: Some(10),
        ..Place::default()
    }
}

pub fn msg(who: Identity, text: &str) -> Incoming {
    Incoming {
        who,
        place: guild_place(),
        text: text.to_string(),
        attachments: Vec::new(),
        message: None,
        reply_to: None,
    }
}

impl Rig {
    pub async fn send(&self, m: Incoming) -> Reply {
        self.pipeline
            .handle(m, &coderunner_commands::NoProgress)
            .await
            .expect("the message is addressed to the bot")
    }
}
