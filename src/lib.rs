//! `zkinfer`: prove that an ONNX model, on an input, produced an output.
//!
//! The facade a service links. Typed calls over an artifact folder:
//! [`compile`] → [`setup`] → [`prove`] → [`verify`]. Paths are given by the
//! caller; nothing here reads environment variables.
//!
//! Artifact folder (`DIR`):
//! - `program.bin`: the compiled integer program (`ir::Program`, versioned).
//! - `settings.json`: human-readable circuit settings (k, rows, columns, scales...).
//! - `pk.bin`, `vk.bin`: keys, bound to the program digest (`setup`).
//! - `srs.bin`: the KZG parameters at the circuit's k (`setup`).

pub mod accuracy;
pub mod artifacts;
pub mod coverage;
pub mod error;
pub mod handle;
pub mod onchain;
pub mod ort_agreement;
pub mod pipeline;
#[cfg(feature = "evm")]
pub mod registry;
#[cfg(feature = "evm")]
pub mod retrain;
pub mod segments;
pub mod serve;

pub use accuracy::{max_abs_error, AccuracyReport};
pub use artifacts::{ProofFile, Settings};
pub use compiler::{CompileError, CompileOptions};
pub use error::{Error, VerifyFailure};
pub use handle::{Prover, Verifier};
pub use ir::{Program, Visibility};
pub use pipeline::{
    commitments, compile, compile_bytes, load, prove, prove_weights, prove_with, read_proof_file, setup, verify,
    CompiledModel, ProveOutcome, SrsSource,
};
pub use prover::Backend;

/// The embedded example model (`examples/mlp/model.onnx`), what
/// `zkinfer demo` runs.
pub const EXAMPLE_MODEL: &[u8] = include_bytes!("../examples/mlp/model.onnx");
