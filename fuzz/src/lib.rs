//! `zkinfer-fuzz`: a coverage-blind, in-process mutation fuzzer for stable
//! Rust (cargo-fuzz needs nightly). Every target is a libFuzzer-style
//! `fn(&[u8])` in [`targets`]; [`runner`] feeds each one its seed corpus
//! and seeded mutants ([`mutate`]) under `catch_unwind` and a per-case
//! deadline, and tallies errors, panics, timeouts and wrongly accepted
//! proofs. See docs/NOTES.md, "Fuzzing".

pub mod corpus;
pub mod fixture;
pub mod mutate;
pub mod runner;
pub mod targets;

pub use runner::{run, Config, Report};
pub use targets::{find, Target, TARGETS};
