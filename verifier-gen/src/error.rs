//! Errors of the generator (and, with the `evm` feature, of compiling and
//! running verifiers).

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GenError {
    /// The verifying key uses a halo2 construct this generator does not render.
    #[error("unsupported construct in the verifying key: {construct}")]
    Unsupported { construct: String },
    /// The key and the arguments disagree (e.g. more instances than usable rows).
    #[error("invalid argument: {what}: expected {expected}, got {got}")]
    Invalid { what: &'static str, expected: String, got: String },
    /// An expression refers to a query the constraint system does not list.
    #[error("{kind} query (column {column}, rotation {rotation}) is not in the constraint system's query list")]
    MissingQuery { kind: &'static str, column: usize, rotation: i32 },
    /// solc-js failed to run or to compile the source (`evm` feature).
    #[error("solc: {reason}")]
    Solc { reason: String },
    /// The EVM refused a transaction (not a revert: that is a result) (`evm` feature).
    #[error("evm: {reason}")]
    Evm { reason: String },
}

pub(crate) fn unsupported(construct: impl Into<String>) -> GenError {
    GenError::Unsupported { construct: construct.into() }
}
