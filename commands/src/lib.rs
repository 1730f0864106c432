//! Platform-agnostic chat pipeline: parse, access, rate limit, run, render, audit.
//!
//! Frontends (Discord, console, HTTP) build an [`Incoming`] and call [`Pipeline::handle`], or a
//! [`DirectRun`] and call [`Pipeline::run_direct`]; they post the [`Reply`] they get back.

pub mod access;
pub mod attachments;
pub mod audit;
mod direct;
mod fmt;
pub mod help;
mod incoming;
pub mod limits;
pub mod parse;
mod pipeline;
mod private_fs;
mod refusal;
pub mod render;
mod runs;
mod session;
pub mod sessions;
pub mod versions;
pub mod workspace;

pub use audit::{Audit, AuditError, AuditRecord, AuditRow};
pub use direct::{DirectRun, RequestedLimits};
pub use incoming::{
    AttachmentRef, AttachmentSource, FetchError, Identity, Incoming, NoProgress, Place, Platform,
    Progress, Reply, ReplyFile, Role,
};
pub use limits::{queue_note, FakeRelativeClock, LimiterClock};
pub use pipeline::{Pipeline, PipelineError, PipelineOptions};
pub use refusal::{Refusal, RefusalKind};
