//! Platform-agnostic chat pipeline: parse, access, rate limit, run, render, audit.
//!
//! Frontends (Discord, console, HTTP) build an [`Incoming`] and call [`Pipeline::handle`], or a
//! [`DirectRun`] and call [`Pipeline::run_direct`]; they post the [`Reply`] they get back.

pub mod access;
mod admission;
pub mod ai;
pub mod attachments;
pub mod audit;
mod direct;
pub mod environments;
mod files;
mod fmt;
pub mod help;
mod incoming;
pub mod limits;
mod lint;
pub mod parse;
mod pipeline;
mod private_fs;
mod refusal;
pub mod render;
mod run;
mod runs;
mod session;
pub mod sessions;
pub mod versions;
pub mod workspace;

pub use ai::{AiKind, AiOutcome, AiRequest, TestResult};
pub use audit::{AiCallRecord, AiCallRow, Audit, AuditError, AuditRecord, AuditRow};
pub use direct::{DirectRun, RequestedLimits};
pub use incoming::{
    AttachmentRef, AttachmentSource, FetchError, Identity, Incoming, NoProgress, Place, Platform,
    Progress, Reply, ReplyFile, Role,
};
pub use limits::{queue_note, FakeRelativeClock, LimiterClock};
pub use pipeline::{Pipeline, PipelineError, PipelineOptions};
pub use refusal::{Refusal, RefusalKind};
