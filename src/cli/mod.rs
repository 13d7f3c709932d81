//! The command line's parts: `args` (commands and flags), `util` (helpers
//! the commands share), `report` (what they print and write), `run` (the
//! one-go runner behind `run` and `demo`). `main.rs` dispatches.

pub(crate) mod args;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod util;
