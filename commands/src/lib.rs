//! Platform-agnostic chat pipeline: parse, access, rate limit, run, render, audit.

mod incoming;

pub use incoming::{
    AttachmentRef, AttachmentSource, FetchError, Identity, Incoming, NoProgress, Place, Platform,
    Progress, Reply, ReplyFile, Role,
};
