//! Helpers the integration tests share: plain-redb mirrors of the store's
//! tables ([`tables`]), the bundled sample data ([`sample`]) and a seeded
//! random source ([`rng`]). A directory module (`tests/common/mod.rs`), so
//! cargo does not build it as a test binary of its own; a test takes it with
//! `mod common;`.

// Every test binary compiles this module on its own and uses only a part of
// it: without this, each would warn (and `-D warnings` fail) about the
// helpers it does not call.
#![allow(dead_code)]

pub mod rng;
pub mod sample;
pub mod tables;
