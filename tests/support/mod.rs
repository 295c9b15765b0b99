//! Helpers shared by the scanner's test files. Each test file uses a part
//! of them, so the rest is dead code there.
#![allow(dead_code)]

pub mod push;
pub mod registry;
