//! Shared test support for the cross-crate suites: the binaries under test and a fake Discord.

pub mod console;
pub mod fake_ai;
pub mod fake_discord;
pub mod harness;
pub mod languages;
pub mod png;
pub mod safety_net;
pub mod warm;
