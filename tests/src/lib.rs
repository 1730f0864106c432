//! Shared test support for the cross-crate suites: the binary under test and a fake Discord.
